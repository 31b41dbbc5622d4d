"""Workspace analytics over a date range: what is open now, first-response and resolution
times, top types and tags, per-staff figures and CSAT.

Everything is computed by the database in ONE statement (a ``UNION ALL`` of small
aggregates over three common table expressions), so a request costs one round trip:

- ``created``: tickets created in the range (index ``ix_tickets_ws_created_at``);
- ``closed``: tickets closed in the range, merged duplicates left out (``ix_tickets_ws_closed_at``);
- ratings given in the range and the open tickets right now are read directly.

Durations are exact integer microseconds on both databases (PostgreSQL: ``EXTRACT(EPOCH ...)``,
SQLite: seconds of the stored text plus its six fraction digits), so bucket boundaries fall the
same way on both. Percentiles are interpolated (PostgreSQL's ``percentile_cont``); SQLite gets
the same arithmetic from window functions. docs/decisions.md, "Analytics (issue 3)", has the
definitions.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.db.models import Member, Ticket, TicketTag, TicketType
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.tickets import Csat, Priority, Status

DEFAULT_DAYS = 30
MAX_RANGE = timedelta(days=366)
TOP = 10
PERCENTILES = (0.5, 0.95)
PRIORITY_ORDER = [Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW]
OPEN_STATUSES = [s for s in Status if s is not Status.CLOSED]

US_PER_MINUTE = 60_000_000
US_PER_HOUR = 60 * US_PER_MINUTE


@dataclass(frozen=True)
class Bucket:
    label: str
    from_hours: int
    to_hours: int | None  # None: no upper bound

    @property
    def upper_us(self) -> int | None:
        return None if self.to_hours is None else self.to_hours * US_PER_HOUR


# Resolution times, each bucket [from_hours, to_hours).
BUCKETS = (
    Bucket("<1h", 0, 1),
    Bucket("1-4h", 1, 4),
    Bucket("4-24h", 4, 24),
    Bucket("1-3d", 24, 72),
    Bucket("3-7d", 72, 168),
    Bucket(">=7d", 168, None),
)


# --- the result ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenNow:
    total: int
    by_status: dict[str, int]


@dataclass(frozen=True)
class PriorityResponse:
    priority: str
    responded: int
    unanswered: int
    median_minutes: float | None
    p95_minutes: float | None


@dataclass(frozen=True)
class FirstResponse:
    responded: int
    unanswered: int
    by_priority: tuple[PriorityResponse, ...]


@dataclass(frozen=True)
class BucketCount:
    label: str
    from_hours: int
    to_hours: int | None
    count: int


@dataclass(frozen=True)
class Resolution:
    resolved: int
    median_hours: float | None
    buckets: tuple[BucketCount, ...]


@dataclass(frozen=True)
class TypeCount:
    type_id: int
    name: str
    count: int


@dataclass(frozen=True)
class TagCount:
    tag: str
    count: int


@dataclass(frozen=True)
class StaffFigures:
    member_id: int
    display_name: str
    cases_handled: int
    first_responses: int
    median_first_response_minutes: float | None
    rated_helpful: int
    rated_not_helpful: int
    rating_percent: float | None


@dataclass(frozen=True)
class CsatFigures:
    helpful: int
    not_helpful: int
    skipped: int
    percent: float | None


@dataclass(frozen=True)
class Analytics:
    workspace_id: int
    start: datetime
    end: datetime
    generated_at: datetime
    open_now: OpenNow
    first_response: FirstResponse
    resolution: Resolution
    top_types: tuple[TypeCount, ...]
    top_tags: tuple[TagCount, ...]
    staff: tuple[StaffFigures, ...]
    csat: CsatFigures

    def as_json(self) -> dict[str, Any]:
        return {
            "range": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "open_now": {"total": self.open_now.total, "by_status": dict(self.open_now.by_status)},
            "first_response": {
                "responded": self.first_response.responded,
                "unanswered": self.first_response.unanswered,
                "by_priority": [asdict(p) for p in self.first_response.by_priority],
            },
            "resolution": {
                "resolved": self.resolution.resolved,
                "median_hours": self.resolution.median_hours,
                "buckets": [asdict(b) for b in self.resolution.buckets],
            },
            "top_types": [asdict(t) for t in self.top_types],
            "top_tags": [asdict(t) for t in self.top_tags],
            "staff": [asdict(s) for s in self.staff],
            "csat": asdict(self.csat),
        }


def csv_rows(a: Analytics) -> list[list[Any]]:
    """The analytics as CSV rows: one section per metric, each a title row, a header row and
    its data, sections separated by an empty row."""
    sections: list[tuple[str, list[str], list[list[Any]]]] = [
        ("range", ["from", "to", "generated_at"],
         [[a.start.isoformat(), a.end.isoformat(), a.generated_at.isoformat()]]),
        ("open_now", ["status", "count"],
         [[status, n] for status, n in a.open_now.by_status.items()] + [["total", a.open_now.total]]),
        ("first_response_minutes", ["priority", "responded", "unanswered", "median_minutes", "p95_minutes"],
         [[p.priority, p.responded, p.unanswered, p.median_minutes, p.p95_minutes]
          for p in a.first_response.by_priority]
         + [["all", a.first_response.responded, a.first_response.unanswered, None, None]]),
        ("resolution_hours", ["bucket", "from_hours", "to_hours", "count"],
         [[b.label, b.from_hours, b.to_hours, b.count] for b in a.resolution.buckets]),
        ("resolution_summary", ["resolved", "median_hours"], [[a.resolution.resolved, a.resolution.median_hours]]),
        ("top_types", ["type_id", "name", "count"], [[t.type_id, t.name, t.count] for t in a.top_types]),
        ("top_tags", ["tag", "count"], [[t.tag, t.count] for t in a.top_tags]),
        ("staff", ["member_id", "display_name", "cases_handled", "first_responses", "median_first_response_minutes",
                   "rated_helpful", "rated_not_helpful", "rating_percent"],
         [[s.member_id, s.display_name, s.cases_handled, s.first_responses, s.median_first_response_minutes,
           s.rated_helpful, s.rated_not_helpful, s.rating_percent] for s in a.staff]),
        ("csat", ["helpful", "not_helpful", "skipped", "percent"],
         [[a.csat.helpful, a.csat.not_helpful, a.csat.skipped, a.csat.percent]]),
    ]
    rows: list[list[Any]] = []
    for i, (title, header, data) in enumerate(sections):
        if i:
            rows.append([])
        rows.append([title])
        rows.append(header)
        rows.extend(data)
    return rows


def render_csv(a: Analytics, *, line_end: str = "\r\n") -> str:
    """CSV text; rows end in CRLF as RFC 4180 asks, or ``line_end`` (a terminal wants "\\n")."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    for row in csv_rows(a):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()


