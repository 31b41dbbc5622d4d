"""Manager alerts fire once per crossing: queue depth, CSAT drop, escalation spike."""

from __future__ import annotations

import asyncio

from frontdesk.actions import lifecycle, tickets
from frontdesk.domain import events as ev
from frontdesk.worker.alerts import manager_alerts
from tests.integration.helpers import add_customers, events
from tests.integration.time_helpers import add_type, clock, configure, open_ops


async def alert_log(world):
    return [(e.type, e.payload["kind"]) for e in await events(world) if e.type in (ev.ALERT_RAISED, ev.ALERT_CLEARED)]


async def test_queue_depth_alert_fires_once_per_crossing(world):
    await add_type(world)
    await configure(world, alerts={"queue_depth": 2})
    a, b = await open_ops(world), await open_ops(world)
    assert await manager_alerts(world.desk) == 0  # two is not above two
    c = await open_ops(world)
    assert await manager_alerts(world.desk) == 1
    assert await manager_alerts(world.desk) == 0  # still above: no repeat
    raised = (await events(world, ev.ALERT_RAISED))[-1]
    assert raised.payload["count"] == 3 and raised.payload["threshold"] == 2
    await world.run("staff", tickets.claim_ticket, c.number)
    assert await manager_alerts(world.desk) == 1
    await open_ops(world)
    assert await manager_alerts(world.desk) == 1
    assert await alert_log(world) == [("alert.raised", "queue_depth"), ("alert.cleared", "queue_depth"),
                                      ("alert.raised", "queue_depth")]
    assert {a.number, b.number}


async def test_escalated_tickets_count_toward_queue_depth_even_when_claimed(world):
    await add_type(world)
    await configure(world, alerts={"queue_depth": 1})
    for _ in range(2):
        t = await open_ops(world)
        await world.run("staff", tickets.claim_ticket, t.number)
        await world.run("staff", tickets.escalate_ticket, t.number)
    assert await manager_alerts(world.desk) == 1


async def test_concurrent_alert_sweeps_raise_a_crossing_once(world):
    await add_type(world)
    await configure(world, alerts={"queue_depth": 1})
    await open_ops(world)
    await open_ops(world)
    done = await asyncio.gather(*(manager_alerts(world.desk) for _ in range(3)))
    assert sum(done) == 1
    assert await alert_log(world) == [("alert.raised", "queue_depth")]


async def test_escalation_spike_alert(world):
    await add_type(world)
    await configure(world, alerts={"escalation_spike": 2, "escalation_window": "1h"})
    numbers = [(await open_ops(world)).number for _ in range(3)]
    for n in numbers[:2]:
        await world.run("staff", tickets.escalate_ticket, n)
    assert await manager_alerts(world.desk) == 0
    clock(world).advance(minutes=10)
    await world.run("staff", tickets.escalate_ticket, numbers[2])
    assert await manager_alerts(world.desk) == 1
    clock(world).advance(minutes=55)  # the first two fall out of the window
    assert await manager_alerts(world.desk) == 1
    assert await alert_log(world) == [("alert.raised", "escalation_spike"), ("alert.cleared", "escalation_spike")]


async def rate_many(world, ratings, prefix):
    ids = await add_customers(world, len(ratings), prefix=prefix)
    for i, rating in enumerate(ratings):
        t = await open_ops(world, f"{prefix}{i}")
        await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
        await world.run(f"{prefix}{i}", lifecycle.rate_ticket, t.number, rating)
    return ids


async def test_csat_drop_alert_compares_with_the_previous_window(world):
    await add_type(world)
    await configure(world, alerts={"csat_drop_points": 20, "csat_window": "7d", "csat_min_ratings": 4})
    await rate_many(world, ["helpful"] * 4, "p")  # previous week: 100%
    clock(world).advance(days=7, hours=1)
    await rate_many(world, ["helpful", "helpful", "not_helpful", "skipped", "helpful"], "q")  # 75%
    assert await manager_alerts(world.desk) == 1
    raised = (await events(world, ev.ALERT_RAISED))[-1]
    assert raised.payload["kind"] == "csat_drop"
    assert (raised.payload["previous_csat"], raised.payload["csat"], raised.payload["drop_points"]) == (
        100.0, 75.0, 25.0)
    assert await manager_alerts(world.desk) == 0


async def test_csat_drop_needs_enough_ratings_in_both_windows(world):
    await add_type(world)
    await configure(world, alerts={"csat_drop_points": 10, "csat_window": "7d", "csat_min_ratings": 3})
    await rate_many(world, ["helpful"] * 3, "p")
    clock(world).advance(days=7, hours=1)
    await rate_many(world, ["not_helpful"] * 2, "q")
    assert await manager_alerts(world.desk) == 0


async def test_no_alerts_unless_configured(world):
    await add_type(world)
    for _ in range(5):
        await open_ops(world)
    assert await manager_alerts(world.desk) == 0


async def test_an_alert_crossing_runs_the_before_commit_hooks(world):
    seen: list[tuple[str, str]] = []

    async def hook(tx):
        seen.extend((e.type, e.payload["kind"]) for e in tx.events)

    await add_type(world)
    await configure(world, alerts={"queue_depth": 1})
    await open_ops(world)
    await open_ops(world)
    world.desk.before_commit[:] = [hook]
    assert await manager_alerts(world.desk) == 1
    assert seen == [("alert.raised", "queue_depth")]
