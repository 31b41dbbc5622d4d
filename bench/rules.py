"""Automation rule evaluation with 1,000 rules (issue 4).

Three figures, each in events per second:

  pure        ``domain.rules.evaluate`` over 1,000 parsed rules of mixed conditions (priority
              sets, text contains and regular expressions, tags, numbers, nested any-groups,
              event payload fields), about 1 % of them matching each event: the cost of
              deciding, with no database;
  sqlite      the before-commit hook in a real action transaction (``set_priority``) on an
  postgresql  SQLite file and a PostgreSQL database whose workspace holds 1,000 enabled rules
              on ``priority_changed`` (about 1 % matching, each adding a tag): loading the rules,
              deciding them, running the matching ones' actions in savepoints and recording
              their runs; beside it the same transaction where none of the 1,000 rules match
              (the cost of deciding alone), and in a workspace without rules.

    .venv/bin/python bench/rules.py                       # both databases
    .venv/bin/python bench/rules.py --databases sqlite --events 300

``measure(...)`` returns the figures as a dict, for ``bench/webhooks.py`` to print as well.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pgdb import drop_database, fresh_database

from frontdesk.actions import members as m
from frontdesk.actions import tickets
from frontdesk.actions.base import Desk
from frontdesk.actions.rules import create_rule
from frontdesk.clock import SystemClock
from frontdesk.db.migrate import upgrade
from frontdesk.db.session import Database
from frontdesk.domain import events as ev
from frontdesk.domain.permissions import Actor
from frontdesk.domain.rules import evaluate, parse_rule, triggers_for

PG_DSN = os.environ.get("FRONTDESK_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/frontdesk_bench_rules")
BUCKETS = 100  # each rule matches events of one bucket in a hundred: about 1 % match


def rule_body(i: int, trigger: str, *, matching: bool = True) -> dict[str, Any]:
    """Rule ``i``: mixed conditions that hold for most events, and a last one on the event's
    bucket that holds for one event in ``BUCKETS`` (for none when not ``matching``)."""
    shapes = [
        {"field": "ticket.priority", "op": "in", "value": ["low", "normal", "high", "urgent"]},
        {"field": "ticket.title", "op": "contains", "value": "order"},
        {"field": "ticket.title", "op": "matches", "value": r"order\s+#\d+"},
        {"field": "ticket.tags", "op": "not_contains", "value": f"never-{i}"},
        {"any": [{"field": "ticket.escalated", "op": "equals", "value": True},
                 {"field": "ticket.number", "op": "greater_than", "value": 0}]},
        {"field": "ticket.status", "op": "not_in", "value": ["closed"]},
    ]
    picked = [shapes[(i + k) % len(shapes)] for k in range(3)]
    picked.append({"field": "ticket.custom.bucket", "op": "equals", "value": i % BUCKETS if matching else -1})
    return {"name": f"rule {i}", "trigger": trigger, "conditions": {"all": picked},
            "actions": [{"type": "add_tag", "tag": f"matched-{i % 10}"}]}


def measure_pure(rule_count: int, events: int) -> dict[str, float]:
    rules = [parse_rule(rule_body(i, "ticket_opened")) for i in range(rule_count)]
    rng = random.Random(4)
    facts = [{"ticket.priority": rng.choice(["low", "normal", "high", "urgent"]), "ticket.status": "open",
              "ticket.title": f"About order #{rng.randint(1, 9999)}", "ticket.tags": ["billing"],
              "ticket.escalated": False, "ticket.number": n + 1, "ticket.custom.bucket": rng.randrange(BUCKETS),
              "event": {"type": ev.TICKET_OPENED}} for n in range(events)]
    matched = 0
    started = time.perf_counter()
    for fact in facts:
        fired = triggers_for(ev.TICKET_OPENED, {})
        for rule in rules:
            if rule.trigger in fired and evaluate(rule.conditions, fact):
                matched += 1
    elapsed = time.perf_counter() - started
    return {"events_per_s": events / elapsed, "rule_evaluations_per_s": events * rule_count / elapsed,
            "matched_share": matched / (events * rule_count)}


async def _workspace(desk: Desk, name: str, rule_count: int, *, matching: bool = True
                     ) -> tuple[int, Actor, list[int]]:
    """A workspace with staff, a type, the bucket field, ``rule_count`` rules and 50 tickets."""
    system = Actor.system()
    async with desk.tx(system, 0) as tx:
        workspace = await m.create_workspace(tx, name=name)
        staff = await m.add_member(tx, display_name="Sam", role="owner", email="sam@bench.example")
        customer = await m.add_member(tx, display_name="Cy", email="cy@bench.example")
        ticket_type = await m.create_ticket_type(tx, name="General", open_limit_per_user=None)
        await m.define_custom_field(tx, key="bucket", label="Bucket", field_type="integer")
    async with desk.tx(system, workspace.id) as tx:
        actor = await m.actor_for_member(tx, staff)
        for i in range(rule_count):
            await create_rule(tx, rule_body(i, "priority_changed", matching=matching))
    numbers = []
    rng = random.Random(7)
    for n in range(50):
        async with desk.tx(system, workspace.id) as tx:
            t = await tickets.open_ticket(tx, type_id=ticket_type.id, opener_id=customer.id,
                                          title=f"About order #{n}", custom_fields={"bucket": rng.randrange(BUCKETS)})
            numbers.append(t.number)
    return workspace.id, actor, numbers


async def _transactions(desk: Desk, workspace_id: int, actor: Actor, numbers: list[int], count: int) -> list[float]:
    priorities = ["low", "normal", "high", "urgent"]
    took = []
    for i in range(count):
        number = numbers[i % len(numbers)]
        started = time.perf_counter()
        async with desk.tx(actor, workspace_id) as tx:
            # Every ticket starts normal and goes low, normal, high, urgent, low...: always a change.
            await tickets.set_priority(tx, number, priorities[(i // len(numbers)) % 4])
        took.append(time.perf_counter() - started)
    return took


async def measure_hook(url: str, rule_count: int, events: int) -> dict[str, float]:
    upgrade(url)
    db = Database(url)
    try:
        desk = Desk(db, clock=SystemClock())
        with_rules = await _workspace(desk, "With rules", rule_count)
        unmatched = await _workspace(desk, "Rules that never match", rule_count, matching=False)
        without = await _workspace(desk, "Without rules", 0)
        for workspace in (with_rules, unmatched, without):
            await _transactions(desk, *workspace, 20)  # warm-up: parses the rules once
        ruled = await _transactions(desk, *with_rules, events)
        deciding = await _transactions(desk, *unmatched, events)
        plain = await _transactions(desk, *without, events)
    finally:
        await db.dispose()
    return {"events_per_s": len(ruled) / sum(ruled), "median_ms": statistics.median(ruled) * 1000,
            "none_matching_events_per_s": len(deciding) / sum(deciding),
            "none_matching_median_ms": statistics.median(deciding) * 1000,
            "baseline_events_per_s": len(plain) / sum(plain), "baseline_median_ms": statistics.median(plain) * 1000}


async def measure(*, rules: int = 1000, events: int = 2000, hook_events: int = 200,
                  databases: tuple[str, ...] = ("sqlite", "postgresql"), pg_dsn: str = PG_DSN) -> dict[str, Any]:
    """Rule evaluation throughput: the pure evaluator and the hook on each database."""
    results: dict[str, Any] = {"rules": rules, "pure": measure_pure(rules, events)}
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            results["sqlite"] = await measure_hook(url, rules, hook_events)
    if "postgresql" in databases:
        url = await fresh_database(pg_dsn)
        try:
            results["postgresql"] = await measure_hook(url, rules, hook_events)
        finally:
            await drop_database(pg_dsn)
    return results


def report(results: dict[str, Any]) -> None:
    pure = results["pure"]
    print(f"automation rules: {results['rules']} rules")
    print(f"  pure evaluator   {pure['events_per_s']:10,.0f} events/s   "
          f"({pure['rule_evaluations_per_s']:,.0f} rule evaluations/s, {pure['matched_share']:.1%} matched)")
    for name in ("sqlite", "postgresql"):
        if name in results:
            r = results[name]
            print(f"  hook, {name:<10} {r['events_per_s']:10,.0f} events/s   median {r['median_ms']:.1f} ms per "
                  f"transaction; none of the rules matching: {r['none_matching_events_per_s']:,.0f}/s, "
                  f"{r['none_matching_median_ms']:.1f} ms; without rules: {r['baseline_events_per_s']:,.0f}/s, "
                  f"{r['baseline_median_ms']:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--events", type=int, default=2000, help="events through the pure evaluator")
    parser.add_argument("--hook-events", type=int, default=200, help="action transactions per database")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-dsn", default=PG_DSN, help="a database name this benchmark may drop and create")
    args = parser.parse_args()
    report(asyncio.run(measure(rules=args.rules, events=args.events, hook_events=args.hook_events,
                               databases=tuple(args.databases.split(",")), pg_dsn=args.pg_dsn)))


if __name__ == "__main__":
    main()
