"""SLA breach sweeps and analytics on PostgreSQL at a million tickets (issue 3).

Two datasets are generated with COPY, each in a schema of its own in one database
(``frontdesk_bench_sweeps`` by default), both at the newest schema revision:

  small   ``--small`` tickets (100,000 by default), a fifth of them not closed;
  large   ``--tickets`` tickets (1,000,000 by default), a fifth of them not closed.

Each has three workspaces (one holds 98% of the tickets, with 50 staff members, 1,000
customers and manager alerts on SLA breaches), five ticket types per workspace, tags on
half the tickets and a ``ticket.opened`` event per ticket plus a ``ticket.closed`` per
closed one. Closed tickets carry their first response, responder, close time, reason and
some ratings over a year of creation times; of the tickets not closed, ``--due`` (1,000)
have a first-response due time in the last ten minutes that no sweep has recorded yet,
and the others are due in the future, already breached, answered, or have their clock
stopped (waiting, resolved, paused).

On each dataset it measures, against a ``ManualClock`` standing at the datasets' "now",
taking turns between the two datasets run by run so that a change in the machine's load
falls on both alike:

  1. ``frontdesk.worker.sweeps.sla_breaches(desk, limit=1000)`` recording the 1,000 due
     breaches (two events each: ``sla.breach`` and ``alert.raised``), ``--runs`` times after
     one warm-up, the rows reset to unbreached and the sweep's events deleted before each run;
  2. the same sweep when nothing is due (the common case);
  3. ``frontdesk.queries.analytics.workspace_analytics`` over the last 30 days of the main
     workspace, called the way ``GET /api/v1/analytics`` calls it;

and prints min / median / p95, the large/small ratios, the plan of the claim query
(EXPLAIN ANALYZE, rolled back) and PASS/FAIL against the issue's targets: 1,000 breaches in
under 100 ms, flat from the small dataset to the large one (median ratio at most 1.5, the
machine being noisy), analytics in under 1 s. A missed target is reported, never an error
exit.

    .venv/bin/python bench/sweeps.py                # 100k and 1M tickets; the database is dropped after
    .venv/bin/python bench/sweeps.py --keep         # keep the datasets; later runs with --keep reuse them
    .venv/bin/python bench/sweeps.py --tickets 200000 --small 20000 --runs 5 --explain

Without ``--keep`` the database is created afresh and dropped at the end. With ``--keep`` a
dataset is reused when its sizes, seed, generator version, schema revision and migration
files match; otherwise it is generated again (about 75-110 s for a million tickets here).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event

from frontdesk.actions.base import Desk
from frontdesk.clock import ManualClock
from frontdesk.db.migrate import MIGRATIONS, head_revision, upgrade
from frontdesk.db.session import Database
from frontdesk.domain.permissions import Actor
from frontdesk.queries.analytics import parse_range, workspace_analytics
from frontdesk.worker.sweeps import sla_breaches

DEFAULT_DSN = os.environ.get("FRONTDESK_BENCH_SWEEPS_DSN",
                             "postgresql://postgres@127.0.0.1:5432/frontdesk_bench_sweeps")
# Bump when the generated data changes shape, so kept datasets are generated again.
GENERATOR = 2
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NOW_TS = NOW.timestamp()
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
DUE_WINDOW = 10 * MINUTE  # the --due rows fall due in the last ten minutes
OPEN_SHARE = 5  # one ticket in five is not closed
LIMIT = 1000

TARGET_SWEEP_MS = 100.0
TARGET_GROWTH = 1.5  # large/small median within this factor counts as flat (the machine is noisy)
TARGET_ANALYTICS_MS = 1000.0

# --- the data ------------------------------------------------------------------------------------------------------

WORKSPACES = (
    # name, staff roles, customers, share of tickets (None: the rest), settings
    ("Nimbus Cloud Support", ["owner"] + ["admin"] * 2 + ["manager"] * 5 + ["staff"] * 42, 1000, None,
     {"alerts": {"sla_breach": True}}),
    ("Orbit Games Help", ["owner", "admin"] + ["staff"] * 6, 150, 0.01, {}),
    ("Lumen Bank Service", ["owner", "manager"] + ["staff"] * 6, 150, 0.01, {}),
)
TYPES = (("Billing", 0.30), ("Bug report", 0.30), ("Account", 0.20), ("Feature request", 0.15), ("Other", 0.05))
PRIORITIES = (("low", 0.20), ("normal", 0.55), ("high", 0.20), ("urgent", 0.05))
FIRST_RESPONSE_MINUTES = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}  # the default SLA policy
CLOSE_REASONS = (("resolved", 0.80), ("user_unresponsive", 0.10), ("out_of_scope", 0.04), ("duplicate", 0.03),
                 ("spam", 0.02), ("other", 0.01))
OPEN_STATUSES = (("open", 0.40), ("in_progress", 0.30), ("waiting", 0.20), ("resolved", 0.10))
CSAT = (("helpful", 0.75), ("not_helpful", 0.15), ("skipped", 0.10))
TAGS = ("billing", "refund", "login", "bug", "crash", "feature-request", "api", "mobile", "android", "ios",
        "performance", "outage", "security", "invoice", "upgrade", "downgrade", "cancel", "onboarding",
        "integration", "webhook", "export", "vip", "documentation", "beta", "other")
TAG_WEIGHTS = [1 / (i + 1) for i in range(len(TAGS))]
TITLES = ("Cannot log in after the update", "Charged twice this month", "App crashes when opening settings",
          "How do I export my data?", "Invoice shows the wrong address", "Feature request: dark mode",
          "Webhook deliveries are failing", "Two-factor code never arrives", "Slow dashboard since yesterday",
          "Please cancel my subscription", "API returns 500 on /orders", "Refund for the annual plan")
CLOSE_NOTES = ("Solved by resetting the password.", "Refund issued.", "Fixed in release 4.2.", None, None, None)
COMMENTS = ("Quick and helpful, thanks!", "Took too long to get an answer.", "Great support.")

TICKET_COLUMNS = (
    "id", "workspace_id", "number", "title", "channel_name", "status", "priority", "type_id", "opener_id",
    "assignee_id", "claimer_id", "team_id", "escalated", "lockdown", "pinned", "anonymous", "merged_into_id",
    "custom_fields", "intake_answers", "close_reason", "close_note", "closed_at", "closed_by_id", "csat",
    "csat_comment", "rated_at", "first_response_at", "last_message_at", "last_customer_message_at",
    "last_staff_message_at", "created_at", "updated_at", "first_responder_id", "sla_paused", "sla_used_minutes",
    "sla_running_since", "first_response_due_at", "resolution_due_at", "sla_due_at", "first_response_breached_at",
    "resolution_breached_at", "activity_at", "customer_activity_at", "inactivity_warned_at", "nudged_at",
    "follow_up_due_at", "follow_up_sent_at",
)
EVENT_COLUMNS = ("id", "workspace_id", "type", "ticket_id", "conversation_id", "actor_id", "actor_kind",
                 "occurred_at", "payload")
CHUNK = 50_000
# The index the breach sweep reads its due targets through.
DEADLINE_INDEXES = ("ix_sla_deadlines_target_due_at",)


def weighted(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    r = rng.random()
    for value, share in table:
        r -= share
        if r < 0:
            return value
    return table[-1][0]


@dataclass
class Space:
    id: int
    staff: list[int]
    customers: list[int]
    types: list[int]
    share: float | None
    next_number: int = 1
    last_ticket_id: int | None = None


@dataclass
class Generated:
    tickets: int = 0
    not_closed: int = 0
    due: int = 0
    tags: int = 0
    events: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def ticket_plan(rng: random.Random, tickets: int, not_closed: int, due: int) -> list[tuple[float, int]]:
    """(created_at, kind) sorted by creation, so ids follow creation time as they do in a real
    desk. kind 0: closed; 1: not closed; 2: not closed with a first response falling due now.
    Closed tickets were created evenly over the last year; the backlog leans recent (age
    exponential with a mean of 45 days), at least 15 minutes old."""
    plan = [(NOW_TS - rng.uniform(HOUR, 365 * DAY), 0) for _ in range(tickets - not_closed)]
    plan += [(NOW_TS - min(max(rng.expovariate(1 / (45 * DAY)), 15 * MINUTE), 365 * DAY), 2 if i < due else 1)
             for i in range(not_closed)]
    plan.sort()
    return plan


Records = list[tuple[Any, ...]]


def ticket_rows(rng: random.Random, plan: list[tuple[float, int]], spaces: list[Space],
                stats: Generated) -> Iterator[tuple[Records, Records, Records, Records]]:
    """Chunks of (ticket records, tag records, event records, deadline records), tickets in
    ``TICKET_COLUMNS`` order."""
    r = rng.random
    uniform = rng.uniform
    choice = rng.choice
    lognorm = rng.lognormvariate
    main, others = spaces[0], spaces[1:]
    tickets: Records = []
    tags: Records = []
    events: Records = []
    deadlines: Records = []
    event_id = 0
    for index, (created, kind) in enumerate(plan):
        ticket_id = index + 1
        pick = r()
        space = main
        for other in others:
            pick -= other.share or 0.0
            if pick < 0:
                space = other
                break
        number = space.next_number
        space.next_number += 1
        priority = weighted(rng, PRIORITIES)
        type_pick = r()
        type_id = space.types[-1]
        for tid, (_, share) in zip(space.types, TYPES, strict=True):
            type_pick -= share
            if type_pick < 0:
                type_id = tid
                break
        opener = choice(space.customers)
        staff = space.staff
        target_fr = FIRST_RESPONSE_MINUTES[priority] * MINUTE
        target_res = 8 * target_fr
        age = NOW_TS - created
        # None of the fields below is left to a server default: COPY writes every column.
        close_reason = close_note = closed_at = closed_by = csat = csat_comment = rated_at = None
        merged_into = follow_up_sent = None
        sla_running_since = fr_due = res_due = sla_due = fr_breach = res_breach = None
        paused = False
        if kind == 0:
            status = "closed"
            assignee = choice(staff) if r() < 0.85 else None
            claimer = assignee if assignee is not None and r() < 0.6 else None
            responded = r() < 0.97
            first_response = created + lognorm(math.log(45 * MINUTE), 1.2)
            resolved_at = created + lognorm(math.log(10 * HOUR), 1.3)
            if responded:
                resolved_at = max(resolved_at, first_response + MINUTE)
            closed_at = min(resolved_at, NOW_TS - MINUTE)
            first_response = min(first_response, closed_at) if responded else None
            responder = (assignee or choice(staff)) if responded else None
            close_reason = weighted(rng, CLOSE_REASONS)
            close_note = choice(CLOSE_NOTES)
            if close_reason == "duplicate":
                merged_into = space.last_ticket_id
            closed_by = assignee or choice(staff)
            if r() < 0.35:
                csat = weighted(rng, CSAT)
                rated_at = min(closed_at + uniform(MINUTE, 2 * DAY), NOW_TS - 1)
                csat_comment = choice(COMMENTS) if csat != "skipped" and r() < 0.2 else None
            last_customer = created + (closed_at - created) * r()
            last_staff = (first_response + (closed_at - first_response) * r()) if responded else None
            last_message = max(last_customer, last_staff or 0.0)
            used_minutes = (closed_at - created) / MINUTE * uniform(0.5, 1.0)
            if (first_response or closed_at) - created > target_fr:
                fr_breach = created + target_fr + uniform(0, MINUTE)
            if closed_at - created > target_res:
                res_breach = created + target_res + uniform(0, MINUTE)
            if close_reason == "resolved" and closed_at + DAY < NOW_TS and r() < 0.5:
                follow_up_sent = closed_at + DAY
        else:
            status = "open" if kind == 2 and r() < 0.6 else ("in_progress" if kind == 2 else
                                                               weighted(rng, OPEN_STATUSES))
            assignee = choice(staff) if r() < 0.7 else None
            claimer = assignee if assignee is not None and r() < 0.5 else None
            paused = kind == 1 and status in ("open", "in_progress") and r() < 0.03
            running = status in ("open", "in_progress") and not paused
            responded = kind == 1 and r() < (0.6 if running else 0.9)
            first_response = created + min(lognorm(math.log(45 * MINUTE), 1.2), age * r()) if responded else None
            responder = (assignee or choice(staff)) if responded else None
            last_customer = created + age * r()
            last_staff = first_response + (NOW_TS - first_response) * r() if first_response is not None else None
            last_message = max(last_customer, last_staff or 0.0)
            if first_response is not None and first_response - created > target_fr:
                fr_breach = created + target_fr + uniform(0, MINUTE)
            if running:
                # The clock last resumed some time after the open; the sweep has recorded every
                # due time that passed more than 15 minutes ago.
                sla_running_since = created + age * r()
                used_minutes = uniform(0, 0.5) * target_fr / MINUTE
                if kind == 2:
                    fr_due = NOW_TS - uniform(1, DUE_WINDOW)
                elif first_response is None:
                    past = created + target_fr
                    if r() < 0.5 or past > NOW_TS - 15 * MINUTE:
                        fr_due = NOW_TS + uniform(MINUTE, 2 * DAY)
                    else:
                        fr_due, fr_breach = past, past + uniform(0, MINUTE)
                past = created + target_res
                if kind == 2 or r() < 0.5 or past > NOW_TS - 15 * MINUTE:
                    res_due = NOW_TS + uniform(MINUTE, 7 * DAY)
                else:
                    res_due, res_breach = past, past + uniform(0, MINUTE)
                sla_due = min(d for d in (fr_due, res_due) if d is not None)
            else:
                used_minutes = uniform(0, 1) * target_res / MINUTE
                if age > target_res and r() < 0.3:
                    res_breach = created + target_res + uniform(0, MINUTE)
        updated = max(t for t in (created, closed_at, rated_at, last_message, follow_up_sent, fr_breach, res_breach)
                      if t is not None)
        tickets.append((
            ticket_id, space.id, number, choice(TITLES), f"ticket-{number:04d}", status, priority, type_id, opener,
            assignee, claimer, None, r() < 0.03, False, r() < 0.005, False, merged_into,
            "{}", "[]", close_reason, close_note, ts(closed_at), closed_by, csat,
            csat_comment, ts(rated_at), ts(first_response), ts(last_message), ts(last_customer),
            ts(last_staff), ts(created), ts(updated), responder, paused, used_minutes,
            ts(sla_running_since), ts(fr_due), ts(res_due), ts(sla_due), ts(fr_breach),
            ts(res_breach), ts(last_message), ts(last_customer), None, None,
            None, ts(follow_up_sent),
        ))
        space.last_ticket_id = ticket_id
        # What the breach sweep watches: targets due and not breached yet (as sync_sla keeps them).
        if fr_due is not None and fr_breach is None:
            deadlines.append((ticket_id, "first_response", space.id, ts(fr_due)))
        if res_due is not None and res_breach is None:
            deadlines.append((ticket_id, "resolution", space.id, ts(res_due)))
        pick = r()
        count = 0 if pick < 0.5 else 1 if pick < 0.8 else 2 if pick < 0.95 else 3
        if count:
            for tag in set(rng.choices(TAGS, TAG_WEIGHTS, k=count)):
                tags.append((ticket_id, tag))
        payload = f'{{"ticket_number": {number}}}'
        event_id += 1
        events.append((event_id, space.id, "ticket.opened", ticket_id, None, opener, "member", ts(created), payload))
        if closed_at is not None:
            event_id += 1
            events.append((event_id, space.id, "ticket.closed", ticket_id, None, closed_by, "member",
                           ts(closed_at), payload))
        stats.tickets += 1
        stats.not_closed += kind != 0
        stats.due += kind == 2
        if len(tickets) >= CHUNK:
            stats.tags += len(tags)
            stats.events += len(events)
            yield tickets, tags, events, deadlines
            tickets, tags, events, deadlines = [], [], [], []
    stats.tags += len(tags)
    stats.events += len(events)
    if tickets:
        yield tickets, tags, events, deadlines


# --- the database --------------------------------------------------------------------------------------------------


def migrations_fingerprint() -> str:
    """A digest of the migration files: a revision edited in place changes it too."""
    digest = hashlib.sha256()
    for path in sorted((MIGRATIONS / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def schema_name(tickets: int) -> str:
    return f"tickets_{tickets}"


def with_database(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + f"/{name}"


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def migrate(dsn: str, schema: str) -> None:
    """Bring ``schema`` to the newest revision. The migrations use unqualified names, as in
    production, so the database's default search path points at the schema while they run."""
    database = dsn.rsplit("/", 1)[1]
    conn = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        await conn.execute(f'ALTER DATABASE "{database}" SET search_path TO "{schema}"')
        try:
            upgrade(sqlalchemy_url(dsn))
        finally:
            await conn.execute(f'ALTER DATABASE "{database}" RESET search_path')
    finally:
        await conn.close()


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    return await asyncpg.connect(dsn, server_settings={"search_path": schema})


