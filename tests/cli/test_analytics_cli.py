"""frontdesk analytics: a workspace's figures over a range, printed as JSON or CSV."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

from frontdesk.actions import lifecycle, members, messages, tickets
from frontdesk.actions.base import Desk
from frontdesk.clock import ManualClock
from frontdesk.config import normalise_database_url
from frontdesk.db.session import Database
from frontdesk.domain.permissions import Actor
from frontdesk.files import FileStore


def build_desk_day(url: str, files: Path) -> None:
    """Workspace 1: one ticket answered after 20 minutes and closed after 5 hours, rated not
    helpful; one ticket left open; all on 2026-01-05."""

    async def build() -> None:
        clock = ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        desk = Desk(Database(normalise_database_url(url)), clock=clock, files=FileStore(files))
        try:
            async with desk.tx(Actor.system(), 0) as tx:
                await members.create_workspace(tx, name="Acme")
                cat = await members.add_member(tx, display_name="Cat", email="cat@example.com")
                sam = await members.add_member(tx, display_name="Sam", role="staff", email="sam@example.com")
                general = await members.create_ticket_type(tx, name="General", open_limit_per_user=None)
            sam_actor = await _actor(desk, sam.id)
            async with desk.tx(Actor.system(), 1) as tx:
                first = await tickets.open_ticket(tx, type_id=general.id, opener_id=cat.id, tags=["refund"])
                await tickets.open_ticket(tx, type_id=general.id, opener_id=cat.id, priority="high")
            clock.advance(minutes=20)
            async with desk.tx(sam_actor, 1) as tx:
                await messages.post_message(tx, first.number, "Looking into it")
                await tickets.claim_ticket(tx, first.number)
            clock.advance(hours=4, minutes=40)
            async with desk.tx(sam_actor, 1) as tx:
                await lifecycle.close_ticket(tx, first.number, reason="resolved")
            async with desk.tx(await _actor(desk, cat.id), 1) as tx:
                await lifecycle.rate_ticket(tx, first.number, "not_helpful")
        finally:
            await desk.db.dispose()

    asyncio.run(build())


async def _actor(desk: Desk, member_id: int) -> Actor:
    async with desk.tx(Actor.system(), 1) as tx:
        member = await tx.session.get(members.Member, member_id)
        return await members.actor_for_member(tx, member)


def test_analytics_prints_the_figures_as_json(cli_any_db, tmp_path: Path):
    build_desk_day(cli_any_db.url, tmp_path / "files")

    result = cli_any_db.ok("analytics", "--workspace", "1", "--from", "2026-01-05", "--to", "2026-01-06")

    body = json.loads(result.stdout)
    assert body["range"] == {"from": "2026-01-05T00:00:00+00:00", "to": "2026-01-06T00:00:00+00:00"}
    assert body["open_now"]["total"] == 1
    assert body["first_response"]["by_priority"][2] == {
        "priority": "normal", "responded": 1, "unanswered": 0, "median_minutes": 20.0, "p95_minutes": 20.0}
    assert body["first_response"]["by_priority"][1]["unanswered"] == 1
    assert (body["resolution"]["resolved"], body["resolution"]["median_hours"]) == (1, 5.0)
    assert [b["label"] for b in body["resolution"]["buckets"] if b["count"]] == ["4-24h"]
    assert body["top_tags"] == [{"tag": "refund", "count": 1}]
    assert [(s["display_name"], s["cases_handled"], s["rating_percent"]) for s in body["staff"]] == \
        [("Sam", 1, 0.0)]
    assert body["csat"] == {"helpful": 0, "not_helpful": 1, "skipped": 0, "percent": 0.0}


def test_analytics_prints_csv_with_one_section_per_metric(cli_any_db, tmp_path: Path):
    build_desk_day(cli_any_db.url, tmp_path / "files")

    result = cli_any_db.ok("analytics", "--workspace", "1", "--from", "2026-01-05", "--to", "2026-01-06", "--csv")

    assert "\r" not in result.stdout
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["range"]
    tags = rows.index(["top_tags"])
    assert rows[tags + 1:tags + 3] == [["tag", "count"], ["refund", "1"]]
    buckets = rows.index(["resolution_hours"])
    assert rows[buckets + 4] == ["4-24h", "4", "24", "1"]


def test_analytics_refuses_a_bad_range_and_an_unknown_workspace(cli_any_db, tmp_path: Path):
    build_desk_day(cli_any_db.url, tmp_path / "files")

    backwards = cli_any_db("analytics", "--workspace", "1", "--from", "2026-02-01", "--to", "2026-01-01")
    garbled = cli_any_db("analytics", "--workspace", "1", "--from", "last tuesday")
    unknown = cli_any_db("analytics", "--workspace", "7")

    assert (backwards.exit_code, garbled.exit_code, unknown.exit_code) == (2, 2, 3)
    assert backwards.stderr.startswith("error: to must be after from")
    assert garbled.stderr.startswith("error: from must be an ISO 8601 date")
    assert "workspace 7 not found" in unknown.stderr
    assert backwards.stdout == garbled.stdout == unknown.stdout == ""
