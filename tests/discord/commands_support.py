"""A server with one ticket in a channel, and the people who use the staff commands there.

``desk_world`` builds it: a server whose @everyone holds no staff power, a Staff role (Manage
Channels: staff on every type, not management), an Admins role (Administrator: management),
an opener, a stranger, the ticket's channel and a plain channel. ``world.command(...)`` feeds
an application command as Discord sends it (sub-commands, options and resolved members
included) and ``world.answer(interaction)`` reads the bot's answer to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
from sqlalchemy import func, select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.discord import member_for_discord_user, place_ticket
from frontdesk.actions.tickets import open_ticket
from frontdesk.db.models import (
    CloseRequest,
    DiscordMessageLink,
    Event,
    Macro,
    Member,
    Message,
    Ticket,
    TicketParticipant,
    TicketTag,
)
from frontdesk.domain.permissions import Actor
from tests.discord.harness import DiscordHarness, Recorded, payloads, snowflake

EPHEMERAL = 1 << 6
# Option types of application commands.
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER = 1, 2, 3, 4, 5, 6
# Interaction callback types.
MESSAGE, DEFERRED, AUTOCOMPLETE_RESULT, MODAL = 4, 5, 8, 9

EVERYONE = discord.Permissions(view_channel=True, send_messages=True, read_message_history=True,
                               use_application_commands=True).value
STAFF_POWERS = discord.Permissions(manage_channels=True).value
ADMIN_POWERS = discord.Permissions(administrator=True).value
TABLES = (Event, Ticket, Message, Member, CloseRequest, TicketTag, TicketParticipant, DiscordMessageLink, Macro)


def option(name: str, value: Any, kind: int = STRING, *, focused: bool = False) -> dict[str, Any]:
    out = {"name": name, "type": kind, "value": value}
    if focused:
        out["focused"] = True
    return out


def sub(name: str, *options: dict[str, Any]) -> dict[str, Any]:
    """A sub-command (``/ticket note``) holding its options."""
    return {"name": name, "type": SUB_COMMAND, "options": list(options)}


def group(name: str, subcommand: dict[str, Any]) -> dict[str, Any]:
    """A sub-command group (``/ticket tag``) holding one sub-command."""
    return {"name": name, "type": SUB_COMMAND_GROUP, "options": [subcommand]}


@dataclass
class World:
    harness: DiscordHarness
    desk: Desk
    guild: dict[str, Any]
    workspace_id: int
    channel: dict[str, Any]  # the ticket's channel
    general: dict[str, Any]  # not a ticket
    staff: dict[str, Any]
    manager: dict[str, Any]
    opener: dict[str, Any]
    stranger: dict[str, Any]
    staff_role: str
    admin_role: str
    number: int
    ticket_id: int
    type_id: int
    roles: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stand_in(self) -> Any:
        return self.harness.stand_in

    def member(self, user: dict[str, Any]) -> dict[str, Any]:
        return payloads.member(user, roles=self.roles.get(user["id"], []))

    def command(self, name: str, user: dict[str, Any], *options: dict[str, Any], channel: dict[str, Any] | None = None,
                resolved: list[dict[str, Any]] = (), kind: int = 2) -> dict[str, Any]:  # type: ignore[assignment]
        """Feed an application command (``kind`` 2) or an autocomplete (``kind`` 4) from
        ``user``; ``resolved`` are the users named by USER options, sent as Discord does."""
        data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1, "guild_id": self.guild["id"]}
        if options:
            data["options"] = list(options)
        if resolved:
            data["resolved"] = {
                "users": {u["id"]: u for u in resolved},
                "members": {u["id"]: {k: v for k, v in self.member(u).items() if k != "user"} for u in resolved},
            }
        interaction = payloads._interaction(kind, data, application_id=self.stand_in.application_id,
                                            guild_id=self.guild["id"], channel=channel or self.channel,
                                            member=self.member(user))
        self.harness.feed("INTERACTION_CREATE", interaction)
        return interaction

    def autocomplete(self, name: str, user: dict[str, Any], *options: dict[str, Any]) -> dict[str, Any]:
        return self.command(name, user, *options, kind=4)

    def modal_submit(self, custom_id: str, fields: dict[str, str], user: dict[str, Any]) -> dict[str, Any]:
        interaction = payloads.modal_submit(custom_id, fields, application_id=self.stand_in.application_id,
                                            guild_id=self.guild["id"], channel=self.channel, member=self.member(user))
        self.harness.feed("INTERACTION_CREATE", interaction)
        return interaction

    def message(self, user: dict[str, Any], content: str, *, channel: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        """A MESSAGE_CREATE from ``user``, fed; the stand-in knows it (so it can be deleted)."""
        where = channel or self.channel
        data = payloads.message(where["id"], user, content, guild_id=self.guild["id"], member=self.member(user))
        self.stand_in.messages[data["id"]] = data
        self.harness.feed("MESSAGE_CREATE", data)
        return data

    def callbacks(self, interaction: dict[str, Any]) -> list[Recorded]:
        return self.stand_in.seen("POST", f"/interactions/{interaction['id']}/{interaction['token']}/callback")

    async def answer(self, interaction: dict[str, Any]) -> dict[str, Any]:
        """The bot's one answer to ``interaction`` (its callback body), after draining."""
        await self.harness.drain()
        [callback] = self.callbacks(interaction)
        return callback.json

    async def followups(self, interaction: dict[str, Any]) -> list[dict[str, Any]]:
        await self.harness.drain()
        return [r.json for r in self.stand_in.seen("POST", f"/webhooks/{self.stand_in.application_id}/"
                                                            f"{interaction['token']}")]

    async def ticket(self) -> Ticket:
        async with self.desk.db.reading() as session:
            ticket = await session.get(Ticket, self.ticket_id)
            assert ticket is not None
            return ticket

    async def member_id(self, user: dict[str, Any]) -> int | None:
        async with self.desk.db.reading() as session:
            return await session.scalar(select(Member.id).where(Member.workspace_id == self.workspace_id,
                                                                Member.discord_user_id == user["id"]))

    async def snapshot(self) -> dict[str, int]:
        """How many rows each table the commands write holds."""
        async with self.desk.db.reading() as session:
            return {t.__tablename__: await session.scalar(select(func.count()).select_from(t)) or 0 for t in TABLES}

    async def events(self, type: str) -> list[Event]:  # noqa: A002
        async with self.desk.db.reading() as session:
            return list((await session.scalars(select(Event).where(Event.type == type,
                                                                   Event.ticket_id == self.ticket_id))).all())

    async def settle(self) -> None:
        await self.harness.drain()


