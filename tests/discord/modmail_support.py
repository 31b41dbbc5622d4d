"""Builders for DM relay tests: servers with forum-mode types, users who DM the bot, staff
writing in posts, and reading what was stored and sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import discord
from sqlalchemy import func, select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.db.models import DiscordMessageLink, DiscordTicket, Event, Message, Ticket
from frontdesk.domain.discord import FORUM_TAGS
from frontdesk.domain.permissions import Actor
from tests.discord.harness import DiscordHarness, DiscordStandIn, Recorded, payloads

SYSTEM = Actor.system()
EPHEMERAL = 1 << 6


@dataclass
class Server:
    """A server with a private ticket forum, a staff role and a staff member."""

    guild: dict[str, Any]
    forum: dict[str, Any]
    staff_role: dict[str, Any]
    staff: dict[str, Any]
    workspace_id: int = 0
    type_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.guild["id"]

    def staff_member(self) -> dict[str, Any]:
        return payloads.member(self.staff, roles=[self.staff_role["id"]])


def server(name: str, *, members: list[dict[str, Any]] = (), tags: tuple[str, ...] = FORUM_TAGS,  # type: ignore[assignment]
           roles: list[dict[str, Any]] = ()) -> Server:  # type: ignore[assignment]
    staff = payloads.user(username=f"sam-{name.lower()}", global_name=f"Sam of {name}")
    guild = payloads.guild(name=name)
    # Members without roles may read and write, nothing more (no Manage Channels: not staff).
    guild["roles"][0]["permissions"] = str((discord.Permissions.text() | discord.Permissions(view_channel=True)).value)
    role = payloads.role(guild["id"], name="Support")
    forum = payloads.forum_channel(guild["id"], name="tickets", tags=list(tags))
    guild["roles"] += [role, *roles]
    guild["channels"].append(forum)
    guild["members"] += [payloads.member(staff, roles=[role["id"]]), *members]
    guild["member_count"] = len(guild["members"])
    return Server(guild=guild, forum=forum, staff_role=role, staff=staff)


async def connect(harness: DiscordHarness, desk: Desk, servers: list[Server], *,
                  types: tuple[str, ...] = ("Help",), settings: dict[str, Any] | None = None) -> None:
    """READY and GUILD_CREATE for the servers, then forum-mode types in each workspace."""
    harness.stand_in.channels.update({s.forum["id"]: s.forum for s in servers})
    await harness.connect([s.guild for s in servers])
    for s in servers:
        s.workspace_id = harness.bot.workspace_ids[int(s.id)]  # type: ignore[attr-defined]
        async with desk.tx(SYSTEM, s.workspace_id) as tx:
            for name in types:
                kind = await m.create_ticket_type(tx, name=name, discord_mode="forum",
                                                  staff_role_ids=[s.staff_role["id"]], open_limit_per_user=None,
                                                  settings={"discord": {"forum_channel_id": s.forum["id"]}})
                s.type_ids.append(kind.id)
            if settings:
                await m.update_workspace(tx, settings={"discord": settings})


def dm(harness: DiscordHarness, user: dict[str, Any], text: str, *, channel_id: str,
       reference: str | None = None, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The user DMs the bot. The message is also kept by the stand-in, as Discord keeps it."""
    ref = {"message_id": reference, "channel_id": channel_id} if reference else None
    data = payloads.message(channel_id, user, text, reference=ref)
    if attachments:
        data["attachments"] = attachments
    harness.stand_in.messages[data["id"]] = data
    harness.feed("MESSAGE_CREATE", data)
    return data


def in_post(harness: DiscordHarness, s: Server, post_id: str, text: str, *, author: dict[str, Any] | None = None,
            member: dict[str, Any] | None = None, reference: str | None = None, **extra: Any) -> dict[str, Any]:
    """Someone (the server's staff member by default) writes in a post or channel."""
    ref = {"message_id": reference, "channel_id": post_id, "guild_id": s.id} if reference else None
    data = payloads.message(post_id, author or s.staff, text, guild_id=s.id,
                            member=member or (s.staff_member() if author is None else payloads.member(author)),
                            reference=ref)
    data.update(extra)
    harness.feed("MESSAGE_CREATE", data)
    return data


