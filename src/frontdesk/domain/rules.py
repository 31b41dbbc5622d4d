"""Automation rules: a definition parsed into typed values, and conditions evaluated against
the facts of one event. Pure: no I/O. ``actions/automation.py`` stores and runs them.

A rule is JSON::

    {"name": "Urgent billing", "enabled": true, "trigger": "keyword", "keywords": ["refund"],
     "conditions": {"all": [{"field": "ticket.priority", "op": "in", "value": ["high", "urgent"]}]},
     "actions": [{"type": "add_tag", "tag": "billing"}, {"type": "assign_round_robin"}],
     "stop_processing": false}

Every error names the exact place: ``trigger``, ``conditions.all[1].op``, ``actions[2].member_id``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from frontdesk.domain import events as ev
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.fields import FieldType
from frontdesk.domain.rule_fields import (
    Kind,
    Operator,
    check_condition_value,
    compare,
    compile_test,
    field_kind,
)
from frontdesk.domain.templating import TICKET_VARIABLES, check
from frontdesk.domain.tickets import TAG_MAX, CloseReason, Priority, normalize_tag, settable_statuses

NAME_MAX = 100
MAX_RULE_ACTIONS = 20
MAX_CONDITIONS = 100
MAX_NESTING = 5
MAX_KEYWORDS = 50
KEYWORD_MAX = 100
TEXT_MAX = 4000


class Trigger(enum.StrEnum):
    TICKET_OPENED = "ticket_opened"
    MESSAGE_RECEIVED = "message_received"
    KEYWORD = "keyword"
    STATUS_CHANGED = "status_changed"
    PRIORITY_CHANGED = "priority_changed"
    TAG_ADDED = "tag_added"
    ESCALATED = "escalated"
    CSAT_SUBMITTED = "csat_submitted"
    CSAT_NEGATIVE = "csat_negative"
    SLA_BREACH = "sla_breach"
    TICKET_STALE = "ticket_stale"
    TICKET_CLOSED = "ticket_closed"


# The event each trigger listens to. A public customer ``message.created`` fires both
# ``message_received`` and (when a keyword is in it) ``keyword``.
TRIGGER_EVENTS: dict[Trigger, str] = {
    Trigger.TICKET_OPENED: ev.TICKET_OPENED,
    Trigger.MESSAGE_RECEIVED: ev.MESSAGE_CREATED,
    Trigger.KEYWORD: ev.MESSAGE_CREATED,
    Trigger.STATUS_CHANGED: ev.TICKET_STATUS_CHANGED,
    Trigger.PRIORITY_CHANGED: ev.TICKET_PRIORITY_CHANGED,
    Trigger.TAG_ADDED: ev.TICKET_TAG_ADDED,
    Trigger.ESCALATED: ev.TICKET_ESCALATED,
    Trigger.CSAT_SUBMITTED: ev.CSAT_SUBMITTED,
    Trigger.CSAT_NEGATIVE: ev.CSAT_NEGATIVE,
    Trigger.SLA_BREACH: ev.SLA_BREACH,
    Trigger.TICKET_STALE: ev.TICKET_STALE,
    Trigger.TICKET_CLOSED: ev.TICKET_CLOSED,
}
TRIGGERING_EVENTS = frozenset(TRIGGER_EVENTS.values())


def triggers_for(event_type: str, payload: Mapping[str, Any]) -> frozenset[Trigger]:
    """The triggers an event can fire (keywords are checked against the message later)."""
    if event_type not in TRIGGERING_EVENTS:
        return frozenset()
    if event_type == ev.MESSAGE_CREATED:
        if payload.get("author_kind") != "customer" or payload.get("visibility", "public") != "public":
            return frozenset()
        return frozenset({Trigger.MESSAGE_RECEIVED, Trigger.KEYWORD})
    return frozenset(t for t, e in TRIGGER_EVENTS.items() if e == event_type)


# --- conditions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    path: str
    field: str
    op: Operator
    value: Any  # as ``compare`` uses it (case-folded, compiled)
    raw: Any  # as written
    kind: Kind
    # Decides the condition over all facts: the fact's lookup and ``compare`` specialised.
    test: Callable[[Mapping[str, Any]], bool] = field(compare=False, repr=False, default=lambda facts: True)


@dataclass(frozen=True, slots=True)
class Group:
    path: str
    mode: str  # "all" or "any"
    items: tuple[Leaf | Group, ...]
    test: Callable[[Mapping[str, Any]], bool] = field(compare=False, repr=False, default=lambda facts: True)


@dataclass(frozen=True, slots=True)
class LeafResult:
    path: str
    field: str
    op: str
    value: Any
    actual: Any
    result: bool


def _parse_group(data: Any, path: str, depth: int, counter: list[int],
                 custom: Mapping[str, FieldType] | None) -> Group:
    if not isinstance(data, dict):
        raise ValidationFailed('conditions must be an object with "all" or "any"', field=path)
    keys = set(data)
    if len(keys) != 1 or not keys <= {"all", "any"}:
        raise ValidationFailed('a condition group has exactly one key, "all" or "any"', field=path)
    mode = next(iter(keys))
    items = data[mode]
    here = f"{path}.{mode}"
    if not isinstance(items, list):
        raise ValidationFailed(f"{mode} must be a list of conditions", field=here)
    parsed: list[Leaf | Group] = []
    for i, item in enumerate(items):
        where = f"{here}[{i}]"
        if isinstance(item, dict) and ("all" in item or "any" in item):
            if depth >= MAX_NESTING:
                raise ValidationFailed(f"conditions nest at most {MAX_NESTING} deep", field=where)
            parsed.append(_parse_group(item, where, depth + 1, counter, custom))
        else:
            counter[0] += 1
            if counter[0] > MAX_CONDITIONS:
                raise ValidationFailed(f"a rule has at most {MAX_CONDITIONS} conditions", field=where)
            parsed.append(_parse_leaf(item, where, custom))
    return Group(path=here, mode=mode, items=tuple(parsed), test=_group_test(mode, [i.test for i in parsed]))


def _group_test(mode: str, tests: list[Callable[[Mapping[str, Any]], bool]]) -> Callable[[Mapping[str, Any]], bool]:
    if not tests:
        return lambda facts: True
    # Plain loops rather than all()/any() over a generator: this runs for every rule and event.
    if mode == "all":
        def every(facts: Mapping[str, Any]) -> bool:
            for test in tests:  # noqa: SIM110
                if not test(facts):
                    return False
            return True
        return every

    def some(facts: Mapping[str, Any]) -> bool:
        for test in tests:  # noqa: SIM110
            if test(facts):
                return True
        return False
    return some


def _leaf_test(name: str, kind: Kind, op: Operator, value: Any) -> Callable[[Mapping[str, Any]], bool]:
    decide = compile_test(kind, op, value)
    if name.startswith("event.") and name != "event.type":
        return lambda facts: decide(fact(facts, name))
    return lambda facts: decide(facts.get(name))


def _parse_leaf(data: Any, path: str, custom: Mapping[str, FieldType] | None) -> Leaf:
    if not isinstance(data, dict):
        raise ValidationFailed('a condition is an object {"field", "op", "value"}', field=path)
    unknown = set(data) - {"field", "op", "value"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationFailed(f"unknown key {name!r} in a condition", field=f"{path}.{name}")
    name = data.get("field")
    if not isinstance(name, str) or not name:
        raise ValidationFailed("field is required", field=f"{path}.field")
    kind = field_kind(name, custom, where=f"{path}.field")
    raw_op = data.get("op")
    try:
        op = Operator(raw_op)
    except ValueError:
        raise ValidationFailed(f"op must be one of {', '.join(o.value for o in Operator)}",
                               field=f"{path}.op") from None
    value = check_condition_value(kind, op, data.get("value"), field_name=name, where=path)
    return Leaf(path=path, field=name, op=op, value=value, raw=data.get("value"), kind=kind,
                test=_leaf_test(name, kind, op, value))


def evaluate(group: Group | None, facts: Mapping[str, Any], trace: list[LeafResult] | None = None) -> bool:
    """Whether the conditions hold over ``facts`` (field name -> value). No conditions hold.
    With ``trace``, every condition's result is appended (no short-circuit, for dry runs)."""
    if group is None:
        return True
    if trace is None:
        return group.test(facts)
    return _eval_group(group, facts, trace)


