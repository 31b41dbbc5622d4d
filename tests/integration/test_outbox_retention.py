"""The outbox retention sweep: finished rows are deleted after their keep time, pending rows
never, and what the webhook delivery log shows stays as long as the log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from frontdesk.actions import webhooks as wa
from frontdesk.actions.outbox import enqueue
from frontdesk.config import load_settings
from frontdesk.db.models import OutboxItem, WebhookAttempt, WebhookDelivery
from frontdesk.domain import events as ev
from frontdesk.queries import webhooks as wq
from frontdesk.worker import outbox as ob
from frontdesk.worker.retention import outbox_retention
from frontdesk.worker.runner import Job, Worker, default_jobs
from tests.integration.helpers import count, fetch
from tests.webhook_receiver import Reply

RETRY = ob.RetryPolicy(delays=(10,), jitter=0.0, timeout=5)


def registry(outcome=ob.done):  # type: ignore[no-untyped-def]
    async def handler(desk, item):  # type: ignore[no-untyped-def]
        return outcome() if outcome is ob.done else outcome("the receiver is gone")

    handlers = ob.Registry()
    handlers.register("test.effect", handler, retry=RETRY)
    return handlers


async def finished(world, n, *, prefix="k", outcome=ob.done):  # type: ignore[no-untyped-def]
    """``n`` rows enqueued now and carried out at once (done, or dead with ``ob.dead``)."""
    async with world.tx("system") as tx:
        for i in range(n):
            await enqueue(tx, "test.effect", {"n": i}, key=f"{prefix}-{i}")
    handlers = registry(outcome)
    while await ob.deliver_due(world.desk, limit=200, handlers=handlers):
        pass


async def keys(world):  # type: ignore[no-untyped-def]
    return sorted(r.key or "" for r in await fetch(world, select(OutboxItem)))


async def test_delivered_rows_are_deleted_a_week_after_they_succeeded(world, clock):
    await finished(world, 3, prefix="old")
    clock.advance(days=6)
    await finished(world, 1, prefix="recent")
    async with world.tx("system") as tx:
        await enqueue(tx, "test.effect", {}, key="waiting", due_at=clock.now() + timedelta(days=60))
    clock.advance(days=1, seconds=1)
    assert await outbox_retention(world.desk) == 3
    assert await keys(world) == ["recent-0", "waiting"]
    clock.advance(days=90)
    await outbox_retention(world.desk)
    assert await keys(world) == ["waiting"]  # a pending row is never deleted


async def test_rows_given_up_on_are_kept_thirty_days(world, clock):
    await finished(world, 2, prefix="dead", outcome=ob.dead)
    [row, _] = await fetch(world, select(OutboxItem))
    assert row.status == "dead" and row.done_at == clock.now()
    clock.advance(days=8)
    assert await outbox_retention(world.desk) == 0
    assert await count(world, OutboxItem) == 2
    clock.advance(days=22, seconds=1)
    assert await outbox_retention(world.desk) == 2
    assert await count(world, OutboxItem) == 0


async def test_keep_times_follow_the_settings(world, clock, monkeypatch):
    monkeypatch.setenv("FRONTDESK_OUTBOX_KEEP_DAYS", "1")
    await finished(world, 2)
    clock.advance(days=1, seconds=1)
    assert await outbox_retention(world.desk) == 2


def test_a_keep_time_below_one_day_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("FRONTDESK_OUTBOX_FAILED_KEEP_DAYS", "0")
    with pytest.raises(ValidationError) as refused:
        load_settings()
    assert "outbox_failed_keep_days" in str(refused.value)


async def test_the_sweep_deletes_in_batches_and_the_worker_drains_it(world, clock):
    await finished(world, 25)
    clock.advance(days=8)
    assert await outbox_retention(world.desk, limit=10) == 10
    assert await count(world, OutboxItem) == 15
    worker = Worker(world.desk, jobs=[Job("outbox_retention", outbox_retention, limit=10)])
    assert (await worker.run_once())["outbox_retention"] == 15
    assert await count(world, OutboxItem) == 0


def test_the_worker_runs_the_retention_sweep_every_hour():
    job = next(j for j in default_jobs() if j.name == "outbox_retention")
    assert job.sweep is outbox_retention and job.every_seconds == 3600


# --- the webhook delivery log --------------------------------------------------------------------------------


@pytest.mark.usefixtures("webhook_env")
async def test_a_webhook_delivery_and_its_row_stay_as_long_as_the_delivery_log(world, clock, receiver):
    url = receiver.script("/hook", Reply(200, b"thanks"))
    endpoint, _ = await world.run("manager", wa.create_webhook, name="hook", url=url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    while await ob.deliver_due(world.desk, limit=200):
        pass
    [delivery] = await fetch(world, select(WebhookDelivery))
    clock.advance(days=8)
    await outbox_retention(world.desk)
    async with world.desk.read(world.actors["manager"], world.workspace_id) as tx:
        [shown], _ = await wq.list_deliveries(tx, endpoint.id)
    assert shown["id"] == delivery.id and shown["status"] == "succeeded"
    assert await count(world, OutboxItem, OutboxItem.kind == wa.OUTBOX_KIND) == 1
    clock.advance(days=22, seconds=1)
    assert await outbox_retention(world.desk) == 1
    assert await count(world, WebhookDelivery) == 0
    assert await count(world, WebhookAttempt) == 0
    assert await count(world, OutboxItem, OutboxItem.kind == wa.OUTBOX_KIND) == 0


@pytest.mark.usefixtures("webhook_env")
async def test_a_delivery_still_being_retried_is_never_deleted(world, clock, receiver):
    url = receiver.script("/down", *[Reply(500)] * 3)
    await world.run("manager", wa.create_webhook, name="down", url=url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await ob.deliver_due(world.desk, limit=200)
    [row] = await fetch(world, select(OutboxItem).where(OutboxItem.kind == wa.OUTBOX_KIND))
    assert row.status == "pending" and row.attempts == 1
    clock.advance(days=45)
    await outbox_retention(world.desk)
    assert await count(world, WebhookDelivery) == 1
    assert await count(world, WebhookAttempt) == 1
    assert await count(world, OutboxItem, OutboxItem.id == row.id) == 1