def csv_filename(start: datetime, end: datetime) -> str:
    def part(value: datetime) -> str:
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%dT%H%M%SZ")

    return f"frontdesk-analytics-{part(start)}-{part(end)}.csv"


# --- the range ---------------------------------------------------------------------------------------------------

# A "+HH:MM" offset arrives as " HH:MM" when a query string was not URL-encoded.
_UNENCODED_OFFSET = re.compile(r"^(\S+T\S+) (\d{2}:?\d{2})$")


def parse_instant(value: str, field: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or datetime (UTC when it carries no offset)."""
    text = _UNENCODED_OFFSET.sub(r"\1+\2", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{field} must be an ISO 8601 date or datetime, such as 2026-01-31 or "
                               f"2026-01-31T12:00:00Z; got {value!r}", field=field) from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not 1970 <= parsed.year <= 9999:
        raise ValidationFailed(f"{field} must be a date from 1970 on", field=field)
    return parsed


def parse_range(start: str | None, end: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The [from, to) range a caller asked for. Without ``to`` it ends now; without ``from``
    it starts 30 days before its end. ``to`` must come after ``from``, at most 366 days later."""
    end_at = parse_instant(end, "to") if end else now
    start_at = parse_instant(start, "from") if start else end_at - timedelta(days=DEFAULT_DAYS)
    # Name the field the caller gave: with only ``from``, ``to`` is "now".
    field = "to" if end else "from"
    if end_at <= start_at:
        raise ValidationFailed(f"to must be after from ({end_at.isoformat()} is not after {start_at.isoformat()})",
                               field=field)
    if end_at - start_at > MAX_RANGE:
        raise ValidationFailed(f"the range from {start_at.isoformat()} to {end_at.isoformat()} is longer than "
                               f"{MAX_RANGE.days} days", field=field)
    return start_at, end_at


# --- SQL building blocks -----------------------------------------------------------------------------------------


def _epoch_us_sqlite(column: Any) -> ColumnElement[Any]:
    """Microseconds since 1970 of a stored 'YYYY-MM-DD HH:MM:SS.ffffff' text, exactly: whole
    seconds from strftime on the first 19 characters (strftime itself rounds fractions to
    milliseconds), plus the six fraction digits as an integer."""
    whole = cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)
    return whole * literal_column("1000000") + cast(func.substr(column, 21), Integer)