def _eval_group(group: Group, facts: Mapping[str, Any], trace: list[LeafResult] | None) -> bool:
    if trace is None:
        if group.mode == "all":
            return all(_eval(item, facts, None) for item in group.items)
        return any(_eval(item, facts, None) for item in group.items) if group.items else True
    results = [_eval(item, facts, trace) for item in group.items]
    if group.mode == "all":
        return all(results)
    return any(results) if results else True


def _eval(item: Leaf | Group, facts: Mapping[str, Any], trace: list[LeafResult] | None) -> bool:
    if isinstance(item, Group):
        return _eval_group(item, facts, trace)
    actual = fact(facts, item.field)
    result = compare(item.kind, item.op, actual, item.value)
    if trace is not None:
        trace.append(LeafResult(item.path, item.field, item.op.value, item.raw, _shown(actual), result))
    return result


def fact(facts: Mapping[str, Any], name: str) -> Any:
    """A field's value among the facts; ``event.a.b`` reads the event payload's nested keys."""
    if name in facts:
        return facts[name]
    if name.startswith("event."):
        value: Any = facts.get("event")
        for part in name.split(".")[1:]:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
        return value
    return None


def fields_used(group: Group | None) -> set[str]:
    if group is None:
        return set()
    found: set[str] = set()
    for item in group.items:
        if isinstance(item, Group):
            found |= fields_used(item)
        else:
            found.add(item.field)
    return found


