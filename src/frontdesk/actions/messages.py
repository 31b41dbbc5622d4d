"""Messages and internal notes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from frontdesk.actions.away import send_away_message_if_closed
from frontdesk.actions.base import Tx, ticket_and_access, ticket_for, touch
from frontdesk.actions.tickets import apply_status
from frontdesk.actions.timers import note_public_message, sync_sla
from frontdesk.db.models import Attachment, Conversation, Message, MessageEdit, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.domain.permissions import Capability, TicketAccess, is_ticket_staff
from frontdesk.domain.tickets import AuthorKind, Status, Visibility

MESSAGE_MAX = 16_000
MAX_ATTACHMENTS = 10


@dataclass(frozen=True)
class NewAttachment:
    """An attachment to store with a message: bytes to keep, or an external URL."""

    filename: str
    content_type: str
    data: bytes | None = None
    url: str | None = None
    size: int | None = None


def _body(body: str, attachments: list[NewAttachment]) -> str:
    text = (body or "").strip()
    if not text and not attachments:
        raise ValidationFailed("a message needs text or an attachment", field="body")
    if len(text) > MESSAGE_MAX:
        raise ValidationFailed(f"body must be at most {MESSAGE_MAX} characters", field="body")
    return text


def _check_attachments(attachments: list[NewAttachment]) -> None:
    if len(attachments) > MAX_ATTACHMENTS:
        raise ValidationFailed(f"at most {MAX_ATTACHMENTS} attachments per message", field="attachments")
    for i, a in enumerate(attachments):
        if not a.filename or len(a.filename) > 255 or "/" in a.filename or "\\" in a.filename:
            raise ValidationFailed("attachment filename must be 1 to 255 characters without slashes",
                                   field=f"attachments[{i}].filename")
        if (a.data is None) == (a.url is None):
            raise ValidationFailed("an attachment has either bytes or a URL", field=f"attachments[{i}]")
        if a.url is not None and not a.url.startswith(("https://", "http://")):
            raise ValidationFailed("attachment url must be http(s)", field=f"attachments[{i}].url")
        if a.size is not None and (isinstance(a.size, bool) or not isinstance(a.size, int) or a.size < 0):
            raise ValidationFailed("attachment size must be a whole number of bytes", field=f"attachments[{i}].size")


async def _store_attachments(tx: Tx, message: Message, attachments: list[NewAttachment]) -> None:
    for a in attachments:
        key = tx.files.put(a.data) if a.data is not None else None
        tx.session.add(Attachment(
            workspace_id=tx.workspace_id,
            message_id=message.id,
            filename=a.filename,
            content_type=a.content_type or "application/octet-stream",
            size=len(a.data) if a.data is not None else (a.size or 0),
            sha256=key,
            storage_key=key,
            url=a.url,
            created_at=tx.now,
        ))


def customer_conversation_owners(ticket: Ticket, access: TicketAccess, member_id: int | None) -> set[int]:
    """Whose conversations a customer-side member may read and write in on this ticket: their
    own, and the opener's when they are the opener or were added to the ticket. A ticket can
    hold other customers' conversations (linked or merged); those stay private."""
    owners = {member_id} if member_id is not None else set()
    added = member_id is not None and (member_id == ticket.opener_id or member_id in access.participant_ids)
    if added and ticket.opener_id is not None:
        owners.add(ticket.opener_id)
    return owners


async def _default_conversation(tx: Tx, ticket: Ticket, customer_id: int | None) -> Conversation:
    """Where a message goes when the caller names no conversation: a customer's own
    conversation of the ticket, else the opener's, else the oldest. A ticket may hold other
    customers' conversations (linked or merged), and a reply must not go out to them."""
    conversations = tx.conversation_lists.get(ticket.id)
    if conversations is None:
        conversations = tx.conversation_lists[ticket.id] = list((await tx.session.execute(
            select(Conversation).where(Conversation.ticket_id == ticket.id).order_by(Conversation.id)
        )).scalars())
    if not conversations:
        raise NotFound(f"ticket {ticket.number} has no conversation to reply in")
    for wanted in (customer_id, ticket.opener_id):
        for conversation in conversations:
            if wanted is not None and conversation.customer_id == wanted:
                return conversation
    return conversations[0]


@dataclass
class PreparedMessage:
    """A public message checked and added to the session, not yet flushed: what
    ``post_message`` does before it needs the message's id (``prepare_message``), for callers
    that post many at once and flush once (the Discord relay's group commit)."""

    ticket: Ticket
    conversation: Conversation
    message: Message
    kind: AuthorKind
    attachments: list[NewAttachment]


