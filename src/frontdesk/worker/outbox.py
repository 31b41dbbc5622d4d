"""Carrying out the outbox: claim due rows, run their handlers, record what happened.

A handler is registered per kind with the retry policy of that kind::

    register("webhook", deliver_webhook, retry=WEBHOOK_RETRY)

and is ``async def handler(desk, item) -> Outcome``: ``done()``, ``retry(after=..., error=...)``
or ``dead(error)``. An exception from a handler counts as ``retry`` with its text as the error.

``deliver_due`` is a worker job. It claims due rows in one short transaction (a lease: the
row's ``lease_until`` and ``next_attempt_at`` move past the time its handler may take, and its
attempt is counted), commits the claim, runs the handlers concurrently (at most
``concurrency`` at a time, each bounded by its policy's timeout), then records every outcome
in one transaction. A worker that dies after the claim leaves the row leased; the lease runs
out, the row is due again and another pass delivers it once more — with the same row, so the
same key and the same idempotency id. Effects are therefore carried out at least once.

Claims take row locks with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers
split the due rows between them; on SQLite the claiming UPDATE is the only writer of its
moment. Either way each row is leased by one worker at a time.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from frontdesk.actions.base import Desk, Tx
from frontdesk.db.models import OutboxItem
from frontdesk.domain.permissions import Actor

log = logging.getLogger("frontdesk.outbox")

SYSTEM = Actor.system()
ERROR_MAX = 2000
# Modules whose import registers their handlers on ``registry`` (connectors add theirs here).
HANDLER_MODULES: list[str] = [
    # engineering links (issue 4)
    "frontdesk.integrations.jira", "frontdesk.integrations.linear", "frontdesk.integrations.slack",
]


# --- outcomes ------------------------------------------------------------------------------------------------

Effect = Callable[[Tx], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt. ``effect`` runs in the transaction that records the outcome
    (a system ``Tx`` of the item's workspace): the handler's own bookkeeping, such as its
    attempt log or disabling a receiver that is gone. The before-commit hooks run over any
    events it records."""

    status: str  # done, retry, dead
    after_seconds: float | None = None
    error: str | None = None
    effect: Effect | None = None


def done(*, effect: Effect | None = None) -> Outcome:
    return Outcome("done", effect=effect)


def retry(*, after: float | None = None, error: str | None = None, effect: Effect | None = None) -> Outcome:
    """Try again: after ``after`` seconds when the other side said when (Retry-After), else on
    the policy's schedule. The last attempt of the policy turns a retry into ``dead``."""
    return Outcome("retry", after_seconds=after, error=error, effect=effect)


def dead(error: str, *, effect: Effect | None = None) -> Outcome:
    return Outcome("dead", error=error, effect=effect)


# --- retry policies ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again: ``delays[n]`` seconds after the (n+1)-th failed attempt, each spread
    by ±``jitter`` (a fraction) so receivers that failed together are not retried together.
    After ``len(delays) + 1`` attempts the item is dead. ``timeout`` bounds one handler call;
    the claim's lease is longer than it, so a live worker never loses its lease."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    timeout: float = 60.0

    @classmethod
    def exponential(cls, *, first: float, factor: float = 2.0, cap: float, attempts: int,
                    jitter: float = 0.2, timeout: float = 60.0) -> RetryPolicy:
        """``attempts`` attempts in all, the waits growing by ``factor`` from ``first`` up to ``cap``."""
        delays = tuple(min(cap, first * factor ** n) for n in range(max(0, attempts - 1)))
        return cls(delays=delays, jitter=jitter, timeout=timeout)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def lease_seconds(self) -> float:
        return self.timeout * 2 + 30

    def delay_after(self, attempt: int, rng: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based), or None when it
        was the last one."""
        if attempt >= self.max_attempts:
            return None
        base = self.delays[attempt - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + spread))


DEFAULT_RETRY = RetryPolicy.exponential(first=10, cap=3600, attempts=10)

Handler = Callable[[Desk, OutboxItem], Awaitable[Outcome]]


@dataclass(frozen=True)
class Registration:
    handler: Handler
    retry: RetryPolicy


@dataclass
class Registry:
    """Handlers by kind. The process-wide one is ``registry``; tests build their own."""

    handlers: dict[str, Registration] = field(default_factory=dict)

    def register(self, kind: str, handler: Handler, *, retry: RetryPolicy = DEFAULT_RETRY) -> None:
        self.handlers[kind] = Registration(handler, retry)

    def unregister(self, kind: str) -> None:
        self.handlers.pop(kind, None)

    @property
    def lease_seconds(self) -> float:
        return max((r.retry.lease_seconds for r in self.handlers.values()), default=90.0)


registry = Registry()
register = registry.register
_loaded = False


def _load_handlers() -> None:
    global _loaded
    if not _loaded:
        import importlib

        for name in HANDLER_MODULES:
            importlib.import_module(name)
        _loaded = True


# --- the job -------------------------------------------------------------------------------------------------


async def claim_due(desk: Desk, *, limit: int, handlers: Registry | None = None) -> list[OutboxItem]:
    """Lease at most ``limit`` due rows of the registered kinds and commit the lease. Each
    claimed row has its attempt counted and ``lease_until`` set; it is this caller's until then."""
    handlers = handlers or _default_registry()
    kinds = list(handlers.handlers)
    if not kinds or limit <= 0:
        return []
    now = desk.clock.now()
    due = (OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now, OutboxItem.kind.in_(kinds))
    # A read first: an idle pass costs one indexed read and never takes SQLite's write lock.
    async with desk.db.reading() as session:
        if (await session.execute(select(OutboxItem.id).where(*due).limit(1))).first() is None:
            return []
    lease_until = now + timedelta(seconds=handlers.lease_seconds)
    picked = (select(OutboxItem.id).where(*due).order_by(OutboxItem.next_attempt_at).limit(limit)
              .with_for_update(skip_locked=True))
    statement = (update(OutboxItem).where(OutboxItem.id.in_(picked.scalar_subquery()))
                 .values(lease_until=lease_until, next_attempt_at=lease_until, attempts=OutboxItem.attempts + 1)
                 .returning(OutboxItem).execution_options(synchronize_session=False))
    async with desk.db.transaction() as session:
        items = list((await session.execute(statement)).scalars().all())
    return items


