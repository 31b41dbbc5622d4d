"""Closing, reopening and rating tickets."""

from __future__ import annotations

from frontdesk.actions.base import Tx, ticket_for, touch
from frontdesk.actions.close_requests import settle_close_request_on_close
from frontdesk.actions.quality import QualityFlagKind, flag_ticket
from frontdesk.actions.timers import after_close, after_reopen, load_policies
from frontdesk.actions.transcripts import create_transcript
from frontdesk.db.models import Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, TicketClosed, TicketNotClosed, ValidationFailed
from frontdesk.domain.permissions import Capability
from frontdesk.domain.tickets import CLOSE_NOTE_MAX, CloseReason, Csat, Status


def parse_close_reason(reason: str | None) -> CloseReason:
    if not reason:
        raise ValidationFailed("a close reason is required", field="reason")
    try:
        return CloseReason(reason)
    except ValueError:
        raise ValidationFailed(f"reason must be one of {', '.join(r.value for r in CloseReason)}",
                               field="reason") from None


def check_close_note(note: str | None) -> str | None:
    if note is None:
        return None
    note = note.strip()
    if len(note) > CLOSE_NOTE_MAX:
        raise ValidationFailed(f"note must be at most {CLOSE_NOTE_MAX} characters", field="note")
    return note or None


async def close_ticket(tx: Tx, number: int, *, reason: str, note: str | None = None,
                       transcript: bool = True, **details: object) -> Ticket:
    """Close a ticket with a reason (resolved, duplicate, user_unresponsive, out_of_scope,
    spam, other) and an optional note of at most 500 characters; renders its transcript.

    Who: staff on the ticket; the opener too when the type lets openers close. Closing a
    closed ticket is a conflict. Emits ``ticket.closed`` (and ``transcript.created``).
    """
    close_reason = parse_close_reason(reason)
    close_note = check_close_note(note)
    ticket = await ticket_for(tx, number, Capability.CLOSE)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"ticket {number} is already closed")
    return await close_loaded(tx, ticket, close_reason, close_note, transcript=transcript, **details)


async def close_loaded(tx: Tx, ticket: Ticket, reason: CloseReason, note: str | None, *, transcript: bool = True,
                       **details: object) -> Ticket:
    """Close a loaded, locked and checked ticket: the close fields, ``ticket.closed`` (with
    ``details`` in its payload, such as the ``cause`` when the desk itself closes), its
    pending close request cancelled, and the transcript."""
    previous = await mark_closed(tx, ticket, reason, note)
    await tx.record(ev.TICKET_CLOSED, ticket=ticket, reason=reason.value, note=note,
                    lockdown=ticket.lockdown, before={"status": previous}, after={"status": Status.CLOSED.value},
                    **details)
    await settle_close_request_on_close(tx, ticket)
    if transcript:
        await create_transcript(tx, ticket)
    return ticket


async def mark_closed(tx: Tx, ticket: Ticket, reason: CloseReason, note: str | None) -> str:
    """Set the close fields of a loaded ticket (shared by closing and merging), stop its SLA
    clock and schedule its follow-up; returns the status it had."""
    previous = ticket.status
    ticket.status = Status.CLOSED
    ticket.close_reason = reason
    ticket.close_note = note
    ticket.closed_at = tx.now
    ticket.closed_by_id = tx.actor.member_id
    await after_close(tx, ticket, reason)
    touch(tx, ticket)
    return previous


async def reopen_ticket(tx: Tx, number: int) -> Ticket:
    """Reopen a closed ticket as Open, clearing its close reason and rating. Staff only. A
    ticket merged into another is reopened by unmerging it. Emits ``ticket.reopened``."""
    ticket = await ticket_for(tx, number, Capability.REOPEN)
    if ticket.status != Status.CLOSED:
        raise TicketNotClosed(f"ticket {number} is not closed")
    if ticket.merged_into_id is not None:
        raise Conflict(f"ticket {number} was merged into another ticket; unmerge it instead")
    before = {"status": ticket.status, "close_reason": ticket.close_reason, "close_note": ticket.close_note,
              "closed_at": ticket.closed_at, "csat": ticket.csat}
    ticket.status = Status.OPEN
    ticket.close_reason = None
    ticket.close_note = None
    ticket.closed_at = None
    ticket.closed_by_id = None
    ticket.csat = None
    ticket.csat_comment = None
    ticket.rated_at = None
    await after_reopen(tx, ticket)
    touch(tx, ticket)
    await tx.record(ev.TICKET_REOPENED, ticket=ticket, before=before, after={"status": Status.OPEN.value})
    return ticket


CSAT_COMMENT_MAX = 1000


async def rate_ticket(tx: Tx, number: int, rating: str, *, comment: str | None = None) -> Ticket:
    """Record the opener's satisfaction after close: helpful, not_helpful or skipped, with an
    optional comment. Only the opener, only once a ticket is closed, and once (a skip may be
    replaced by a rating). Emits ``csat.submitted``, and ``csat.negative`` for not_helpful."""
    try:
        value = Csat(rating)
    except ValueError:
        raise ValidationFailed(f"rating must be one of {', '.join(c.value for c in Csat)}",
                               field="rating") from None
    if comment is not None and len(comment) > CSAT_COMMENT_MAX:
        raise ValidationFailed(f"comment must be at most {CSAT_COMMENT_MAX} characters", field="comment")
    ticket = await ticket_for(tx, number, Capability.RATE)
    if ticket.status != Status.CLOSED:
        raise TicketNotClosed(f"ticket {number} can be rated once it is closed")
    if ticket.csat is not None and ticket.csat != Csat.SKIPPED:
        raise Conflict(f"ticket {number} has already been rated")
    before = ticket.csat
    ticket.csat = value
    ticket.csat_comment = (comment or "").strip() or None
    ticket.rated_at = tx.now
    touch(tx, ticket)
    await tx.record(ev.CSAT_SUBMITTED, ticket=ticket, rating=value.value, comment=ticket.csat_comment,
                    before={"csat": before}, after={"csat": value.value})
    if value is Csat.NOT_HELPFUL:
        await tx.record(ev.CSAT_NEGATIVE, ticket=ticket, comment=ticket.csat_comment)
        await flag_ticket(tx, ticket, QualityFlagKind.NEGATIVE_CSAT, comment=ticket.csat_comment)
        policies = await load_policies(tx)
        if policies.negative_csat.follow_up:
            await tx.record(ev.TICKET_FOLLOW_UP, ticket=ticket, kind="negative_csat", recipient_id=ticket.opener_id,
                            message=policies.negative_csat.message)
    return ticket
