"""`frontdesk demo`: a realistic workspace built through actions, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from frontdesk.demo_data import STORIES


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def test_demo_builds_a_workspace_with_tickets_in_every_state(cli_any_db):
    cli = cli_any_db
    result = cli.ok("demo")

    assert "Nimbus Cloud Support" in result.output
    assert cli.scalar("SELECT count(*) FROM workspaces") == 1
    assert cli.scalar("SELECT count(*) FROM tickets") >= 24
    statuses = {r[0] for r in cli.rows("SELECT DISTINCT status FROM tickets")}
    assert statuses == {"open", "in_progress", "waiting", "resolved", "closed"}
    reasons = {r[0] for r in cli.rows("SELECT DISTINCT close_reason FROM tickets WHERE close_reason IS NOT NULL")}
    assert {"resolved", "duplicate", "user_unresponsive", "out_of_scope", "spam", "other"} <= reasons
    assert {r[0] for r in cli.rows("SELECT DISTINCT csat FROM tickets WHERE csat IS NOT NULL")} == {
        "helpful", "not_helpful", "skipped"}
    # One duplicate merged into another ticket, which kept both conversations.
    merged = cli.rows("SELECT t.merged_into_id FROM tickets t WHERE t.merged_into_id IS NOT NULL")
    assert len(merged) == 1
    assert cli.scalar("SELECT count(*) FROM conversations WHERE ticket_id = :id", id=merged[0][0]) == 2
    assert cli.scalar("SELECT count(*) FROM messages WHERE visibility = 'internal'") >= 5
    assert cli.scalar("SELECT count(DISTINCT tag) FROM ticket_tags") >= 10
    assert cli.scalar("SELECT count(*) FROM tickets WHERE claimer_id <> assignee_id") >= 1
    for flag in ("escalated", "lockdown", "pinned", "anonymous"):
        assert cli.scalar(f"SELECT count(*) FROM tickets WHERE {flag}") >= 1, flag
    assert cli.scalar("SELECT count(*) FROM events WHERE type = 'conversation.converted'") == 1
    assert cli.scalar("SELECT count(*) FROM conversations WHERE status = 'solved' AND ticket_id IS NULL") == 1
    assert cli.scalar("SELECT count(*) FROM transcripts") == cli.scalar(
        "SELECT count(*) FROM tickets WHERE status = 'closed' AND merged_into_id IS NULL")
    assert cli.scalar("SELECT count(*) FROM attachments") == 1
    # Macros to insert, and a rule that tagged the outage report when it came in.
    assert cli.scalar("SELECT count(*) FROM macros") >= 3
    assert cli.scalar("SELECT count(*) FROM rule_runs") >= 1
    assert cli.scalar("SELECT count(*) FROM ticket_tags WHERE tag = 'outage-report'") >= 1


def test_demo_plays_every_story_over_three_weeks_in_order(cli):
    cli.ok("demo")
    now = datetime.now(UTC)

    times = [_aware(r[0]) for r in cli.rows("SELECT occurred_at FROM events ORDER BY id")]
    opened = [_aware(r[0]) for r in cli.rows("SELECT created_at FROM tickets ORDER BY number")]

    assert times == sorted(times), "events are written in time order"
    assert opened == sorted(opened), "ticket numbers follow the order tickets were opened in"
    assert now - timedelta(days=23) < times[0] and times[-1] <= now
    assert times[-1] - times[1] > timedelta(days=18)
    assert len({r[0] for r in cli.rows("SELECT DISTINCT actor_id FROM events")}) > 15
    # Every story was played: each became a ticket or a conversation of its own.
    titles = {r[0] for r in cli.rows("SELECT title FROM tickets")} | {
        r[0] for r in cli.rows("SELECT subject FROM conversations")}
    assert {s.title for s in STORIES if not any(step.startswith("!rename") for step in s.steps)} <= titles


def test_demo_twice_does_not_duplicate_and_reset_rebuilds(cli):
    cli.ok("demo")
    tickets = cli.scalar("SELECT count(*) FROM tickets")

    again = cli.ok("demo")

    assert "already exists" in again.output
    assert cli.scalar("SELECT count(*) FROM workspaces") == 1
    assert cli.scalar("SELECT count(*) FROM tickets") == tickets

    cli.ok("demo", "--reset")

    assert cli.scalar("SELECT count(*) FROM workspaces") == 1
    assert cli.scalar("SELECT count(*) FROM tickets") == tickets
    assert cli.scalar("SELECT count(DISTINCT workspace_id) FROM events") == 1

