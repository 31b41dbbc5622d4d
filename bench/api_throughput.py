"""API throughput: ticket creations and messages per second over HTTP against a running
``frontdesk serve``, on SQLite and on PostgreSQL, with a yardstick.

For each database the benchmark prepares a fresh database with one workspace, starts
``frontdesk serve`` as a separate process on a loopback port, and drives it with N
concurrent HTTP clients (keep-alive connections):

  1. POST /api/v1/tickets       (``--tickets`` in all)
  2. POST /api/v1/tickets/N/messages   (``--messages`` in all, spread over the tickets)

It prints requests per second and p50/p99 latency, and, as a yardstick, the database's raw
insert-and-commit rate through the same driver (aiosqlite / asyncpg) with the same
concurrency, measured in the same run, and the ratio between the two.

    python bench/api_throughput.py                     # both databases, 16 clients
    python bench/api_throughput.py --database postgresql --clients 16 --tickets 3000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from frontdesk.actions import members
from frontdesk.actions.base import Desk
from frontdesk.db.migrate import upgrade
from frontdesk.db.session import Database
from frontdesk.domain.permissions import Actor

PG_ADMIN = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass
class Phase:
    name: str
    count: int
    seconds: float
    latencies_ms: list[float]
    errors: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(round(q * (len(data) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare(url: str) -> tuple[str, int]:
    """Migrate, create a workspace with a ticket type without a limit, and an admin token."""
    upgrade(url)
    db = Database(url)
    desk = Desk(db)
    async with desk.tx(Actor.system(), 0) as tx:
        ws = await members.create_workspace(tx, name="Bench")
        admin = await members.add_member(tx, display_name="Bench Admin", role="admin", email="bench@example.com")
        ticket_type = await members.create_ticket_type(tx, name="Bench", open_limit_per_user=None)
        _, secret = await members.create_api_token(tx, member_id=admin.id, name="bench")
        type_id = ticket_type.id
    await db.dispose()
    del ws
    return secret, type_id


async def drive(base: str, token: str, clients: int, jobs: list[tuple[str, dict]]) -> Phase:
    queue: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    errors = 0
    results: list[dict] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, headers=headers,
                                 limits=limits, timeout=60) as client:

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    path, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                r = await client.post(path, json=body)
                latencies.append((time.perf_counter() - started) * 1000)
                if r.status_code >= 300:
                    errors += 1
                    if errors <= 3:
                        print(f"  error {r.status_code}: {r.text[:200]}", file=sys.stderr)
                else:
                    results.append(r.json())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Phase("", len(jobs), seconds, latencies, errors)


async def raw_rate_sqlite(path: Path, clients: int, total: int) -> float:
    import aiosqlite

    conns = []
    for _ in range(clients):
        conn = await aiosqlite.connect(path, isolation_level=None)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA busy_timeout=30000")
        conns.append(conn)
    await conns[0].execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, body TEXT, at TEXT)")
    per = total // clients

    async def run(conn: aiosqlite.Connection) -> None:
        for i in range(per):
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO bench_raw (body, at) VALUES (?, ?)", (f"row {i}", "2026-01-01"))
            await conn.execute("COMMIT")

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in conns))
    seconds = time.perf_counter() - started
    for c in conns:
        await c.close()
    return per * clients / seconds


async def raw_rate_pg(dsn: str, clients: int, total: int) -> float:
    pool = await asyncpg.create_pool(dsn, min_size=clients, max_size=clients)
    await pool.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, body text, at timestamptz)")
    per = total // clients

    async def run() -> None:
        async with pool.acquire() as conn:
            for i in range(per):
                async with conn.transaction():
                    await conn.execute("INSERT INTO bench_raw (body, at) VALUES ($1, now())", f"row {i}")

    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(clients)))
    seconds = time.perf_counter() - started
    await pool.close()
    return per * clients / seconds


def start_server(url: str, port: int, data_dir: Path, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, FRONTDESK_DATABASE_URL=url, FRONTDESK_DATA_DIR=str(data_dir),
               FRONTDESK_LOG_LEVEL="WARNING", FRONTDESK_LOG_FORMAT="text")
    cmd = [sys.executable, "-m", "frontdesk", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--no-worker", "--no-discord"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


async def wait_ready(base: str, proc: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("frontdesk serve exited: " + (proc.stderr.read() if proc.stderr else b"").decode())
            try:
                if (await client.get(path)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the server did not become ready in 60 s")


async def floor_rate(url: str, args: argparse.Namespace) -> Phase:
    """The same HTTP stack doing one insert per request: the ceiling for this machine."""
    port = free_port()
    env = dict(os.environ, FRONTDESK_DATABASE_URL=url)
    cmd = [sys.executable, "-m", "uvicorn", "floor_app:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--workers", str(args.workers)]
    proc = subprocess.Popen(cmd, env=env, cwd=Path(__file__).parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base, proc, path="/docs")
        await drive(base, "", args.clients, [("/floor", {"title": f"warm {i}"}) for i in range(args.clients * 4)])
        return await drive(base, "", args.clients, [("/floor", {"title": f"t {i}"}) for i in range(args.tickets)])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def run_one(kind: str, args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="frontdesk-bench-"))
    pg_name = None
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    else:
        pg_name = f"frontdesk_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'CREATE DATABASE "{pg_name}"')
        await admin.close()
        dsn = PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
        url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    proc = None
    try:
        token, type_id = await prepare(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(url, port, tmp / "data", args.workers)
        await wait_ready(base, proc)
        # Warm-up: connections, caches, JIT of code paths.
        await drive(base, token, args.clients, [("/api/v1/tickets", {"type_id": type_id, "title": f"warm {i}"})
                                                for i in range(args.clients * 4)])
        first = args.clients * 4 + 1
        tickets = await drive(base, token, args.clients, [
            ("/api/v1/tickets", {"type_id": type_id, "title": f"Bench ticket {i}",
                                 "description": "The app crashes when I open settings."})
            for i in range(args.tickets)])
        numbers = list(range(first, first + args.tickets))
        messages = await drive(base, token, args.clients, [
            (f"/api/v1/tickets/{numbers[i % len(numbers)]}/messages", {"body": f"Reply {i}: try clearing the cache."})
            for i in range(args.messages)])
        proc.terminate()
        proc.wait(timeout=30)
        proc = None
        floor = None
        if kind == "postgresql":
            floor = await floor_rate(url, args)
        if kind == "sqlite":
            raw = await raw_rate_sqlite(tmp / "raw.db", args.clients, args.raw)
        else:
            raw = await raw_rate_pg(PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}", args.clients, args.raw)
        workers = f", {args.workers} server processes" if args.workers > 1 else ""
        print(f"\n{kind}: {args.clients} concurrent clients{workers}")
        for label, phase in (("tickets", tickets), ("messages", messages)):
            print(f"  {label:9} {phase.count:6d} in {phase.seconds:6.2f} s = {phase.rate:7.1f}/s   "
                  f"p50 {phase.pct(0.5):6.1f} ms   p99 {phase.pct(0.99):6.1f} ms   errors {phase.errors}")
        if floor is not None:
            print(f"  floor (uvicorn + FastAPI + one INSERT through SQLAlchemy): {floor.rate:7.1f}/s   "
                  f"p50 {floor.pct(0.5):6.1f} ms   p99 {floor.pct(0.99):6.1f} ms")
            print(f"  ratio tickets/floor = {tickets.rate / floor.rate:.3f}")
        print(f"  raw insert+commit through the same driver: {raw:7.1f}/s")
        print(f"  ratio tickets/raw = {tickets.rate / raw:.3f}   messages/raw = {messages.rate / raw:.3f}")
        if kind == "postgresql":
            ok = tickets.rate >= 300 and tickets.pct(0.99) <= 100
            print(f"  target (>= 300 tickets/s at p99 <= 100 ms): {'met' if ok else 'NOT met'}")
        print(f"  median ticket latency {statistics.median(tickets.latencies_ms):.1f} ms")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        if pg_name:
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
            await admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--raw", type=int, default=4000, help="rows for the raw insert yardstick")
    parser.add_argument("--workers", type=int, default=1, help="server processes (frontdesk serve --workers)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    for kind in kinds:
        asyncio.run(run_one(kind, args))


if __name__ == "__main__":
    main()