# --- actions ---------------------------------------------------------------------------------------------------


class ActionType(enum.StrEnum):
    ASSIGN_ROUND_ROBIN = "assign_round_robin"
    ASSIGN_LOAD_BALANCED = "assign_load_balanced"
    ASSIGN_TO = "assign_to"
    SET_PRIORITY = "set_priority"
    SET_STATUS = "set_status"
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    SET_TEAM = "set_team"
    SET_FIELD = "set_field"
    ESCALATE = "escalate"
    SEND_MESSAGE = "send_message"
    ADD_NOTE = "add_note"
    CLOSE = "close"
    NOTIFY_MANAGERS = "notify_managers"
    SEND_WEBHOOK = "send_webhook"


# Each action's keys: name -> required.
ACTION_KEYS: dict[ActionType, dict[str, bool]] = {
    ActionType.ASSIGN_ROUND_ROBIN: {},
    ActionType.ASSIGN_LOAD_BALANCED: {},
    ActionType.ASSIGN_TO: {"member_id": True},
    ActionType.SET_PRIORITY: {"priority": True},
    ActionType.SET_STATUS: {"status": True},
    ActionType.ADD_TAG: {"tag": True},
    ActionType.REMOVE_TAG: {"tag": True},
    ActionType.SET_TEAM: {"team_id": True},
    ActionType.SET_FIELD: {"key": True, "value": True},
    ActionType.ESCALATE: {"note": False},
    ActionType.SEND_MESSAGE: {"text": False, "macro": False},
    ActionType.ADD_NOTE: {"text": True},
    ActionType.CLOSE: {"reason": True, "note": False},
    ActionType.NOTIFY_MANAGERS: {"message": True},
    ActionType.SEND_WEBHOOK: {"endpoint_id": True},
}


@dataclass(frozen=True, slots=True)
class RuleAction:
    type: ActionType
    params: dict[str, Any]


