"""A small workspace with people in every role, for integration and API tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk, Tx
from frontdesk.domain.permissions import Actor

STAFF_ROLE = "111111111111111111"
VIP_ROLE = "222222222222222222"
MANAGEMENT_ROLE = "333333333333333333"


@dataclass
class World:
    desk: Desk
    workspace_id: int
    actors: dict[str, Actor] = field(default_factory=dict)
    member_ids: dict[str, int] = field(default_factory=dict)
    type_ids: dict[str, int] = field(default_factory=dict)
    team_ids: dict[str, int] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Actor:
        actors = self.__dict__.get("actors", {})
        if name in actors:
            return actors[name]
        raise AttributeError(name)

    def tx(self, actor: Actor | str):  # type: ignore[no-untyped-def]
        who = self.actors[actor] if isinstance(actor, str) else actor
        return self.desk.tx(who, self.workspace_id)

    async def run(self, actor: Actor | str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.tx(actor) as tx:
            return await fn(tx, *args, **kwargs)

    async def open(self, actor: Actor | str = "alice", type_name: str = "General", **kwargs: Any) -> Any:
        from frontdesk.actions.tickets import open_ticket

        return await self.run(actor, open_ticket, type_id=self.type_ids[type_name], **kwargs)


PEOPLE: list[dict[str, Any]] = [
    {"key": "owner", "display_name": "Olive Owner", "role": "owner", "email": "owner@example.com"},
    {"key": "admin", "display_name": "Ada Admin", "role": "admin", "email": "admin@example.com"},
    {"key": "manager", "display_name": "Max Manager", "role": "manager", "email": "max@example.com"},
    {"key": "staff", "display_name": "Sam Staff", "role": "staff", "email": "sam@example.com"},
    {"key": "staff2", "display_name": "Sky Staff", "role": "staff", "email": "sky@example.com"},
    # Staff only by holding a Discord role listed in a type's staff roles (path 1).
    {"key": "roled", "display_name": "Rory Roled", "role": "customer", "discord_user_id": "500000000000000001",
     "discord_role_ids": [STAFF_ROLE]},
    # Staff by the Manage Channels power (path 2).
    {"key": "modder", "display_name": "Mo Channels", "role": "customer", "discord_user_id": "500000000000000002",
     "discord_powers": ["manage_channels"]},
    # Staff by the tickets.edit team permission (path 3); the team is created below.
    {"key": "teamer", "display_name": "Tea Teamer", "role": "customer", "email": "tea@example.com"},
    # Management by a Discord role named in the workspace's management roles.
    {"key": "mgmtrole", "display_name": "Mia Mgmt", "role": "customer", "discord_user_id": "500000000000000003",
     "discord_role_ids": [MANAGEMENT_ROLE]},
    {"key": "alice", "display_name": "Alice Customer", "role": "customer", "email": "alice@example.com",
     "discord_user_id": "600000000000000001"},
    {"key": "bob", "display_name": "Bob Customer", "role": "customer", "email": "bob@example.com"},
    {"key": "vip", "display_name": "Vic Vip", "role": "customer", "discord_user_id": "600000000000000002",
     "discord_role_ids": [VIP_ROLE]},
]


async def build_world(desk: Desk) -> World:
    system = Actor.system()
    async with desk.tx(system, 0) as tx:
        workspace = await m.create_workspace(tx, name="Acme Support", timezone="Europe/Berlin",
                                             settings={"management_role_ids": [MANAGEMENT_ROLE]})
        world = World(desk=desk, workspace_id=workspace.id)
        for person in PEOPLE:
            data = {k: v for k, v in person.items() if k != "key"}
            member = await m.add_member(tx, **data)
            world.member_ids[person["key"]] = member.id
        team = await m.create_team(tx, name="Tier 2", permissions=["tickets.edit"],
                                   member_ids=[world.member_ids["teamer"]])
        world.team_ids["Tier 2"] = team.id
        general = await m.create_ticket_type(tx, name="General", emoji="💬", staff_role_ids=[STAFF_ROLE],
                                             intake_questions=[
                                                 {"kind": "subject", "label": "Subject", "required": False},
                                                 {"kind": "description", "label": "What happened?"},
                                                 {"kind": "custom", "id": "order_id", "label": "Order id"},
                                             ])
        billing = await m.create_ticket_type(tx, name="Billing", staff_role_ids=[STAFF_ROLE],
                                             open_limit_per_user=2, opener_can_close=False,
                                             sequential_names=True)
        vip = await m.create_ticket_type(tx, name="VIP", allowed_role_ids=[VIP_ROLE], open_limit_per_user=None)
        world.type_ids.update({"General": general.id, "Billing": billing.id, "VIP": vip.id})
        await m.define_custom_field(tx, key="vendor_ticket_id", label="Vendor ticket", field_type="text")
        await m.define_custom_field(tx, key="plan", label="Plan", field_type="select",
                                    options=["free", "plus", "enterprise"])
        for key, member_id in world.member_ids.items():
            member = await tx.session.get(m.Member, member_id)
            world.actors[key] = await m.actor_for_member(_with_workspace(tx, workspace.id), member)
    world.actors["system"] = system
    return world


def _with_workspace(tx: Tx, workspace_id: int) -> Tx:
    tx.workspace_id = workspace_id
    return tx
