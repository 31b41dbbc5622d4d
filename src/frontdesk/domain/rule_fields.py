"""What a rule condition may look at: the fields, their kinds, the operators each kind takes,
how values are checked when a rule is saved, and how one condition is decided. Pure."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.fields import FieldType
from frontdesk.domain.permissions import Role
from frontdesk.domain.tickets import AuthorKind, Csat, Priority, Status, normalize_tag

try:  # Python 3.11 keeps the regex parser here; older names are deprecated aliases.
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]

PATTERN_MAX = 200
# A pattern runs over at most this much of a text, so even a slow pattern ends quickly.
MATCH_TEXT_MAX = 10_000
LIST_VALUES_MAX = 100
VALUE_TEXT_MAX = 1000


class Operator(enum.StrEnum):
    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not_contains"
    MATCHES = "matches"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"
    GREATER_OR_EQUAL = "greater_or_equal"
    LESS_OR_EQUAL = "less_or_equal"
    IS_SET = "is_set"
    IS_NOT_SET = "is_not_set"


Op = Operator
ORDERING = frozenset({Op.GREATER_THAN, Op.LESS_THAN, Op.GREATER_OR_EQUAL, Op.LESS_OR_EQUAL})
PRESENCE = frozenset({Op.IS_SET, Op.IS_NOT_SET})
EQUALITY = frozenset({Op.EQUALS, Op.NOT_EQUALS, Op.IN, Op.NOT_IN})


@dataclass(frozen=True, slots=True)
class Kind:
    """A field's kind: ``text``, ``enum`` (with its values, ``ranked`` when ordered), ``number``,
    ``bool``, ``id`` (a row id), ``type`` (id or name), ``list`` (of ``values`` when known),
    ``date`` or ``any`` (untyped: event payloads, undefined custom fields)."""

    name: str
    values: tuple[str, ...] = ()
    ranked: bool = False

    @property
    def operators(self) -> frozenset[Operator]:
        match self.name:
            case "text":
                return EQUALITY | PRESENCE | {Op.CONTAINS, Op.NOT_CONTAINS, Op.MATCHES}
            case "enum":
                return EQUALITY | PRESENCE | (ORDERING if self.ranked else frozenset())
            case "number" | "date":
                return EQUALITY | PRESENCE | ORDERING
            case "bool":
                return PRESENCE | {Op.EQUALS, Op.NOT_EQUALS}
            case "id" | "type":
                return EQUALITY | PRESENCE
            case "list":
                return PRESENCE | {Op.CONTAINS, Op.NOT_CONTAINS, Op.IN, Op.NOT_IN}
        return frozenset(Operator)


TEXT, NUMBER, BOOL, ID, ANY, DATE = Kind("text"), Kind("number"), Kind("bool"), Kind("id"), Kind("any"), Kind("date")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _enum(values: Any, ranked: bool = False) -> Kind:
    return Kind("enum", tuple(v.value if isinstance(v, enum.Enum) else v for v in values), ranked)


FIELD_TYPES: dict[str, Kind] = {
    "ticket.status": _enum(Status),
    "ticket.priority": _enum(sorted(Priority, key=lambda p: p.rank), ranked=True),
    "ticket.type": Kind("type"),
    "ticket.team": ID,
    "ticket.tags": Kind("list"),
    "ticket.assignee": ID,
    "ticket.claimer": ID,
    "ticket.escalated": BOOL,
    "ticket.pinned": BOOL,
    "ticket.lockdown": BOOL,
    "ticket.title": TEXT,
    "ticket.number": NUMBER,
    "message.text": TEXT,
    "message.author_kind": _enum(AuthorKind),
    "customer.role": _enum(Role),
    "customer.email": TEXT,
    "customer.email_domain": TEXT,
    "customer.discord_role_ids": Kind("list"),
    "csat.rating": _enum(Csat),
    "time.weekday": _enum(WEEKDAYS),
    "time.hour": NUMBER,
    "time.business_hours": BOOL,
    "event.type": TEXT,
}
CUSTOM_PREFIX = "ticket.custom."
EVENT_PREFIX = "event."

_CUSTOM_KINDS = {FieldType.TEXT: TEXT, FieldType.URL: TEXT, FieldType.EMAIL: TEXT, FieldType.NUMBER: NUMBER,
                 FieldType.INTEGER: NUMBER, FieldType.BOOLEAN: BOOL, FieldType.DATE: DATE}


def field_kind(name: str, custom: Mapping[str, FieldType] | None, *, where: str,
               options: Mapping[str, tuple[str, ...]] | None = None) -> Kind:
    """The kind of a condition's field; an unknown field is an error on ``where``."""
    if name in FIELD_TYPES:
        return FIELD_TYPES[name]
    if name.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
        key = name[len(CUSTOM_PREFIX):]
        field_type = custom.get(key) if custom is not None else None
        if field_type is None:
            return ANY
        if field_type is FieldType.SELECT:
            return Kind("enum", (options or {}).get(key, ()))
        if field_type is FieldType.MULTI_SELECT:
            return Kind("list", (options or {}).get(key, ()))
        return _CUSTOM_KINDS.get(field_type, ANY)
    if name.startswith(EVENT_PREFIX) and len(name) > len(EVENT_PREFIX):
        return ANY
    raise ValidationFailed(f"unknown field {name!r}; fields are {', '.join(sorted(FIELD_TYPES))}, "
                           f"{CUSTOM_PREFIX}<key> and {EVENT_PREFIX}<key>", field=where)


