"""/api/v1/tickets/{number}/close-request: staff ask the opener whether a ticket may close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool

from frontdesk.actions import close_requests as cr
from frontdesk.actions.base import Tx, get_ticket, ticket_access, ticket_and_access
from frontdesk.api import params as p
from frontdesk.api.auth import Caller
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import Strict
from frontdesk.db.models import CloseRequest, Ticket
from frontdesk.domain.errors import NotFound
from frontdesk.domain.permissions import Capability, TicketAccess, is_ticket_staff

router = APIRouter(prefix="/api/v1/tickets", tags=["close requests"],
                   dependencies=[Depends(p.reject_nul_characters)])


class CloseRequestIn(Strict):
    comment: str | None = Field(default=None, description="at most 1000 characters")
    share_comment: StrictBool = Field(default=True, description="show the comment to the opener")
    close_after: str | None = Field(default=None, description="close unanswered after this long: 30m, 1h30m, 2d")


class CloseRequestOut(BaseModel):
    id: int
    ticket_number: int
    status: Literal["pending", "accepted", "denied", "cancelled", "expired"]
    comment: str | None
    share_comment: bool
    close_at: str | None
    created_at: str
    requested_by_id: int | None
    answered_at: str | None
    answered_by_id: int | None


async def _present(tx: Tx, number: int, req: CloseRequest) -> dict[str, Any]:
    """The request an action just changed, for the caller the action admitted (no second
    permission check: accepting may close a lockdown ticket out of its opener's sight)."""
    ticket = await get_ticket(tx, number)
    return _shape(tx, ticket, await ticket_access(tx, ticket), req)


def _shape(tx: Tx, ticket: Ticket, access: TicketAccess, req: CloseRequest) -> dict[str, Any]:
    """Customers do not see an unshared comment, and everyone but the opener sees an
    anonymous ticket's opener as ``null``."""
    staff = tx.actor.is_system or is_ticket_staff(tx.actor, access)
    hidden = ticket.opener_id if ticket.anonymous and tx.actor.member_id != ticket.opener_id else None
    return {"ticket_number": ticket.number, **cr.close_request_json(req, staff=staff, hidden_member_id=hidden)}


async def _answer(caller: Caller, number: int, action: Callable[[Tx, int], Awaitable[CloseRequest]]
                  ) -> dict[str, Any]:
    async with caller.tx() as tx:
        req = await action(tx, number)
        await tx.session.flush()
        return await _present(tx, number, req)


@router.post("/{number}/close-request", status_code=201, response_model=CloseRequestOut,
             summary="Ask the opener to close")
async def create(number: p.TicketNumber, request: Request, caller: CallerDep,
                 body: CloseRequestIn | None = None, idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Staff ask the opener whether the ticket may close, with an optional comment (hidden
    from the opener when `share_comment` is false) and an optional `close_after` time string
    after which an unanswered request closes the ticket. 409 when one is already pending.
    Honours `Idempotency-Key`."""
    data = (body or CloseRequestIn()).model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        req = await cr.create_close_request(tx, number, **data)
        return await _present(tx, number, req)

    return await run_creating(caller, request, idempotency_key, data, run, response_model=CloseRequestOut)


@router.get("/{number}/close-request", response_model=CloseRequestOut, summary="The pending close request")
async def get_pending(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """The ticket's pending close request; 404 when there is none."""
    async with caller.read() as tx:
        ticket, access = await ticket_and_access(tx, number, Capability.VIEW, for_update=False)
        req = await cr.pending_close_request(tx.session, ticket.id)
        presented = _shape(tx, ticket, access, req) if req is not None else None
    if presented is None:
        raise NotFound(f"ticket {number} has no pending close request")
    return presented


@router.delete("/{number}/close-request", response_model=CloseRequestOut, summary="Cancel the close request")
async def cancel(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """Staff withdraw the pending request; 409 when there is none."""
    return await _answer(caller, number, cr.cancel_close_request)


@router.post("/{number}/close-request/accept", response_model=CloseRequestOut,
             summary="Accept the close request (opener)")
async def accept(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """The opener agrees; the ticket closes as resolved. 409 when nothing is pending."""
    return await _answer(caller, number, cr.accept_close_request)


@router.post("/{number}/close-request/deny", response_model=CloseRequestOut,
             summary="Deny the close request (opener)")
async def deny(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """The opener still needs help; the ticket stays open. 409 when nothing is pending."""
    return await _answer(caller, number, cr.deny_close_request)
