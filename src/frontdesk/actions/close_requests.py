"""Close requests: staff ask the opener whether a ticket may close.

The opener accepts (the ticket closes as resolved) or denies (it stays open); staff may
cancel; with a close time set and no answer by then, the worker's sweep closes the ticket
(``frontdesk.worker.close_requests``). At most one request per ticket is pending; the
partial unique index on ``close_requests`` enforces it even between racing transactions.

Every action locks the ticket row before it touches its request, and so does the sweep, so
the two never wait on each other in opposite orders.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.actions.base import Tx, ticket_and_access, ticket_for, touch
from frontdesk.db.models import CloseRequest, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.domain.permissions import Capability
from frontdesk.domain.tickets import CloseReason, Status
from frontdesk.domain.timestrings import format_timestring, parse_timestring

COMMENT_MAX = 1000

PENDING = "pending"
ACCEPTED = "accepted"
DENIED = "denied"
CANCELLED = "cancelled"
EXPIRED = "expired"

# Why a ticket closed, in the ``cause`` of its ``ticket.closed`` event.
CAUSE_ACCEPTED = "close_request_accepted"
CAUSE_EXPIRED = "close_request_expired"
EXPIRED_NOTE = "Closed automatically: the close request was not answered"


# --- reading -------------------------------------------------------------------------------------------------


async def pending_close_request(session: AsyncSession, ticket_id: int, *,
                                for_update: bool = False) -> CloseRequest | None:
    """The ticket's pending close request, if it has one."""
    stmt = select(CloseRequest).where(CloseRequest.ticket_id == ticket_id, CloseRequest.status == PENDING)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def close_request_json(req: CloseRequest, *, staff: bool = True, hidden_member_id: int | None = None
                       ) -> dict[str, Any]:
    """A close request as the API and the ticket view show it.

    ``staff=False`` (the opener or another customer) leaves out a comment staff chose not to
    share. ``hidden_member_id`` (the opener of an anonymous ticket, for everyone but them)
    is shown as ``null`` wherever it would appear."""

    def person(member_id: int | None) -> int | None:
        return None if member_id is not None and member_id == hidden_member_id else member_id

    return {
        "id": req.id,
        "status": req.status,
        "comment": req.comment if staff or req.share_comment else None,
        "share_comment": req.share_comment,
        "close_at": req.close_at.isoformat() if req.close_at else None,
        "created_at": req.created_at.isoformat() if req.created_at else None,
        "requested_by_id": person(req.requested_by_id),
        "answered_at": req.answered_at.isoformat() if req.answered_at else None,
        "answered_by_id": person(req.answered_by_id),
    }


# --- validation ----------------------------------------------------------------------------------------------


def check_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str):
        raise ValidationFailed("comment must be text", field="comment")
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(f"comment must be at most {COMMENT_MAX} characters", field="comment")
    return comment or None


# --- actions -------------------------------------------------------------------------------------------------


async def create_close_request(tx: Tx, number: int, *, comment: str | None = None, share_comment: bool = True,
                               close_after: str | None = None) -> CloseRequest:
    """Ask the opener whether the ticket may close, with an optional comment (at most 1000
    characters; ``share_comment=False`` keeps it for staff) and an optional close time
    (``30m``, ``1h30m``, ``2d``) after which an unanswered request closes the ticket.

    Who: staff on the ticket. The ticket must be open (not Closed) and have no pending
    request (409). Emits ``close_request.created``."""
    text = check_comment(comment)
    if not isinstance(share_comment, bool):
        raise ValidationFailed("share_comment must be true or false", field="share_comment")
    duration = None if close_after is None else parse_timestring(close_after, field="close_after")
    ticket = await ticket_for(tx, number, Capability.EDIT)
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"ticket {number} is closed")
    existing = await pending_close_request(tx.session, ticket.id)
    if existing is not None:
        raise _already_pending(number, existing.id)
    req = CloseRequest(
        workspace_id=tx.workspace_id, ticket_id=ticket.id, requested_by_id=tx.actor.member_id,
        comment=text, share_comment=share_comment, status=PENDING, created_at=tx.now,
        close_at=tx.now + duration if duration is not None else None,
    )
    try:
        # A savepoint: should a concurrent request win the unique index after all (the ticket
        # lock makes that unlikely), the transaction stays usable for the error.
        async with tx.session.begin_nested():
            tx.session.add(req)
            await tx.session.flush()
    except IntegrityError:
        winner = await pending_close_request(tx.session, ticket.id)
        raise _already_pending(number, winner.id if winner else None) from None
    touch(tx, ticket)
    await tx.record(ev.CLOSE_REQUEST_CREATED, ticket=ticket, close_request_id=req.id, comment=text,
                    share_comment=share_comment, close_at=req.close_at,
                    close_after=format_timestring(duration) if duration is not None else None)
    return req