async def post_message(
    tx: Tx,
    number: int,
    body: str,
    *,
    conversation_id: int | None = None,
    anonymous: bool = False,
    reply_to_id: int | None = None,
    attachments: list[NewAttachment] | None = None,
    external_id: str | None = None,
    author_kind: str | None = None,
) -> Message:
    """Post a public message in one of the ticket's conversations, so the reply goes out
    through that conversation's own channel. By default a customer writes in their own
    conversation and staff in the opener's.

    Who: staff on the ticket, the opener, participants and contacts. The author kind follows
    who writes (staff or customer); the desk itself posts as ``bot`` unless it names another
    kind (a relayed staff reply is ``staff``). The
    first public staff message sets the first response time. A customer writing on a Waiting
    or Resolved ticket puts it back to Open. Emits ``message.created``.
    """
    prepared = await prepare_message(tx, number, body, conversation_id=conversation_id, anonymous=anonymous,
                                     reply_to_id=reply_to_id, attachments=attachments, external_id=external_id,
                                     author_kind=author_kind)
    await tx.session.flush()
    return await finish_message(tx, prepared)


async def prepare_message(
    tx: Tx,
    number: int,
    body: str,
    *,
    conversation_id: int | None = None,
    anonymous: bool = False,
    reply_to_id: int | None = None,
    attachments: list[NewAttachment] | None = None,
    external_id: str | None = None,
    author_kind: str | None = None,
) -> PreparedMessage:
    """``post_message`` up to the message's insert: every check, as ``tx.actor``, and the
    message added to the session. Flush the session, then call ``finish_message``."""
    files = list(attachments or [])
    text = _body(body, files)
    _check_attachments(files)
    ticket, access = await ticket_and_access(tx, number, Capability.REPLY)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"ticket {number} is closed; reopen it to write in it")
    staff = tx.actor.is_system or is_ticket_staff(tx.actor, access)
    if author_kind is not None:
        if not tx.actor.is_system:
            raise ValidationFailed("only the desk itself chooses an author kind", field="author_kind")
        try:
            kind = AuthorKind(author_kind)
        except ValueError:
            raise ValidationFailed(f"author_kind must be one of {', '.join(k.value for k in AuthorKind)}",
                                   field="author_kind") from None
    elif tx.actor.is_system:
        # The desk writing on its own behalf (automation, auto-replies) is a bot, not a staff
        # reply: it must not stop the first-response clock.
        kind = AuthorKind.BOT
    else:
        kind = AuthorKind.STAFF if staff and tx.actor.member_id != ticket.opener_id else AuthorKind.CUSTOMER
    if anonymous and kind is AuthorKind.CUSTOMER and not ticket.anonymous:
        raise ValidationFailed("customers write anonymously only in anonymous tickets", field="anonymous")
    if conversation_id is not None:
        conversation = await tx.session.get(Conversation, conversation_id)
        if conversation is None or conversation.ticket_id != ticket.id or (
                not staff and conversation.customer_id not in customer_conversation_owners(
                    ticket, access, tx.actor.member_id)):
            raise ValidationFailed(f"conversation {conversation_id} is not linked to ticket {number}",
                                   field="conversation_id")
    else:
        conversation = await _default_conversation(
            tx, ticket, tx.actor.member_id if kind is AuthorKind.CUSTOMER else None)
    if reply_to_id is not None:
        await _check_reply_to(tx, reply_to_id, ticket)
    message = Message(
        workspace_id=tx.workspace_id,
        conversation_id=conversation.id,
        visibility=Visibility.PUBLIC,
        author_kind=kind,
        author_id=tx.actor.member_id,
        anonymous=anonymous or (kind is AuthorKind.CUSTOMER and ticket.anonymous),
        body=text,
        reply_to_id=reply_to_id,
        external_id=external_id,
        created_at=tx.now,
    )
    tx.session.add(message)
    return PreparedMessage(ticket, conversation, message, kind, files)


async def finish_message(tx: Tx, prepared: PreparedMessage) -> Message:
    """``post_message`` after the message's insert (the session flushed), as ``tx.actor``:
    attachments, the ticket's times and status, ``message.created``, the away message."""
    ticket, conversation, message, kind = prepared.ticket, prepared.conversation, prepared.message, prepared.kind
    if ticket.status == Status.CLOSED:
        # Closed between the checks and now (by what an earlier message of the same batch set off).
        raise TicketClosed(f"ticket {ticket.number} is closed; reopen it to write in it")
    await _store_attachments(tx, message, prepared.attachments)
    note_public_message(tx, ticket, kind)
    ticket.last_message_at = tx.now
    conversation.last_message_at = tx.now
    if kind is AuthorKind.STAFF:
        ticket.last_staff_message_at = tx.now
        if ticket.first_response_at is None:
            ticket.first_response_at = tx.now
            ticket.first_responder_id = tx.actor.member_id
            await sync_sla(tx, ticket)
    elif kind is AuthorKind.CUSTOMER:
        ticket.last_customer_message_at = tx.now
    touch(tx, ticket)
    await tx.record(ev.MESSAGE_CREATED, ticket=ticket, conversation_id=conversation.id, message_id=message.id,
                    author_kind=kind.value, visibility="public", anonymous=message.anonymous,
                    attachments=len(prepared.attachments))
    if kind is AuthorKind.CUSTOMER and ticket.status in (Status.WAITING, Status.RESOLVED):
        await apply_status(tx, ticket, Status.OPEN, cause="customer_replied")
    if kind is AuthorKind.CUSTOMER:
        await send_away_message_if_closed(tx, ticket, conversation)
    return message