async def deliver_due(desk: Desk, *, limit: int, concurrency: int = 32, handlers: Registry | None = None) -> int:
    """One outbox pass: claim up to ``limit`` due rows, carry them out at most ``concurrency``
    at a time, record each outcome. Returns how many rows it attempted."""
    handlers = handlers or _default_registry()
    items = await claim_due(desk, limit=limit, handlers=handlers)
    if not items:
        return 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def attempt(item: OutboxItem) -> Outcome:
        registration = handlers.handlers[item.kind]
        async with gate:
            try:
                return await asyncio.wait_for(registration.handler(desk, item), registration.retry.timeout)
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                return retry(error=f"the handler took longer than {registration.retry.timeout:g} s")
            except Exception as exc:  # noqa: BLE001 - a failed attempt, recorded and retried
                log.exception("outbox handler failed", extra={"kind": item.kind, "outbox_id": item.id})
                return retry(error=f"{type(exc).__name__}: {exc}")

    outcomes = await asyncio.gather(*(attempt(item) for item in items))
    await record_outcomes(desk, list(zip(items, outcomes, strict=True)), handlers=handlers)
    return len(items)


async def record_outcomes(desk: Desk, results: list[tuple[OutboxItem, Outcome]], *,
                          handlers: Registry | None = None) -> None:
    """Write what became of each claimed row, in one transaction. A row whose lease this
    worker no longer holds (it ran out and another worker claimed the row) is left to that
    worker; its effect (the attempt log) is still written."""
    handlers = handlers or _default_registry()
    now = desk.clock.now()
    async with desk.db.transaction() as session:
        for item, outcome in results:
            policy = handlers.handlers[item.kind].retry if item.kind in handlers.handlers else DEFAULT_RETRY
            values = _outcome_values(item, outcome, policy, now)
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == item.id, OutboxItem.status == "pending",
                       OutboxItem.lease_until == item.lease_until)
                .values(**values).execution_options(synchronize_session=False))
            if values["status"] == "dead":
                log.warning("outbox item dead", extra={"kind": item.kind, "outbox_id": item.id,
                                                       "attempts": item.attempts, "error": values["last_error"]})
            if outcome.effect is not None:
                await _run_effect(desk, session, item, outcome.effect, now)


def _outcome_values(item: OutboxItem, outcome: Outcome, policy: RetryPolicy, now: datetime) -> dict[str, Any]:
    error = outcome.error[:ERROR_MAX] if outcome.error else None
    if outcome.status == "done":
        return {"status": "done", "done_at": now, "lease_until": None, "last_error": None}
    wait = policy.delay_after(item.attempts) if outcome.status == "retry" else None
    if wait is None:
        return {"status": "dead", "lease_until": None, "last_error": error or "gave up"}
    if outcome.after_seconds is not None:
        wait = max(0.0, outcome.after_seconds)
    return {"status": "pending", "next_attempt_at": now + timedelta(seconds=wait), "lease_until": None,
            "last_error": error}


async def _run_effect(desk: Desk, session: Any, item: OutboxItem, effect: Effect, now: datetime) -> None:
    # In a savepoint: a failing effect loses its own writes, not the other outcomes.
    try:
        async with session.begin_nested():
            tx = desk.tx_in(session, SYSTEM, item.workspace_id)
            tx.now = now
            await effect(tx)
            if tx.events:
                await desk.run_before_commit(tx)
    except Exception:  # noqa: BLE001 - logged; the outcome itself is recorded
        log.exception("outbox effect failed", extra={"kind": item.kind, "outbox_id": item.id})


def _default_registry() -> Registry:
    _load_handlers()
    return registry


async def outbox_job(desk: Desk, *, limit: int) -> int:
    """The worker job (``worker/runner.py``)."""
    return await deliver_due(desk, limit=limit)
