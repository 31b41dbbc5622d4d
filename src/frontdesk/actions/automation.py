"""The automation engine: a before-commit hook that runs the workspace's rules over the
events of the transaction that is about to commit.

- It walks ``tx.events`` from where it last stopped. An event that can fire no trigger costs
  nothing; the first one that can costs one primary-key read of the workspace's rule-set
  version (``automation_rule_sets``; no row: no rules). A process keeps each workspace's
  parsed, ordered rules under that version, and reads them again (ids, versions, positions,
  and the definitions of rule versions it has not parsed) only when the version moved.
- Rules whose trigger fires run in order of position. Each rule's conditions are decided
  over the ticket as it is now (earlier rules' changes included); a matching rule's actions
  run in order, as the desk (``Actor.system("automation")``), through the usual action
  functions, every event they write naming the rule (``rule_id``). Each rule's actions share
  one savepoint: an action that fails undoes that rule's actions and is recorded as the run's
  error, and neither the triggering action nor the other rules are undone.
- Events written by rule actions are walked in turn, one level deeper. A rule that matches
  an event at depth ``MAX_DEPTH`` does not run; its run records ``depth limit 3 reached``.
  Every event is walked once, so no rule runs twice for one event.
- Every run, a rule that matched an event, is recorded in ``rule_runs``: what each action did,
  the error, or why the chain stopped. Rules whose conditions did not hold leave no row (with
  a thousand rules that would be a thousand rows per event); the dry run shows why one does not
  match.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select

from frontdesk.actions.base import Desk, EventRecord, Tx, ticket_for
from frontdesk.actions.rule_steps import described, event_facts, message_text, perform
from frontdesk.db.models import AutomationRule, AutomationRuleSet, Message, RuleRun, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import DomainError, NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.permissions import Actor, Capability
from frontdesk.domain.rules import (
    TRIGGER_EVENTS,
    TRIGGERING_EVENTS,
    LeafResult,
    RuleDefinition,
    Trigger,
    evaluate,
    rule_from_row,
    triggers_for,
)

log = logging.getLogger("frontdesk.automation")

AUTOMATION = Actor.system("automation")
MAX_DEPTH = 3
# Parsed rules per database, by (id, version): every change bumps the version, and ids are
# never reused (AUTOINCREMENT on SQLite).
_PARSED: weakref.WeakKeyDictionary[Any, dict[tuple[int, int], RuleDefinition | None]] = weakref.WeakKeyDictionary()
_PARSED_MAX = 20_000
# Per database: workspace id -> (rule-set version, its enabled rules).
_SETS: weakref.WeakKeyDictionary[Any, dict[int, tuple[int, RuleSet]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class LoadedRule:
    id: int
    position: int
    definition: RuleDefinition


@dataclass(frozen=True)
class RuleSet:
    """A workspace's enabled rules, by trigger in running order, with the fields each
    trigger's conditions read (so facts are gathered for those only)."""

    by_trigger: dict[Trigger, list[LoadedRule]]
    fields: dict[Trigger, frozenset[str]]

    @classmethod
    def of(cls, rules: list[LoadedRule]) -> RuleSet:
        grouped: dict[Trigger, list[LoadedRule]] = {}
        for rule in rules:
            grouped.setdefault(rule.definition.trigger, []).append(rule)
        return cls(grouped, {t: frozenset().union(*(r.definition.fields for r in found))
                             for t, found in grouped.items()})


NO_RULES = RuleSet({}, {})


@dataclass
class _State:
    """Where the hook stands in one transaction."""

    position: int = 0
    depths: dict[int, int] = field(default_factory=dict)
    rules: RuleSet | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    timezone: list[str] = field(default_factory=list)


async def run_rules(tx: Tx) -> None:
    """The before-commit hook: run the rules over every event ``tx`` has not walked yet."""
    state: _State = tx.automation if tx.automation is not None else _State()
    tx.automation = state
    while state.position < len(tx.events):
        index = state.position
        state.position += 1
        event = tx.events[index]
        if event.type not in TRIGGERING_EVENTS or event.ticket_id is None:
            continue
        triggers = triggers_for(event.type, event.payload or {})
        if not triggers:
            continue
        if state.rules is None:
            state.rules = await load_rules(tx)
        rules = state.rules
        if len(triggers) == 1:
            candidates = rules.by_trigger.get(next(iter(triggers)), [])
        else:
            candidates = sorted((r for t in triggers for r in rules.by_trigger.get(t, [])),
                                key=lambda r: (r.position, r.id))
        if candidates:
            needed = frozenset().union(*(rules.fields.get(t, frozenset()) for t in triggers))
            keywords = Trigger.KEYWORD in triggers and Trigger.KEYWORD in rules.by_trigger
            await _walk(tx, state, event, candidates, needed, keywords, state.depths.get(index, 0))
    if state.runs:
        await tx.session.execute(insert(RuleRun), state.runs)
        state.runs = []