async def dataset_meta(dsn: str, schema: str) -> dict[str, Any] | None:
    conn = await asyncpg.connect(dsn)
    try:
        comment = await conn.fetchval(
            "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", schema)
        if comment is None:
            return None
        meta = json.loads(comment)
        meta["revision"] = await conn.fetchval(f'SELECT version_num FROM "{schema}".alembic_version')
        return meta
    except (asyncpg.PostgresError, ValueError):
        return None
    finally:
        await conn.close()


async def generate(dsn: str, schema: str, tickets: int, due: int, seed: int) -> dict[str, Any]:
    """Migrate a fresh schema and fill it; returns the dataset's description."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    await migrate(dsn, schema)
    stats = Generated()
    rng = random.Random(seed)
    not_closed = tickets // OPEN_SHARE
    conn = await connect(dsn, schema)
    try:
        # Foreign keys are not checked row by row (the generator keeps them consistent), and
        # the secondary indexes are built once after the load.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        indexes = await conn.fetch(
            "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = $1 AND t.relname IN ('tickets', 'ticket_tags', 'events', 'sla_deadlines') "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)", schema)
        for row in indexes:
            await conn.execute(f'DROP INDEX "{schema}"."{row["name"]}"')

        spaces: list[Space] = []
        member_id = type_id = 0
        workspace_rows, member_rows, type_rows = [], [], []
        joined = NOW - timedelta(days=400)
        for ws_id, (name, roles, customers, share, settings) in enumerate(WORKSPACES, start=1):
            workspace_rows.append((ws_id, name, "UTC", None, json.dumps(settings), 1, joined))
            space = Space(ws_id, [], [], [], share)
            for i, role in enumerate(roles + ["customer"] * customers):
                member_id += 1
                kind = "customer" if role == "customer" else "staff"
                member_rows.append((member_id, ws_id, f"{kind.title()} {i + 1}", f"{kind}{i + 1}@ws{ws_id}.example",
                                    None, role, "[]", "[]", False, True, joined))
                (space.customers if role == "customer" else space.staff).append(member_id)
            for type_name, _ in TYPES:
                type_id += 1
                type_rows.append((type_id, ws_id, type_name, None, None, None, "[]", "[]", None, "[]", None, True,
                                  False, "channel", "{}", False, joined))
                space.types.append(type_id)
            spaces.append(space)
        await conn.copy_records_to_table("workspaces", records=workspace_rows, columns=[
            "id", "name", "timezone", "discord_guild_id", "settings", "next_ticket_number", "created_at"])
        await conn.copy_records_to_table("members", records=member_rows, columns=[
            "id", "workspace_id", "display_name", "email", "discord_user_id", "role", "discord_role_ids",
            "discord_powers", "is_integration", "available", "created_at"])
        await conn.copy_records_to_table("ticket_types", records=type_rows, columns=[
            "id", "workspace_id", "name", "emoji", "description", "category", "staff_role_ids", "allowed_role_ids",
            "team_id", "intake_questions", "open_limit_per_user", "opener_can_close", "sequential_names",
            "discord_mode", "settings", "archived", "created_at"])

        plan = ticket_plan(rng, tickets, not_closed, due)
        generating = copying = 0.0
        mark = time.perf_counter()
        for ticket_chunk, tag_chunk, event_chunk, deadline_chunk in ticket_rows(rng, plan, spaces, stats):
            between = time.perf_counter()
            generating += between - mark
            await conn.copy_records_to_table("tickets", records=ticket_chunk, columns=TICKET_COLUMNS)
            await conn.copy_records_to_table("ticket_tags", records=tag_chunk, columns=["ticket_id", "tag"])
            await conn.copy_records_to_table("events", records=event_chunk, columns=EVENT_COLUMNS)
            await conn.copy_records_to_table("sla_deadlines", records=deadline_chunk,
                                             columns=["ticket_id", "target", "workspace_id", "due_at"])
            mark = time.perf_counter()
            copying += mark - between
            if sys.stdout.isatty():
                print(f"\r  {schema}: {stats.tickets:,} / {tickets:,} tickets", end="", flush=True)
        print(f"\r  {schema}: {stats.tickets:,} tickets loaded; building indexes", flush=True)
        del plan
        stats.seconds["generate"] = generating
        stats.seconds["copy"] = copying

        for space in spaces:
            await conn.execute("UPDATE workspaces SET next_ticket_number = $1 WHERE id = $2",
                               space.next_number, space.id)
        for table in ("workspaces", "members", "ticket_types", "tickets", "events"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")
        mark = time.perf_counter()
        for row in indexes:
            await conn.execute(row["definition"])
        stats.seconds["indexes"] = time.perf_counter() - mark
        mark = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) workspaces, members, ticket_types, tickets, ticket_tags, events, "
                           "sla_deadlines")
        stats.seconds["vacuum"] = time.perf_counter() - mark
        meta = {"generator": GENERATOR, "migrations": migrations_fingerprint(), "tickets": tickets,
                "not_closed": stats.not_closed, "due": stats.due,
                "seed": seed, "now": NOW.isoformat(), "tags": stats.tags, "events": stats.events,
                "workspaces": [{"id": s.id, "tickets": s.next_number - 1} for s in spaces],
                "seconds": round(time.perf_counter() - started, 1),
                "phases": {k: round(v, 1) for k, v in stats.seconds.items()}}
        comment = json.dumps(meta).replace("'", "''")
        await conn.execute(f"COMMENT ON SCHEMA \"{schema}\" IS '{comment}'")
    finally:
        await conn.close()
    return meta


async def ensure_dataset(dsn: str, tickets: int, due: int, seed: int) -> tuple[dict[str, Any], bool]:
    """The dataset of this size: reused when it matches, else generated. (meta, reused)"""
    schema = schema_name(tickets)
    meta = await dataset_meta(dsn, schema)
    wanted = {"generator": GENERATOR, "tickets": tickets, "due": due, "seed": seed, "revision": head_revision(),
              "migrations": migrations_fingerprint()}
    if meta is not None:
        differing = [key for key, value in wanted.items() if meta.get(key) != value]
        if not differing:
            return meta, True
        print(f"  {schema}: the kept dataset differs in {', '.join(differing)}; generating it again")
    meta = await generate(dsn, schema, tickets, due, seed)
    meta["revision"] = wanted["revision"]
    return meta, False


# --- measuring ---------------------------------------------------------------------------------------------------


@dataclass
class Timings:
    ms: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.ms.append(seconds * 1000)

    @property
    def min(self) -> float:
        return min(self.ms) if self.ms else math.nan

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else math.nan

    @property
    def p95(self) -> float:
        if not self.ms:
            return math.nan
        data = sorted(self.ms)
        return data[min(len(data) - 1, math.ceil(0.95 * len(data)) - 1)]

    def triple(self) -> str:
        return f"{self.min:7.1f} / {self.median:7.1f} / {self.p95:7.1f}"


@dataclass
class Result:
    tickets: int
    meta: dict[str, Any]
    reused: bool
    sweep: Timings = field(default_factory=Timings)
    empty: Timings = field(default_factory=Timings)
    analytics: Timings = field(default_factory=Timings)
    recorded: list[int] = field(default_factory=list)
    expected: int = 0
    index_entries: dict[str, int] = field(default_factory=dict)
    plan: str = ""
    plan_empty: str = ""
    explain_text: list[str] = field(default_factory=list)
    analytics_figures: str = ""


def plan_summary(plan: dict[str, Any]) -> str:
    """One line: the plan's nodes top down (with the index each scan uses), and the time."""
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        label = node["Node Type"]
        if "Index Name" in node:
            label += f" {node['Index Name']}"
        elif "Relation Name" in node:
            label += f" {node['Relation Name']}"
        if "Actual Rows" in node:
            label += f" ({int(node['Actual Rows'] * node.get('Actual Loops', 1))} rows)"
        nodes.append(label)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return " > ".join(nodes) + f"; {plan['Execution Time']:.1f} ms"