def _duration_us(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """``later - earlier`` in integer microseconds, never below zero (a ticket converted from an
    answered conversation has its first response before its creation: it counts as 0)."""
    zero = literal_column("0")
    if dialect == "postgresql":
        us = func.greatest(cast(extract("epoch", later - earlier) * literal_column("1000000"), BigInteger), zero)
    else:
        us = func.max(_epoch_us_sqlite(later) - _epoch_us_sqlite(earlier), zero)
    # GREATEST ignores a NULL where MAX(a, b) returns it: no later time, no duration.
    return type_coerce(case((later.is_not(None), us)), BigInteger)


def _per(us: Any, unit: int) -> ColumnElement[Any]:
    return cast(us, Float) / literal(float(unit), Float)


def _percentiles(dialect: str, source: FromClause, key: Any | None, value: Any) -> Select[Any]:
    """(k, n, p50, p95) per key over the non-null values, interpolated between the two
    nearest ranks exactly as PostgreSQL's ``percentile_cont``: position p * (n - 1) counted
    from 0, value = lower + (upper - lower) * fraction. ``key`` None: one row over all."""
    keys = [] if key is None else [key]
    if dialect == "postgresql":
        return select(
            *(key.label("k") if key is not None else null().label("k"),),
            func.count(value).label("n"),
            *(func.percentile_cont(literal_column(repr(p))).within_group(value).label(f"p{i}")
              for i, p in enumerate(PERCENTILES)),
        ).select_from(source).where(value.is_not(None)).group_by(*keys)
    ranked = select(
        *(key.label("k") if key is not None else null().label("k"),),
        value.label("v"),
        (func.row_number().over(partition_by=keys or None, order_by=value) - 1).label("i"),
        func.count().over(partition_by=keys or None).label("n"),
    ).select_from(source).where(value.is_not(None)).subquery()
    columns = []
    n = func.max(ranked.c.n)
    for i, p in enumerate(PERCENTILES):
        share = literal_column(repr(p), Float)
        row_pos = share * (ranked.c.n - 1)
        row_lo = cast(row_pos, Integer)
        row_hi = case((row_pos > row_lo, row_lo + 1), else_=row_lo)
        lower = func.max(case((ranked.c.i == row_lo, ranked.c.v)))
        upper = func.max(case((ranked.c.i == row_hi, ranked.c.v)))
        pos = share * (n - 1)
        columns.append((lower + (upper - lower) * (pos - cast(pos, Integer))).label(f"p{i}"))
    return select(ranked.c.k, func.coalesce(n, 0).label("n"), *columns).group_by(
        *([ranked.c.k] if key is not None else []))


def _row(section: str, *, key: Any = None, ref: Any = None, n: Any = None, a: Any = None, b: Any = None,
         c: Any = None, d: Any = None) -> list[ColumnElement[Any]]:
    """One branch's columns in the shape every branch of the union shares, typed so that
    PostgreSQL matches them across branches."""

    def typed(value: Any, type_: Any) -> ColumnElement[Any]:
        return cast(null() if value is None else value, type_)

    return [literal_column(f"'{section}'", String).label("section"), typed(key, String).label("key"),
            typed(ref, BigInteger).label("ref"), typed(n, BigInteger).label("n"), typed(a, Float).label("a"),
            typed(b, Float).label("b"), typed(c, BigInteger).label("c"), typed(d, BigInteger).label("d")]


def _name_order(dialect: str, column: Any) -> Any:
    # Byte order on both databases (PostgreSQL's default collation sorts by locale rules).
    return column.collate("C") if dialect == "postgresql" else column


def _statement(dialect: str, workspace_id: int, start: datetime, end: datetime) -> Select[Any]:
    t = Ticket
    ws = t.workspace_id == workspace_id
    created = select(
        t.id.label("id"), t.priority.label("priority"), t.type_id.label("type_id"),
        t.first_responder_id.label("responder_id"),
        _per(_duration_us(dialect, t.first_response_at, t.created_at), US_PER_MINUTE).label("minutes"),
    ).where(ws, t.created_at >= start, t.created_at < end).cte("created")
    closed = select(
        _duration_us(dialect, t.closed_at, t.created_at).label("us"),
        func.coalesce(t.assignee_id, t.claimer_id).label("handler_id"),
        t.csat.label("csat"),
    ).where(ws, t.closed_at >= start, t.closed_at < end, t.merged_into_id.is_(None)).cte("closed")

    branches: list[Select[Any]] = []
    # Open right now, by status (index ix_tickets_ws_status_number).
    branches.append(select(*_row("open", key=t.status, n=func.count()))
                    .where(ws, t.status.in_([s.value for s in OPEN_STATUSES])).group_by(t.status))
    # First response per priority, and the tickets still without one.
    fr = _percentiles(dialect, created, created.c.priority, created.c.minutes).subquery()
    branches.append(select(*_row("fr", key=fr.c.k, n=fr.c.n, a=fr.c.p0, b=fr.c.p1)))
    branches.append(select(*_row("fr_none", key=created.c.priority, n=func.count()))
                    .where(created.c.minutes.is_(None)).group_by(created.c.priority))
    # First response per responder.
    responders = select(created).where(created.c.responder_id.is_not(None)).subquery()
    by_responder = _percentiles(dialect, responders, responders.c.responder_id, responders.c.minutes).subquery()
    branches.append(select(*_row("fr_staff", key=Member.display_name, ref=by_responder.c.k, n=by_responder.c.n,
                                 a=by_responder.c.p0))
                    .select_from(by_responder.outerjoin(Member, Member.id == by_responder.c.k)))
    # Top types and tags of the tickets created in the range.
    count = func.count()
    types = (select(created.c.type_id.label("type_id"), TicketType.name.label("name"), count.label("n"))
             .select_from(created.join(TicketType, TicketType.id == created.c.type_id))
             .group_by(created.c.type_id, TicketType.name)
             .order_by(count.desc(), _name_order(dialect, TicketType.name), created.c.type_id).limit(TOP)).subquery()
    branches.append(select(*_row("type", key=types.c.name, ref=types.c.type_id, n=types.c.n)))
    if dialect == "postgresql":
        # One primary-key probe per ticket in the range. Left to itself the planner hashes the
        # whole ticket_tags table instead (it has no statistics on a CTE's ids); OFFSET 0 keeps
        # the LATERAL subquery from being flattened back into a plain join.
        per_ticket = select(TicketTag.tag.label("tag")).where(TicketTag.ticket_id == created.c.id).offset(0).lateral()
        tagged = created.join(per_ticket, literal(True))
        tag = per_ticket.c.tag
    else:
        tagged = created.join(TicketTag, TicketTag.ticket_id == created.c.id)
        tag = TicketTag.tag
    tags = (select(tag.label("tag"), count.label("n")).select_from(tagged).group_by(tag)
            .order_by(count.desc(), _name_order(dialect, tag)).limit(TOP)).subquery()
    branches.append(select(*_row("tag", key=tags.c.tag, n=tags.c.n)))
    # Resolution: buckets and median.
    bucket = case(*((closed.c.us < literal_column(str(b.upper_us)), literal_column(str(i)))
                    for i, b in enumerate(BUCKETS) if b.upper_us is not None),
                  else_=literal_column(str(len(BUCKETS) - 1)))
    buckets = select(bucket.label("bucket"), func.count().label("n")).select_from(closed).group_by(bucket).subquery()
    branches.append(select(*_row("bucket", ref=buckets.c.bucket, n=buckets.c.n)))
    hours = select(_per(closed.c.us, US_PER_HOUR).label("hours")).select_from(closed).subquery()
    res = _percentiles(dialect, hours, None, hours.c.hours).subquery()
    branches.append(select(*_row("res", n=res.c.n, a=res.c.p0)))
    # Cases handled per member (assignee, else claimer) and their ratings.
    handled = (select(closed.c.handler_id.label("member_id"), func.count().label("n"),
                      func.count(case((closed.c.csat == Csat.HELPFUL.value, 1))).label("helpful"),
                      func.count(case((closed.c.csat == Csat.NOT_HELPFUL.value, 1))).label("not_helpful"))
               .where(closed.c.handler_id.is_not(None)).group_by(closed.c.handler_id)).subquery()
    branches.append(select(*_row("handled", key=Member.display_name, ref=handled.c.member_id, n=handled.c.n,
                                 c=handled.c.helpful, d=handled.c.not_helpful))
                    .select_from(handled.outerjoin(Member, Member.id == handled.c.member_id)))
    # CSAT over the ratings given in the range.
    branches.append(select(*_row(
        "csat", n=func.count(case((t.csat == Csat.HELPFUL.value, 1))),
        c=func.count(case((t.csat == Csat.NOT_HELPFUL.value, 1))),
        d=func.count(case((t.csat == Csat.SKIPPED.value, 1))),
    )).where(ws, t.rated_at >= start, t.rated_at < end))
    return select(union_all(*branches).subquery())


def _round(value: Any, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _percent(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


async def workspace_analytics(session: AsyncSession, workspace_id: int, *, start: datetime, end: datetime,
                              now: datetime, dialect: str | None = None) -> Analytics:
    """The analytics of one workspace for tickets in [start, end); ``now`` is when "open now" is
    taken (it is whatever the database holds at query time) and stamped on the result."""
    dialect = dialect or session.get_bind().dialect.name
    if dialect == "postgresql":
        # For this transaction only: JIT compiling the statement costs more than it saves (a
        # quarter of a second over a million tickets), and sorts for the percentiles should
        # stay in memory.
        await session.execute(select(func.set_config("jit", "off", True), func.set_config("work_mem", "16MB", True)))
    rows = (await session.execute(_statement(dialect, workspace_id, start, end))).all()

    open_by_status = {s.value: 0 for s in OPEN_STATUSES}
    responded: dict[str, tuple[int, float | None, float | None]] = {}
    unanswered: dict[str, int] = {}
    staff: dict[int, dict[str, Any]] = {}
    types: list[TypeCount] = []
    tags: list[TagCount] = []
    bucket_counts = [0] * len(BUCKETS)
    resolved, median_hours = 0, None
    csat = CsatFigures(0, 0, 0, None)

    def member(member_id: int, name: str | None) -> dict[str, Any]:
        return staff.setdefault(member_id, {
            "member_id": member_id, "display_name": name or f"member {member_id}", "cases_handled": 0,
            "first_responses": 0, "median_first_response_minutes": None, "rated_helpful": 0,
            "rated_not_helpful": 0})

    for section, key, ref, n, a, b, c, d in rows:
        n = int(n or 0)
        if section == "open":
            open_by_status[key] = n
        elif section == "fr":
            responded[key] = (n, _round(a, 2), _round(b, 2))
        elif section == "fr_none":
            unanswered[key] = n
        elif section == "fr_staff":
            figures = member(int(ref), key)
            figures["first_responses"] = n
            figures["median_first_response_minutes"] = _round(a, 2)
        elif section == "type":
            types.append(TypeCount(type_id=int(ref), name=key, count=n))
        elif section == "tag":
            tags.append(TagCount(tag=key, count=n))
        elif section == "bucket":
            bucket_counts[int(ref)] = n
        elif section == "res":
            resolved, median_hours = n, _round(a, 2)
        elif section == "handled":
            figures = member(int(ref), key)
            figures.update(cases_handled=n, rated_helpful=int(c or 0), rated_not_helpful=int(d or 0))
        elif section == "csat":
            helpful, not_helpful = n, int(c or 0)
            csat = CsatFigures(helpful=helpful, not_helpful=not_helpful, skipped=int(d or 0),
                               percent=_percent(helpful, helpful + not_helpful))

    by_priority = []
    for priority in PRIORITY_ORDER:
        count, median, p95 = responded.get(priority.value, (0, None, None))
        by_priority.append(PriorityResponse(priority=priority.value, responded=count,
                                            unanswered=unanswered.get(priority.value, 0),
                                            median_minutes=median, p95_minutes=p95))
    # Priorities outside the known four (none today) still count in the totals.
    total_responded = sum(v[0] for v in responded.values())
    total_unanswered = sum(unanswered.values())

    people = [StaffFigures(**f, rating_percent=_percent(f["rated_helpful"],
                                                        f["rated_helpful"] + f["rated_not_helpful"]))
              for f in staff.values()]
    people.sort(key=lambda s: (-s.cases_handled, -s.first_responses, s.display_name, s.member_id))
    return Analytics(
        workspace_id=workspace_id, start=start, end=end, generated_at=now,
        open_now=OpenNow(total=sum(open_by_status.values()), by_status=open_by_status),
        first_response=FirstResponse(responded=total_responded, unanswered=total_unanswered,
                                     by_priority=tuple(by_priority)),
        resolution=Resolution(resolved=resolved, median_hours=median_hours, buckets=tuple(
            BucketCount(label=b.label, from_hours=b.from_hours, to_hours=b.to_hours, count=bucket_counts[i])
            for i, b in enumerate(BUCKETS))),
        top_types=tuple(sorted(types, key=lambda x: (-x.count, x.name, x.type_id))),
        top_tags=tuple(sorted(tags, key=lambda x: (-x.count, x.tag))),
        staff=tuple(people),
        csat=csat,
    )
