"""Builders for the panel and opening tests: a server with a staff role, a management role,
a moderator role (Manage Channels), a ticket category and channels, its workspace with ticket
types, and readers of what the bot answered and recorded."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import discord
import pytest
from sqlalchemy import func, select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.db.models import (
    Conversation,
    DiscordPanel,
    DiscordTicket,
    Event,
    Member,
    Message,
    OutboxItem,
    Ticket,
    TicketType,
)
from frontdesk.domain.permissions import Actor
from tests.discord.harness import FAKE_TOKEN, DiscordHarness, DiscordStandIn, payloads

EPHEMERAL = 1 << 6
SYSTEM = Actor.system()
COUNTED = {"tickets": Ticket, "discord_tickets": DiscordTicket, "conversations": Conversation, "messages": Message,
           "events": Event, "members": Member, "panels": DiscordPanel, "outbox": OutboxItem}


@dataclass
class Server:
    """A Discord server the bot is in, and its workspace."""

    harness: DiscordHarness
    guild: dict[str, Any]
    workspace_id: int
    staff_role: str
    other_staff_role: str
    management_role: str
    mod_role: str
    vip_role: str
    category: dict[str, Any]
    support: dict[str, Any]  # where panels are posted
    threads_parent: dict[str, Any]  # where thread-mode tickets live
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles_of: dict[str, list[str]] = field(default_factory=dict)

    @property
    def desk(self) -> Desk:
        return self.harness.bot.desk  # type: ignore[attr-defined,no-any-return]

    @property
    def guild_id(self) -> str:
        return str(self.guild["id"])

    def member(self, who: str) -> dict[str, Any]:
        return payloads.member(self.users[who], roles=self.roles_of.get(who, []))

    def add_user(self, who: str, *, roles: list[str] | None = None) -> dict[str, Any]:
        """A member who joined after the bot connected (given to the bot by interactions)."""
        user = payloads.user(username=who)
        self.users[who] = user
        self.roles_of[who] = roles or []
        return user


async def server(harness: DiscordHarness) -> Server:
    """Connect ``harness`` to a new server: the owner ("owner"), a moderator with Manage
    Channels ("mod"), a staff member ("sam"), and customers "casey" and "vic" (VIP role)."""
    from tests.discord.harness import snowflake

    guild_id = snowflake()
    roles = {name: payloads.role(guild_id, name=name, permissions=perms, position=i + 1)
             for i, (name, perms) in enumerate((("Staff", 0), ("Billing staff", 0), ("Managers", 0),
                                                ("Mods", discord.Permissions(manage_channels=True).value),
                                                ("VIP", 0)))}
    owner = payloads.user(username="owner")
    users = {"owner": owner, "mod": payloads.user(username="mod"), "sam": payloads.user(username="sam"),
             "casey": payloads.user(username="casey", global_name="Casey Jones"), "vic": payloads.user(username="vic")}
    roles_of = {"mod": [roles["Mods"]["id"]], "sam": [roles["Staff"]["id"]], "vic": [roles["VIP"]["id"]]}
    category = payloads.category(guild_id, name="General Tickets")
    support = payloads.text_channel(guild_id, name="support")
    threads_parent = payloads.text_channel(guild_id, name="help-threads")
    guild = payloads.guild(id=guild_id, name="Acme", owner=owner, roles=list(roles.values()),
                           channels=[category, support, threads_parent],
                           members=[payloads.member(u, roles=roles_of.get(k, [])) for k, u in users.items()
                                    if k != "owner"])
    # @everyone may read and write, nothing more (the harness's default also manages channels).
    guild["roles"][0]["permissions"] = str(discord.Permissions(view_channel=True, send_messages=True,
                                                               read_message_history=True).value)
    # Channels the bot reaches over REST (threads are made in it).
    harness.stand_in.channels[threads_parent["id"]] = threads_parent
    harness.stand_in.channels[support["id"]] = support
    await harness.connect([guild])
    workspace_id = harness.bot.workspace_ids[int(guild_id)]  # type: ignore[attr-defined]
    made = Server(harness=harness, guild=guild, workspace_id=workspace_id, staff_role=roles["Staff"]["id"],
                  other_staff_role=roles["Billing staff"]["id"], management_role=roles["Managers"]["id"],
                  mod_role=roles["Mods"]["id"], vip_role=roles["VIP"]["id"], category=category, support=support,
                  threads_parent=threads_parent, users=users, roles_of=roles_of)
    async with made.desk.tx(SYSTEM, workspace_id) as tx:
        await m.update_workspace(tx, settings={"management_role_ids": [made.management_role]})
    return made


async def add_type(s: Server, name: str, **values: Any) -> int:
    """A ticket type in channel mode, in the server's category, staffed by the staff role."""
    values.setdefault("staff_role_ids", [s.staff_role])
    discord_settings = {"category_id": s.category["id"], **values.pop("discord", {})}
    values.setdefault("settings", {"discord": discord_settings})
    async with s.desk.tx(SYSTEM, s.workspace_id) as tx:
        return (await m.create_ticket_type(tx, name=name, **values)).id


