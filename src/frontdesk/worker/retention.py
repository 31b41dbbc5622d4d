"""Keeping the outbox from growing without end (the ``outbox_retention`` sweep).

Every effect the desk decides leaves an outbox row, and a busy Discord server leaves many (a
sync per ticket change, a post per message). A finished row is of use for a while: the
operator reading what happened, a key that keeps a late duplicate from being enqueued, the
webhook delivery log. After that it is only weight on the claim query's table. So:

* rows that succeeded (``done``) are deleted ``outbox_keep_days`` after they finished (7);
* rows given up on (``dead``) are kept longer, ``outbox_failed_keep_days`` (30), for whoever
  looks into why;
* a row the webhook delivery log shows is kept as long as the log, and the log keeps a
  delivery ``webhook_log_keep_days`` (30) after it was written: then the delivery, its attempts
  and its outbox row go together. A delivery still being retried is never deleted.

Pending rows are never touched. Each pass finds at most ``limit`` rows of each group, oldest
first, in a read (no write lock), and deletes them by id in one short transaction; the worker
drains it while it finds full batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, or_, select

from frontdesk.actions.base import Desk
from frontdesk.config import load_settings
from frontdesk.db.models import OutboxItem, WebhookAttempt, WebhookDelivery

DAY = timedelta(days=1)


async def outbox_retention(desk: Desk, *, limit: int = 2000) -> int:
    """Delete finished outbox rows and webhook deliveries past their keep time; returns how
    many of the larger group it deleted (so the worker repeats a pass that found a full batch)."""
    settings = load_settings()
    now = desk.clock.now()
    deliveries = await _old_deliveries(desk, now - settings.webhook_log_keep_days * DAY, limit)
    rows = await _finished_rows(desk, done_before=now - settings.outbox_keep_days * DAY,
                                dead_before=now - settings.outbox_failed_keep_days * DAY, limit=limit)
    return max(deliveries, rows)


async def _old_deliveries(desk: Desk, before: datetime, limit: int) -> int:
    """Webhook deliveries written before ``before`` whose outbox row is finished or gone,
    with their attempts and their outbox row."""
    def old(*also: Any) -> Any:
        still_trying = exists().where(OutboxItem.id == WebhookDelivery.outbox_id, OutboxItem.status == "pending")
        return (select(WebhookDelivery.id, WebhookDelivery.outbox_id)
                .where(WebhookDelivery.created_at < before, ~still_trying, *also)
                .order_by(WebhookDelivery.id).limit(limit))

    # Looked for without the write lock; a pass that finds nothing writes nothing.
    async with desk.db.reading() as session:
        candidates = [delivery_id for delivery_id, _ in (await session.execute(old())).all()]
    if not candidates:
        return 0
    async with desk.db.transaction() as session:
        # Again under the lock: a redelivery may have given one a new pending row meanwhile.
        found = (await session.execute(old(WebhookDelivery.id.in_(candidates)))).all()
        ids = [delivery_id for delivery_id, _ in found]
        outbox_ids = [outbox_id for _, outbox_id in found if outbox_id is not None]
        if ids:
            await session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            await session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        if outbox_ids:
            await session.execute(delete(OutboxItem).where(OutboxItem.id.in_(outbox_ids),
                                                           OutboxItem.status != "pending"))
        return len(ids)


async def _finished_rows(desk: Desk, *, done_before: datetime, dead_before: datetime, limit: int) -> int:
    """Finished rows past their keep time that no webhook delivery shows. A finished row never
    becomes pending again, so what the read finds can be deleted by id."""
    shown = exists().where(WebhookDelivery.outbox_id == OutboxItem.id)
    async with desk.db.reading() as session:
        ids = list((await session.scalars(
            select(OutboxItem.id).where(
                OutboxItem.status != "pending",  # the partial index of finished rows...
                OutboxItem.done_at < max(done_before, dead_before),  # ...read as a range
                or_((OutboxItem.status == "done") & (OutboxItem.done_at < done_before),
                    (OutboxItem.status == "dead") & (OutboxItem.done_at < dead_before)),
                ~shown)
            .order_by(OutboxItem.done_at).limit(limit))).all())
    if not ids:
        return 0
    async with desk.db.transaction() as session:
        # A delivery may have been pointed at one of them meanwhile (a redelivery points at a
        # new row, so this is only a guard).
        await session.execute(delete(OutboxItem).where(OutboxItem.id.in_(ids), ~shown))
    return len(ids)