async def accept_close_request(tx: Tx, number: int) -> CloseRequest:
    """The opener agrees: the request is accepted and the ticket closes as resolved (with its
    transcript), whether or not the type lets openers close. Only the opener. Emits
    ``close_request.accepted`` and ``ticket.closed``."""
    ticket, req = await _opener_answering(tx, number)
    _settle(tx, req, ACCEPTED)
    await tx.record(ev.CLOSE_REQUEST_ACCEPTED, ticket=ticket, close_request_id=req.id)
    await close_for_request(tx, ticket, req, cause=CAUSE_ACCEPTED)
    return req


async def deny_close_request(tx: Tx, number: int) -> CloseRequest:
    """The opener still needs help: the request is denied and the ticket stays open. Only the
    opener. Emits ``close_request.denied``."""
    ticket, req = await _opener_answering(tx, number)
    _settle(tx, req, DENIED)
    touch(tx, ticket)
    await tx.record(ev.CLOSE_REQUEST_DENIED, ticket=ticket, close_request_id=req.id)
    return req


async def cancel_close_request(tx: Tx, number: int) -> CloseRequest:
    """Withdraw the pending request (the bot removes the opener's notification). Staff on
    the ticket. Emits ``close_request.cancelled``."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    req = await _pending_or_conflict(tx, ticket)
    _settle(tx, req, CANCELLED)
    touch(tx, ticket)
    await tx.record(ev.CLOSE_REQUEST_CANCELLED, ticket=ticket, close_request_id=req.id, cause="cancelled")
    return req


async def settle_close_request_on_close(tx: Tx, ticket: Ticket) -> CloseRequest | None:
    """Called when a ticket closes by any other path (closed by staff, merged, auto-closed):
    its pending request, if any, is cancelled. Emits ``close_request.cancelled`` with
    ``cause: ticket_closed``; does nothing when none is pending."""
    req = await pending_close_request(tx.session, ticket.id, for_update=True)
    if req is None:
        return None
    _settle(tx, req, CANCELLED)
    await tx.record(ev.CLOSE_REQUEST_CANCELLED, ticket=ticket, close_request_id=req.id, cause="ticket_closed")
    return req


async def close_for_request(tx: Tx, ticket: Ticket, req: CloseRequest, *, cause: str,
                            note: str | None = None) -> None:
    """Close ``ticket`` as resolved because of ``req``: what ``close_ticket`` does, without its
    permission check (the opener's answer or the request's expiry is the permission)."""
    # Imported here so that ``lifecycle`` may import this module's close hook at its top.
    from frontdesk.actions.lifecycle import close_loaded

    await close_loaded(tx, ticket, CloseReason.RESOLVED, note, cause=cause, close_request_id=req.id)


# --- helpers -------------------------------------------------------------------------------------------------


def _already_pending(number: int, request_id: int | None) -> Conflict:
    extra = {"close_request_id": request_id} if request_id is not None else {}
    return Conflict(f"ticket {number} already has a pending close request; cancel it first", **extra)


async def _pending_or_conflict(tx: Tx, ticket: Ticket) -> CloseRequest:
    req = await pending_close_request(tx.session, ticket.id, for_update=True)
    if req is None:
        raise Conflict(f"ticket {ticket.number} has no pending close request")
    return req


async def _opener_answering(tx: Tx, number: int) -> tuple[Ticket, CloseRequest]:
    """The ticket (locked) and its pending request, when the actor is its opener."""
    ticket, _ = await ticket_and_access(tx, number, Capability.VIEW)
    if tx.actor.member_id is None or tx.actor.member_id != ticket.opener_id:
        raise NotPermitted(f"only the opener of ticket {number} may answer its close request")
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"ticket {number} is already closed")
    return ticket, await _pending_or_conflict(tx, ticket)


def _settle(tx: Tx, req: CloseRequest, status: str) -> None:
    req.status = status
    req.answered_at = tx.now
    req.answered_by_id = tx.actor.member_id
