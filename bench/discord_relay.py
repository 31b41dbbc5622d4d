"""The DM relay's latency: a customer's DM in, the message stored, its copy out to the post.

For each database the benchmark migrates a fresh database, starts the Discord stand-in of the
test harness (``tests/discord/harness.py``: Discord's REST API on loopback) in a process of
its own, as Discord is not in frontdesk's process in production (``--same-process`` keeps it
in this one, for comparison), and a real ``FrontdeskBot`` logged in against it. It connects a
server with a forum-mode ticket type and ``--tickets`` users, each of whom opens a ticket the
way a user does (a first DM). Then it feeds ``--messages`` more DMs through the gateway parser
at a fixed rate (``--rate``, 200/s by default), the users writing in turn, as Discord's gateway
would deliver them. Each one goes the whole relay path: its author's open ticket found and the
message stored as theirs and linked (many DMs to one transaction: the group commit of
``frontdesk.discord.group_commit``), the copy posted into the ticket's forum post in turn,
the copy linked. The latency of one message runs from its feed until the stand-in has the
POST of its copy (both processes read the same monotonic clock); the rate achieved is messages
over the time from the first feed to the last copy.

Target: p99 under 50 ms at 200 messages per second.

    python bench/discord_relay.py                      # SQLite, 2000 DMs at 200/s over 200 tickets
    python bench/discord_relay.py --database both --tickets 1    # all into one ticket
    python bench/discord_relay.py --messages 5000 --rate 300 --same-process
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
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
from frontdesk.discord import modmail  # noqa: E402
from frontdesk.discord.bot import build_bot  # noqa: E402
from frontdesk.discord.group_commit import group_commit_of  # noqa: E402
from frontdesk.worker.outbox import deliver_due  # noqa: E402

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


BENCH_TEXT = "bench message "


def watch_copies(stand_in: DiscordStandIn, arrivals: dict[str, float]) -> None:
    """Note when the stand-in receives each benchmark DM's copy (a POST of a message whose
    embed shows the DM), and answer the benchmark's own requests under ``/_bench/``."""
    original = stand_in._answer

    async def answer(r: Recorded) -> Any:
        if r.path == "/_bench/channels":
            stand_in.channels.update(r.json or {})
            return 200, {}, {}
        if r.path == "/_bench/arrivals":
            return 200, arrivals, {}
        reply = await original(r)
        if r.method == "POST" and r.path.startswith("/channels/") and r.path.endswith("/messages"):
            text = ((r.json or {}).get("embeds") or [{}])[0].get("description", "")
            if text.startswith(BENCH_TEXT):
                arrivals.setdefault(text, time.perf_counter())
        return reply

    stand_in._answer = answer  # type: ignore[method-assign]


