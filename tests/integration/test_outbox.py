"""The transactional outbox: enqueued with the change, claimed under a lease, retried with
backoff, dead after the policy's last attempt."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.actions.outbox import enqueue
from frontdesk.db.models import Event, OutboxItem
from frontdesk.db.session import Database
from frontdesk.domain.errors import ValidationFailed
from frontdesk.worker import outbox as ob
from frontdesk.worker.runner import Job, Worker, default_jobs
from tests.integration.helpers import count, fetch

RETRY = ob.RetryPolicy(delays=(10, 60, 600), jitter=0.0, timeout=5)


def recording_registry(outcome=None, seen=None):  # type: ignore[no-untyped-def]
    seen = [] if seen is None else seen

    async def handler(desk, item):  # type: ignore[no-untyped-def]
        seen.append((item.key, item.attempts))
        await asyncio.sleep(0)
        return outcome(item) if outcome else ob.done()

    handlers = ob.Registry()
    handlers.register("test.effect", handler, retry=RETRY)
    return handlers, seen


async def enqueue_some(world, n, *, kind="test.effect"):  # type: ignore[no-untyped-def]
    async with world.tx("system") as tx:
        return [await enqueue(tx, kind, {"n": i}, key=f"k-{i}") for i in range(n)]


async def rows(world):  # type: ignore[no-untyped-def]
    return sorted(await fetch(world, select(OutboxItem)), key=lambda r: r.id)


async def test_an_enqueued_row_commits_with_the_action_and_a_rolled_back_action_leaves_none(world):
    async with world.tx("system") as tx:
        item = await enqueue(tx, "test.effect", {"hello": "world"})
    assert item.id is not None
    with pytest.raises(RuntimeError):
        async with world.tx("system") as tx:
            await enqueue(tx, "test.effect", {"lost": True}, key="never")
            raise RuntimeError("the action failed")
    stored = await rows(world)
    assert [(r.kind, r.payload, r.status, r.attempts) for r in stored] == [
        ("test.effect", {"hello": "world"}, "pending", 0)]


async def test_a_duplicate_key_returns_the_existing_row_and_adds_nothing(world):
    async with world.tx("system") as tx:
        first = await enqueue(tx, "test.effect", {"v": 1}, key="same")
    async with world.tx("system") as tx:
        again = await enqueue(tx, "test.effect", {"v": 2}, key="same")
        in_same_tx = await enqueue(tx, "test.effect", {"v": 3}, key="same")
    assert again.id == first.id == in_same_tx.id
    assert again.payload == {"v": 1}
    assert await count(world, OutboxItem) == 1


async def test_enqueue_refuses_an_empty_kind(world):
    with pytest.raises(ValidationFailed) as failed:
        async with world.tx("system") as tx:
            await enqueue(tx, "", {})
    assert failed.value.field == "kind"
    assert await count(world, OutboxItem) == 0


async def test_a_row_due_later_waits_for_its_time(world, clock):
    async with world.tx("system") as tx:
        await enqueue(tx, "test.effect", {}, key="later", due_at=clock.now() + timedelta(minutes=5))
    handlers, seen = recording_registry()
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0
    clock.advance(minutes=5)
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 1
    assert seen == [("later", 1)]
    [row] = await rows(world)
    assert (row.status, row.done_at, row.lease_until) == ("done", clock.now(), None)


async def test_rows_of_kinds_nobody_handles_here_are_left_alone(world):
    await enqueue_some(world, 2, kind="jira.push")
    handlers, seen = recording_registry()
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0
    assert {r.attempts for r in await rows(world)} == {0}


async def test_two_workers_claiming_at_once_deliver_each_row_exactly_once(world, db_url, clock, files):
    await enqueue_some(world, 60)
    seen: list[tuple[str, int]] = []
    handlers, _ = recording_registry(seen=seen)
    other_db = Database(db_url)
    other = Desk(other_db, clock=clock, files=files)
    try:
        passes = 0
        while await count(world, OutboxItem, OutboxItem.status == "pending") and passes < 20:
            passes += 1
            await asyncio.gather(ob.deliver_due(world.desk, limit=7, handlers=handlers),
                                 ob.deliver_due(other, limit=7, handlers=handlers))
    finally:
        await other_db.dispose()
    keys = [key for key, _ in seen]
    assert sorted(keys) == sorted(f"k-{i}" for i in range(60))
    assert {r.status for r in await rows(world)} == {"done"}


async def test_a_worker_that_dies_after_claiming_leaves_rows_that_are_delivered_after_the_lease(world, clock):
    await enqueue_some(world, 3)
    handlers, seen = recording_registry()
    claimed = await ob.claim_due(world.desk, limit=10, handlers=handlers)  # ...and then the worker died
    assert len(claimed) == 3
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0, "still leased"
    clock.advance(seconds=handlers.lease_seconds - 1)
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0
    clock.advance(seconds=1)
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 3
    assert sorted(seen) == [("k-0", 2), ("k-1", 2), ("k-2", 2)]
    stored = await rows(world)
    assert [(r.key, r.status, r.attempts) for r in stored] == [("k-0", "done", 2), ("k-1", "done", 2),
                                                              ("k-2", "done", 2)]


async def test_a_late_outcome_from_a_worker_whose_lease_ran_out_does_not_override_the_new_claim(world, clock):
    await enqueue_some(world, 1)
    handlers, _ = recording_registry()
    [stale] = await ob.claim_due(world.desk, limit=10, handlers=handlers)
    clock.advance(seconds=handlers.lease_seconds)
    [fresh] = await ob.claim_due(world.desk, limit=10, handlers=handlers)
    await ob.record_outcomes(world.desk, [(stale, ob.dead("stale worker"))], handlers=handlers)
    [row] = await rows(world)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 2, fresh.lease_until)
    await ob.record_outcomes(world.desk, [(fresh, ob.done())], handlers=handlers)
    [row] = await rows(world)
    assert row.status == "done"


async def test_failed_attempts_are_retried_on_the_backoff_schedule_and_dead_after_the_last(world, clock):
    await enqueue_some(world, 1)
    handlers, seen = recording_registry(lambda item: ob.retry(error=f"failure {item.attempts}"))
    schedule = []
    for _ in range(RETRY.max_attempts):
        assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 1
        [row] = await rows(world)
        if row.status == "pending":
            schedule.append((row.next_attempt_at - clock.now()).total_seconds())
            assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0
            clock.set(row.next_attempt_at)
    assert schedule == [10, 60, 600]
    [row] = await rows(world)
    assert (row.status, row.attempts, row.last_error) == ("dead", 4, "failure 4")
    clock.advance(days=30)
    assert await ob.deliver_due(world.desk, limit=10, handlers=handlers) == 0
    assert [a for _, a in seen] == [1, 2, 3, 4]


async def test_a_handler_may_say_when_to_retry_or_give_up_at_once(world, clock):
    await enqueue_some(world, 2)
    handlers, _ = recording_registry(
        lambda item: ob.retry(after=120, error="busy") if item.key == "k-0" else ob.dead("gone"))
    await ob.deliver_due(world.desk, limit=10, handlers=handlers)
    first, second = await rows(world)
    assert (first.status, first.next_attempt_at, first.last_error) == (
        "pending", clock.now() + timedelta(seconds=120), "busy")
    assert (second.status, second.attempts, second.last_error) == ("dead", 1, "gone")


async def test_a_raising_or_hanging_handler_counts_as_a_failed_attempt(world, clock):
    await enqueue_some(world, 2)

    async def handler(desk, item):  # type: ignore[no-untyped-def]
        if item.key == "k-0":
            raise ConnectionError("refused")
        await asyncio.Event().wait()

    handlers = ob.Registry()
    handlers.register("test.effect", handler, retry=ob.RetryPolicy(delays=(10,), jitter=0, timeout=0.05))
    await ob.deliver_due(world.desk, limit=10, handlers=handlers)
    first, second = await rows(world)
    assert first.status == second.status == "pending"
    assert first.last_error == "ConnectionError: refused"
    assert "longer than 0.05 s" in second.last_error


async def test_an_outcome_effect_runs_in_the_recording_transaction_and_reaches_the_hooks(world):
    await enqueue_some(world, 1)
    hooked: list[list[str]] = []

    async def hook(tx):  # type: ignore[no-untyped-def]
        hooked.append([e.type for e in tx.events])

    world.desk.before_commit[:] = [hook]

    async def effect(tx):  # type: ignore[no-untyped-def]
        await tx.record("test.delivered")

    handlers, _ = recording_registry(lambda item: ob.done(effect=effect))
    await ob.deliver_due(world.desk, limit=10, handlers=handlers)
    assert hooked == [["test.delivered"]]
    assert await count(world, Event, Event.type == "test.delivered") == 1


async def test_the_backoff_spreads_each_wait_by_its_jitter():
    policy = ob.RetryPolicy.exponential(first=5, factor=3, cap=100, attempts=5, jitter=0.25)
    assert policy.delays == (5, 15, 45, 100)
    rng = random.Random(7)
    waits = [policy.delay_after(1, rng) for _ in range(200)]
    assert all(3.75 <= w <= 6.25 for w in waits)
    assert max(waits) - min(waits) > 1, "the waits are spread"
    assert policy.delay_after(5) is None


async def test_the_worker_runs_the_outbox_and_a_commit_wakes_it(world):
    handlers, seen = recording_registry()
    job = next(j for j in default_jobs() if j.name == "outbox")
    assert job.every_seconds <= 1
    worker = Worker(world.desk, jobs=[ob_job(handlers, every=3600)])
    world.desk.after_commit.append(worker.wake_outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        for _ in range(100):  # the first pass, at start-up
            await asyncio.sleep(0.01)
        await enqueue_some(world, 1)
        for _ in range(500):
            if seen:
                break
            await asyncio.sleep(0.01)
        assert seen == [("k-0", 1)], "delivered long before the hour-long period"
    finally:
        stop.set()
        await task


def ob_job(handlers, *, every):  # type: ignore[no-untyped-def]
    async def sweep(desk, *, limit):  # type: ignore[no-untyped-def]
        return await ob.deliver_due(desk, limit=limit, handlers=handlers)

    return Job("outbox", sweep, every_seconds=every, limit=50)


async def test_the_running_pump_delivers_as_soon_as_a_commit_wakes_it(world):
    handlers, seen = recording_registry()
    pump = ob.OutboxPump(world.desk, period=3600, handlers=handlers)
    worker = Worker(world.desk, jobs=[Job("outbox", lambda desk, *, limit: ob.deliver_due(desk, limit=limit),
                                          background=lambda desk: pump)])
    world.desk.after_commit.append(worker.wake_outbox)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop))
    try:
        for _ in range(100):  # the pump's first look, at start-up, finds nothing
            await asyncio.sleep(0.01)
        await enqueue_some(world, 3)
        for _ in range(500):
            if len(seen) == 3 and pump.delivered == 3:
                break
            await asyncio.sleep(0.01)
        assert sorted(seen) == [("k-0", 1), ("k-1", 1), ("k-2", 1)], "delivered long before the hour-long period"
        assert pump.delivered == 3
    finally:
        stop.set()
        await task
    assert {r.status for r in await rows(world)} == {"done"}


async def test_the_pump_runs_only_so_many_rows_of_one_lane_and_the_others_pass_it(world):
    release = asyncio.Event()
    running: dict[str, int] = {"slow": 0}
    most = {"slow": 0}
    fast_done: list[str] = []

    async def handler(desk, item):  # type: ignore[no-untyped-def]
        if item.lane == "slow":
            running["slow"] += 1
            most["slow"] = max(most["slow"], running["slow"])
            try:
                await release.wait()
            finally:
                running["slow"] -= 1
        else:
            fast_done.append(item.key)
        return ob.done()

    handlers = ob.Registry()
    handlers.register("test.effect", handler, retry=RETRY)
    async with world.tx("system") as tx:
        for i in range(20):
            await enqueue(tx, "test.effect", {}, key=f"slow-{i}", lane="slow")
        for i in range(10):
            await enqueue(tx, "test.effect", {}, key=f"fast-{i}", lane=f"fast-{i % 3}")
    pump = ob.OutboxPump(world.desk, concurrency=12, per_lane=3, period=0.05, handlers=handlers)
    stop = asyncio.Event()
    task = asyncio.create_task(pump.run(stop))
    try:
        for _ in range(500):
            if len(fast_done) == 10:
                break
            await asyncio.sleep(0.01)
        assert sorted(fast_done) == sorted(f"fast-{i}" for i in range(10)), "the slow lane held nobody up"
        assert most["slow"] == 3
    finally:
        stop.set()
        release.set()
        await task
    stored = {r.key: r for r in await rows(world)}
    assert all(stored[f"fast-{i}"].status == "done" for i in range(10))
    slow = [stored[f"slow-{i}"] for i in range(20)]
    # The three that ran are done; the rest went back to the outbox uncounted.
    assert sorted(r.status for r in slow).count("done") >= 3
    assert all(r.attempts == 0 for r in slow if r.status == "pending")
