"""/api/v1/analytics: the workspace's figures over a date range, as JSON or as CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from frontdesk.api import params as p
from frontdesk.api.auth import Caller
from frontdesk.api.deps import CallerDep
from frontdesk.domain.permissions import require_staff
from frontdesk.queries.analytics import Analytics, csv_filename, parse_range, render_csv, workspace_analytics

router = APIRouter(prefix="/api/v1", dependencies=[Depends(p.reject_nul_characters)])

RANGE_HELP = ("ISO 8601 date (midnight UTC) or datetime (UTC unless it carries an offset). The range is "
              "[from, to): at most 366 days; by default the 30 days ending now.")
From = Annotated[str | None, Query(alias="from", max_length=64, description="Start, inclusive. " + RANGE_HELP,
                                   examples=["2026-01-01"])]
To = Annotated[str | None, Query(max_length=64, description="End, exclusive; default now. " + RANGE_HELP,
                                 examples=["2026-02-01"])]


class RangeOut(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime


class OpenNowOut(BaseModel):
    total: int
    by_status: dict[str, int]


class PriorityResponseOut(BaseModel):
    priority: str
    responded: int
    unanswered: int
    median_minutes: float | None
    p95_minutes: float | None


class FirstResponseOut(BaseModel):
    responded: int
    unanswered: int
    by_priority: list[PriorityResponseOut]


class BucketOut(BaseModel):
    label: str
    from_hours: int
    to_hours: int | None
    count: int


class ResolutionOut(BaseModel):
    resolved: int
    median_hours: float | None
    buckets: list[BucketOut]


class TypeCountOut(BaseModel):
    type_id: int
    name: str
    count: int


class TagCountOut(BaseModel):
    tag: str
    count: int


class StaffOut(BaseModel):
    member_id: int
    display_name: str
    cases_handled: int
    first_responses: int
    median_first_response_minutes: float | None
    rated_helpful: int
    rated_not_helpful: int
    rating_percent: float | None


class CsatOut(BaseModel):
    helpful: int
    not_helpful: int
    skipped: int
    percent: float | None


class AnalyticsOut(BaseModel):
    range: RangeOut
    generated_at: datetime
    open_now: OpenNowOut
    first_response: FirstResponseOut
    resolution: ResolutionOut
    top_types: list[TypeCountOut]
    top_tags: list[TagCountOut]
    staff: list[StaffOut]
    csat: CsatOut


async def _analytics(caller: Caller, start: str | None, end: str | None) -> Analytics:
    require_staff(caller.actor, "read analytics")
    async with caller.read() as tx:
        start_at, end_at = parse_range(start, end, now=tx.now)
        return await workspace_analytics(tx.session, caller.workspace_id, start=start_at, end=end_at, now=tx.now,
                                         dialect=caller.desk.db.dialect)


@router.get("/analytics", response_model=AnalyticsOut, tags=["analytics"], summary="Workspace analytics")
async def analytics_json(caller: CallerDep, start: From = None, to: To = None) -> dict[str, Any]:
    """Staff only. Over tickets in [from, to): first-response minutes per priority (median and
    p95, interpolated), resolution hours in buckets with their median (merged duplicates left
    out), the ten most used types and tags, per staff member the cases handled, median first
    response and share of helpful ratings, and CSAT over the ratings given in the range.
    `open_now` is the workspace's tickets not closed at the time of the request."""
    return (await _analytics(caller, start, to)).as_json()


@router.get("/analytics.csv", response_class=Response, tags=["analytics"], summary="Workspace analytics as CSV",
            responses={200: {"content": {"text/csv": {}}, "description": "One section per metric"}})
async def analytics_csv(caller: CallerDep, start: From = None, to: To = None) -> Response:
    """The figures of `GET /api/v1/analytics` as a CSV download: one section per metric, each a
    title row, a header row and its rows, sections separated by an empty row."""
    result = await _analytics(caller, start, to)
    filename = csv_filename(result.start, result.end)
    return Response(render_csv(result), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
