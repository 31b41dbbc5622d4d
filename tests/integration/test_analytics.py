"""Workspace analytics: figures computed by the database, the same on SQLite and PostgreSQL.

Tickets are made through the real actions at times the manual clock sets, so every expected
median, percentile, bucket and percentage below is known exactly.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from frontdesk.actions import conversations, lifecycle, merge, messages, tickets
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.analytics import (
    Analytics,
    csv_filename,
    parse_range,
    render_csv,
    workspace_analytics,
)
from tests.support import World

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # where the test clock starts


async def analytics(world: World, start: datetime | None = None, end: datetime | None = None) -> Analytics:
    now = world.desk.clock.now()
    async with world.desk.read(world.staff, world.workspace_id) as tx:
        return await workspace_analytics(tx.session, world.workspace_id, start=start or T0 - timedelta(days=1),
                                         end=end or now + timedelta(seconds=1), now=now)


async def new(world: World, opener: str = "alice", **kwargs: Any) -> Any:
    """A ticket opened by staff on a customer's behalf, of a type with no open-ticket limit."""
    return await world.open("staff", "VIP", opener_id=world.member_ids[opener], **kwargs)


async def reply(world: World, number: int, who: str = "staff") -> None:
    await world.run(who, messages.post_message, number, "On it")


async def close(world: World, number: int, who: str = "staff", reason: str = "resolved") -> None:
    await world.run(who, lifecycle.close_ticket, number, reason=reason)


async def answered_after(world: World, minutes: list[float], priority: str = "normal", who: str = "staff") -> None:
    """One ticket per value, each answered that many minutes after it was opened."""
    for value in minutes:
        t = await new(world, "alice", priority=priority)
        world.desk.clock.advance(minutes=value)
        await reply(world, t.number, who)


# --- first response ----------------------------------------------------------------------------------------------


async def test_first_response_median_and_p95_per_priority_are_interpolated(world):
    await answered_after(world, [10, 40, 20, 30], priority="high")
    await answered_after(world, [1.5, 3.5], priority="urgent")
    await new(world, "bob", priority="normal")  # never answered

    fr = (await analytics(world)).first_response

    by = {p.priority: p for p in fr.by_priority}
    assert [p.priority for p in fr.by_priority] == ["urgent", "high", "normal", "low"]
    # high: 10, 20, 30, 40 -> median between 20 and 30; p95 at position 0.95 * 3 = 2.85.
    assert (by["high"].responded, by["high"].median_minutes, by["high"].p95_minutes) == (4, 25.0, 38.5)
    assert (by["urgent"].responded, by["urgent"].median_minutes, by["urgent"].p95_minutes) == (2, 2.5, 3.4)
    assert (by["normal"].responded, by["normal"].unanswered, by["normal"].median_minutes) == (0, 1, None)
    assert (by["low"].responded, by["low"].unanswered, by["low"].p95_minutes) == (0, 0, None)
    assert (fr.responded, fr.unanswered) == (6, 1)


async def test_a_single_response_is_its_own_median_and_p95(world):
    await answered_after(world, [7], priority="low")

    low = (await analytics(world)).first_response.by_priority[3]

    assert (low.priority, low.responded, low.median_minutes, low.p95_minutes) == ("low", 1, 7.0, 7.0)


async def test_only_tickets_created_in_the_range_count_for_first_response(world):
    await answered_after(world, [5])
    world.desk.clock.advance(hours=1)
    start = world.desk.clock.now()
    await answered_after(world, [60])

    fr = (await analytics(world, start=start)).first_response

    assert (fr.responded, fr.by_priority[2].median_minutes) == (1, 60.0)


async def test_internal_notes_and_customer_messages_are_not_a_first_response(world):
    t = await new(world, "alice", priority="high")
    world.desk.clock.advance(minutes=3)
    await world.run("staff", messages.add_note, t.number, "looking")
    await world.run("alice", messages.post_message, t.number, "hello?")
    world.desk.clock.advance(minutes=9)
    await reply(world, t.number)

    high = (await analytics(world)).first_response.by_priority[1]

    assert (high.responded, high.median_minutes) == (1, 12.0)