async def workspace_settings(s: Server, settings: dict[str, Any]) -> None:
    async with s.desk.tx(SYSTEM, s.workspace_id) as tx:
        await m.update_workspace(tx, settings=settings)


def panel_button(type_id: int, label: str = "Open") -> dict[str, Any]:
    return payloads.action_row(payloads.button(f"fd:open:{type_id}", label))


def panel_message(s: Server, *type_ids: int) -> dict[str, Any]:
    """A panel message as Discord holds it (as if posted before this bot started)."""
    return payloads.message(s.support["id"], s.harness.stand_in.bot_user, guild_id=s.guild_id,
                            components=[payloads.action_row(*(payloads.button(f"fd:open:{t}", "Open")
                                                              for t in type_ids))])


def click(h: DiscordHarness, s: Server, custom_id: str, *, who: str, message: dict[str, Any],
          channel: dict[str, Any] | None = None, values: list[str] | None = None) -> dict[str, Any]:
    data = payloads.component(custom_id, message=message, application_id=h.stand_in.application_id,
                              guild_id=s.guild_id, channel=channel or s.support, member=s.member(who),
                              values=values, component_type=3 if values is not None else 2)
    h.feed("INTERACTION_CREATE", data)
    return data


def submit(h: DiscordHarness, s: Server, custom_id: str, fields: dict[str, str], *, who: str) -> dict[str, Any]:
    data = payloads.modal_submit(custom_id, fields, application_id=h.stand_in.application_id, guild_id=s.guild_id,
                                 channel=s.support, member=s.member(who))
    h.feed("INTERACTION_CREATE", data)
    return data


def callbacks(h: DiscordHarness, interaction: dict[str, Any]) -> list[dict[str, Any]]:
    path = f"/interactions/{interaction['id']}/{re.escape(interaction['token'])}/callback"
    return [r.json for r in h.stand_in.seen("POST", path)]


def answers(h: DiscordHarness, interaction: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages the bot answered ``interaction`` with: a reply (callback type 4) and
    follow-ups after a deferral, in order."""
    out = [c["data"] for c in callbacks(h, interaction) if c["type"] == 4]
    path = f"/webhooks/{h.stand_in.application_id}/{re.escape(interaction['token'])}"
    return out + [r.json for r in h.stand_in.seen("POST", path)]


def only_answer(h: DiscordHarness, interaction: dict[str, Any]) -> dict[str, Any]:
    found = answers(h, interaction)
    assert len(found) == 1, found
    return found[0]


def ephemeral(message: dict[str, Any]) -> bool:
    return bool((message.get("flags") or 0) & EPHEMERAL)


async def counts(desk: Desk) -> dict[str, int]:
    async with desk.db.reading() as session:
        return {name: int(await session.scalar(select(func.count()).select_from(model)) or 0)
                for name, model in COUNTED.items()}


async def only(desk: Desk, model: Any) -> Any:
    async with desk.db.reading() as session:
        rows = list((await session.scalars(select(model))).all())
    assert len(rows) == 1, rows
    return rows[0]


async def ticket_type(desk: Desk, type_id: int) -> TicketType:
    async with desk.db.reading() as session:
        found = await session.get(TicketType, type_id)
    assert found is not None
    return found


def channel_creations(h: DiscordHarness) -> list[Any]:
    return h.stand_in.seen("POST", r"/guilds/\d+/channels")


def messages_in(h: DiscordHarness, channel_id: str) -> list[dict[str, Any]]:
    return [r.json for r in h.stand_in.seen("POST", f"/channels/{channel_id}/messages")]


# --- the worker's REST client against the stand-in ------------------------------------------------------------


@pytest.fixture(name="worker_rest")
async def worker_rest_fixture(stand_in: DiscordStandIn) -> AsyncIterator[DiscordStandIn]:
    """This process's REST client (``frontdesk.discord.rest``, what the worker uses) logged in
    against the stand-in with the test token; closed after the test."""
    from frontdesk.discord import rest

    rest.configure(FAKE_TOKEN)
    try:
        yield stand_in
    finally:
        await rest.close()
        rest.configure(None)
