"""Reliability: `frontdesk worker` killed with SIGKILL in the middle of a burst of webhook
deliveries loses none of them once it runs again, and a delivery sent twice carries the same
`webhook-id` both times."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select, update

from frontdesk.actions import members, tickets
from frontdesk.actions import webhooks as wa
from frontdesk.actions.base import Desk
from frontdesk.clock import SystemClock
from frontdesk.db.models import Event, OutboxItem
from frontdesk.db.session import Database
from frontdesk.domain.permissions import Actor

TICKETS = 200
REPO = Path(__file__).resolve().parents[2]


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FRONTDESK_DATABASE_URL": db_url, "FRONTDESK_DATA_DIR": str(tmp_path / "data"),
            "FRONTDESK_CONFIG": str(tmp_path / "none.toml"), "FRONTDESK_LOG_FORMAT": "json",
            "FRONTDESK_SECRET_KEY": "the reliability test's key", "FRONTDESK_WEBHOOK_ALLOW_HTTP": "true",
            "FRONTDESK_WEBHOOK_ALLOW_PRIVATE": "true"}


async def _prepare(db_url: str, receiver_url: str) -> list[int]:
    """A workspace, an endpoint for ticket.opened, and TICKETS opened tickets: as many
    deliveries waiting in the outbox. Returns the events' ids."""
    db = Database(db_url)
    desk = Desk(db, clock=SystemClock())
    try:
        system = Actor.system()
        async with desk.tx(system, 0) as tx:
            workspace = await members.create_workspace(tx, name="Burst")
            owner = await members.add_member(tx, display_name="Owner", role="owner", email="o@example.com")
            customer = await members.add_member(tx, display_name="Cus", role="customer", email="c@example.com")
            kind = await members.create_ticket_type(tx, name="Any", open_limit_per_user=None)
            owner_actor = await members.actor_for_member(tx, owner)
            customer_actor = await members.actor_for_member(tx, customer)
        async with desk.tx(owner_actor, workspace.id) as tx:
            await wa.create_webhook(tx, name="burst", url=receiver_url, events=["ticket.opened"])
        for n in range(TICKETS):
            async with desk.tx(customer_actor, workspace.id) as tx:
                await tickets.open_ticket(tx, type_id=kind.id, description=f"burst {n}")
        async with db.reading() as session:
            return list((await session.execute(select(Event.id).where(Event.type == "ticket.opened"))).scalars())
    finally:
        await db.dispose()


async def _outbox_state(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    try:
        async with db.reading() as session:
            rows = (await session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status))).all()
            return {status: n for status, n in rows}
    finally:
        await db.dispose()


async def _lease_runs_out(db_url: str) -> None:
    """What waiting out the killed worker's leases would do: its claimed rows fall due now."""
    db = Database(db_url)
    try:
        async with db.transaction() as session:
            await session.execute(update(OutboxItem).where(OutboxItem.status == "pending")
                                  .values(next_attempt_at=SystemClock().now()))
    finally:
        await db.dispose()


def _received(log: Path) -> list[dict]:  # type: ignore[type-arg]
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def _start_worker(env: dict[str, str], out: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    return subprocess.Popen([sys.executable, "-m", "frontdesk", "worker"], env=env, cwd=REPO,
                            stdout=out.open("a"), stderr=subprocess.STDOUT)


def _wait(condition, what: str, limit: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def test_a_worker_killed_mid_burst_loses_no_delivery_and_repeats_carry_the_same_id(db_url, tmp_path, monkeypatch):
    log, ready = tmp_path / "received.jsonl", tmp_path / "port"
    receiver = subprocess.Popen([sys.executable, "-m", "tests.webhook_receiver", "--log", str(log),
                                 "--ready", str(ready), "--delay", "0.1"], cwd=REPO)
    worker = None
    try:
        _wait(lambda: ready.exists() and ready.read_text().strip(), "the receiver")
        url = f"http://localhost:{ready.read_text().strip()}/burst"
        env = _env(db_url, tmp_path)
        for key in ("FRONTDESK_SECRET_KEY", "FRONTDESK_DATA_DIR", "FRONTDESK_WEBHOOK_ALLOW_HTTP",
                    "FRONTDESK_WEBHOOK_ALLOW_PRIVATE"):
            monkeypatch.setenv(key, env[key])  # this process writes the endpoint the worker reads
        event_ids = asyncio.run(_prepare(db_url, url))
        assert len(event_ids) == TICKETS
        assert asyncio.run(_outbox_state(db_url)) == {"pending": TICKETS}

        worker = _start_worker(env, tmp_path / "worker.log")
        _wait(lambda: len(_received(log)) >= TICKETS // 5, "the burst to start")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        received_before = len(_received(log))
        assert received_before < TICKETS, "the burst was over before the kill; nothing was tested"
        state = asyncio.run(_outbox_state(db_url))
        assert state.get("pending", 0) > 0

        asyncio.run(_lease_runs_out(db_url))
        worker = _start_worker(env, tmp_path / "worker.log")
        _wait(lambda: asyncio.run(_outbox_state(db_url)) == {"done": TICKETS}, "every delivery to be done")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        receiver.kill()
        receiver.wait()

    received = _received(log)
    assert {r["event_id"] for r in received} == set(event_ids), "every event was delivered at least once"
    for r in received:
        assert r["webhook_id"] == f"msg_{r['event_id']}", "a delivery always carries its own webhook-id"
    repeats = {eid: n for eid, n in Counter(r["event_id"] for r in received).items() if n > 1}
    # Whatever was in flight when the worker died may have arrived and been sent again.
    assert len(received) == TICKETS + sum(n - 1 for n in repeats.values())
