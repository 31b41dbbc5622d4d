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

from sqlalchemy import Text, bindparam, func, or_, select, update

from frontdesk.actions.base import Desk, Tx
from frontdesk.db.models import OutboxItem
from frontdesk.db.types import UtcDateTime
from frontdesk.domain.permissions import Actor

log = logging.getLogger("frontdesk.outbox")

SYSTEM = Actor.system()
ERROR_MAX = 2000
RECORD_GATHER_SECONDS = 0.01
# Modules whose import registers their handlers on ``registry`` (connectors add theirs here).
HANDLER_MODULES: list[str] = [
    "frontdesk.worker.webhooks",
    # engineering links (issue 4)
    "frontdesk.integrations.jira", "frontdesk.integrations.linear", "frontdesk.integrations.slack",
    # Discord (issue 5): panels made through the API, the mirror
    "frontdesk.discord.panel_delivery", "frontdesk.discord.mirror",
]


# --- outcomes ------------------------------------------------------------------------------------------------

Effect = Callable[[Tx], Awaitable[None]]


@dataclass(frozen=True)
class Outcome:
    """What became of one attempt. ``effect`` runs in the transaction that records the outcome
    (a system ``Tx`` of the item's workspace): the handler's own bookkeeping, such as its
    attempt log or disabling a receiver that is gone. The before-commit hooks run over any
    events it records."""

    status: str  # done, retry, dead, defer
    after_seconds: float | None = None
    error: str | None = None
    effect: Effect | None = None
    # New ORM rows to insert with the outcome (an attempt log): batched with every other
    # outcome's, cheaper than an effect.
    rows: tuple[Any, ...] = ()


def done(*, effect: Effect | None = None, rows: tuple[Any, ...] = ()) -> Outcome:
    return Outcome("done", effect=effect, rows=rows)


def retry(*, after: float | None = None, error: str | None = None, effect: Effect | None = None,
          rows: tuple[Any, ...] = ()) -> Outcome:
    """Try again: after ``after`` seconds when the other side said when (Retry-After), else on
    the policy's schedule. The last attempt of the policy turns a retry into ``dead``."""
    return Outcome("retry", after_seconds=after, error=error, effect=effect, rows=rows)


def dead(error: str, *, effect: Effect | None = None, rows: tuple[Any, ...] = ()) -> Outcome:
    return Outcome("dead", error=error, effect=effect, rows=rows)


def defer(after: float) -> Outcome:
    """Not attempted (the receiver already has as many deliveries in flight as it may): put
    the row back, due in ``after`` seconds, without counting an attempt."""
    return Outcome("defer", after_seconds=after)


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


# Called once per claimed batch with that batch's rows of the kind, before their handlers:
# to load what the handlers need in one query instead of one each.
Prepare = Callable[[Desk, list[OutboxItem]], Awaitable[None]]


@dataclass(frozen=True)
class Registration:
    handler: Handler
    retry: RetryPolicy
    prepare: Prepare | None = None


@dataclass
class Registry:
    """Handlers by kind. The process-wide one is ``registry``; tests build their own."""

    handlers: dict[str, Registration] = field(default_factory=dict)

    def register(self, kind: str, handler: Handler, *, retry: RetryPolicy = DEFAULT_RETRY,
                 prepare: Prepare | None = None) -> None:
        self.handlers[kind] = Registration(handler, retry, prepare)

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


async def claim_due(desk: Desk, *, limit: int, handlers: Registry | None = None,
                    skip_lanes: set[str] | frozenset[str] = frozenset()) -> list[OutboxItem]:
    """Lease at most ``limit`` due rows of the registered kinds, none of ``skip_lanes``, and
    commit the lease. Each claimed row has its attempt counted and ``lease_until`` set; it is
    this caller's until then."""
    handlers = handlers or _default_registry()
    kinds = list(handlers.handlers)
    if not kinds or limit <= 0:
        return []
    now = desk.clock.now()
    due: tuple[Any, ...] = (OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now,
                            OutboxItem.kind.in_(kinds))
    if skip_lanes:
        due += (or_(OutboxItem.lane.is_(None), OutboxItem.lane.not_in(sorted(skip_lanes))),)
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
    await _prepare(desk, items, handlers)
    return items