async def explain(conn: asyncpg.Connection, statements: list[tuple[str, Any]], fmt: str) -> Any:
    """EXPLAIN ANALYZE the last statement, after the ones before it, in a transaction that is
    rolled back."""
    *before, (sql, params) = statements
    tr = conn.transaction()
    await tr.start()
    try:
        for statement, arguments in before:
            await conn.execute(statement, *arguments)
        rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT {fmt}) {sql}", *params)
    finally:
        await tr.rollback()
    if fmt == "JSON":
        value = rows[0][0]
        return (json.loads(value) if isinstance(value, str) else value)[0]
    return [r[0] for r in rows]


class Bench:
    """One dataset under test: a desk whose connections see the dataset's schema, a plain
    connection for resets and plans, and the figures measured so far."""

    def __init__(self, dsn: str, tickets: int, meta: dict[str, Any], reused: bool) -> None:
        self.dsn = dsn
        self.schema = schema_name(tickets)
        self.result = Result(tickets, meta, reused)
        self.base_events = int(meta["events"])
        self.workspace_id = int(meta["workspaces"][0]["id"])
        self.due_ids: list[int] = []
        # Statements as the driver received them: the claim, and the analytics call's statements
        # (the settings it takes for its transaction first, then the query).
        self.captured: dict[str, list[tuple[str, Any]]] = {"claim": [], "analytics": []}
        self.capturing = "claim"

    async def open(self) -> None:
        self.conn = await connect(self.dsn, self.schema)
        self.due_ids = [r[0] for r in await self.conn.fetch(
            "SELECT id FROM tickets WHERE first_response_due_at > $1 AND first_response_due_at <= $2",
            NOW - timedelta(seconds=DUE_WINDOW), NOW)]
        self.result.expected = min(len(self.due_ids), LIMIT)
        await self.reset()
        await self.conn.execute("VACUUM (ANALYZE) tickets, events, sla_deadlines")
        await self.conn.execute("CHECKPOINT")
        for index in DEADLINE_INDEXES:
            self.result.index_entries[index] = int(await self.conn.fetchval(
                "SELECT reltuples FROM pg_class WHERE relname = $1 AND relnamespace = $2::regnamespace",
                index, self.schema))
        self.db = Database(sqlalchemy_url(self.dsn))
        self.desk = Desk(self.db, clock=ManualClock(NOW))
        engines = {self.db.write_engine, self.db.read_engine, self.db.counter_engine}
        for engine in engines:
            event.listen(engine.sync_engine, "connect", self._on_connect)
        event.listen(self.db.write_engine.sync_engine, "before_cursor_execute", self._capture)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        schema = self.schema
        dbapi_connection.run_async(lambda conn: conn.execute(f'SET search_path TO "{schema}"'))

    def _capture(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.capturing == "claim" and "SKIP LOCKED" in statement and "first_response_breached_at" in statement:
            self.captured["claim"][:] = [(statement, parameters)]
        elif self.capturing == "analytics":
            self.captured["analytics"].append((statement, parameters))

    async def reset(self) -> None:
        """The due rows unrecorded again, the sweep's events gone."""
        await self.conn.execute("UPDATE tickets SET first_response_breached_at = NULL "
                                "WHERE id = ANY($1::bigint[]) AND first_response_breached_at IS NOT NULL", self.due_ids)
        await self.conn.execute("INSERT INTO sla_deadlines (ticket_id, target, workspace_id, due_at) "
                                "SELECT id, 'first_response', workspace_id, first_response_due_at FROM tickets "
                                "WHERE id = ANY($1::bigint[]) ON CONFLICT DO NOTHING", self.due_ids)
        # The sweep deletes the deadlines it records and this puts them back: vacuum the small
        # table, as autovacuum would, so dead index entries from earlier runs do not pile up.
        await self.conn.execute("VACUUM sla_deadlines")
        # Likewise the due tickets' pages, which every run rewrites: a breach happens once per
        # ticket in real use, so its page is not full of versions left by earlier runs.
        await self.conn.execute("VACUUM tickets")
        await self.conn.execute("DELETE FROM events WHERE id > $1", self.base_events)

    async def sweep(self, timings: Timings | None) -> int:
        started = time.perf_counter()
        recorded = await sla_breaches(self.desk, limit=LIMIT)
        if timings is not None:
            timings.add(time.perf_counter() - started)
        return recorded

    async def analytics(self, timings: Timings | None) -> None:
        """The last 30 days of the main workspace, as GET /api/v1/analytics computes them."""
        self.capturing = "analytics"
        self.captured["analytics"].clear()
        started = time.perf_counter()
        async with self.desk.read(Actor.system(), self.workspace_id) as tx:
            start, end = parse_range(None, None, now=tx.now)
            figures = await workspace_analytics(tx.session, self.workspace_id, start=start, end=end, now=tx.now,
                                                dialect=self.db.dialect)
            figures.as_json()
        if timings is not None:
            timings.add(time.perf_counter() - started)
        fr = figures.first_response
        self.result.analytics_figures = (
            f"created in range {fr.responded + fr.unanswered:,} ({fr.responded:,} answered), "
            f"resolved {figures.resolution.resolved:,}, open now {figures.open_now.total:,}, "
            f"staff {len(figures.staff)}, rated {figures.csat.helpful + figures.csat.not_helpful:,}")

    async def close(self) -> None:
        if hasattr(self, "db"):
            await self.db.dispose()
        if hasattr(self, "conn"):
            await self.reset()
            await self.conn.close()


async def measure(benches: list[Bench], args: argparse.Namespace) -> None:
    """Each measurement takes turns between the datasets, run by run, so that a change in the
    machine's load falls on both alike."""
    for bench in benches:
        await bench.open()
    # 1. recording the due breaches: a warm-up, then the timed runs, each from the same state
    for run in range(args.runs + 1):
        for bench in benches:
            await bench.reset()
            recorded = await bench.sweep(bench.result.sweep if run else None)
            bench.result.recorded.append(recorded)
    # 2. nothing due (every due row is recorded now): the common case. The last pass deleted
    # the deadlines it recorded; vacuum them as autovacuum would before the next real pass
    # (a bitmap index scan, unlike a plain one, never marks dead entries itself).
    for bench in benches:
        await bench.conn.execute("VACUUM sla_deadlines")
    for run in range(args.runs + 1):
        for bench in benches:
            recorded = await bench.sweep(bench.result.empty if run else None)
            if recorded:
                print(f"  warning: a sweep with nothing due recorded {recorded} ({bench.schema})")
    # The claim's plan with nothing due, then with the rows due (EXPLAIN ANALYZE, rolled back).
    for bench in benches:
        claim = bench.captured["claim"]
        bench.result.plan_empty = plan_summary(await explain(bench.conn, claim, "JSON"))
        await bench.reset()
        bench.result.plan = plan_summary(await explain(bench.conn, claim, "JSON"))
        if args.explain:
            bench.result.explain_text += [f"claim ({bench.result.expected:,} due):"]
            bench.result.explain_text += await explain(bench.conn, claim, "TEXT")
    # 3. analytics over the last 30 days
    for run in range(args.runs + 1):
        for bench in benches:
            await bench.analytics(bench.result.analytics if run else None)
    if args.explain:
        for bench in benches:
            bench.result.explain_text += ["analytics (30 days):"]
            bench.result.explain_text += await explain(bench.conn, bench.captured["analytics"], "TEXT")


# --- the report --------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: list[Result], args: argparse.Namespace, load: tuple[float, float]) -> None:
    small, large = results[0], results[-1]
    print()
    print(f"SLA breach sweeps and analytics, PostgreSQL, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} before / {load[1]:.2f} after; {args.runs} timed runs each after a warm-up")
    for r in results:
        m = r.meta
        origin = "reused" if r.reused else f"generated in {m['seconds']:.0f} s {m.get('phases', {})}"
        print(f"  {r.tickets:>9,} tickets: {m['not_closed']:,} not closed, {m['due']:,} due, {m['tags']:,} tags, "
              f"{m['events']:,} events; {origin}")
    print()
    header = f"{'':44}" + "".join(f"{r.tickets:>26,}" for r in results) + "   large/small (median)"
    print(header)
    print(f"{'':44}" + "".join(f"{'min / median / p95 ms':>26}" for _ in results))
    rows = (
        (f"sla_breaches, {LIMIT:,} due", "sweep"),
        ("sla_breaches, nothing due", "empty"),
        ("analytics, last 30 days", "analytics"),
    )
    for label, name in rows:
        cells = "".join(f"{getattr(r, name).triple():>26}" for r in results)
        ratio = getattr(large, name).median / getattr(small, name).median if len(results) > 1 else math.nan
        print(f"  {label:42}{cells}   {ratio:.2f}")
    print(f"  {'breaches recorded per sweep':42}" + "".join(
        f"{'/'.join(str(n) for n in sorted(set(r.recorded))):>26}" for r in results))
    for index in DEADLINE_INDEXES:
        print(f"  {'entries in ' + index:42}" + "".join(f"{r.index_entries[index]:>26,}" for r in results))
    print()
    for r in results:
        print(f"  claim plan, {r.tickets:,} tickets, {LIMIT:,} due: {r.plan}")
        print(f"  claim plan, {r.tickets:,} tickets, nothing due: {r.plan_empty}")
    for r in results:
        print(f"  analytics, {r.tickets:,} tickets: {r.analytics_figures}")
    for r in results:
        if r.explain_text:
            print(f"\nEXPLAIN ANALYZE, {r.tickets:,} tickets")
            print("\n".join(r.explain_text))

    print("\nTargets")
    ok_count = all(n == r.expected for r in results for n in r.recorded)
    print(f"  every sweep recorded the {large.expected:,} due breaches: {verdict(ok_count)}")
    print(f"  {LIMIT:,} due breaches at {large.tickets:,} tickets under {TARGET_SWEEP_MS:.0f} ms (median "
          f"{large.sweep.median:.1f} ms, p95 {large.sweep.p95:.1f} ms): "
          f"{verdict(large.sweep.median < TARGET_SWEEP_MS)}")
    if len(results) > 1:
        growth = large.sweep.median / small.sweep.median
        empty_growth = large.empty.median / small.empty.median
        print(f"  sweep time flat from {small.tickets:,} to {large.tickets:,} tickets (median ratio {growth:.2f}, "
              f"nothing due {empty_growth:.2f}; flat = at most {TARGET_GROWTH}): "
              f"{verdict(growth <= TARGET_GROWTH and empty_growth <= TARGET_GROWTH)}")
    print(f"  analytics for 30 days at {large.tickets:,} tickets under {TARGET_ANALYTICS_MS:.0f} ms (median "
          f"{large.analytics.median:.1f} ms): {verdict(large.analytics.median < TARGET_ANALYTICS_MS)}")


async def run(args: argparse.Namespace) -> None:
    dsn = args.dsn
    database = dsn.rsplit("/", 1)[1]
    admin = await asyncpg.connect(with_database(dsn, "postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists and not args.keep:
            await admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = False
        if not exists:
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    benches: list[Bench] = []
    try:
        for tickets in sorted({args.small, args.tickets}):
            due = min(args.due, tickets // OPEN_SHARE)
            meta, reused = await ensure_dataset(dsn, tickets, due, args.seed)
            print(f"  {schema_name(tickets)}: {'reused' if reused else 'generated'}", flush=True)
            benches.append(Bench(dsn, tickets, meta, reused))
        print("  measuring", flush=True)
        load_before = os.getloadavg()[0]
        try:
            await measure(benches, args)
        finally:
            for bench in benches:
                await bench.close()
    finally:
        if not args.keep:
            admin = await asyncpg.connect(with_database(dsn, "postgres"))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            finally:
                await admin.close()
    report([b.result for b in benches], args, (load_before, os.getloadavg()[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1_000_000, help="tickets in the large dataset")
    parser.add_argument("--small", type=int, default=100_000, help="tickets in the small dataset")
    parser.add_argument("--due", type=int, default=LIMIT, help="first responses falling due now, unrecorded")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each measurement")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database and reuse matching datasets")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the claim and analytics")
    parser.add_argument("--dsn", default=DEFAULT_DSN,
                        help="the benchmark's own database (created and, without --keep, dropped)")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
