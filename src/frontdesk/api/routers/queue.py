"""/api/v1/queue: the staff queue, one view a page at a time, with the count of every view."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep
from frontdesk.api.schemas import TicketOut
from frontdesk.queries.queue import staff_queue

router = APIRouter(prefix="/api/v1/queue", tags=["queue"], dependencies=[Depends(p.reject_nul_characters)])

QueueView = Literal["all", "unclaimed", "mine", "escalated", "awaiting_staff", "awaiting_customer"]


class QueueCounts(BaseModel):
    all: int
    unclaimed: int
    mine: int
    escalated: int
    awaiting_staff: int
    awaiting_customer: int


class QueueItem(TicketOut):
    sla_due_at: str | None = Field(description="the earlier pending SLA due time; null while the SLA clock is "
                                               "stopped or nothing is pending")
    breached: bool = Field(description="an SLA target was missed (a breach is recorded)")
    awaiting: Literal["staff", "customer"] | None = Field(
        description="whose turn it is, by who wrote the last public message")


class QueuePageOut(BaseModel):
    view: QueueView
    counts: QueueCounts
    items: list[QueueItem]
    next_cursor: str | None


@router.get("", response_model=QueuePageOut, summary="Staff queue")
async def get_queue(
    caller: CallerDep,
    view: Annotated[QueueView, Query(description="which tickets: all, unclaimed (no claimer and no assignee), "
                                                 "mine (claimed by or assigned to you), escalated, awaiting_staff "
                                                 "(the customer wrote last), awaiting_customer (staff wrote last)")]
    = "all",
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Tickets not yet Resolved or Closed that the caller works as staff, soonest SLA due time
    first (no due time last), then by priority and number. `counts` holds the size of every
    view whatever `view` is shown. Staff only (403 for customers)."""
    async with caller.read() as tx:
        page = await staff_queue(tx, view=view, limit=limit, cursor=cursor)
    return {"view": page.view, "counts": page.counts, "items": page.items, "next_cursor": page.next_cursor}