async def _prepare(desk: Desk, items: list[OutboxItem], handlers: Registry) -> None:
    by_kind: dict[str, list[OutboxItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    for kind, batch in by_kind.items():
        registration = handlers.handlers.get(kind)
        if registration is not None and registration.prepare is not None:
            try:
                await registration.prepare(desk, batch)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the handlers load what they need themselves
                log.exception("outbox prepare failed", extra={"kind": kind})


async def deliver_due(desk: Desk, *, limit: int, concurrency: int = 32, handlers: Registry | None = None) -> int:
    """One outbox pass: claim up to ``limit`` due rows, carry them out at most ``concurrency``
    at a time, record each outcome. Returns how many rows it attempted."""
    handlers = handlers or _default_registry()
    items = await claim_due(desk, limit=limit, handlers=handlers)
    if not items:
        return 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def gated(item: OutboxItem) -> Outcome:
        async with gate:
            return await attempt(desk, item, handlers)

    outcomes = await asyncio.gather(*(gated(item) for item in items))
    await record_outcomes(desk, list(zip(items, outcomes, strict=True)), handlers=handlers)
    return len(items)


async def attempt(desk: Desk, item: OutboxItem, handlers: Registry) -> Outcome:
    """Run the handler of one claimed row, bounded by its policy's timeout; never raises."""
    registration = handlers.handlers[item.kind]
    try:
        return await asyncio.wait_for(registration.handler(desk, item), registration.retry.timeout)
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return retry(error=f"the handler took longer than {registration.retry.timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - a failed attempt, recorded and retried
        log.exception("outbox handler failed", extra={"kind": item.kind, "outbox_id": item.id})
        return retry(error=f"{type(exc).__name__}: {exc}")


async def record_outcomes(desk: Desk, results: list[tuple[OutboxItem, Outcome]], *,
                          handlers: Registry | None = None) -> None:
    """Write what became of each claimed row, in one transaction: one statement for every
    row's new state, one insert for the rows outcomes bring (attempt logs), then the effects.
    A row whose lease this worker no longer holds (it ran out and another worker claimed the
    row) is left to that worker; its attempt log is still written."""
    handlers = handlers or _default_registry()
    if not results:
        return
    now = desk.clock.now()
    params = []
    for item, outcome in results:
        policy = handlers.handlers[item.kind].retry if item.kind in handlers.handlers else DEFAULT_RETRY
        values = _outcome_values(item, outcome, policy, now)
        params.append({"b_id": item.id, "b_lease": item.lease_until, **values})
        if values["b_status"] == "dead":
            log.warning("outbox item dead", extra={"kind": item.kind, "outbox_id": item.id,
                                                   "attempts": item.attempts, "error": values["b_error"]})
    async with desk.db.transaction() as session:
        await session.execute(_RECORD, params)
        rows = [row for _, outcome in results for row in outcome.rows]
        if rows:
            await _add_rows(session, rows)
        for item, outcome in results:
            if outcome.effect is not None:
                await _run_effect(desk, session, item, outcome.effect, now)


_table = OutboxItem.__table__
_RECORD = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.status == "pending", _table.c.lease_until == bindparam("b_lease"))
    .values(status=bindparam("b_status"),
            next_attempt_at=func.coalesce(bindparam("b_next", type_=UtcDateTime()), _table.c.next_attempt_at),
            lease_until=None, last_error=bindparam("b_error", type_=Text()),
            done_at=bindparam("b_done", type_=UtcDateTime()), attempts=_table.c.attempts - bindparam("b_undo"))
)


def _outcome_values(item: OutboxItem, outcome: Outcome, policy: RetryPolicy, now: datetime) -> dict[str, Any]:
    error = outcome.error[:ERROR_MAX] if outcome.error else None
    values: dict[str, Any] = {"b_status": "pending", "b_next": None, "b_error": error, "b_done": None, "b_undo": 0}
    if outcome.status == "done":
        return {**values, "b_status": "done", "b_done": now, "b_error": None}
    if outcome.status == "defer":
        # Not attempted: the claim's count is taken back.
        return {**values, "b_next": now + timedelta(seconds=outcome.after_seconds or 1.0), "b_undo": 1,
                "b_error": item.last_error}
    wait = policy.delay_after(item.attempts) if outcome.status == "retry" else None
    if wait is None:
        return {**values, "b_status": "dead", "b_error": error or "gave up", "b_done": now}
    if outcome.after_seconds is not None:
        wait = max(0.0, outcome.after_seconds)
    return {**values, "b_next": now + timedelta(seconds=wait)}


async def _add_rows(session: Any, rows: list[Any]) -> None:
    # One flush for all; if it fails (a row's parent was deleted meanwhile), each row on its own.
    try:
        async with session.begin_nested():
            session.add_all(rows)
            await session.flush()
        return
    except Exception:  # noqa: BLE001 - retried row by row below
        pass
    for row in rows:
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except Exception:  # noqa: BLE001 - that row is dropped, the others are kept
            log.warning("outbox outcome row dropped", extra={"row": type(row).__name__})


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
    """The worker job as a sweep (``frontdesk worker --once``): one pass."""
    return await deliver_due(desk, limit=limit)


class OutboxPump:
    """The outbox in a long-running worker: claims due rows whenever a slot is free and runs
    each on its own, so a slow receiver holds only its own slots, never a whole pass (and
    never the sweeps beside it). Outcomes are written in batches, one transaction for all
    that finished while the previous batch was being written.

    Rows of one ``lane`` (one receiver) run at most ``per_lane`` at a time. Claims take at
    most ``per_lane`` rows and skip the lanes that have that many here already, so a slow or
    busy receiver never fills the slots the others need; a lane's extra rows from one claim
    wait here for its next free place."""

    def __init__(self, desk: Desk, *, concurrency: int = 128, per_lane: int = 32, period: float = 1.0,
                 handlers: Registry | None = None) -> None:
        self.desk = desk
        self.concurrency = concurrency
        self.per_lane = per_lane
        self.period = period
        self.handlers = handlers
        self._wake = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self._finished: list[tuple[OutboxItem, Outcome]] = []
        self._has_finished = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._running: dict[str, int] = {}
        self._waiting: dict[str, list[OutboxItem]] = {}
        self.delivered = 0

    def wake(self) -> None:
        """Claim now: a commit enqueued rows."""
        self._wake.set()

    def _held(self) -> int:
        return len(self._inflight) + sum(len(w) for w in self._waiting.values())

    def _full_lanes(self) -> set[str]:
        return {lane for lane, n in self._running.items() if n + len(self._waiting.get(lane, ())) >= self.per_lane}

    async def run(self, stop: asyncio.Event) -> None:
        handlers = self.handlers or _default_registry()
        recorder = asyncio.create_task(self._record_until(stop), name="frontdesk-outbox-recorder")
        try:
            while not stop.is_set():
                # Cleared before looking, so a slot freed meanwhile is not missed.
                self._slot_freed.clear()
                want = min(self.concurrency - self._held(), self.per_lane)
                full = self._full_lanes()
                claimed: list[OutboxItem] = []
                if want > 0:
                    self._wake.clear()
                    try:
                        claimed = await claim_due(self.desk, limit=want, handlers=handlers, skip_lanes=full)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        log.exception("outbox claim failed")
                    for item in claimed:
                        self._start_or_wait(item, handlers)
                if claimed and len(claimed) == want:
                    continue
                waits = [stop.wait(), self._wake.wait()]
                if want <= 0 or full:
                    # Slots or lanes were full when it looked: a delivery finishing since
                    # (the event was cleared before the look) makes it look again.
                    waits.append(self._slot_freed.wait())
                await _first_of(waits, at_most=self.period)
            # Rows still waiting for their lane go back at once, uncounted; running ones finish.
            for waiting in self._waiting.values():
                self._finished.extend((item, defer(0.0)) for item in waiting)
            self._waiting.clear()
            self._has_finished.set()
            if self._inflight:
                await asyncio.wait(self._inflight)
        finally:
            await recorder

    def _start_or_wait(self, item: OutboxItem, handlers: Registry) -> None:
        lane = item.lane
        if lane is not None:
            if self._running.get(lane, 0) >= self.per_lane:
                self._waiting.setdefault(lane, []).append(item)
                return
            self._running[lane] = self._running.get(lane, 0) + 1
        task = asyncio.create_task(self._carry_out(item, handlers))
        self._inflight.add(task)

    async def _carry_out(self, item: OutboxItem, handlers: Registry) -> None:
        try:
            outcome = await attempt(self.desk, item, handlers)
            self._finished.append((item, outcome))
            self._has_finished.set()
        finally:
            self._inflight.discard(asyncio.current_task())  # type: ignore[arg-type]
            lane = item.lane
            if lane is not None:
                self._running[lane] -= 1
                if not self._running[lane]:
                    del self._running[lane]
                waiting = self._waiting.get(lane)
                if waiting:
                    self._start_or_wait(waiting.pop(0), handlers)
                    if not waiting:
                        del self._waiting[lane]
            self._slot_freed.set()

    async def _record_until(self, stop: asyncio.Event) -> None:
        handlers = self.handlers or _default_registry()
        while True:
            if not self._finished:
                if stop.is_set() and not self._inflight:
                    return
                self._has_finished.clear()
                waits = [self._has_finished.wait()] + ([] if stop.is_set() else [stop.wait()])
                await _first_of(waits, at_most=self.period)
                continue
            if len(self._finished) < self.per_lane and self._inflight and not stop.is_set():
                # A few milliseconds more gather the outcomes of deliveries finishing together
                # into one commit instead of one each.
                await asyncio.sleep(RECORD_GATHER_SECONDS)
            batch, self._finished = self._finished, []
            try:
                await record_outcomes(self.desk, batch, handlers=handlers)
                self.delivered += len(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The rows stay leased; once the lease runs out they are delivered again.
                log.exception("recording outbox outcomes failed", extra={"count": len(batch)})


async def _first_of(waits: list[Awaitable[Any]], *, at_most: float) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
