"""What the Discord bot reads: which workspace a server is, which ticket a channel holds."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.db.models import Conversation, Member, Ticket, TicketType, Workspace
from frontdesk.domain.discord import anonymous_identity
from frontdesk.domain.tickets import ConversationChannel

DISCORD_CONVERSATIONS = (ConversationChannel.DISCORD_CHANNEL, ConversationChannel.DISCORD_THREAD,
                         ConversationChannel.DISCORD_FORUM)


async def workspace_id_for_guild(tx: Tx, guild_id: int | str) -> int | None:
    return await tx.session.scalar(select(Workspace.id).where(Workspace.discord_guild_id == str(guild_id)))


async def ticket_by_id(tx: Tx, ticket_id: int) -> tuple[int, int] | None:
    """(workspace id, number) of a ticket: what a button that carries only the ticket's id needs."""
    row = (await tx.session.execute(select(Ticket.workspace_id, Ticket.number).where(Ticket.id == ticket_id))).first()
    return (row.workspace_id, row.number) if row is not None else None


async def ticket_in_channel(tx: Tx, channel_id: int | str) -> Ticket | None:
    """The ticket whose Discord channel, thread or forum post is ``channel_id``, if any."""
    return await tx.session.scalar(
        select(Ticket).join(Conversation, Conversation.ticket_id == Ticket.id).where(
            Conversation.workspace_id == tx.workspace_id,
            Conversation.channel.in_([c.value for c in DISCORD_CONVERSATIONS]),
            Conversation.external_id == str(channel_id),
        ).limit(1)
    )


@dataclass(frozen=True)
class TicketCard:
    """What a ticket's card in Discord shows (the welcome message, kept up to date by the mirror)."""

    ticket_id: int
    number: int
    title: str
    type_name: str | None
    status: str
    priority: str
    opener: str  # a mention of the opener, or the generated name of an anonymous ticket
    claimer: str | None
    assignee: str | None
    answers: tuple[tuple[str, str], ...]
    escalated: bool
    lockdown: bool
    anonymous: bool


def _person(member: Member | None) -> str | None:
    if member is None:
        return None
    return f"<@{member.discord_user_id}>" if member.discord_user_id else member.display_name


async def ticket_card(tx: Tx, ticket: Ticket) -> TicketCard:
    """The card of ``ticket``, read in one round trip for the people on it."""
    ids = {i for i in (ticket.opener_id, ticket.claimer_id, ticket.assignee_id) if i is not None}
    people = {m.id: m for m in (await tx.session.scalars(select(Member).where(Member.id.in_(ids)))).all()} \
        if ids else {}
    type_name = None
    if ticket.type_id is not None:
        type_name = await tx.session.scalar(select(TicketType.name).where(TicketType.id == ticket.type_id))
    if ticket.anonymous:
        opener = anonymous_identity(ticket.id, ticket.opener_id).nickname
    else:
        opener = _person(people.get(ticket.opener_id)) or "unknown"  # type: ignore[arg-type]
    answers = tuple((str(a.get("label") or a.get("id")), str(a.get("value") or ""))
                    for a in (ticket.intake_answers or []) if a.get("value"))
    return TicketCard(
        ticket_id=ticket.id, number=ticket.number, title=ticket.title, type_name=type_name, status=ticket.status,
        priority=ticket.priority, opener=opener, claimer=_person(people.get(ticket.claimer_id)),  # type: ignore[arg-type]
        assignee=_person(people.get(ticket.assignee_id)), answers=answers,  # type: ignore[arg-type]
        escalated=ticket.escalated, lockdown=ticket.lockdown, anonymous=ticket.anonymous,
    )
