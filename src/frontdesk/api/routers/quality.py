"""/api/v1/quality-flags: tickets that need a review, and marking them reviewed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from frontdesk.actions.quality import RESOLUTION_NOTE_MAX, resolve_flag
from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep
from frontdesk.db.models import Ticket
from frontdesk.queries.quality import list_flags, present_flag

router = APIRouter(prefix="/api/v1/quality-flags", tags=["quality flags"],
                   dependencies=[Depends(p.reject_nul_characters)])


class QualityFlagOut(BaseModel):
    id: int
    kind: Literal["negative_csat", "escalated", "low_confidence"]
    ticket_number: int | None
    detail: dict[str, Any]
    created_at: str
    resolved_at: str | None
    resolved_by_id: int | None
    resolution_note: str | None


class QualityFlagList(BaseModel):
    items: list[QualityFlagOut]
    next_before_id: int | None = Field(description="pass as before_id for the next page")


class ResolveIn(BaseModel):
    note: str | None = Field(default=None, max_length=RESOLUTION_NOTE_MAX)


@router.get("", response_model=QualityFlagList, summary="List quality flags")
async def flags(caller: CallerDep, state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                before_id: p.IdFilter = None) -> dict[str, Any]:
    """Staff only, newest first. Flags on locked-down tickets are listed for management only."""
    async with caller.read() as tx:
        items = await list_flags(tx, state=state, limit=limit, before_id=before_id)
    return {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}


@router.post("/{flag_id}/resolve", response_model=QualityFlagOut, summary="Mark a quality flag reviewed")
async def resolve(flag_id: p.FlagId, caller: CallerDep, body: ResolveIn | None = None) -> dict[str, Any]:
    """Staff only; 409 when the flag is already resolved."""
    async with caller.tx() as tx:
        flag = await resolve_flag(tx, flag_id, note=body.note if body else None)
        number = await tx.session.scalar(select(Ticket.number).where(Ticket.id == flag.ticket_id))
        return present_flag(flag, number)