def is_ephemeral(answer: dict[str, Any]) -> bool:
    return bool((answer.get("data") or {}).get("flags", 0) & EPHEMERAL)


def content(answer: dict[str, Any]) -> str:
    return (answer.get("data") or {}).get("content") or ""


async def desk_world(desk: Desk, harness: DiscordHarness) -> World:
    """The server, the workspace and one open ticket in a channel (see the module docstring)."""
    guild = payloads.guild(name="Acme")
    guild["roles"][0]["permissions"] = str(EVERYONE)
    staff_role = payloads.role(guild["id"], name="Staff", permissions=STAFF_POWERS, position=1)
    admin_role = payloads.role(guild["id"], name="Admins", permissions=ADMIN_POWERS, position=2)
    guild["roles"] += [staff_role, admin_role]
    staff, manager = payloads.user(username="sam"), payloads.user(username="mia")
    opener, stranger = payloads.user(username="casey"), payloads.user(username="stranger")
    roles = {staff["id"]: [staff_role["id"]], manager["id"]: [admin_role["id"]]}
    for user in (staff, manager, opener, stranger):
        guild["members"].append(payloads.member(user, roles=roles.get(user["id"], [])))
    category = payloads.category(guild["id"], name="Tickets")
    channel = payloads.text_channel(guild["id"], name="ticket-1", parent_id=category["id"])
    general = payloads.text_channel(guild["id"], name="general")
    guild["channels"] += [category, channel, general]
    for c in (category, channel, general):
        harness.stand_in.channels[c["id"]] = c
    await harness.connect([guild])
    workspace_id = harness.bot.workspace_ids[int(guild["id"])]  # type: ignore[attr-defined]
    async with desk.tx(Actor.system(), workspace_id) as tx:
        kind = await m.create_ticket_type(tx, name="General")
        await m.create_ticket_type(tx, name="Billing")
        member = await member_for_discord_user(tx, user_id=opener["id"], display_name="casey", role_ids=[],
                                               powers=[])
        ticket = await open_ticket(tx, type_id=kind.id, title="Refund for order 42", opener_id=member.id,
                                   channel="discord_channel", external_id=channel["id"])
        await place_ticket(tx, ticket, guild_id=guild["id"], mode="channel", channel_id=channel["id"],
                           parent_id=category["id"], user_id=opener["id"])
        number, ticket_id, type_id = ticket.number, ticket.id, kind.id
    return World(harness=harness, desk=desk, guild=guild, workspace_id=workspace_id, channel=channel,
                 general=general, staff=staff, manager=manager, opener=opener, stranger=stranger,
                 staff_role=staff_role["id"], admin_role=admin_role["id"], number=number, ticket_id=ticket_id,
                 type_id=type_id, roles=roles)
