"""What the Discord mirror reads before it changes anything in Discord: a ticket as it stands
now, where it lives, and who may see its channel."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, ticket_access
from frontdesk.actions.close_requests import pending_close_request
from frontdesk.actions.discord import preload_discord_members
from frontdesk.actions.members import actors_for_members
from frontdesk.db.models import (
    CloseRequest,
    DiscordMessageLink,
    DiscordTicket,
    Event,
    Member,
    Message,
    OutboxItem,
    Ticket,
    TicketParticipant,
    TicketType,
    Transcript,
    Workspace,
)
from frontdesk.domain.discord import DiscordSettings, TypeDiscordSettings
from frontdesk.domain.permissions import Actor, Role, can_view
from frontdesk.queries.discord import TicketCard, ticket_card


@dataclass
class TicketPlace:
    """A ticket, its place in Discord, and what deciding that place's shape needs."""

    ticket: Ticket
    place: DiscordTicket
    workspace: Workspace
    settings: DiscordSettings
    ticket_type: TicketType | None
    type_settings: TypeDiscordSettings
    opener: Member | None
    participant_user_ids: tuple[str, ...]
    close_request: CloseRequest | None
    card: TicketCard

    @property
    def management_role_ids(self) -> list[str]:
        return [str(r) for r in (self.workspace.settings or {}).get("management_role_ids") or []]

    @property
    def staff_role_ids(self) -> list[str]:
        return [str(r) for r in (self.ticket_type.staff_role_ids if self.ticket_type else []) or []]

    @property
    def user_id(self) -> str | None:
        """The Discord user the ticket's DMs go to: its opener."""
        return self.place.user_id or (self.opener.discord_user_id if self.opener else None)


async def ticket_place(tx: Tx, ticket_id: int) -> TicketPlace | None:
    """The ticket ``ticket_id`` with its place, or None when it has no place (or no ticket)."""
    place = await tx.session.scalar(select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id,
                                                                DiscordTicket.workspace_id == tx.workspace_id))
    if place is None:
        return None
    ticket = await tx.session.get(Ticket, ticket_id)
    workspace = await tx.session.get(Workspace, tx.workspace_id)
    if ticket is None or workspace is None:
        return None
    ticket_type = await tx.session.get(TicketType, ticket.type_id) if ticket.type_id else None
    opener = await tx.session.get(Member, ticket.opener_id) if ticket.opener_id else None
    participants = (await tx.session.scalars(
        select(Member.discord_user_id).join(TicketParticipant, TicketParticipant.member_id == Member.id)
        .where(TicketParticipant.ticket_id == ticket.id, TicketParticipant.kind == "participant",
               Member.discord_user_id.is_not(None)))).all()
    return TicketPlace(
        ticket=ticket, place=place, workspace=workspace, settings=DiscordSettings.of(workspace.settings),
        ticket_type=ticket_type, type_settings=TypeDiscordSettings.of(ticket_type.settings if ticket_type else None),
        opener=opener, participant_user_ids=tuple(sorted({str(p) for p in participants})),
        close_request=await pending_close_request(tx.session, ticket.id), card=await ticket_card(tx, ticket),
    )


async def locked_thread_ticket(tx: Tx, channel_id: int | str) -> int | None:
    """The id of the open ticket under lockdown whose private thread is ``channel_id``, if any."""
    return await tx.session.scalar(
        select(Ticket.id).join(DiscordTicket, DiscordTicket.ticket_id == Ticket.id).where(
            DiscordTicket.workspace_id == tx.workspace_id, DiscordTicket.channel_id == str(channel_id),
            DiscordTicket.mode == "thread", DiscordTicket.state == "open", Ticket.lockdown.is_(True),
            Ticket.status != "closed").limit(1))


async def who_may_see(tx: Tx, ticket_id: int, users: dict[str, frozenset[str] | None]) -> set[str]:
    """Of the Discord users ``users`` (user id -> their roles as Discord reports them now, or
    None when it did not say), those the permission module lets see ticket ``ticket_id``: a
    locked-down thread keeps these members. A user the desk does not know is judged by their
    roles alone."""
    ticket = await tx.session.get(Ticket, ticket_id)
    if ticket is None or ticket.workspace_id != tx.workspace_id or not users:
        return set()
    await preload_discord_members(tx, users)
    members = [m for user in users if (m := tx.discord_members.get(user)) is not None]
    workspace = await tx.session.get(Workspace, tx.workspace_id)
    settings = (workspace.settings or {}) if workspace else {}
    actors = dict(zip([str(m.discord_user_id) for m in members],
                      await actors_for_members(tx, members, workspace_settings=settings), strict=True))
    stranger = Actor(member_id=None, role=Role.CUSTOMER,
                     management_role_ids=frozenset(str(r) for r in settings.get("management_role_ids") or []))
    access = await ticket_access(tx, ticket)
    allowed = set()
    for user, roles in users.items():
        actor = actors.get(user, stranger)
        if roles is not None:
            actor = replace(actor, discord_role_ids=roles)
        if can_view(actor, access):
            allowed.add(user)
    return allowed


async def newest_transcript(tx: Tx, ticket_id: int) -> Transcript | None:
    return await tx.session.scalar(select(Transcript).where(Transcript.ticket_id == ticket_id)
                                   .order_by(Transcript.id.desc()).limit(1))


async def event(tx: Tx, event_id: int) -> Event | None:
    found = await tx.session.get(Event, event_id)
    return found if found is not None and found.workspace_id == tx.workspace_id else None


async def close_request(tx: Tx, request_id: int) -> CloseRequest | None:
    found = await tx.session.get(CloseRequest, request_id)
    return found if found is not None and found.workspace_id == tx.workspace_id else None


async def message_with_author(tx: Tx, message_id: int) -> tuple[Message, Member | None] | None:
    message = await tx.session.get(Message, message_id)
    if message is None or message.workspace_id != tx.workspace_id:
        return None
    author = await tx.session.get(Member, message.author_id) if message.author_id else None
    return message, author


async def copied_to(tx: Tx, message_id: int) -> set[str]:
    """The Discord channels that already show the frontdesk message ``message_id``."""
    rows = await tx.session.scalars(select(DiscordMessageLink.channel_id)
                                    .where(DiscordMessageLink.message_id == message_id))
    return set(rows)


async def outbox_status(tx: Tx, key: str) -> str | None:
    return await tx.session.scalar(select(OutboxItem.status).where(OutboxItem.key == key))


async def earlier_pending(tx: Tx, kind: str, lane: str, item_id: int) -> bool:
    """Whether a pending outbox row of ``kind`` in ``lane`` was enqueued before row ``item_id``."""
    found = await tx.session.scalar(select(OutboxItem.id).where(
        OutboxItem.kind == kind, OutboxItem.lane == lane, OutboxItem.status == "pending",
        OutboxItem.id < item_id).limit(1))
    return found is not None


def place_url(place: DiscordTicket) -> str:
    """A jump link to the ticket's channel, thread or post."""
    return f"https://discord.com/channels/{place.guild_id}/{place.channel_id}"


async def place_of(tx: Tx, ticket_id: int | None) -> DiscordTicket | None:
    if ticket_id is None:
        return None
    return await tx.session.scalar(select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id))


async def ticket_of(tx: Tx, ticket_id: int | None) -> Ticket | None:
    return await tx.session.get(Ticket, ticket_id) if ticket_id is not None else None


def payload_flag(payload: dict[str, Any], key: str, default: bool = True) -> bool:
    value = payload.get(key, default)
    return value if isinstance(value, bool) else default
