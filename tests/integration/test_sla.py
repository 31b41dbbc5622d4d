"""SLA: due times by priority and type, a clock that runs only in Open and In progress,
explicit pause, business hours, and breaches recorded once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.actions import lifecycle, messages, tickets, timers
from frontdesk.actions import members as m
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotPermitted
from frontdesk.worker.sweeps import sla_breaches
from tests.integration.helpers import events, ticket
from tests.integration.time_helpers import add_type, clock, configure, now, open_ops


async def test_a_new_ticket_gets_due_times_from_its_priority(world):
    await add_type(world)
    start = now(world)
    t = await open_ops(world, priority="high")
    row = await ticket(world, t.number)
    assert row.first_response_due_at == start + timedelta(minutes=60)
    assert row.resolution_due_at == start + timedelta(minutes=480)
    assert row.sla_due_at == row.first_response_due_at
    assert row.sla_running_since == start


async def test_default_targets_per_priority(world):
    await add_type(world)
    start = now(world)
    for priority, minutes in (("urgent", 15), ("high", 60), ("normal", 240), ("low", 1440)):
        t = await open_ops(world, priority=priority)
        assert (await ticket(world, t.number)).first_response_due_at == start + timedelta(minutes=minutes)


async def test_the_first_public_staff_reply_meets_the_first_response_target(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("staff", messages.add_note, t.number, "looking")
    assert (await ticket(world, t.number)).first_response_due_at is not None
    await world.run("bob", messages.post_message, t.number, "any news?")
    assert (await ticket(world, t.number)).first_response_due_at is not None
    clock(world).advance(minutes=30)
    await world.run("staff", messages.post_message, t.number, "On it")
    row = await ticket(world, t.number)
    assert row.first_response_due_at is None
    assert row.first_responder_id == world.member_ids["staff"]
    assert row.sla_due_at == row.resolution_due_at is not None


async def test_waiting_stops_the_clock_and_it_resumes_where_it_stopped(world):
    await add_type(world)
    t = await open_ops(world)  # normal: 240 minutes to a first response
    clock(world).advance(minutes=60)
    await world.run("staff", tickets.set_status, t.number, "waiting")
    stopped = await ticket(world, t.number)
    assert stopped.first_response_due_at is None and stopped.sla_due_at is None
    assert stopped.sla_used_minutes == pytest.approx(60)
    clock(world).advance(hours=30)
    await world.run("staff", tickets.set_status, t.number, "in_progress")
    resumed = await ticket(world, t.number)
    assert resumed.first_response_due_at == now(world) + timedelta(minutes=180)


async def test_resolved_and_closed_stop_the_clock_and_reopen_resumes_it(world):
    await add_type(world)
    t = await open_ops(world)
    clock(world).advance(minutes=100)
    await world.run("staff", tickets.set_status, t.number, "resolved")
    assert (await ticket(world, t.number)).resolution_due_at is None
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    closed = await ticket(world, t.number)
    assert closed.sla_running_since is None and closed.sla_due_at is None
    clock(world).advance(days=3)
    await world.run("staff", lifecycle.reopen_ticket, t.number)
    reopened = await ticket(world, t.number)
    assert reopened.first_response_due_at == now(world) + timedelta(minutes=140)


async def test_a_customer_reply_on_a_waiting_ticket_restarts_the_clock(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("staff", tickets.set_status, t.number, "waiting")
    clock(world).advance(hours=5)
    await world.run("bob", messages.post_message, t.number, "Here is the log")
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=240)


async def test_an_explicit_pause_stops_the_clock_and_resume_continues(world):
    await add_type(world)
    t = await open_ops(world)
    clock(world).advance(minutes=40)
    await world.run("manager", timers.pause_sla, t.number)
    paused = await ticket(world, t.number)
    assert paused.sla_paused and paused.sla_due_at is None
    assert (await events(world, ev.SLA_PAUSED))[-1].payload["used_minutes"] == 40
    clock(world).advance(hours=10)
    await world.run("manager", timers.resume_sla, t.number)
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=200)
    assert len(await events(world, ev.SLA_RESUMED)) == 1


async def test_a_paused_ticket_stays_paused_through_status_changes(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("manager", timers.pause_sla, t.number)
    await world.run("staff", tickets.set_status, t.number, "waiting")
    await world.run("staff", tickets.set_status, t.number, "open")
    assert (await ticket(world, t.number)).sla_running_since is None


async def test_pausing_needs_management_or_the_sla_pause_team_permission(world):
    await add_type(world)
    t = await open_ops(world)
    with pytest.raises(NotPermitted):
        await world.run("staff", timers.pause_sla, t.number)
    assert not (await ticket(world, t.number)).sla_paused
    async with world.tx("owner") as tx:
        await m.create_team(tx, name="Pausers", permissions=["sla.pause"], member_ids=[world.member_ids["staff"]])
    async with world.tx("system") as tx:
        staff = await tx.session.get(m.Member, world.member_ids["staff"])
        world.actors["staff"] = await m.actor_for_member(tx, staff)
    await world.run("staff", timers.pause_sla, t.number)
    assert (await ticket(world, t.number)).sla_paused


async def test_pausing_a_closed_ticket_is_a_conflict(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(Conflict):
        await world.run("manager", timers.pause_sla, t.number)


async def test_a_priority_change_recomputes_the_due_times(world):
    await add_type(world)
    t = await open_ops(world, priority="low")
    clock(world).advance(minutes=10)
    await world.run("staff", tickets.set_priority, t.number, "urgent")
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=5)


async def test_a_type_override_sets_the_targets_and_a_move_recomputes_them(world):
    await add_type(world)
    await add_type(world, "Outage", settings={"sla": {"first_response": {"normal": 30}}})
    t = await open_ops(world, type_name="Outage")
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=30)
    clock(world).advance(minutes=10)
    await world.run("staff", tickets.move_ticket, t.number, world.type_ids["Ops"])
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=230)


async def test_changing_a_type_override_recomputes_its_open_tickets(world):
    type_id = await add_type(world)
    t = await open_ops(world)
    await world.run("owner", m.update_ticket_type, type_id, {"settings": {"sla": {"first_response": {"normal": 20}}}})
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=20)


async def test_changing_the_workspace_targets_recomputes_open_tickets(world):
    await add_type(world)
    t = await open_ops(world)
    clock(world).advance(minutes=5)
    await configure(world, sla={"first_response": {"normal": 60}})
    assert (await ticket(world, t.number)).first_response_due_at == now(world) + timedelta(minutes=55)


async def test_sla_time_is_counted_in_business_hours(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}})
    clock(world).set(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # Monday 16:00 in Berlin
    t = await open_ops(world)  # 240 minutes: one hour on Monday, three on Tuesday morning
    assert (await ticket(world, t.number)).first_response_due_at == datetime(2026, 1, 6, 11, 0, tzinfo=UTC)


async def test_a_calendar_time_policy_ignores_business_hours(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": {"mon": ["09:00-17:00"]}}, sla={"business_hours": False})
    clock(world).set(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))
    t = await open_ops(world)
    assert (await ticket(world, t.number)).first_response_due_at == datetime(2026, 1, 5, 19, 0, tzinfo=UTC)


async def test_business_hours_skip_holidays(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed")},
                                           "holidays": ["2026-01-06"]})
    clock(world).set(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # Monday 16:00 Berlin; Tuesday is a holiday
    t = await open_ops(world)
    assert (await ticket(world, t.number)).first_response_due_at == datetime(2026, 1, 7, 11, 0, tzinfo=UTC)


async def test_sla_disabled_sets_no_due_times(world):
    await add_type(world)
    await configure(world, sla={"enabled": False})
    t = await open_ops(world)
    row = await ticket(world, t.number)
    assert row.first_response_due_at is None and row.resolution_due_at is None and row.sla_due_at is None


# --- breaches ---------------------------------------------------------------------------------------------------


async def test_a_missed_target_emits_sla_breach_exactly_once(world):
    await add_type(world)
    t = await open_ops(world, priority="urgent")
    clock(world).advance(minutes=14)
    assert await sla_breaches(world.desk) == 0
    clock(world).advance(minutes=2)
    assert await sla_breaches(world.desk) == 1
    assert await sla_breaches(world.desk) == 0
    clock(world).advance(hours=1)
    assert await sla_breaches(world.desk) == 0
    breaches = await events(world, ev.SLA_BREACH, number=t.number)
    assert [e.payload["target"] for e in breaches] == ["first_response"]
    assert breaches[0].payload["priority"] == "urgent" and breaches[0].actor_kind == "system"
    row = await ticket(world, t.number)
    assert row.first_response_breached_at == now(world) - timedelta(hours=1)
    clock(world).advance(hours=1)  # urgent resolution: 120 minutes
    assert await sla_breaches(world.desk) == 1
    assert [e.payload["target"] for e in await events(world, ev.SLA_BREACH, number=t.number)] == [
        "first_response", "resolution"]


async def test_a_breach_shows_on_the_ticket(world):
    from frontdesk.queries.tickets import get_ticket_view

    await add_type(world)
    t = await open_ops(world, priority="urgent")
    clock(world).advance(minutes=20)
    await sla_breaches(world.desk)
    async with world.desk.read(world.actors["staff"], world.workspace_id) as tx:
        view = await get_ticket_view(tx, t.number)
    assert view["sla"]["breached"] is True
    assert view["sla"]["first_response_breached_at"] is not None


async def test_a_breach_fires_once_even_after_reopen_and_priority_changes(world):
    await add_type(world)
    t = await open_ops(world, priority="urgent")
    clock(world).advance(minutes=20)
    await sla_breaches(world.desk)
    await world.run("staff", tickets.set_priority, t.number, "high")
    await world.run("staff", tickets.set_priority, t.number, "urgent")
    clock(world).advance(minutes=5)
    await sla_breaches(world.desk)
    firsts = [e for e in await events(world, ev.SLA_BREACH) if e.payload["target"] == "first_response"]
    assert len(firsts) == 1


async def test_no_breach_while_the_clock_is_stopped(world):
    await add_type(world)
    t = await open_ops(world, priority="urgent")
    await world.run("staff", tickets.set_status, t.number, "waiting")
    clock(world).advance(days=2)
    assert await sla_breaches(world.desk) == 0


async def test_the_sweep_reads_pending_targets_from_the_deadlines_table(world):
    from sqlalchemy import select

    from frontdesk.db.models import SlaDeadline
    from tests.integration.helpers import fetch

    await add_type(world)
    t = await open_ops(world, priority="urgent")
    row = await ticket(world, t.number)
    pending = await fetch(world, select(SlaDeadline.target).where(SlaDeadline.ticket_id == row.id)
                          .order_by(SlaDeadline.target))
    assert pending == ["first_response", "resolution"]
    await world.run("staff", messages.post_message, t.number, "hello")
    await world.run("staff", tickets.set_status, t.number, "waiting")
    assert await fetch(world, select(SlaDeadline.target).where(SlaDeadline.ticket_id == row.id)) == []
    await world.run("staff", tickets.set_status, t.number, "open")
    clock(world).advance(hours=3)
    assert await sla_breaches(world.desk) == 1
    assert await fetch(world, select(SlaDeadline.target).where(SlaDeadline.ticket_id == row.id)) == []


async def test_concurrent_breach_sweeps_record_each_breach_once(world):
    await add_type(world)
    numbers = [(await open_ops(world, priority="urgent")).number for _ in range(12)]
    clock(world).advance(minutes=16)
    results = await asyncio.gather(*(sla_breaches(world.desk, limit=5) for _ in range(3)))
    while await sla_breaches(world.desk, limit=5):
        pass
    breaches = await events(world, ev.SLA_BREACH)
    assert sorted(e.payload["ticket_number"] for e in breaches) == sorted(numbers)
    assert sum(results) <= len(numbers)


async def test_alert_on_breach_notifies_managers(world):
    await add_type(world)
    await configure(world, alerts={"sla_breach": True})
    t = await open_ops(world, priority="urgent")
    u = await open_ops(world, priority="urgent")
    clock(world).advance(minutes=16)
    await sla_breaches(world.desk)
    # One alert per pass names every breach, rather than one notification per ticket.
    [alert] = await events(world, ev.ALERT_RAISED)
    assert (alert.payload["kind"], alert.payload["count"]) == ("sla_breach", 2)
    assert sorted((m["ticket_number"], m["target"]) for m in alert.payload["tickets"]) == [
        (t.number, "first_response"), (u.number, "first_response")]


async def test_no_manager_alert_on_breach_unless_enabled(world):
    await add_type(world)
    await open_ops(world, priority="urgent")
    clock(world).advance(minutes=16)
    assert await sla_breaches(world.desk) == 1
    assert await events(world, ev.ALERT_RAISED) == []


async def test_the_breach_pass_runs_the_before_commit_hooks_over_its_events(world):
    from sqlalchemy import select

    from frontdesk.db.models import Event
    from tests.integration.helpers import fetch

    seen: list[tuple[int, str, int | None, dict]] = []

    async def hook(tx):
        seen.extend((e.id, e.type, e.ticket_id, e.payload) for e in tx.events)

    await add_type(world)
    await configure(world, alerts={"sla_breach": True})
    t = await open_ops(world, priority="urgent")
    world.desk.before_commit[:] = [hook]
    clock(world).advance(minutes=16)
    assert await sla_breaches(world.desk) == 1
    stored = await fetch(world, select(Event).where(Event.type.in_([ev.SLA_BREACH, ev.ALERT_RAISED])))
    breach = next(e for e in stored if e.type == ev.SLA_BREACH)
    assert seen[0] == (breach.id, ev.SLA_BREACH, breach.ticket_id, breach.payload)
    assert breach.payload["ticket_number"] == t.number and isinstance(seen[0][3], dict)
    # The alert is an ORM event of the same transaction; it has no id until the flush.
    assert [s[1] for s in seen] == [ev.SLA_BREACH, ev.ALERT_RAISED]