async def test_a_converted_conversation_answered_before_the_ticket_counts_as_answered_at_once(world):
    conv = await world.run("staff", conversations.start_conversation, channel="email",
                           customer_id=world.member_ids["alice"], body="Customer wrote in")
    world.desk.clock.advance(minutes=5)
    await world.run("staff", conversations.post_in_conversation, conv.id, "We are looking")
    world.desk.clock.advance(minutes=30)
    await world.run("staff", conversations.convert_to_ticket, conv.id, type_id=world.type_ids["General"])

    normal = (await analytics(world)).first_response.by_priority[2]

    assert (normal.responded, normal.median_minutes) == (1, 0.0)


# --- resolution --------------------------------------------------------------------------------------------------


async def test_resolution_times_fall_into_buckets_with_the_lower_bound_inclusive(world):
    durations = [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=3, minutes=59), timedelta(hours=4),
                 timedelta(days=1), timedelta(days=3), timedelta(days=7), timedelta(days=10)]
    opened = [await new(world, "alice") for _ in durations]
    for t, after in zip(opened, durations, strict=True):
        world.desk.clock.set(T0 + after)
        await close(world, t.number)

    res = (await analytics(world)).resolution

    assert {b.label: b.count for b in res.buckets} == {"<1h": 1, "1-4h": 2, "4-24h": 1, "1-3d": 1, "3-7d": 1,
                                                      ">=7d": 2}
    assert [(b.from_hours, b.to_hours) for b in res.buckets] == [(0, 1), (1, 4), (4, 24), (24, 72), (72, 168),
                                                                 (168, None)]
    # 0.5, 1, 3.98, 4, 24, 72, 168, 240 hours: the median lies between 4 and 24.
    assert (res.resolved, res.median_hours) == (8, 14.0)


async def test_merged_duplicates_and_tickets_closed_outside_the_range_are_not_resolved_cases(world):
    early = await new(world, "alice")
    await close(world, early.number)
    world.desk.clock.advance(hours=1)
    start = world.desk.clock.now()
    kept = await new(world, "alice")
    duplicate = await new(world, "alice")
    world.desk.clock.advance(hours=2)
    await world.run("staff", merge.merge_tickets, duplicate.number, kept.number)
    await close(world, kept.number)

    res = (await analytics(world, start=start)).resolution

    assert (res.resolved, res.median_hours) == (1, 2.0)
    assert sum(b.count for b in res.buckets) == 1


async def test_a_ticket_closed_as_duplicate_without_a_merge_still_counts_as_closed(world):
    t = await new(world, "alice")
    world.desk.clock.advance(minutes=45)
    await close(world, t.number, reason="duplicate")

    assert (await analytics(world)).resolution.resolved == 1


# --- types and tags ----------------------------------------------------------------------------------------------


async def test_top_types_count_tickets_created_in_the_range(world):
    for who in ("alice", "bob", "vip"):
        await world.open(who, "General")
    for _ in range(2):
        await world.open("bob", "Billing")
    await world.open("vip", "VIP")

    top = (await analytics(world)).top_types

    assert [(t.name, t.count) for t in top] == [("General", 3), ("Billing", 2), ("VIP", 1)]
    assert top[0].type_id == world.type_ids["General"]


async def test_top_tags_keep_the_ten_most_used_ties_in_byte_order(world):
    for _ in range(3):
        await new(world, "alice", tags=["refund"])
    await new(world, "alice", tags=["login"])
    await new(world, "alice", tags=["login"])
    await new(world, "bob", tags=[f"tag-{c}" for c in "kjihgfedcba"] + ["Zed"])

    top = (await analytics(world)).top_tags

    assert [(t.tag, t.count) for t in top] == [
        ("refund", 3), ("login", 2), ("tag-a", 1), ("tag-b", 1), ("tag-c", 1), ("tag-d", 1), ("tag-e", 1),
        ("tag-f", 1), ("tag-g", 1), ("tag-h", 1)]


