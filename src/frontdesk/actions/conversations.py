"""Conversations that are not tickets (yet): created, written in, solved on their own,
converted into a ticket, linked to or unlinked from one."""

from __future__ import annotations

from sqlalchemy import func, select

from frontdesk.actions.base import Tx, get_member, ticket_for, touch
from frontdesk.actions.messages import MESSAGE_MAX
from frontdesk.actions.tickets import open_ticket
from frontdesk.db.models import Conversation, Message, Ticket, TicketParticipant
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.permissions import Capability
from frontdesk.domain.tickets import AuthorKind, ConversationChannel, ConversationStatus, Visibility


def _channel(value: str) -> ConversationChannel:
    try:
        return ConversationChannel(value)
    except ValueError:
        raise ValidationFailed(f"channel must be one of {', '.join(c.value for c in ConversationChannel)}",
                               field="channel") from None


async def get_conversation(tx: Tx, conversation_id: int, *, for_update: bool = True) -> Conversation:
    """Load a conversation the actor may see: staff see all, a customer only their own."""
    stmt = select(Conversation).where(Conversation.id == conversation_id,
                                      Conversation.workspace_id == tx.workspace_id)
    if for_update:
        stmt = stmt.with_for_update()
    conversation = (await tx.session.execute(stmt)).scalar_one_or_none()
    if conversation is None or not (tx.actor.is_staff_anywhere or conversation.customer_id == tx.actor.member_id):
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


async def start_conversation(tx: Tx, *, channel: str, customer_id: int | None = None, subject: str | None = None,
                             body: str | None = None, external_id: str | None = None) -> Conversation:
    """Start a conversation with a customer (an inbox thread, not a ticket). Staff may start one
    for any customer; a customer starts their own. Emits ``conversation.created``."""
    conv_channel = _channel(channel)
    if customer_id is None or customer_id == tx.actor.member_id:
        customer_id = tx.actor.member_id
    elif not tx.actor.is_staff_anywhere:
        raise NotPermitted("only staff may start a conversation for someone else")
    if customer_id is None:
        raise ValidationFailed("customer_id is required", field="customer_id")
    await get_member(tx, customer_id, field="customer_id")
    if subject is not None and len(subject) > 200:
        raise ValidationFailed("subject must be at most 200 characters", field="subject")
    conversation = Conversation(workspace_id=tx.workspace_id, channel=conv_channel, external_id=external_id,
                                subject=subject, customer_id=customer_id, status=ConversationStatus.OPEN,
                                created_at=tx.now)
    tx.session.add(conversation)
    await tx.session.flush()
    await tx.record(ev.CONVERSATION_CREATED, conversation_id=conversation.id, channel=conv_channel.value,
                    customer_id=customer_id)
    if body:
        await post_in_conversation(tx, conversation.id, body)
    return conversation


async def post_in_conversation(tx: Tx, conversation_id: int, body: str, *, internal: bool = False) -> Message:
    """Write in a conversation that is not linked to a ticket (a linked one is written in
    through its ticket). Staff, or the conversation's customer (public only).
    Emits ``message.created`` or ``note.created``."""
    text = (body or "").strip()
    if not text or len(text) > MESSAGE_MAX:
        raise ValidationFailed(f"body must be 1 to {MESSAGE_MAX} characters", field="body")
    conversation = await get_conversation(tx, conversation_id)
    if conversation.ticket_id is not None:
        raise Conflict("this conversation is linked to a ticket; write in the ticket")
    is_customer = tx.actor.member_id == conversation.customer_id
    if internal and not tx.actor.is_staff_anywhere:
        raise NotPermitted("only staff may add internal notes")
    kind = AuthorKind.CUSTOMER if is_customer else (AuthorKind.SYSTEM if tx.actor.is_system else AuthorKind.STAFF)
    message = Message(workspace_id=tx.workspace_id, conversation_id=conversation.id,
                      visibility=Visibility.INTERNAL if internal else Visibility.PUBLIC, author_kind=kind,
                      author_id=tx.actor.member_id, anonymous=False, body=text, created_at=tx.now)
    tx.session.add(message)
    await tx.session.flush()
    if not internal:
        conversation.last_message_at = tx.now
        if is_customer and conversation.status == ConversationStatus.SOLVED:
            conversation.status = ConversationStatus.OPEN
            conversation.solved_at = None
    await tx.record(ev.NOTE_CREATED if internal else ev.MESSAGE_CREATED, conversation_id=conversation.id,
                    message_id=message.id, author_kind=kind.value,
                    visibility="internal" if internal else "public")
    return message