# --- checking values when a rule is saved -------------------------------------------------------------------------


def check_condition_value(kind: Kind, op: Operator, value: Any, *, field_name: str, where: str) -> Any:
    """``value`` checked for ``op`` on a field of ``kind``, in the form ``compare`` uses."""
    at = f"{where}.value"
    if op not in kind.operators:
        allowed = ", ".join(o.value for o in Operator if o in kind.operators)
        raise ValidationFailed(f"{field_name} does not take {op.value}; it takes {allowed}", field=f"{where}.op")
    if op in PRESENCE:
        if value is not None:
            raise ValidationFailed(f"{op.value} takes no value", field=at)
        return None
    if op in (Op.IN, Op.NOT_IN) or (op in (Op.CONTAINS, Op.NOT_CONTAINS) and kind.name == "list"
                                  and isinstance(value, list)):
        if not isinstance(value, list) or not value or len(value) > LIST_VALUES_MAX:
            raise ValidationFailed(f"{op.value} takes a list of 1 to {LIST_VALUES_MAX} values", field=at)
        return frozenset(_one(kind, op, v, field_name, f"{at}[{i}]") for i, v in enumerate(value))
    if op is Op.MATCHES:
        return compile_pattern(value, at)
    if op in ORDERING:
        if kind.name == "enum":
            return _one(kind, op, value, field_name, at)
        if kind.name == "date" or (kind.name == "any" and isinstance(value, str)):
            return _date(value, at)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationFailed(f"{op.value} takes a number" + (" or a YYYY-MM-DD date" if kind.name == "any"
                                                                  else ""), field=at)
        return value
    return _one(kind, op, value, field_name, at)


def _one(kind: Kind, op: Operator, value: Any, field_name: str, at: str) -> Any:
    match kind.name:
        case "text":
            if not isinstance(value, str) or len(value) > VALUE_TEXT_MAX:
                raise ValidationFailed(f"{field_name} compares with text of at most {VALUE_TEXT_MAX} characters",
                                       field=at)
            return value.casefold()
        case "enum":
            if value not in kind.values:
                raise ValidationFailed(f"{field_name} is one of {', '.join(kind.values)}", field=at)
            return value
        case "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationFailed(f"{field_name} compares with a number", field=at)
            return value
        case "bool":
            if not isinstance(value, bool):
                raise ValidationFailed(f"{field_name} compares with true or false", field=at)
            return value
        case "id":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValidationFailed(f"{field_name} compares with an id (a positive whole number)", field=at)
            return value
        case "type":
            if isinstance(value, bool) or not (isinstance(value, int) and value >= 1
                                               or isinstance(value, str) and value.strip()):
                raise ValidationFailed(f"{field_name} compares with a type id or name", field=at)
            return value.strip().casefold() if isinstance(value, str) else value
        case "list":
            if not isinstance(value, str) or not value.strip() or len(value) > VALUE_TEXT_MAX:
                raise ValidationFailed(f"{field_name} holds text values", field=at)
            if kind.values and value not in kind.values:
                raise ValidationFailed(f"{field_name} holds {', '.join(kind.values)}", field=at)
            return normalize_tag(value) if field_name == "ticket.tags" else value.casefold()
        case "date":
            return _date(value, at)
    if isinstance(value, dict | list) and op not in (Op.EQUALS, Op.NOT_EQUALS):
        raise ValidationFailed("compare with a text, number, boolean or null value", field=at)
    return value