# --- per staff member --------------------------------------------------------------------------------------------


async def test_staff_figures_credit_the_assignee_before_the_claimer(world):
    # t1: assigned to Sam, claimed by Sky; Sam answers after 10 minutes; rated helpful.
    t1 = await new(world, "alice")
    await world.run("manager", tickets.assign_ticket, t1.number, world.member_ids["staff"])
    await world.run("staff2", tickets.claim_ticket, t1.number)
    world.desk.clock.advance(minutes=10)
    await reply(world, t1.number, "staff")
    # t2: only claimed by Sky, who answers after 30 minutes; rated not helpful.
    t2 = await new(world, "alice")
    await world.run("staff2", tickets.claim_ticket, t2.number)
    world.desk.clock.advance(minutes=30)
    await reply(world, t2.number, "staff2")
    # t3: assigned to Sam, answered by Sam after 20 minutes; rated not helpful.
    t3 = await new(world, "alice")
    await world.run("manager", tickets.assign_ticket, t3.number, world.member_ids["staff"])
    world.desk.clock.advance(minutes=20)
    await reply(world, t3.number, "staff")
    # t4: nobody's; Max answers after 40 minutes; closed without a rating.
    t4 = await new(world, "bob")
    world.desk.clock.advance(minutes=40)
    await reply(world, t4.number, "manager")
    for t, rating in ((t1, "helpful"), (t2, "not_helpful"), (t3, "not_helpful"), (t4, None)):
        await close(world, t.number)
        if rating:
            await world.run("alice", lifecycle.rate_ticket, t.number, rating)

    staff = (await analytics(world)).staff

    rows = [(s.display_name, s.cases_handled, s.first_responses, s.median_first_response_minutes,
             s.rated_helpful, s.rated_not_helpful, s.rating_percent) for s in staff]
    assert rows == [
        ("Sam Staff", 2, 2, 15.0, 1, 1, 50.0),
        ("Sky Staff", 1, 1, 30.0, 0, 1, 0.0),
        ("Max Manager", 0, 1, 40.0, 0, 0, None),
    ]
    assert staff[0].member_id == world.member_ids["staff"]


# --- CSAT --------------------------------------------------------------------------------------------------------


async def test_csat_counts_ratings_given_in_the_range_and_ignores_skips(world):
    opened = [await new(world, "alice") for _ in range(5)]
    for t in opened:
        await close(world, t.number)
    await world.run("alice", lifecycle.rate_ticket, opened[0].number, "helpful")
    world.desk.clock.advance(hours=1)
    start = world.desk.clock.now()
    await world.run("alice", lifecycle.rate_ticket, opened[1].number, "helpful")
    await world.run("alice", lifecycle.rate_ticket, opened[2].number, "helpful")
    await world.run("alice", lifecycle.rate_ticket, opened[3].number, "not_helpful")
    await world.run("alice", lifecycle.rate_ticket, opened[4].number, "skipped")

    csat = (await analytics(world, start=start)).csat

    assert (csat.helpful, csat.not_helpful, csat.skipped, csat.percent) == (2, 1, 1, 66.7)


async def test_csat_is_null_when_nobody_rated(world):
    t = await new(world, "alice")
    await close(world, t.number)
    await world.run("alice", lifecycle.rate_ticket, t.number, "skipped")

    csat = (await analytics(world)).csat

    assert (csat.helpful, csat.not_helpful, csat.skipped, csat.percent) == (0, 0, 1, None)


async def test_a_skip_replaced_by_a_rating_counts_as_that_rating(world):
    t = await new(world, "alice")
    await close(world, t.number)
    await world.run("alice", lifecycle.rate_ticket, t.number, "skipped")
    world.desk.clock.advance(minutes=5)
    await world.run("alice", lifecycle.rate_ticket, t.number, "not_helpful")

    csat = (await analytics(world)).csat

    assert (csat.helpful, csat.not_helpful, csat.skipped, csat.percent) == (0, 1, 0, 0.0)


# --- open now ----------------------------------------------------------------------------------------------------


