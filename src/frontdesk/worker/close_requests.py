"""Close-request expiry: a pending request whose close time has passed closes its ticket.

Each due request is handled in a transaction of its own, as the desk itself. The ticket row
is locked first (the order every close-request action uses; on PostgreSQL with SKIP LOCKED,
so a ticket another transaction is busy with is left for the next sweep instead of waited
for), then the request is claimed with a conditional update. Only the transaction whose
update changed the row closes the ticket, so any number of workers close it once.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.close_requests import CAUSE_EXPIRED, EXPIRED, EXPIRED_NOTE, PENDING, close_for_request
from frontdesk.db.models import CloseRequest, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.permissions import Actor
from frontdesk.domain.tickets import Status

log = logging.getLogger("frontdesk.worker.close_requests")


async def expire_close_requests(desk: Desk, *, limit: int = 500) -> int:
    """Expire at most ``limit`` pending requests whose close time has passed, closing their
    tickets as resolved; returns how many this call expired."""
    now = desk.clock.now()
    due = (
        select(CloseRequest.id, CloseRequest.workspace_id, CloseRequest.ticket_id)
        .where(CloseRequest.status == PENDING, CloseRequest.close_at.is_not(None), CloseRequest.close_at <= now)
        .order_by(CloseRequest.close_at, CloseRequest.id)
        .limit(limit)
    )
    async with desk.db.reading() as session:
        rows = (await session.execute(due)).all()
    expired = 0
    for request_id, workspace_id, ticket_id in rows:
        try:
            async with desk.tx(Actor.system(), workspace_id) as tx:
                if await _expire_one(tx, request_id, ticket_id):
                    expired += 1
        except Exception:
            # One request that cannot be expired must not hold up the others; it stays
            # pending and is tried again on the next sweep.
            log.exception("close request expiry failed", extra={"close_request_id": request_id})
    return expired


async def _expire_one(tx: Tx, request_id: int, ticket_id: int) -> bool:
    ticket = (await tx.session.execute(
        select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True))).scalar_one_or_none()
    if ticket is None:
        # Locked by another transaction right now (or deleted): the next sweep sees it again.
        return False
    claimed = await tx.session.execute(
        update(CloseRequest)
        .where(CloseRequest.id == request_id, CloseRequest.status == PENDING)
        .values(status=EXPIRED, answered_at=tx.now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False  # answered, cancelled or expired by someone else meanwhile
    req = await tx.session.get(CloseRequest, request_id, populate_existing=True)
    assert req is not None
    tx.locked_tickets[ticket.number] = ticket
    await tx.record(ev.CLOSE_REQUEST_EXPIRED, ticket=ticket, close_request_id=req.id, close_at=req.close_at)
    if ticket.status != Status.CLOSED:
        await close_for_request(tx, ticket, req, cause=CAUSE_EXPIRED, note=EXPIRED_NOTE)
    return True