def _date(value: Any, at: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except (TypeError, ValueError):
        raise ValidationFailed("a date is written YYYY-MM-DD", field=at) from None


def compile_pattern(value: Any, at: str) -> re.Pattern[str]:
    """A regular expression for ``matches``: at most ``PATTERN_MAX`` characters, valid, and
    without nested unbounded repetition (``(a+)+``), the shape that backtracks for ever."""
    if not isinstance(value, str) or not value:
        raise ValidationFailed("matches takes a regular expression", field=at)
    if len(value) > PATTERN_MAX:
        raise ValidationFailed(f"a pattern is at most {PATTERN_MAX} characters", field=at)
    try:
        parsed = _sre_parse.parse(value)
        pattern = re.compile(value)
    except (re.error, RecursionError, OverflowError) as exc:
        raise ValidationFailed(f"not a valid regular expression: {exc}", field=at) from None
    if _nested_repeat(parsed, inside=False):
        raise ValidationFailed("a repetition inside a repetition (like (a+)+) can take for ever; rewrite it",
                               field=at)
    return pattern


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _nested_repeat(items: Any, *, inside: bool) -> bool:
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            low, high, body = arg
            unbounded = high is _sre_parse.MAXREPEAT or high > 10
            if unbounded and inside:
                return True
            if _nested_repeat(body, inside=inside or unbounded):
                return True
        elif name == "SUBPATTERN":
            if _nested_repeat(arg[-1], inside=inside):
                return True
        elif name == "BRANCH":
            if any(_nested_repeat(b, inside=inside) for b in arg[1]):
                return True
        elif name in ("ASSERT", "ASSERT_NOT") and _nested_repeat(arg[1], inside=inside):
            return True
    return False


# --- deciding one condition --------------------------------------------------------------------------------------


def _present(actual: Any) -> bool:
    return actual is not None and actual != "" and actual != [] and actual != ()


def compare(kind: Kind, op: Operator, actual: Any, value: Any) -> bool:
    """Whether ``actual`` (the fact) stands in ``op`` to ``value`` (as checked above)."""
    if op is Op.IS_SET:
        return _present(actual)
    if op is Op.IS_NOT_SET:
        return not _present(actual)
    negative = op in (Op.NOT_EQUALS, Op.NOT_IN, Op.NOT_CONTAINS)
    if actual is None:
        return negative
    result = _positive(kind, op, actual, value)
    return not result if negative else result


def _norm(kind: Kind, actual: Any) -> Any:
    if kind.name == "text" and isinstance(actual, str):
        return actual.casefold()
    if kind.name == "type":
        return actual
    return actual


def _positive(kind: Kind, op: Operator, actual: Any, value: Any) -> bool:
    if kind.name == "type":
        type_id, type_name = actual
        names = {type_id, (type_name or "").casefold()}
        wanted = value if isinstance(value, frozenset) else {value}
        return bool(names & wanted)
    if kind.name == "any":
        return _untyped(op, actual, value)
    if kind.name == "list":
        if not isinstance(actual, list | tuple):
            return False
        items = {x.casefold() if isinstance(x, str) else x for x in actual if isinstance(x, str | int)}
        wanted = value if isinstance(value, frozenset) else {value}
        if op in (Op.CONTAINS, Op.NOT_CONTAINS) and isinstance(value, frozenset):
            return wanted <= items  # contains all of them
        return bool(items & wanted)
    actual = _norm(kind, actual)
    match op:
        case Op.EQUALS | Op.NOT_EQUALS:
            return bool(actual == value)
        case Op.IN | Op.NOT_IN:
            return actual in value
        case Op.CONTAINS | Op.NOT_CONTAINS:
            if not isinstance(actual, str):
                return False
            needle = value.casefold() if isinstance(value, str) else str(value)
            return needle in actual.casefold()
        case Op.MATCHES:
            if not isinstance(actual, str):
                return False
            return value.search(actual[:MATCH_TEXT_MAX]) is not None
    return _ordered(kind, op, actual, value)


def _same(a: Any, b: Any) -> bool:
    """Equality for untyped facts: text without regard to case, numbers as numbers (not
    booleans), lists and objects as wholes."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _untyped(op: Operator, actual: Any, value: Any) -> bool:
    """An event payload value or an undefined custom field: whatever JSON it holds. Compared
    element by element, never hashed (it may hold lists and objects)."""
    wanted = list(value) if isinstance(value, frozenset) else [value]
    match op:
        case Op.EQUALS | Op.NOT_EQUALS:
            return _same(actual, value)
        case Op.IN | Op.NOT_IN:
            if isinstance(actual, list):
                return any(_same(item, w) for item in actual for w in wanted)
            return any(_same(actual, w) for w in wanted)
        case Op.CONTAINS | Op.NOT_CONTAINS:
            if isinstance(actual, list):
                return all(any(_same(item, w) for item in actual) for w in wanted)
            if isinstance(actual, str):
                return all(str(w).casefold() in actual.casefold() for w in wanted)
            return False
        case Op.MATCHES:
            return isinstance(actual, str) and value.search(actual[:MATCH_TEXT_MAX]) is not None
    return _ordered(ANY, op, actual, value)


def _ordered(kind: Kind, op: Operator, actual: Any, value: Any) -> bool:
    if kind.name == "enum":
        if actual not in kind.values:
            return False
        left, right = kind.values.index(actual), kind.values.index(value)
    elif kind.name == "date" or isinstance(value, str):
        if not isinstance(actual, str):
            return False
        left, right = actual[:10], value
    else:
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        left, right = actual, value
    match op:
        case Op.GREATER_THAN:
            return left > right
        case Op.LESS_THAN:
            return left < right
        case Op.GREATER_OR_EQUAL:
            return left >= right
    return left <= right


def compile_test(kind: Kind, op: Operator, value: Any) -> Any:
    """``compare`` for one condition, specialised once when the rule is parsed: a function of
    the fact alone. The common shapes get a direct expression; the rest call ``compare``."""
    name = kind.name
    if op is Op.IS_SET:
        return _present
    if op is Op.IS_NOT_SET:
        return lambda a: not _present(a)
    if name in ("enum", "id", "bool") or (name == "number" and op in EQUALITY):
        if op is Op.EQUALS:
            return lambda a: a == value
        if op is Op.NOT_EQUALS:
            return lambda a: a != value
        if op is Op.IN:
            return lambda a: a in value
        if op is Op.NOT_IN:
            return lambda a: a not in value
    if name == "text":
        if op is Op.EQUALS:
            return lambda a: isinstance(a, str) and a.casefold() == value
        if op is Op.NOT_EQUALS:
            return lambda a: not (isinstance(a, str) and a.casefold() == value)
        if op is Op.CONTAINS:
            return lambda a: isinstance(a, str) and value in a.casefold()
        if op is Op.NOT_CONTAINS:
            return lambda a: not (isinstance(a, str) and value in a.casefold())
        if op is Op.MATCHES:
            search = value.search
            return lambda a: isinstance(a, str) and search(a[:MATCH_TEXT_MAX]) is not None
    if name == "number" and op in ORDERING:
        check = {Op.GREATER_THAN: lambda a: a > value, Op.LESS_THAN: lambda a: a < value,
                 Op.GREATER_OR_EQUAL: lambda a: a >= value, Op.LESS_OR_EQUAL: lambda a: a <= value}[op]
        return lambda a: isinstance(a, int | float) and not isinstance(a, bool) and check(a)
    return lambda a: compare(kind, op, a, value)