async def solve_conversation(tx: Tx, conversation_id: int) -> Conversation:
    """Mark a conversation solved on its own, without a ticket. Staff only; a conversation
    linked to a ticket is finished by closing the ticket. Emits ``conversation.solved``."""
    if not tx.actor.is_staff_anywhere:
        raise NotPermitted("only staff may solve conversations")
    conversation = await get_conversation(tx, conversation_id)
    if conversation.ticket_id is not None:
        raise Conflict("this conversation is linked to a ticket; close the ticket instead")
    if conversation.status == ConversationStatus.SOLVED:
        raise Conflict("this conversation is already solved")
    conversation.status = ConversationStatus.SOLVED
    conversation.solved_at = tx.now
    await tx.record(ev.CONVERSATION_SOLVED, conversation_id=conversation.id)
    return conversation


async def convert_to_ticket(tx: Tx, conversation_id: int, *, type_id: int, title: str | None = None,
                            priority: str = "normal", tags: list[str] | None = None) -> Ticket:
    """"Convert to ticket": open a ticket for the conversation's customer and keep the
    conversation linked, so replies still go out through its channel. Staff only.
    Emits ``ticket.opened`` and ``conversation.converted``."""
    if not tx.actor.is_staff_anywhere:
        raise NotPermitted("only staff may convert conversations")
    conversation = await get_conversation(tx, conversation_id)
    if conversation.ticket_id is not None:
        raise Conflict(f"conversation {conversation_id} is already linked to a ticket")
    if conversation.customer_id is None:
        raise ValidationFailed("the conversation has no customer to open the ticket for", field="conversation_id")
    ticket = await open_ticket(
        tx, type_id=type_id, title=title or conversation.subject, opener_id=conversation.customer_id,
        priority=priority, tags=tags, channel=conversation.channel, conversation=conversation,
    )
    # What already happened in the conversation counts for the ticket: its last messages and
    # a staff reply given before the conversion (the first response is not owed twice).
    times = dict((kind, (first, last)) for kind, first, last in (await tx.session.execute(
        select(Message.author_kind, func.min(Message.created_at), func.max(Message.created_at)).where(
            Message.conversation_id == conversation.id, Message.visibility == Visibility.PUBLIC)
        .group_by(Message.author_kind)
    )).all())
    lasts = [last for _, last in times.values()]
    if lasts:
        ticket.last_message_at = max(lasts)
    if AuthorKind.CUSTOMER in times:
        ticket.last_customer_message_at = times[AuthorKind.CUSTOMER][1]
    if AuthorKind.STAFF in times:
        ticket.first_response_at = times[AuthorKind.STAFF][0]
        ticket.last_staff_message_at = times[AuthorKind.STAFF][1]
    conversation.status = ConversationStatus.OPEN
    await tx.record(ev.CONVERSATION_CONVERTED, ticket=ticket, conversation_id=conversation.id)
    return ticket


async def link_conversation(tx: Tx, number: int, conversation_id: int) -> Ticket:
    """Link another conversation to a ticket (several threads about one problem). Staff only.
    A conversation belongs to at most one ticket; its customer, when not the opener, becomes a
    contact of the ticket. Emits ``conversation.linked``."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    conversation = await get_conversation(tx, conversation_id)
    if conversation.ticket_id == ticket.id:
        return ticket
    if conversation.ticket_id is not None:
        raise Conflict(f"conversation {conversation_id} is linked to another ticket; unlink it first")
    conversation.ticket_id = ticket.id
    tx.forget_ticket_reads()
    added_contact = None
    customer_id = conversation.customer_id
    if customer_id is not None and customer_id != ticket.opener_id:
        # Whoever the conversation is with is affected by the ticket, and must keep writing
        # in their conversation (which is now written in through the ticket).
        known = await tx.session.scalar(select(func.count()).select_from(TicketParticipant).where(
            TicketParticipant.ticket_id == ticket.id, TicketParticipant.member_id == customer_id))
        if not known:
            tx.session.add(TicketParticipant(ticket_id=ticket.id, member_id=customer_id, kind="contact",
                                             added_at=tx.now))
            added_contact = customer_id
    touch(tx, ticket)
    await tx.record(ev.CONVERSATION_LINKED, ticket=ticket, conversation_id=conversation.id,
                    before={"ticket_id": None}, after={"ticket_id": ticket.id}, added_contact_id=added_contact)
    return ticket


async def unlink_conversation(tx: Tx, number: int, conversation_id: int) -> Ticket:
    """Unlink a conversation from a ticket; it stays as a conversation of its own. The
    ticket's last conversation cannot be unlinked. Staff only. Emits ``conversation.unlinked``."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    conversation = await get_conversation(tx, conversation_id)
    if conversation.ticket_id != ticket.id:
        raise ValidationFailed(f"conversation {conversation_id} is not linked to ticket {number}",
                               field="conversation_id")
    linked = await tx.session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.ticket_id == ticket.id))
    if (linked or 0) <= 1:
        raise Conflict("a ticket keeps at least one conversation")
    conversation.ticket_id = None
    tx.forget_ticket_reads()
    touch(tx, ticket)
    await tx.record(ev.CONVERSATION_UNLINKED, ticket=ticket, conversation_id=conversation.id,
                    before={"ticket_id": ticket.id}, after={"ticket_id": None})
    return ticket
