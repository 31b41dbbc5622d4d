"""The DM relay's latency: a customer's DM in, the message stored, its copy out to the post.

For each database the benchmark migrates a fresh database, starts the Discord stand-in of the
test harness (``tests/discord/harness.py``: Discord's REST API on loopback) and a real
``FrontdeskBot`` logged in against it, connects a server with a forum-mode ticket type, and
opens a ticket the way a user does (a first DM). Then it feeds ``--messages`` more DMs from
that user through the gateway parser at a fixed rate (``--rate``, 200/s by default), as
Discord's gateway would deliver them. Each one goes the whole relay path: find the user's
open ticket, store the message as theirs and link it (one transaction), post the copy into
the ticket's forum post, link the copy. The latency of one message runs from its feed until
the stand-in has the POST of its copy; the rate achieved is messages over the time from the
first feed to the last copy.

Target: p99 under 50 ms at 200 messages per second.

    python bench/discord_relay.py                      # SQLite, 2000 messages at 200/s
    python bench/discord_relay.py --database both --messages 5000 --rate 300
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.discord.harness import DiscordStandIn, HarnessFactory, Recorded, payloads, point_discord_at  # noqa: E402
from tests.discord.modmail_support import connect, server  # noqa: E402

from frontdesk.actions.base import Desk  # noqa: E402
from frontdesk.clock import SystemClock  # noqa: E402
from frontdesk.db.migrate import upgrade  # noqa: E402
from frontdesk.db.models import DiscordTicket, Message  # noqa: E402
from frontdesk.db.session import Database  # noqa: E402
from frontdesk.discord.bot import build_bot  # noqa: E402

PG_ADMIN = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGET_P99_MS = 50.0
TARGET_RATE = 200.0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def database_url(kind: str, folder: Path) -> tuple[str, str | None]:
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{folder / f'relay-{uuid.uuid4().hex[:6]}.db'}", None
    name = f"frontdesk_relay_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}", name


async def drop(name: str | None) -> None:
    if name:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_one(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    url, pg_name = await database_url(kind, folder)
    stand_in = DiscordStandIn()
    await stand_in.start()
    old = point_discord_at(stand_in.base_url, stand_in.gateway_url)
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        desk = Desk(db, clock=SystemClock())
        factory = HarnessFactory(stand_in)
        harness = await factory.start(build_bot(desk, guild_ready_timeout=0.01))
        try:
            user = payloads.user(username="casey", global_name="Casey")
            s = server("Bench", members=[payloads.member(user)])
            await connect(harness, desk, [s])
            dm_channel = payloads.dm_channel(user)
            stand_in.channels[dm_channel["id"]] = dm_channel
            harness.feed("MESSAGE_CREATE", payloads.message(dm_channel["id"], user, "The first message"))
            await harness.drain()
            async with db.reading() as session:
                post_id = await session.scalar(select(DiscordTicket.channel_id))
            assert post_id is not None, "the first DM did not open a ticket"

            arrived: dict[str, float] = {}
            original = stand_in._answer

            async def timed(r: Recorded) -> Any:
                answer = await original(r)
                if r.method == "POST" and r.path == f"/channels/{post_id}/messages":
                    text = ((r.json or {}).get("embeds") or [{}])[0].get("description", "")
                    arrived.setdefault(text, time.perf_counter())
                return answer

            stand_in._answer = timed  # type: ignore[method-assign]
            fed: dict[str, float] = {}
            started = time.perf_counter()
            for i in range(args.messages):
                due = started + i / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = f"bench message {i}"
                fed[text] = time.perf_counter()
                harness.feed("MESSAGE_CREATE", payloads.message(dm_channel["id"], user, text))
            deadline = time.perf_counter() + args.wait
            while len(arrived) < args.messages and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            latencies = [(arrived[t] - fed[t]) * 1000 for t in fed if t in arrived]
            elapsed = (max(arrived.values()) - started) if arrived else float("nan")
            async with db.reading() as session:
                stored = await session.scalar(select(func.count()).select_from(Message)
                                              .where(Message.body.like("bench message %"))) or 0
        finally:
            await harness.close()
            await db.dispose()
    finally:
        point_discord_at(*old)
        await stand_in.close()
        await drop(pg_name)
    return {"sent": float(len(arrived)), "stored": float(stored), "p50": pct(latencies, 0.5),
            "p99": pct(latencies, 0.99), "max": max(latencies) if latencies else float("nan"),
            "rate": len(arrived) / elapsed if elapsed else 0.0, "elapsed": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="DMs fed per second")
    parser.add_argument("--wait", type=float, default=120.0,
                        help="seconds to wait after the last feed for the copies still queued")
    args = parser.parse_args()
    logging.getLogger("discord").setLevel(logging.WARNING)
    # Copies still queued when --wait runs out are cancelled at the end; that is not news.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    print(f"discord relay: {args.messages} customer DMs at {args.rate:.0f}/s into one open modmail ticket; "
          "latency = DM fed through the gateway parser -> message stored -> copy POSTed to the forum post "
          "(stand-in on loopback, same process)")
    with tempfile.TemporaryDirectory(prefix="frontdesk-relay-bench-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("FRONTDESK_DATA_DIR", str(folder / "data"))
        for kind in kinds:
            r = asyncio.run(run_one(kind, args, folder))
            ok = r["p99"] < TARGET_P99_MS and r["rate"] >= 0.95 * args.rate and r["sent"] == args.messages
            verdict = "PASS" if ok else "FAIL"
            print(f"{kind:>10}: p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms  max {r['max']:.1f} ms  "
                  f"{r['rate']:.0f} messages/s achieved ({int(r['sent'])} relayed, {int(r['stored'])} stored, "
                  f"{r['elapsed']:.2f} s)  p99/target {r['p99'] / TARGET_P99_MS:.2f}  "
                  f"[{verdict}: p99 < {TARGET_P99_MS:.0f} ms at {args.rate:.0f}/s]")


if __name__ == "__main__":
    main()
