"""Enqueueing side effects: the write half of the transactional outbox.

An action that decides an effect outside the database (a webhook delivery, a Jira push, a
Slack post) calls ``enqueue`` in its own transaction. The row commits or rolls back with the
change that caused it, so an effect is never performed for a change that did not happen and
never lost for one that did. The worker (``worker/outbox.py``) carries it out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, _jsonable
from frontdesk.db.models import OutboxItem
from frontdesk.domain.errors import ValidationFailed

KIND_MAX = 64
KEY_MAX = 255
LANE_MAX = 100


async def enqueue(tx: Tx, kind: str, payload: dict[str, Any], *, key: str | None = None,
                  due_at: datetime | None = None, lane: str | None = None) -> OutboxItem:
    """Add one effect of ``kind`` to the outbox, due at ``due_at`` (now by default), in the
    caller's transaction.

    ``key`` makes this idempotent: when a row with the same key exists (enqueued earlier, by
    this or any other transaction, whatever its status), nothing is added and that row is
    returned. Handlers may use the key as the effect's idempotency id at the other end.
    ``lane`` names the receiver (``"webhook:12"``, ``"jira:3"``): a worker runs only so many
    rows of one lane at a time.
    Internal: callers are actions that already checked their own permission. Emits no event.
    """
    if not kind or len(kind) > KIND_MAX:
        raise ValidationFailed(f"an outbox kind has 1 to {KIND_MAX} characters", field="kind")
    if key is not None and not 0 < len(key) <= KEY_MAX:
        raise ValidationFailed(f"an outbox key has 1 to {KEY_MAX} characters", field="key")
    if lane is not None and not 0 < len(lane) <= LANE_MAX:
        raise ValidationFailed(f"an outbox lane has 1 to {LANE_MAX} characters", field="lane")
    values = {
        "workspace_id": tx.workspace_id, "kind": kind, "key": key, "lane": lane, "payload": _jsonable(payload),
        "status": "pending", "attempts": 0, "next_attempt_at": due_at or tx.now, "created_at": tx.now,
    }
    _mark_enqueued(tx)
    if key is None:
        item = OutboxItem(**values)
        tx.session.add(item)
        return item
    db = tx.db
    assert db is not None, "enqueue needs a transaction opened by a Desk"
    # RETURNING the whole row gives the new item without reading it back.
    statement = (db.insert(OutboxItem).values(**values).on_conflict_do_nothing(index_elements=["key"])
                 .returning(OutboxItem))
    item = (await tx.session.execute(statement)).scalar_one_or_none()
    if item is not None:
        return item  # type: ignore[no-any-return]
    existing = (await tx.session.execute(select(OutboxItem).where(OutboxItem.key == key))).scalar_one()
    return existing


def _mark_enqueued(tx: Tx) -> None:
    # Read by ``Desk.tx`` after the commit: the worker's outbox job is woken at once instead
    # of waiting for its period.
    tx.outbox_enqueued += 1