async def _check_reply_to(tx: Tx, reply_to_id: int, ticket: Ticket) -> None:
    target = await tx.session.get(Message, reply_to_id)
    if target is None or target.workspace_id != tx.workspace_id:
        raise ValidationFailed(f"message {reply_to_id} does not exist", field="reply_to_id")
    if target.ticket_id != ticket.id:
        conversation = await tx.session.get(Conversation, target.conversation_id) if target.conversation_id else None
        if conversation is None or conversation.ticket_id != ticket.id:
            raise ValidationFailed(f"message {reply_to_id} is not in this ticket", field="reply_to_id")
    if target.visibility != Visibility.PUBLIC:
        # A public reply shows what it answers; quoting a note would show the note to the customer.
        raise ValidationFailed("a public message cannot reply to an internal note", field="reply_to_id")


async def add_note(tx: Tx, number: int, body: str, *, attachments: list[NewAttachment] | None = None) -> Message:
    """Add an internal note: staff-only, kept on the ticket (never sent to the customer and
    never in the customer's view). Staff only. Emits ``note.created``."""
    files = list(attachments or [])
    text = _body(body, files)
    _check_attachments(files)
    ticket = await ticket_for(tx, number, Capability.NOTE)
    note = Message(
        workspace_id=tx.workspace_id,
        ticket_id=ticket.id,
        visibility=Visibility.INTERNAL,
        author_kind=AuthorKind.SYSTEM if tx.actor.is_system else AuthorKind.STAFF,
        author_id=tx.actor.member_id,
        anonymous=False,
        body=text,
        created_at=tx.now,
    )
    tx.session.add(note)
    await tx.session.flush()
    await _store_attachments(tx, note, files)
    touch(tx, ticket)
    await tx.record(ev.NOTE_CREATED, ticket=ticket, message_id=note.id, visibility="internal")
    return note


async def edit_message(tx: Tx, message_id: int, body: str) -> Message:
    """Change a message's text, keeping the previous text as an edit. Only its author, and a
    public message only while its ticket is not closed. Emits ``message.edited``."""
    message = await tx.session.get(Message, message_id)
    if message is None or message.workspace_id != tx.workspace_id:
        raise NotFound(f"message {message_id} not found")
    ticket = await ticket_of_message(tx, message)
    if ticket is not None:
        await ticket_for(tx, ticket.number, Capability.VIEW)
        if message.visibility == Visibility.INTERNAL:
            try:
                await ticket_for(tx, ticket.number, Capability.NOTE)
            except NotPermitted:
                # A note does not exist for whoever may not read notes.
                raise NotFound(f"message {message_id} not found") from None
    if message.author_id is None or message.author_id != tx.actor.member_id:
        raise NotPermitted("only the author may edit a message")
    if ticket is not None and ticket.status == Status.CLOSED and message.visibility == Visibility.PUBLIC:
        # Its transcript was rendered at close; the record stays as it was then.
        raise TicketClosed(f"ticket {ticket.number} is closed; its messages can no longer be edited")
    text = _body(body, [])
    if text == message.body:
        return message
    tx.session.add(MessageEdit(message_id=message.id, previous_body=message.body,
                               editor_id=tx.actor.member_id, edited_at=tx.now))
    before = message.body
    message.body = text
    message.edited_at = tx.now
    await tx.record(ev.MESSAGE_EDITED, ticket=ticket, conversation_id=message.conversation_id,
                    message_id=message.id, before={"body": before}, after={"body": text})
    return message


async def ticket_of_message(tx: Tx, message: Message) -> Ticket | None:
    """The ticket a message belongs to: a note's own ticket, or its conversation's."""
    if message.ticket_id is not None:
        return await tx.session.get(Ticket, message.ticket_id)
    if message.conversation_id is not None:
        conversation = await tx.session.get(Conversation, message.conversation_id)
        if conversation is not None and conversation.ticket_id is not None:
            return await tx.session.get(Ticket, conversation.ticket_id)
    return None