async def load_rules(tx: Tx) -> RuleSet:
    """The workspace's enabled rules in order, parsed: one primary-key read when this process
    already holds the current rule set."""
    version = await tx.session.scalar(
        select(AutomationRuleSet.version).where(AutomationRuleSet.workspace_id == tx.workspace_id))
    if version is None:
        return NO_RULES
    sets = _SETS.setdefault(_cache_owner(tx), {})
    held = sets.get(tx.workspace_id)
    if held is not None and held[0] == version:
        return held[1]
    if len(sets) > _PARSED_MAX:
        sets.clear()
    # The rules are read after the version, so what is kept is never older than its label.
    rules = RuleSet.of(await _read_rules(tx))
    sets[tx.workspace_id] = (version, rules)
    return rules


def _cache_owner(tx: Tx) -> Any:
    return tx.db if tx.db is not None else tx.session


async def _read_rules(tx: Tx) -> list[LoadedRule]:
    rows = (await tx.session.execute(
        select(AutomationRule.id, AutomationRule.version, AutomationRule.position)
        .where(AutomationRule.workspace_id == tx.workspace_id, AutomationRule.enabled.is_(True))
        .order_by(AutomationRule.position, AutomationRule.id))).all()
    if not rows:
        return []
    parsed = _PARSED.setdefault(_cache_owner(tx), {})
    keys = [(r.id, r.version) for r in rows]
    missing = [key for key in keys if key not in parsed]
    if missing:
        if len(parsed) + len(missing) > _PARSED_MAX:
            parsed.clear()
        for row in (await tx.session.execute(
                select(AutomationRule.id, AutomationRule.version, AutomationRule.name, AutomationRule.trigger,
                       AutomationRule.definition)
                .where(AutomationRule.id.in_([key[0] for key in missing])))).all():
            try:
                parsed[(row.id, row.version)] = rule_from_row(row.name, True, row.trigger, row.definition)
            except ValidationFailed as exc:
                # A stored rule this version no longer accepts must not stop every action
                # of the workspace: it is left out (and logged) until it is fixed.
                log.error("a stored automation rule does not parse; it does not run",
                          extra={"rule_id": row.id, "field": exc.field, "error": exc.message})
                parsed[(row.id, row.version)] = None
    return [LoadedRule(r.id, r.position, definition) for r, key in zip(rows, keys, strict=True)
            if (definition := parsed.get(key)) is not None]


async def _walk(tx: Tx, state: _State, event: Any, candidates: list[LoadedRule], needed: frozenset[str],
                keywords: bool, depth: int) -> None:
    if getattr(event, "id", None) is None:
        await tx.session.flush()
    ticket = await tx.session.get(Ticket, event.ticket_id)
    if ticket is None:
        return
    text = None
    if keywords or any(f.startswith("message.") for f in needed):
        text = await message_text(tx, event)
    facts: dict[str, Any] | None = None
    for rule in candidates:
        definition = rule.definition
        keyword = None
        if definition.trigger is Trigger.KEYWORD:
            keyword = definition.keyword_in(text)
            if keyword is None:
                continue
        if facts is None:
            facts = await event_facts(tx, ticket, event, needed, text=text, timezone=state.timezone)
        if not evaluate(definition.conditions, facts):
            continue
        run = {"workspace_id": tx.workspace_id, "rule_id": rule.id, "rule_name": definition.name,
               "ticket_id": ticket.id, "event_id": event.id, "event_type": event.type,
               "trigger": definition.trigger.value, "depth": depth, "changes": [], "error": None,
               "stopped": None, "occurred_at": tx.now}
        state.runs.append(run)
        if depth >= MAX_DEPTH:
            run["stopped"] = f"depth limit {MAX_DEPTH} reached"
        else:
            start = len(tx.events)
            run["changes"], run["error"] = await run_actions(tx, rule.id, definition, ticket, event)
            for i in range(start, len(tx.events)):
                state.depths[i] = depth + 1
            if len(tx.events) > start or run["error"]:
                facts = None
        if definition.stop_processing:
            break