async def serve_discord(application_id: str, bot_user: str) -> None:
    """The child process: the stand-in, as Discord, until its standard input closes."""
    stand_in = DiscordStandIn(application_id=application_id, bot_user=json.loads(bot_user))
    stand_in.requests = _Forgetful()  # type: ignore[assignment]
    watch_copies(stand_in, {})
    await stand_in.start()
    print(json.dumps({"base_url": stand_in.base_url, "gateway_url": stand_in.gateway_url}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await stand_in.close()


class _Forgetful(list):  # type: ignore[type-arg]
    """A request log that keeps nothing: the benchmark's thousands of requests are not read."""

    def append(self, _item: Any) -> None:
        pass


class Discord:
    """Where the benchmark's Discord runs: another process (the default: Discord is not in
    frontdesk's process in production, so its work must not be counted as frontdesk's), or
    this one (``--same-process``)."""

    def __init__(self, same_process: bool) -> None:
        self.same_process = same_process
        self.stand_in = DiscordStandIn()
        self.arrivals: dict[str, float] = {}
        self.child: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self.same_process:
            watch_copies(self.stand_in, self.arrivals)
            await self.stand_in.start()
            return
        self.child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve-discord", self.stand_in.application_id,
            json.dumps(self.stand_in.bot_user),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.child.stdout is not None
        urls = json.loads(await self.child.stdout.readline())
        self.stand_in.base_url, self.stand_in.gateway_url = urls["base_url"], urls["gateway_url"]
        self.http = aiohttp.ClientSession()

    async def share_channels(self) -> None:
        """The channels set up here (the forum, the DM channels) told to the stand-in."""
        if self.http is not None:
            async with self.http.post(f"{self.stand_in.base_url}/_bench/channels", json=self.stand_in.channels) as r:
                r.raise_for_status()

    async def arrived(self) -> dict[str, float]:
        if self.http is None:
            return self.arrivals
        async with self.http.get(f"{self.stand_in.base_url}/_bench/arrivals") as r:
            return await r.json()  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self.same_process:
            await self.stand_in.close()
            return
        if self.http is not None:
            await self.http.close()
        if self.child is not None and self.child.stdin is not None:
            self.child.stdin.close()
            await self.child.wait()


async def run_one(kind: str, args: argparse.Namespace, folder: Path) -> dict[str, float]:
    url, pg_name = await database_url(kind, folder)
    discord_ = Discord(args.same_process)
    await discord_.start()
    stand_in = discord_.stand_in
    old = point_discord_at(stand_in.base_url, stand_in.gateway_url)
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        desk = Desk(db, clock=SystemClock())
        factory = HarnessFactory(stand_in)
        harness = await factory.start(build_bot(desk, guild_ready_timeout=0.01))
        try:
            users = [payloads.user(username=f"user{i}", global_name=f"User {i}") for i in range(args.tickets)]
            s = server("Bench", members=[payloads.member(u) for u in users])
            await connect(harness, desk, [s])
            dm_channels = [payloads.dm_channel(u) for u in users]
            stand_in.channels.update({c["id"]: c for c in dm_channels})
            await discord_.share_channels()
            # Each user opens their ticket the way a user does: a first DM.
            for user, channel in zip(users, dm_channels, strict=True):
                harness.feed("MESSAGE_CREATE", payloads.message(channel["id"], user, "The first message"))
                await harness.drain()
            async with db.reading() as session:
                opened = await session.scalar(select(func.count()).select_from(DiscordTicket)) or 0
            assert opened == args.tickets, f"the first DMs opened {opened} tickets, not {args.tickets}"
            # What a running worker has done by now: the posts' first syncs (their tags) applied,
            # so the relay's later DMs, which leave the tags as they are, enqueue no more.
            for _ in range(20):
                if not await deliver_due(desk, limit=500):
                    break

            # When each DM's copy starts: stored, and its turn in the channel come.
            copying: dict[str, float] = {}
            original_copy = modmail.copy_into_post

            async def copy_timed(bot: Any, message: Any, *rest: Any) -> Any:
                copying.setdefault(message.content, time.perf_counter())
                return await original_copy(bot, message, *rest)

            modmail.copy_into_post = copy_timed  # type: ignore[assignment]
            writer = group_commit_of(harness.bot)
            writer.batches = writer.items = 0
            fed: dict[str, float] = {}
            started = time.perf_counter()
            for i in range(args.messages):
                due = started + i / args.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                text = f"{BENCH_TEXT}{i}"
                who = i % args.tickets
                fed[text] = time.perf_counter()
                harness.feed("MESSAGE_CREATE", payloads.message(dm_channels[who]["id"], users[who], text))
            deadline = time.perf_counter() + args.wait
            arrived = await discord_.arrived()
            while len(arrived) < args.messages and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
                arrived = await discord_.arrived()
            modmail.copy_into_post = original_copy  # type: ignore[assignment]
            latencies = [(arrived[t] - fed[t]) * 1000 for t in fed if t in arrived]
            to_stored = [(copying[t] - fed[t]) * 1000 for t in fed if t in copying]
            elapsed = (max(arrived.values()) - started) if arrived else float("nan")
            await harness.drain()
            async with db.reading() as session:
                stored = await session.scalar(select(func.count()).select_from(Message)
                                              .where(Message.body.like(f"{BENCH_TEXT}%"))) or 0
        finally:
            await harness.close()
            await db.dispose()
    finally:
        point_discord_at(*old)
        await discord_.close()
        await drop(pg_name)
    return {"sent": float(len(arrived)), "stored": float(stored), "p50": pct(latencies, 0.5),
            "p99": pct(latencies, 0.99), "max": max(latencies) if latencies else float("nan"),
            "rate": len(arrived) / elapsed if elapsed else 0.0, "elapsed": elapsed,
            "stored_p50": pct(to_stored, 0.5), "stored_p99": pct(to_stored, 0.99),
            "per_batch": writer.items / writer.batches if writer.batches else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="DMs fed per second")
    parser.add_argument("--tickets", type=int, default=200,
                        help="users, each with an open DM ticket, the DMs are spread over in turn (Discord lets a "
                             "bot post about 5 messages per 5 s in one channel, so 200/s is 200 tickets' worth)")
    parser.add_argument("--wait", type=float, default=120.0,
                        help="seconds to wait after the last feed for the copies still queued")
    parser.add_argument("--same-process", action="store_true",
                        help="run the Discord stand-in in this process too (its work then counts as frontdesk's)")
    parser.add_argument("--serve-discord", nargs=2, metavar=("APPLICATION_ID", "BOT_USER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_discord:
        asyncio.run(serve_discord(*args.serve_discord))
        return
    if args.tickets < 1 or args.messages < 1 or args.rate <= 0:
        parser.error("--tickets and --messages must be at least 1 and --rate above 0")
    logging.getLogger("discord").setLevel(logging.WARNING)
    # Copies still queued when --wait runs out are cancelled at the end; that is not news.
    logging.getLogger("sqlalchemy.pool").setLevel(logging.CRITICAL)
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    where = "this process" if args.same_process else "a process of its own"
    print(f"discord relay: {args.messages} customer DMs at {args.rate:.0f}/s, spread over {args.tickets} open "
          "modmail ticket(s); latency = DM fed through the gateway parser -> message stored -> copy POSTed to "
          f"its forum post (Discord stand-in on loopback, in {where})")
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
            print(f"{'':>10}  of which stored (and its turn come): p50 {r['stored_p50']:.1f} ms  "
                  f"p99 {r['stored_p99']:.1f} ms; {r['per_batch']:.1f} items per group commit")


if __name__ == "__main__":
    main()
