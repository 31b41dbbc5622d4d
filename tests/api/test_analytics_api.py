"""GET /api/v1/analytics and /api/v1/analytics.csv: staff only, a checked date range, JSON and CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from tests.api.helpers import TICKETS, ok, open_ticket, problem

ANALYTICS = "/api/v1/analytics"


async def answered_and_closed(api, world) -> None:  # type: ignore[no-untyped-def]
    """Alice's urgent ticket answered by Sam after 15 minutes, closed 2 hours in and rated
    helpful; Bob's normal ticket left open, unanswered, tagged."""
    clock = world.desk.clock
    first = await open_ticket(api, world, "alice", priority="urgent", tags=["refund"])
    await open_ticket(api, world, "bob", tags=["refund", "login"])
    ok(await api("manager").post(f"{TICKETS}/{first['number']}/assign",
                                 json={"assignee_id": world.member_ids["staff"]}))
    clock.advance(minutes=15)
    ok(await api("staff").post(f"{TICKETS}/{first['number']}/messages", json={"body": "Refunded"}), 201)
    clock.advance(minutes=105)
    ok(await api("staff").post(f"{TICKETS}/{first['number']}/close", json={"reason": "resolved"}))
    ok(await api("alice").post(f"{TICKETS}/{first['number']}/rate", json={"rating": "helpful"}))
    clock.advance(minutes=1)  # the range ends before "now": [from, to)


async def test_staff_read_the_analytics_of_the_last_30_days_by_default(api, world):
    await answered_and_closed(api, world)
    now = world.desk.clock.now()

    body = ok(await api("staff").get(ANALYTICS))

    assert body["range"] == {"from": (now - timedelta(days=30)).isoformat().replace("+00:00", "Z"),
                             "to": now.isoformat().replace("+00:00", "Z")}
    assert body["open_now"] == {"total": 1, "by_status": {"open": 1, "in_progress": 0, "waiting": 0, "resolved": 0}}
    urgent = body["first_response"]["by_priority"][0]
    assert urgent == {"priority": "urgent", "responded": 1, "unanswered": 0, "median_minutes": 15.0,
                      "p95_minutes": 15.0}
    assert (body["first_response"]["responded"], body["first_response"]["unanswered"]) == (1, 1)
    assert body["resolution"]["resolved"] == 1
    assert body["resolution"]["median_hours"] == 2.0
    assert [b["count"] for b in body["resolution"]["buckets"]] == [0, 1, 0, 0, 0, 0]
    assert body["top_types"] == [{"type_id": world.type_ids["General"], "name": "General", "count": 2}]
    assert body["top_tags"] == [{"tag": "refund", "count": 2}, {"tag": "login", "count": 1}]
    assert body["staff"] == [{
        "member_id": world.member_ids["staff"], "display_name": "Sam Staff", "cases_handled": 1,
        "first_responses": 1, "median_first_response_minutes": 15.0, "rated_helpful": 1, "rated_not_helpful": 0,
        "rating_percent": 100.0}]
    assert body["csat"] == {"helpful": 1, "not_helpful": 0, "skipped": 0, "percent": 100.0}


async def test_a_range_that_ends_before_the_tickets_shows_only_what_is_open_now(api, world):
    await answered_and_closed(api, world)

    body = ok(await api("staff").get(ANALYTICS, params={"from": "2025-11-01", "to": "2025-12-01"}))

    assert body["range"] == {"from": "2025-11-01T00:00:00Z", "to": "2025-12-01T00:00:00Z"}
    assert body["open_now"]["total"] == 1
    assert (body["first_response"]["responded"], body["resolution"]["resolved"], body["csat"]["percent"]) == \
        (0, 0, None)
    assert (body["top_types"], body["top_tags"], body["staff"]) == ([], [], [])


async def test_the_csv_export_is_an_attachment_named_after_the_range(api, world):
    await answered_and_closed(api, world)

    r = await api("staff").get(f"{ANALYTICS}.csv", params={"from": "2026-01-01", "to": "2026-02-01"})

    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="frontdesk-analytics-2026-01-01-2026-02-01.csv"'
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[:3] == [["range"], ["from", "to", "generated_at"],
                        ["2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00",
                         world.desk.clock.now().isoformat()]]
    staff = rows.index(["staff"])
    assert rows[staff + 2][1:4] == ["Sam Staff", "1", "1"]
    csat = rows.index(["csat"])
    assert rows[csat + 2] == ["1", "0", "0", "100.0"]


@pytest.mark.parametrize("path", [ANALYTICS, f"{ANALYTICS}.csv"])
@pytest.mark.parametrize(("params", "field"), [
    ({"from": "2026-02-01", "to": "2026-01-01"}, "to"),
    ({"from": "not-a-date"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"from": "2024-01-01", "to": "2026-01-01"}, "to"),
    ({"from": "2024-01-01"}, "from"),
    ({"from": "2026-01-01" + "0" * 100}, "from"),
])
async def test_bad_ranges_answer_422_naming_the_field(api, world, path, params, field):
    problem(await api("staff").get(path, params=params), 422, field)


@pytest.mark.parametrize("path", [ANALYTICS, f"{ANALYTICS}.csv"])
async def test_customers_may_not_read_analytics(api, world, path):
    body = problem(await api("alice").get(path), 403)
    assert "staff" in body["detail"]


async def test_staff_by_a_discord_role_may_read_analytics(api, world):
    assert ok(await api("roled").get(ANALYTICS))["open_now"]["total"] == 0
