"""/api/v1/quality-flags: tickets that need a review, and marking them reviewed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from frontdesk.actions.quality import RESOLUTION_NOTE_MAX, resolve_flag
from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep
from frontdesk.api.schemas import INT32_MAX
from frontdesk.db.models import Ticket
from frontdesk.queries.analytics import parse_instant
from frontdesk.queries.quality import list_flags, present_flag

router = APIRouter(prefix="/api/v1/quality-flags", tags=["quality flags"],
                   dependencies=[Depends(p.reject_nul_characters)])

Kind = Literal["negative_csat", "escalated", "low_confidence"]
FlagStatus = Literal["open", "resolved", "all"]


class FlagTicketOut(BaseModel):
    number: int
    path: str = Field(description="the ticket in this API")
    title: str
    status: str


class QualityFlagOut(BaseModel):
    id: int
    kind: Kind
    status: Literal["open", "resolved"]
    ticket_number: int
    ticket: FlagTicketOut
    detail: dict[str, Any]
    created_at: str
    resolved_at: str | None
    resolved_by_id: int | None
    resolution_note: str | None


class QualityFlagList(BaseModel):
    items: list[QualityFlagOut]
    next_cursor: str | None


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=RESOLUTION_NOTE_MAX)


@router.get("", response_model=QualityFlagList, summary="List quality flags")
async def flags(
    caller: CallerDep,
    status: Annotated[FlagStatus | None, Query(description="open (default), resolved or all")] = None,
    state: Annotated[FlagStatus | None, Query(deprecated=True, description="the former name of status")] = None,
    kind: Annotated[Kind | None, Query()] = None,
    ticket: Annotated[int | None, Query(ge=1, le=INT32_MAX, description="only this ticket's flags")] = None,
    created_since: Annotated[str | None, Query(description="ISO 8601 date or datetime, inclusive")] = None,
    created_until: Annotated[str | None, Query(description="ISO 8601 date or datetime, exclusive")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Staff only, newest first; flags on the tickets the caller works as staff (locked-down
    tickets for management only). Each flag links to its ticket."""
    since = parse_instant(created_since, "created_since") if created_since else None
    until = parse_instant(created_until, "created_until") if created_until else None
    async with caller.read() as tx:
        items, next_cursor = await list_flags(tx, status=status or state or "open", kind=kind, ticket_number=ticket,
                                              created_since=since, created_until=until, cursor=cursor,
                                              limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/{flag_id}/resolve", response_model=QualityFlagOut, summary="Mark a quality flag reviewed")
async def resolve(flag_id: p.FlagId, caller: CallerDep, body: ResolveIn | None = None) -> dict[str, Any]:
    """Staff on the flag's ticket; 409 when the flag is already resolved."""
    async with caller.tx() as tx:
        flag = await resolve_flag(tx, flag_id, note=body.note if body else None)
        ticket = await tx.session.get_one(Ticket, flag.ticket_id)
        return present_flag(flag, ticket)
