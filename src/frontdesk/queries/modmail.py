"""What the DM relay (modmail) reads: the ticket a Discord channel or post holds, a user's open
modmail ticket, the servers and forum-mode types a DM can open tickets in, and which Discord
message shows which frontdesk message. Each answer is one round trip; they read across
workspaces, so only the desk calls them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import aliased

from frontdesk.actions.base import Tx
from frontdesk.db.models import DiscordMessageLink, DiscordTicket, Ticket, TicketType, Workspace
from frontdesk.domain.discord import DiscordSettings, TypeDiscordSettings
from frontdesk.domain.tickets import DiscordMode, Status


@dataclass(frozen=True)
class TicketPlace:
    """A ticket and where it lives in Discord, with its workspace's Discord settings."""

    workspace_id: int
    ticket_id: int
    number: int
    status: str
    anonymous: bool
    opener_id: int | None
    mode: str
    guild_id: str
    channel_id: str
    parent_id: str | None
    user_id: str | None
    dm_channel_id: str | None
    state: str
    settings: DiscordSettings

    @property
    def is_open(self) -> bool:
        return self.state == "open" and self.status != Status.CLOSED

    @property
    def relays_to_dm(self) -> bool:
        return self.mode == DiscordMode.FORUM and self.dm_channel_id is not None


def _places() -> Any:
    return (select(DiscordTicket, Ticket.number, Ticket.status, Ticket.anonymous, Ticket.opener_id, Workspace.settings)
            .join(Ticket, Ticket.id == DiscordTicket.ticket_id)
            .join(Workspace, Workspace.id == DiscordTicket.workspace_id))


def _place(row: Any) -> TicketPlace:
    placed, number, status, anonymous, opener_id, settings = row
    return TicketPlace(
        workspace_id=placed.workspace_id, ticket_id=placed.ticket_id, number=number, status=status,
        anonymous=anonymous, opener_id=opener_id, mode=placed.mode, guild_id=placed.guild_id,
        channel_id=placed.channel_id,
        parent_id=placed.parent_id, user_id=placed.user_id, dm_channel_id=placed.dm_channel_id, state=placed.state,
        settings=DiscordSettings.of(settings))


async def place_of_channel(tx: Tx, channel_id: int | str) -> TicketPlace | None:
    """The ticket whose channel, thread or forum post is ``channel_id``."""
    row = (await tx.session.execute(_places().where(DiscordTicket.channel_id == str(channel_id)))).first()
    return _place(row) if row is not None else None


async def open_modmail_ticket(tx: Tx, user_id: int | str) -> TicketPlace | None:
    """The user's open DM-relay ticket; with several (in several servers), the newest."""
    return (await open_modmail_tickets(tx, {user_id})).get(str(user_id))


async def open_modmail_tickets(tx: Tx, user_ids: set[int] | set[str] | set[int | str]) -> dict[str, TicketPlace]:
    """``open_modmail_ticket`` for many users in one round trip, by user id (as a string);
    users without an open DM-relay ticket are left out."""
    if not user_ids:
        return {}
    rows = (await tx.session.execute(_places().where(
        DiscordTicket.user_id.in_(sorted({str(u) for u in user_ids})), DiscordTicket.mode == DiscordMode.FORUM.value,
        DiscordTicket.state == "open", DiscordTicket.dm_channel_id.is_not(None), Ticket.status != Status.CLOSED,
    ).order_by(Ticket.created_at.desc(), Ticket.id.desc()))).all()
    found: dict[str, TicketPlace] = {}
    for row in rows:
        place = _place(row)
        if place.user_id is not None:
            found.setdefault(place.user_id, place)  # newest first
    return found


@dataclass(frozen=True)
class ForumType:
    type_id: int
    name: str
    forum_channel_id: str


@dataclass(frozen=True)
class DmServer:
    """A server whose workspace has ticket types a DM can open (forum mode, with a forum set)."""

    guild_id: str
    workspace_id: int
    settings: DiscordSettings
    types: tuple[ForumType, ...]

    def type_named(self, type_id: int) -> ForumType | None:
        return next((t for t in self.types if t.type_id == type_id), None)


async def dm_servers(tx: Tx, guild_ids: set[str] | None = None) -> list[DmServer]:
    """Every server (of ``guild_ids`` when given) with at least one forum-mode type that names
    its forum, with those types in name order."""
    stmt = (select(Workspace.id, Workspace.discord_guild_id, Workspace.settings, TicketType.id, TicketType.name,
                   TicketType.settings)
            .join(TicketType, TicketType.workspace_id == Workspace.id)
            .where(Workspace.discord_guild_id.is_not(None), TicketType.discord_mode == DiscordMode.FORUM.value,
                   TicketType.archived.is_(False))
            .order_by(Workspace.id, TicketType.name))
    found: dict[str, tuple[int, dict[str, Any], list[ForumType]]] = {}
    for workspace_id, guild_id, settings, type_id, name, type_settings in await tx.session.execute(stmt):
        if guild_ids is not None and guild_id not in guild_ids:
            continue
        forum = TypeDiscordSettings.of(type_settings).forum_channel_id
        if forum is None:
            continue
        found.setdefault(guild_id, (workspace_id, settings, []))[2].append(ForumType(type_id, name, forum))
    return [DmServer(guild_id, ws, DiscordSettings.of(settings), tuple(types))
            for guild_id, (ws, settings, types) in found.items()]


async def linked_message(tx: Tx, channel_id: int | str, discord_message_id: int | str) -> int | None:
    """The frontdesk message the Discord message shows, if it shows one."""
    return await tx.session.scalar(select(DiscordMessageLink.message_id).where(
        DiscordMessageLink.channel_id == str(channel_id),
        DiscordMessageLink.discord_message_id == str(discord_message_id)))


async def counterpart(tx: Tx, channel_id: int | str, discord_message_id: int | str, other_channel_id: int | str
                      ) -> tuple[int, str | None] | None:
    """For a Discord message that shows a frontdesk message (a copy in a post, say): that
    message's id and the id of the Discord message showing it in ``other_channel_id`` (the
    user's DM), which is what a reply there must reference."""
    other = aliased(DiscordMessageLink)
    row = (await tx.session.execute(
        select(DiscordMessageLink.message_id, other.discord_message_id)
        .outerjoin(other, and_(other.message_id == DiscordMessageLink.message_id,
                               other.channel_id == str(other_channel_id)))
        .where(DiscordMessageLink.channel_id == str(channel_id),
               DiscordMessageLink.discord_message_id == str(discord_message_id))
        .limit(1))).first()
    return (row[0], row[1]) if row is not None else None