async def run_actions(tx: Tx, rule_id: int, definition: RuleDefinition, ticket: Ticket,
                      event: Any) -> tuple[list[dict[str, Any]], str | None]:
    """A matching rule's actions, in order, in one savepoint, as the desk acting for the rule.
    Returns what each action did and the error that undid them, if one failed."""
    acting = dataclasses.replace(tx, actor=AUTOMATION, event_tags={"rule_id": rule_id})
    changes: list[dict[str, Any]] = []
    start = len(tx.events)
    current = 0
    try:
        async with tx.session.begin_nested():
            for current, action in enumerate(definition.actions):
                before = len(tx.events)
                await perform(acting, action, ticket, rule_id=rule_id, rule_name=definition.name, event=event,
                              where=f"actions[{current}]")
                tx.policies = tx.policies or acting.policies
                changes.append({"action": action.type.value,
                                "events": [described(e) for e in tx.events[before:]]})
            await tx.session.flush()
    except Exception as exc:  # noqa: BLE001 - one rule's failure, whatever it is, must not undo the action
        del tx.events[start:]
        for undone in changes:
            undone["undone"] = True
        message = exc.message if isinstance(exc, DomainError) else type(exc).__name__
        if not isinstance(exc, DomainError):
            log.exception("a rule action failed", extra={"rule_id": rule_id})
        await _reload(tx, ticket)
        return changes, f"actions[{current}] ({definition.actions[current].type.value}): {message}"
    return changes, None


async def _reload(tx: Tx, ticket: Ticket) -> None:
    """After a savepoint is rolled back the objects it changed are expired; read them again
    now, so nothing later touches an expired attribute (which async sessions cannot load)."""
    for loaded in {id(t): t for t in [ticket, *tx.locked_tickets.values()]}.values():
        await tx.session.refresh(loaded)


# --- dry runs -----------------------------------------------------------------------------------------------------


class _Undo(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.result = result


async def preview_rule(desk: Desk, actor: Actor, workspace_id: int, rule_id: int, *, number: int,
                       event_type: str | None = None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a rule would do to ticket ``number`` for an event (by default the one its trigger
    listens to): whether its trigger fires, each condition's result, and the changes its
    actions would make. The actions really run, in a transaction that is then rolled back,
    so the answer is what a run would do and nothing changes. Management only. Rules that
    the rule's own changes would trigger are not run."""
    try:
        async with desk.tx(actor, workspace_id) as tx:
            raise _Undo(await _dry_run(tx, rule_id, number, event_type, payload))
    except _Undo as done:
        return done.result


async def _dry_run(tx: Tx, rule_id: int, number: int, event_type: str | None,
                   payload: dict[str, Any] | None) -> dict[str, Any]:
    if not tx.actor.is_management:
        raise NotPermitted("only management may try out automation rules")
    row = await tx.session.get(AutomationRule, rule_id)
    if row is None or row.workspace_id != tx.workspace_id:
        raise NotFound(f"rule {rule_id} not found")
    definition = rule_from_row(row.name, row.enabled, row.trigger, row.definition)
    ticket = await ticket_for(tx, number, Capability.VIEW)
    if event_type is not None and event_type not in ev.ALL:
        raise ValidationFailed(f"unknown event type {event_type!r}", field="event.type")
    kind = event_type or TRIGGER_EVENTS[definition.trigger]
    body: dict[str, Any] = {"ticket_number": ticket.number}
    if kind == ev.MESSAGE_CREATED:
        body.update({"author_kind": "customer", "visibility": "public",
                     "message_id": await _latest_customer_message(tx, ticket)})
    body.update(payload or {})
    event = EventRecord(id=0, workspace_id=tx.workspace_id, type=kind, ticket_id=ticket.id, occurred_at=tx.now,
                        payload=body)
    fired = definition.trigger in triggers_for(kind, body)
    keyword = None
    text = await message_text(tx, event)
    if fired and definition.trigger is Trigger.KEYWORD:
        keyword = definition.keyword_in(text)
        fired = keyword is not None
    trace: list[LeafResult] = []
    facts = await event_facts(tx, ticket, event, set(definition.fields), text=text)
    matched = evaluate(definition.conditions, facts, trace)
    changes: list[dict[str, Any]] = []
    error = None
    if fired and matched:
        changes, error = await run_actions(tx, row.id, definition, ticket, event)
    return {"rule_id": row.id, "ticket_number": ticket.number, "event": {"type": kind, "payload": body},
            "trigger_fired": fired, "keyword": keyword, "matched": fired and matched,
            "conditions_matched": matched,
            "conditions": [{"path": r.path, "field": r.field, "op": r.op, "value": r.value, "actual": r.actual,
                            "result": r.result} for r in trace],
            "changes": changes, "error": error}


async def _latest_customer_message(tx: Tx, ticket: Ticket) -> int | None:
    from frontdesk.db.models import Conversation

    return await tx.session.scalar(
        select(Message.id).join(Conversation, Conversation.id == Message.conversation_id)
        .where(Conversation.ticket_id == ticket.id, Message.author_kind == "customer",
               Message.visibility == "public").order_by(Message.id.desc()).limit(1))