def sent_message(stand_in: DiscordStandIn, request: Recorded) -> dict[str, Any]:
    """The message the stand-in made for a request, carrying the reference it was sent with
    (what Discord's own copy of a picker message would carry when clicked)."""
    message = dict(next(msg for msg in stand_in.messages.values()
                        if msg["channel_id"] == request.path.split("/")[2] and msg["components"]
                        == (request.json or {}).get("components")))
    reference = (request.json or {}).get("message_reference")
    if reference:
        message["message_reference"] = {"channel_id": message["channel_id"], **reference}
    return message


def pick(harness: DiscordHarness, message: dict[str, Any], custom_id: str, value: str, *, user: dict[str, Any],
         dm_channel: dict[str, Any]) -> dict[str, Any]:
    data = payloads.component(custom_id, message=message, application_id=harness.stand_in.application_id,
                              guild_id=None, channel=dm_channel, user=user, values=[value], component_type=3)
    harness.feed("INTERACTION_CREATE", data)
    return data


def dm_posts(stand_in: DiscordStandIn, channel_id: str) -> list[Recorded]:
    return stand_in.seen("POST", f"/channels/{channel_id}/messages")


def texts(requests: list[Recorded]) -> list[str]:
    return [(r.json or {}).get("content") or "" for r in requests]


def embed_of(request: Recorded, index: int = 0) -> dict[str, Any]:
    return ((request.json or {}).get("embeds") or [{}])[index]


async def placed(desk: Desk) -> list[DiscordTicket]:
    async with desk.db.reading() as session:
        return list((await session.scalars(select(DiscordTicket).order_by(DiscordTicket.created_at))).all())


async def messages(desk: Desk) -> list[Message]:
    async with desk.db.reading() as session:
        return list((await session.scalars(select(Message).where(Message.visibility == "public")
                                           .order_by(Message.id))).all())


async def links(desk: Desk, message_id: int) -> list[tuple[str, str, str]]:
    async with desk.db.reading() as session:
        rows = (await session.scalars(select(DiscordMessageLink).where(DiscordMessageLink.message_id == message_id)
                                      .order_by(DiscordMessageLink.id))).all()
        return [(r.kind, r.channel_id, r.discord_message_id) for r in rows]


async def counts(desk: Desk) -> tuple[int, int, int]:
    async with desk.db.reading() as session:
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
        events = await session.scalar(select(func.count()).select_from(Event).where(Event.type.like("ticket.%")))
        stored = await session.scalar(select(func.count()).select_from(Message))
    return tickets or 0, events or 0, stored or 0


@dataclass
class OpenTicket:
    """A DM ticket opened through the relay: the user, their DM channel and the post."""

    server: Server
    user: dict[str, Any]
    dm_channel: dict[str, Any]
    post_id: str
    number: int
    ticket_id: int


async def open_by_dm(harness: DiscordHarness, desk: Desk, *, settings: dict[str, Any] | None = None,
                     text: str = "My invoice is wrong") -> OpenTicket:
    """A server with one forum type, and a member who DMs the bot and so opens a ticket."""
    user = payloads.user(username="casey", global_name="Casey Jones")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s], settings=settings)
    channel = payloads.dm_channel(user)
    harness.stand_in.channels[channel["id"]] = channel  # Discord knows the DM channel
    dm(harness, user, text, channel_id=channel["id"])
    await harness.drain()
    [row] = await placed(desk)
    async with desk.db.reading() as session:
        ticket = await session.get(Ticket, row.ticket_id)
        assert ticket is not None
        number = ticket.number
    return OpenTicket(s, user, channel, row.channel_id, number, row.ticket_id)
