"""Running the sweeps: once (tests, ``frontdesk worker --once``) or in a loop beside the API.

A sweep is ``async def sweep(desk, *, limit) -> int``: it reads the time from ``desk.clock``,
finds at most ``limit`` due rows, performs each effect in a transaction of its own (claimed
with a conditional update or a row lock taken with SKIP LOCKED) and returns how many effects
it produced. Sweeps never sleep; the loop does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from frontdesk.actions.base import Desk

log = logging.getLogger("frontdesk.worker")

Sweep = Callable[..., Awaitable[int]]


class Background(Protocol):
    """A job that runs on its own in ``run_forever`` instead of being polled (the outbox pump)."""

    async def run(self, stop: asyncio.Event) -> None: ...

    def wake(self) -> None: ...


@dataclass(frozen=True)
class Job:
    name: str
    sweep: Sweep
    every_seconds: float = 30.0
    limit: int = 500
    # In ``run_forever``, built from the desk and run beside the periodic sweeps; ``run_once``
    # still drains ``sweep``.
    background: Callable[[Desk], Background] | None = None


def default_jobs() -> list[Job]:
    from frontdesk.worker import alerts, close_requests, macro_suggestions, outbox, retention, sweeps

    return [
        Job("sla_breaches", sweeps.sla_breaches, every_seconds=15, limit=1000),
        Job("inactivity", sweeps.inactivity, every_seconds=60),
        Job("stale_nudges", sweeps.stale_nudges, every_seconds=60),
        Job("follow_ups", sweeps.follow_ups, every_seconds=60),
        Job("close_requests", close_requests.expire_close_requests, every_seconds=15),
        Job("alerts", alerts.manager_alerts, every_seconds=60),
        # Each workspace is mined once a day; the hourly pass only finds the ones now due.
        Job("macro_suggestions", macro_suggestions.mine_macro_suggestions, every_seconds=3600, limit=100),
        # Its pump claims whenever a delivery slot is free; a commit that enqueued rows wakes it
        # (``Worker.wake``), and it looks again every second.
        Job("outbox", outbox.outbox_job, every_seconds=1, limit=200, background=outbox.OutboxPump),
        Job("outbox_retention", retention.outbox_retention, every_seconds=3600, limit=2000),
    ]


@dataclass
class Worker:
    desk: Desk
    jobs: list[Job] = field(default_factory=default_jobs)
    _woken: set[str] = field(default_factory=set)
    _wake: asyncio.Event | None = None
    _background: dict[str, Background] = field(default_factory=dict)

    def wake(self, name: str) -> None:
        """Run job ``name`` as soon as the loop is free instead of at its next period (the
        outbox after a commit that enqueued rows). Call it from the loop's own thread."""
        if (runner := self._background.get(name)) is not None:
            runner.wake()
            return
        self._woken.add(name)
        if self._wake is not None:
            self._wake.set()

    def wake_outbox(self, _events: object = None) -> None:
        """``Desk.after_commit`` hook: commits in this process wake the outbox job."""
        self.wake("outbox")

    async def run_once(self) -> dict[str, int]:
        """Run every job once, draining each (it repeats while it keeps finding a full batch)."""
        done: dict[str, int] = {}
        for job in self.jobs:
            done[job.name] = await self._drain(job)
        return done

    async def _drain(self, job: Job) -> int:
        total = 0
        while True:
            produced = await job.sweep(self.desk, limit=job.limit)
            total += produced
            if produced < job.limit:
                return total

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Run each job on its own period until ``stop`` is set. A failing sweep is logged
        and retried on its next period; it never stops the others."""
        stop = stop or asyncio.Event()
        self._background = {job.name: job.background(self.desk) for job in self.jobs if job.background}
        tasks = [asyncio.create_task(self._run_background(name, runner, stop), name=f"frontdesk-{name}")
                 for name, runner in self._background.items()]
        try:
            await self._poll(stop, [job for job in self.jobs if job.name not in self._background])
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            self._background = {}

    async def _run_background(self, name: str, runner: Background, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await runner.run(stop)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job failed", extra={"sweep": name})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1)

    async def _poll(self, stop: asyncio.Event, jobs: list[Job]) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        next_run = {job.name: loop.time() for job in jobs}
        if not jobs:
            await stop.wait()
            return
        while not stop.is_set():
            for name in self._woken & set(next_run):
                next_run[name] = loop.time()
            self._woken.clear()
            self._wake.clear()
            for job in jobs:
                if loop.time() < next_run[job.name] or stop.is_set():
                    continue
                try:
                    produced = await self._drain(job)
                    if produced:
                        log.info("sweep done", extra={"sweep": job.name, "effects": produced})
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("sweep failed", extra={"sweep": job.name})
                next_run[job.name] = loop.time() + job.every_seconds
            wake = min(next_run.values()) - loop.time()
            if self._woken:
                continue
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
            try:
                await asyncio.wait(waiters, timeout=max(0.01, wake), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