async def test_open_now_counts_every_ticket_not_closed_whatever_the_range(world):
    numbers = [(await new(world, "alice")).number for _ in range(5)]
    await world.run("staff", tickets.set_status, numbers[1], "in_progress")
    await world.run("staff", tickets.set_status, numbers[2], "waiting")
    await world.run("staff", tickets.set_status, numbers[3], "resolved")
    await close(world, numbers[4])

    far_past = datetime(2020, 1, 1, tzinfo=UTC)
    open_now = (await analytics(world, start=far_past, end=far_past + timedelta(days=1))).open_now

    assert open_now.by_status == {"open": 1, "in_progress": 1, "waiting": 1, "resolved": 1}
    assert open_now.total == 4


async def test_another_workspace_tickets_are_not_counted(world):
    await answered_after(world, [5])

    now = world.desk.clock.now()
    async with world.desk.read(world.staff, world.workspace_id) as tx:
        other = await workspace_analytics(tx.session, world.workspace_id + 1000, start=T0, end=now + timedelta(1),
                                          now=now)

    assert (other.open_now.total, other.first_response.responded, other.top_types) == (0, 0, ())


# --- one fixed data set, the whole result --------------------------------------------------------------------------


async def build_fixed_data(world: World) -> None:
    """A small desk's day: answered, unanswered, closed, merged, rated and tagged tickets."""
    clock = world.desk.clock
    a = await new(world, "alice", priority="urgent", tags=["outage"])
    b = await world.open("bob", "Billing", priority="high", tags=["refund", "outage"])
    c = await world.open("vip", "General", priority="low")
    await world.run("manager", tickets.assign_ticket, a.number, world.member_ids["staff"])
    await world.run("staff2", tickets.claim_ticket, b.number)
    clock.advance(minutes=12, seconds=30)
    await reply(world, a.number, "staff")
    clock.advance(minutes=47)
    await reply(world, b.number, "staff2")
    clock.advance(hours=2)
    await close(world, a.number)
    d = await world.open("alice", priority="high")
    await world.run("staff", merge.merge_tickets, d.number, b.number)
    clock.advance(hours=30)
    await close(world, b.number)
    await world.run("alice", lifecycle.rate_ticket, a.number, "helpful")
    await world.run("bob", lifecycle.rate_ticket, b.number, "not_helpful")
    await world.open("bob", priority="normal", tags=["refund"])
    assert c.number == 3


FIXED_RESULT = {
    "open_now": {"total": 2, "by_status": {"open": 2, "in_progress": 0, "waiting": 0, "resolved": 0}},
    "first_response": {
        "responded": 2, "unanswered": 3,
        "by_priority": [
            {"priority": "urgent", "responded": 1, "unanswered": 0, "median_minutes": 12.5, "p95_minutes": 12.5},
            {"priority": "high", "responded": 1, "unanswered": 1, "median_minutes": 59.5, "p95_minutes": 59.5},
            {"priority": "normal", "responded": 0, "unanswered": 1, "median_minutes": None, "p95_minutes": None},
            {"priority": "low", "responded": 0, "unanswered": 1, "median_minutes": None, "p95_minutes": None},
        ],
    },
    "resolution": {
        # a: 2h 59m 30s; b: 32h 59m 30s; the merged d is not a resolved case.
        "resolved": 2, "median_hours": 17.99,
        "buckets": [
            {"label": "<1h", "from_hours": 0, "to_hours": 1, "count": 0},
            {"label": "1-4h", "from_hours": 1, "to_hours": 4, "count": 1},
            {"label": "4-24h", "from_hours": 4, "to_hours": 24, "count": 0},
            {"label": "1-3d", "from_hours": 24, "to_hours": 72, "count": 1},
            {"label": "3-7d", "from_hours": 72, "to_hours": 168, "count": 0},
            {"label": ">=7d", "from_hours": 168, "to_hours": None, "count": 0},
        ],
    },
    "top_tags": [{"tag": "outage", "count": 2}, {"tag": "refund", "count": 2}],
    "csat": {"helpful": 1, "not_helpful": 1, "skipped": 0, "percent": 50.0},
}


