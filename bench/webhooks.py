"""Webhook delivery throughput: deliveries per second from one worker to a loopback receiver.

For each database the benchmark prepares a fresh database with one workspace and one
endpoint, writes ``--deliveries`` pending deliveries with the body of a real
``ticket.opened`` delivery (the ticket shape, about 1.5 KB), starts the receiver
(``tests/webhook_receiver.py``) as a separate process on a loopback port, and runs
``deliver_due`` in a loop in this process, as one worker does, until every delivery is done.
Each delivery is the full path: claim, read the delivery and its endpoint, sign, POST, read
the answer, record the outcome and the attempt.

It measures two ways of running one worker: ``pass``, ``deliver_due`` in a loop (claim a
batch, send it, record it: what ``frontdesk worker --once`` does), and ``pump``, the
running worker's outbox pump (claims whenever a slot is free, records as deliveries finish).
It prints deliveries per second (target: at least 500/s), the p50/p99 latency of one
delivery (from its claim until its outcome is committed) and the p50/p99 of the HTTP
round trip alone. When ``bench/rules.py`` provides ``measure()``, its figures follow.

    python bench/webhooks.py                          # both databases, 5000 deliveries
    python bench/webhooks.py --database sqlite --deliveries 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from frontdesk.actions import members, tickets  # noqa: E402
from frontdesk.actions import webhooks as wa  # noqa: E402
from frontdesk.actions.base import Desk  # noqa: E402
from frontdesk.clock import SystemClock  # noqa: E402
from frontdesk.db.migrate import upgrade  # noqa: E402
from frontdesk.db.models import OutboxItem, WebhookAttempt, WebhookDelivery  # noqa: E402
from frontdesk.db.session import Database  # noqa: E402
from frontdesk.domain.permissions import Actor  # noqa: E402
from frontdesk.worker import outbox as ob  # noqa: E402

PG_ADMIN = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET = 500.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_receiver(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    ready = folder / "receiver.port"
    proc = subprocess.Popen([sys.executable, "-m", "tests.webhook_receiver", "--ready", str(ready)], cwd=REPO)
    deadline = time.monotonic() + 30
    while not (ready.exists() and ready.read_text().strip()):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("the receiver did not start")
        time.sleep(0.02)
    return proc, int(ready.read_text())


async def prepare(desk: Desk, url: str, count: int) -> None:
    system = Actor.system()
    async with desk.tx(system, 0) as tx:
        workspace = await members.create_workspace(tx, name="Webhook bench")
        owner = await members.add_member(tx, display_name="Owner", role="owner", email="owner@example.com")
        customer = await members.add_member(tx, display_name="Customer", role="customer", email="c@example.com")
        kind = await members.create_ticket_type(tx, name="Any", open_limit_per_user=None)
        owner_actor = await members.actor_for_member(tx, owner)
        customer_actor = await members.actor_for_member(tx, customer)
    async with desk.tx(owner_actor, workspace.id) as tx:
        endpoint, _ = await wa.create_webhook(tx, name="bench", url=url, events=["ticket.opened"])
    async with desk.tx(customer_actor, workspace.id) as tx:
        await tickets.open_ticket(tx, type_id=kind.id, description="The body every delivery carries")
    async with desk.db.reading() as session:
        body = (await session.execute(select(WebhookDelivery.body))).scalar_one()
    made = 1
    while made < count:
        chunk = min(1000, count - made)
        async with desk.tx(owner_actor, workspace.id) as tx:
            await wa._write_deliveries(tx, [(endpoint.id, f"msg_bench_{uuid.uuid4().hex}", "ticket.opened", None,
                                             body) for _ in range(chunk)])
        made += chunk


async def run_one(kind: str, mode: str, args: argparse.Namespace, folder: Path, port: int) -> dict[str, float]:
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{folder / f'bench-{mode}.db'}"
    else:
        pg_name = f"frontdesk_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{pg_name}"
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        desk = Desk(db, clock=SystemClock())
        try:
            await prepare(desk, f"http://localhost:{port}/hook", args.deliveries)
            claimed_at: dict[int, float] = {}
            finished: list[float] = []
            original = ob.claim_due

            async def timed_claim(*a, **kw):  # type: ignore[no-untyped-def]
                items = await original(*a, **kw)
                now = time.perf_counter()
                for item in items:
                    claimed_at[item.id] = now
                return items

            ob.claim_due = timed_claim  # type: ignore[assignment]
            original_record = ob.record_outcomes

            async def timed_record(desk_, results, **kw):  # type: ignore[no-untyped-def]
                await original_record(desk_, results, **kw)
                now = time.perf_counter()
                finished.extend(now - claimed_at[item.id] for item, _ in results)

            ob.record_outcomes = timed_record  # type: ignore[assignment]
            started = time.perf_counter()
            done = 0
            try:
                if mode == "pump":
                    pump = ob.OutboxPump(desk)
                    stop = asyncio.Event()
                    task = asyncio.create_task(pump.run(stop))
                    while pump.delivered < args.deliveries and not task.done():  # noqa: ASYNC110
                        await asyncio.sleep(0.005)
                    stop.set()
                    await task
                else:
                    while done < args.deliveries:
                        produced = await ob.deliver_due(desk, limit=args.batch, concurrency=args.concurrency)
                        done += produced
                        if not produced:
                            break
            finally:
                ob.claim_due = original  # type: ignore[assignment]
                ob.record_outcomes = original_record  # type: ignore[assignment]
            elapsed = time.perf_counter() - started
            async with db.reading() as session:
                succeeded = await session.scalar(select(func.count()).select_from(OutboxItem)
                                                 .where(OutboxItem.status == "done")) or 0
                http_ms = [float(v) for v in (await session.execute(select(WebhookAttempt.latency_ms))).scalars()]
        finally:
            await db.dispose()
    finally:
        if pg_name:
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()
    rate = succeeded / elapsed if elapsed else 0.0
    return {"rate": rate, "succeeded": float(succeeded), "elapsed": elapsed,
            "p50": pct(finished, 0.5) * 1000, "p99": pct(finished, 0.99) * 1000,
            "http_p50": pct(http_ms, 0.5), "http_p99": pct(http_ms, 0.99),
            "http_mean": statistics.fmean(http_ms) if http_ms else float("nan")}


def print_rules_figures() -> None:
    """Rule evaluation throughput, from bench/rules.py when it exists (built beside this one)."""
    path = Path(__file__).with_name("rules.py")
    if not path.exists():
        print("\nrules: bench/rules.py is not here yet; its measure() figures are printed here once it is.")
        return
    spec = importlib.util.spec_from_file_location("bench_rules", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    measure = getattr(module, "measure", None)
    if measure is None:
        print("\nrules: bench/rules.py has no measure()")
        return
    try:
        figures = measure()
        if asyncio.iscoroutine(figures):
            figures = asyncio.run(figures)
    except TypeError as exc:
        print(f"\nrules: bench/rules.py's measure() wants arguments this script does not know ({exc}); "
              "call it here with them")
        return
    print("\nrules (bench/rules.py measure()):")
    if isinstance(figures, dict):
        for key, value in figures.items():
            print(f"  {key}: {value}")
    else:
        print(f"  {figures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200, help="rows one deliver_due pass claims")
    parser.add_argument("--concurrency", type=int, default=32, help="deliveries in flight at once")
    parser.add_argument("--mode", choices=["pass", "pump", "both"], default="both",
                        help="pass: deliver_due in a loop (frontdesk worker --once); pump: the running worker's pump")
    parser.add_argument("--no-rules", action="store_true", help="skip bench/rules.py's figures")
    args = parser.parse_args()
    os.environ.setdefault("FRONTDESK_WEBHOOK_ALLOW_HTTP", "true")
    os.environ.setdefault("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "true")
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    with tempfile.TemporaryDirectory(prefix="frontdesk-webhook-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("FRONTDESK_DATA_DIR", str(folder / "data"))
        receiver, port = start_receiver(folder)
        try:
            print(f"webhook deliveries: {args.deliveries} per database and mode, one worker; pass = deliver_due in a "
                  f"loop (batch {args.batch}, {args.concurrency} in flight), pump = the running worker's outbox pump "
                  f"(128 slots, 32 per endpoint); receiver in another process on 127.0.0.1:{port}")
            modes = ["pass", "pump"] if args.mode == "both" else [args.mode]
            for kind in kinds:
                for mode in modes:
                    r = asyncio.run(run_one(kind, mode, args, folder, port))
                    verdict = "PASS" if r["rate"] >= TARGET else "FAIL"
                    print(f"{kind:>10} {mode:>4}: {r['rate']:7.0f} deliveries/s ({int(r['succeeded'])} in "
                          f"{r['elapsed']:.2f} s)  "
                          f"delivery p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms  "
                          f"HTTP p50 {r['http_p50']:.1f} ms p99 {r['http_p99']:.1f} ms  "
                          f"[{verdict}: target {TARGET:.0f}/s]")
        finally:
            receiver.terminate()
            receiver.wait()
    if not args.no_rules:
        print_rules_figures()


if __name__ == "__main__":
    main()