def _id(value: Any, where: str, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**63 - 1:
        raise ValidationFailed("must be a positive whole number" + (" or null" if nullable else ""), field=where)
    return value


def _text(value: Any, where: str, limit: int = TEXT_MAX, *, template: bool = False) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("must be non-empty text", field=where)
    if len(value) > limit:
        raise ValidationFailed(f"must be at most {limit} characters", field=where)
    if template:
        check(value, TICKET_VARIABLES, field=where)
    return value.strip()


def _choice(value: Any, allowed: list[str], where: str) -> str:
    if value not in allowed:
        raise ValidationFailed(f"must be one of {', '.join(allowed)}", field=where)
    return str(value)


def _parse_action(data: Any, where: str, custom: Mapping[str, FieldType] | None) -> RuleAction:
    if not isinstance(data, dict):
        raise ValidationFailed('an action is an object with a "type"', field=where)
    try:
        kind = ActionType(data.get("type"))
    except ValueError:
        raise ValidationFailed(f"type must be one of {', '.join(a.value for a in ActionType)}",
                               field=f"{where}.type") from None
    keys = ACTION_KEYS[kind]
    for key in data:
        if key != "type" and key not in keys:
            raise ValidationFailed(f"{kind.value} takes no {key!r}", field=f"{where}.{key}")
    for key, required in keys.items():
        if required and key not in data:
            raise ValidationFailed(f"{kind.value} needs {key}", field=f"{where}.{key}")
    p: dict[str, Any] = {}
    at = lambda key: f"{where}.{key}"  # noqa: E731
    match kind:
        case ActionType.ASSIGN_TO:
            p["member_id"] = _id(data["member_id"], at("member_id"))
        case ActionType.SET_PRIORITY:
            p["priority"] = _choice(data["priority"], [x.value for x in Priority], at("priority"))
        case ActionType.SET_STATUS:
            p["status"] = _choice(data["status"], [x.value for x in settable_statuses()], at("status"))
        case ActionType.ADD_TAG | ActionType.REMOVE_TAG:
            tag = normalize_tag(data["tag"]) if isinstance(data["tag"], str) else ""
            if not tag or len(tag) > TAG_MAX:
                raise ValidationFailed(f"tag must be 1 to {TAG_MAX} characters", field=at("tag"))
            p["tag"] = tag
        case ActionType.SET_TEAM:
            p["team_id"] = _id(data["team_id"], at("team_id"), nullable=True)
        case ActionType.SET_FIELD:
            key = data["key"]
            if not isinstance(key, str) or not key:
                raise ValidationFailed("key must name a custom field", field=at("key"))
            if custom is not None and key not in custom:
                raise ValidationFailed(f"no custom field {key!r} is defined", field=at("key"))
            p["key"], p["value"] = key, data["value"]
        case ActionType.ESCALATE:
            if data.get("note") is not None:
                p["note"] = _text(data["note"], at("note"), 500)
        case ActionType.SEND_MESSAGE:
            if ("text" in data) == ("macro" in data):
                raise ValidationFailed("send_message takes either text or macro", field=at("text"))
            if "text" in data:
                p["text"] = _text(data["text"], at("text"), template=True)
            else:
                p["macro"] = _text(data["macro"], at("macro"), 64)
        case ActionType.ADD_NOTE:
            p["text"] = _text(data["text"], at("text"), template=True)
        case ActionType.CLOSE:
            p["reason"] = _choice(data["reason"], [x.value for x in CloseReason], at("reason"))
            if data.get("note") is not None:
                p["note"] = _text(data["note"], at("note"), 500)
        case ActionType.NOTIFY_MANAGERS:
            p["message"] = _text(data["message"], at("message"), 1000, template=True)
        case ActionType.SEND_WEBHOOK:
            p["endpoint_id"] = _id(data["endpoint_id"], at("endpoint_id"))
    return RuleAction(kind, p)


# --- the rule --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleDefinition:
    name: str
    enabled: bool
    trigger: Trigger
    keywords: tuple[str, ...]
    conditions: Group | None
    actions: tuple[RuleAction, ...]
    stop_processing: bool
    position: int | None = None
    # Compiled from ``keywords``: case-insensitive, on word boundaries.
    keyword_pattern: re.Pattern[str] | None = field(default=None, compare=False)
    fields: frozenset[str] = frozenset()

    def stored(self) -> dict[str, Any]:
        """What the ``definition`` column keeps (the other keys are columns of their own)."""
        return {"keywords": list(self.keywords), "conditions": _group_json(self.conditions),
                "actions": [{"type": a.type.value, **a.params} for a in self.actions],
                "stop_processing": self.stop_processing}

    def keyword_in(self, text: str | None) -> str | None:
        """The first keyword found in ``text``, or ``None``."""
        if self.keyword_pattern is None or not text:
            return None
        found = self.keyword_pattern.search(text[:MAX_MATCH_TEXT])
        return found.group(0) if found else None


MAX_MATCH_TEXT = 10_000
RULE_KEYS = {"name", "enabled", "position", "trigger", "keywords", "conditions", "actions", "stop_processing"}


def _group_json(group: Group | None) -> dict[str, Any] | None:
    if group is None:
        return None
    return {group.mode: [_group_json(i) if isinstance(i, Group) else {"field": i.field, "op": i.op.value,
                                                                      **({} if i.raw is None else
                                                                         {"value": i.raw})}
                         for i in group.items]}


SHOWN_TEXT_MAX = 200


def _shown(actual: Any) -> Any:
    """A fact as a dry run shows it: the type as its id and name, a long text cut short."""
    if isinstance(actual, tuple):
        return list(actual)
    if isinstance(actual, str) and len(actual) > SHOWN_TEXT_MAX:
        return actual[:SHOWN_TEXT_MAX] + "…"
    return actual


def keyword_pattern(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    if not keywords:
        return None
    parts = [r"\s+".join(re.escape(w) for w in k.split()) for k in keywords]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)


def parse_rule(data: Any, *, custom_fields: Mapping[str, FieldType] | None = None) -> RuleDefinition:
    """Check a whole rule definition. ``custom_fields`` types ``ticket.custom.<key>`` (and makes
    ``set_field`` keys known); without it custom fields are untyped."""
    if not isinstance(data, dict):
        raise ValidationFailed("a rule is a JSON object", field="rule")
    for key in data:
        if key not in RULE_KEYS:
            raise ValidationFailed(f"unknown key {key!r}", field=key)
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > NAME_MAX:
        raise ValidationFailed(f"name must be 1 to {NAME_MAX} characters", field="name")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ValidationFailed("enabled must be true or false", field="enabled")
    stop = data.get("stop_processing", False)
    if not isinstance(stop, bool):
        raise ValidationFailed("stop_processing must be true or false", field="stop_processing")
    position = data.get("position")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)
                                 or not 0 <= position <= 1_000_000):
        raise ValidationFailed("position must be a whole number from 0 to 1000000", field="position")
    try:
        trigger = Trigger(data.get("trigger"))
    except ValueError:
        raise ValidationFailed(f"trigger must be one of {', '.join(t.value for t in Trigger)}",
                               field="trigger") from None
    keywords = _keywords(data.get("keywords"), trigger)
    raw_conditions = data.get("conditions")
    conditions = None
    if raw_conditions is not None and raw_conditions != {}:
        conditions = _parse_group(raw_conditions, "conditions", 1, [0], custom_fields)
    raw_actions = data.get("actions")
    if not isinstance(raw_actions, list) or not raw_actions:
        raise ValidationFailed("actions must be a non-empty list", field="actions")
    if len(raw_actions) > MAX_RULE_ACTIONS:
        raise ValidationFailed(f"a rule has at most {MAX_RULE_ACTIONS} actions", field="actions")
    actions = tuple(_parse_action(a, f"actions[{i}]", custom_fields) for i, a in enumerate(raw_actions))
    return RuleDefinition(name=name.strip(), enabled=enabled, trigger=trigger, keywords=keywords,
                          conditions=conditions, actions=actions, stop_processing=stop, position=position,
                          keyword_pattern=keyword_pattern(keywords), fields=frozenset(fields_used(conditions)))