async def test_a_fixed_data_set_gives_exactly_the_expected_figures_on_this_database(world):
    await build_fixed_data(world)

    result = (await analytics(world)).as_json()

    assert {k: result[k] for k in FIXED_RESULT} == FIXED_RESULT
    assert [(t["name"], t["count"]) for t in result["top_types"]] == [("General", 3), ("Billing", 1), ("VIP", 1)]
    assert [(s["display_name"], s["cases_handled"], s["first_responses"], s["median_first_response_minutes"],
             s["rating_percent"]) for s in result["staff"]] == [
        ("Sam Staff", 1, 1, 12.5, 100.0), ("Sky Staff", 1, 1, 59.5, 0.0)]


async def test_the_csv_has_one_titled_section_per_metric(world):
    await build_fixed_data(world)

    rows = list(csv.reader(io.StringIO(render_csv(await analytics(world)))))

    titles = [rows[0][0]] + [rows[i + 1][0] for i, row in enumerate(rows[:-1]) if row == []]
    assert titles == ["range", "open_now", "first_response_minutes", "resolution_hours", "resolution_summary",
                      "top_types", "top_tags", "staff", "csat"]
    section = rows.index(["first_response_minutes"])
    assert rows[section + 1] == ["priority", "responded", "unanswered", "median_minutes", "p95_minutes"]
    assert rows[section + 2] == ["urgent", "1", "0", "12.5", "12.5"]
    assert rows[section + 4] == ["normal", "0", "1", "", ""]
    csat = rows.index(["csat"])
    assert rows[csat + 1:csat + 3] == [["helpful", "not_helpful", "skipped", "percent"], ["1", "1", "0", "50.0"]]


# --- the range ---------------------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)


def test_the_range_defaults_to_the_last_30_days_ending_now():
    assert parse_range(None, None, now=NOW) == (NOW - timedelta(days=30), NOW)


def test_dates_are_midnight_utc_and_datetimes_keep_their_offset():
    start, end = parse_range("2026-01-01", "2026-01-31T12:00:00+02:00", now=NOW)
    assert start == datetime(2026, 1, 1, tzinfo=UTC)
    assert end == datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
    assert parse_range("2026-01-01T00:00:00Z", None, now=NOW) == (datetime(2026, 1, 1, tzinfo=UTC), NOW)
    # A "+" that arrived unencoded in a query string reads as a space.
    assert parse_range("2026-01-01T05:00:00 05:00", "2026-01-02", now=NOW)[0] == datetime(2026, 1, 1, tzinfo=UTC)


def test_only_to_given_starts_30_days_before_it():
    assert parse_range(None, "2026-02-01", now=NOW) == (datetime(2026, 1, 2, tzinfo=UTC),
                                                        datetime(2026, 2, 1, tzinfo=UTC))


@pytest.mark.parametrize(("start", "end", "field"), [
    ("yesterday", None, "from"),
    ("2026-01-01", "2026-13-01", "to"),
    ("2026-02-01", "2026-01-01", "to"),
    ("2026-01-01", "2026-01-01", "to"),
    ("2025-01-01", "2026-01-03", "to"),
    ("2026-04-01", None, "from"),
    ("2024-01-01", None, "from"),
    ("1969-12-31", "1970-01-02", "from"),
])
def test_bad_ranges_are_refused_naming_the_field(start: str, end: str | None, field: str):
    with pytest.raises(ValidationFailed) as caught:
        parse_range(start, end, now=NOW)
    assert caught.value.field == field


def test_a_range_of_exactly_366_days_is_allowed():
    start, end = parse_range("2024-01-01", "2025-01-01", now=NOW)
    assert end - start == timedelta(days=366)


def test_the_csv_filename_names_the_range():
    assert csv_filename(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)) == \
        "frontdesk-analytics-2026-01-01-2026-02-01.csv"
    assert csv_filename(datetime(2026, 1, 1, tzinfo=UTC), NOW) == \
        "frontdesk-analytics-2026-01-01-2026-03-01T123000Z.csv"