def _keywords(raw: Any, trigger: Trigger) -> tuple[str, ...]:
    if trigger is not Trigger.KEYWORD:
        if raw not in (None, []):
            raise ValidationFailed("keywords belong to the keyword trigger", field="keywords")
        return ()
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("the keyword trigger needs a non-empty list of keywords", field="keywords")
    if len(raw) > MAX_KEYWORDS:
        raise ValidationFailed(f"at most {MAX_KEYWORDS} keywords", field="keywords")
    found: list[str] = []
    for i, word in enumerate(raw):
        if not isinstance(word, str) or not word.strip() or len(word.strip()) > KEYWORD_MAX:
            raise ValidationFailed(f"a keyword is 1 to {KEYWORD_MAX} characters", field=f"keywords[{i}]")
        cleaned = " ".join(word.split())
        if cleaned.lower() not in (f.lower() for f in found):
            found.append(cleaned)
    return tuple(found)


def rule_from_row(name: str, enabled: bool, trigger: str, definition: dict[str, Any]) -> RuleDefinition:
    """A stored rule, checked when it was saved; custom fields untyped."""
    return parse_rule({"name": name, "enabled": enabled, "trigger": trigger, **definition})


__all__ = ["ActionType", "Group", "Leaf", "LeafResult", "RuleAction", "RuleDefinition", "Trigger", "evaluate",
           "parse_rule", "rule_from_row", "triggers_for"]
