"""Custom field definitions and intake questions: their shapes and how values are checked."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from frontdesk.domain.errors import FieldProblem, ValidationFailed

FIELD_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


class FieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    SELECT = "select"
    MULTI_SELECT = "multi_select"
    URL = "url"
    EMAIL = "email"


@dataclass(frozen=True)
class FieldSpec:
    key: str
    field_type: FieldType
    options: tuple[str, ...] = ()
    required: bool = False


def check_definition(key: str, field_type: str, options: list[str] | None) -> None:
    problems: list[FieldProblem] = []
    if not FIELD_KEY.match(key or ""):
        problems.append(FieldProblem("key", "must start with a lower-case letter and use only a-z, 0-9 and _"))
    try:
        kind = FieldType(field_type)
    except ValueError:
        allowed = ", ".join(t.value for t in FieldType)
        problems.append(FieldProblem("field_type", f"must be one of {allowed}"))
        kind = None
    if kind in (FieldType.SELECT, FieldType.MULTI_SELECT) and not options:
        problems.append(FieldProblem("options", "a select field needs at least one option"))
    if problems:
        raise ValidationFailed(problems[0].message, field=problems[0].field, problems=problems)


def coerce_value(spec: FieldSpec, value: Any, *, field: str) -> Any:
    """Check ``value`` against its definition and return it in stored form (JSON-friendly).
    ``None`` clears the field."""

    def bad(reason: str) -> ValidationFailed:
        return ValidationFailed(f"{spec.key} {reason}", field=field)

    if value is None:
        if spec.required:
            raise bad("is required")
        return None
    match spec.field_type:
        case FieldType.TEXT:
            if not isinstance(value, str):
                raise bad("must be text")
            if len(value) > 2000:
                raise bad("must be at most 2000 characters")
            return value
        case FieldType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad("must be a number")
            if not math.isfinite(value):
                # NaN and infinities have no JSON form; PostgreSQL would refuse the row.
                raise bad("must be a finite number")
            return value
        case FieldType.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad("must be a whole number")
            return value
        case FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise bad("must be true or false")
            return value
        case FieldType.DATE:
            if not isinstance(value, str):
                raise bad("must be a date written YYYY-MM-DD")
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                raise bad("must be a date written YYYY-MM-DD") from None
        case FieldType.SELECT:
            if value not in spec.options:
                raise bad(f"must be one of {', '.join(spec.options)}")
            return value
        case FieldType.MULTI_SELECT:
            if not isinstance(value, list) or any(v not in spec.options for v in value):
                raise bad(f"must be a list of values from {', '.join(spec.options)}")
            return sorted(set(value), key=spec.options.index)
        case FieldType.URL:
            if not isinstance(value, str) or not _URL.match(value):
                raise bad("must be an http(s) URL")
            return value
        case FieldType.EMAIL:
            if not isinstance(value, str) or not _EMAIL.match(value):
                raise bad("must be an email address")
            return value
    raise bad("has an unknown type")  # pragma: no cover


# --- intake questions -----------------------------------------------------------------------------------------

INTAKE_KINDS = ("subject", "description", "custom")
DISCORD_MODAL_FIELDS = 5


@dataclass(frozen=True)
class IntakeQuestion:
    id: str
    label: str
    kind: str = "custom"
    required: bool = False
    max_length: int = 1000
    long: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind, "required": self.required,
                "max_length": self.max_length, "long": self.long}


def parse_intake_questions(raw: list[dict[str, Any]]) -> list[IntakeQuestion]:
    """Validate a type's intake questions: at most five (a Discord modal's limit), unique
    ids, at most one subject and one description."""
    if len(raw) > DISCORD_MODAL_FIELDS:
        raise ValidationFailed("at most 5 intake questions (a Discord modal holds five fields)",
                               field="intake_questions")
    questions: list[IntakeQuestion] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"intake_questions[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed("each intake question must be an object", field=where)
        kind = item.get("kind", "custom")
        if kind not in INTAKE_KINDS:
            raise ValidationFailed(f"kind must be one of {', '.join(INTAKE_KINDS)}", field=f"{where}.kind")
        qid = str(item.get("id") or kind if kind != "custom" else item.get("id") or "")
        if not qid or not FIELD_KEY.match(qid):
            raise ValidationFailed("id must be a short lower-case key", field=f"{where}.id")
        if qid in seen:
            raise ValidationFailed(f"duplicate question id {qid!r}", field=f"{where}.id")
        if kind != "custom" and any(q.kind == kind for q in questions):
            raise ValidationFailed(f"only one {kind} question is allowed", field=f"{where}.kind")
        label = str(item.get("label") or "").strip()
        if not label or len(label) > 45:
            raise ValidationFailed("label must be 1 to 45 characters (Discord's limit)", field=f"{where}.label")
        max_length = item.get("max_length", 200 if kind == "subject" else 1000)
        if not isinstance(max_length, int) or not 1 <= max_length <= 4000:
            raise ValidationFailed("max_length must be between 1 and 4000", field=f"{where}.max_length")
        seen.add(qid)
        questions.append(IntakeQuestion(qid, label, kind, bool(item.get("required", False)), max_length,
                                        bool(item.get("long", kind == "description"))))
    return questions


def check_intake_answers(questions: list[IntakeQuestion], answers: dict[str, str]) -> list[dict[str, str]]:
    """Match answers to questions; returns them in question order as stored on the ticket."""
    known = {q.id for q in questions}
    for key in answers:
        if key not in known:
            raise ValidationFailed(f"no intake question {key!r} on this ticket type", field=f"answers.{key}")
    stored: list[dict[str, str]] = []
    for q in questions:
        value = (answers.get(q.id) or "").strip()
        if not value:
            if q.required:
                raise ValidationFailed(f"{q.label!r} is required", field=f"answers.{q.id}")
            continue
        if len(value) > q.max_length:
            raise ValidationFailed(f"{q.label!r} must be at most {q.max_length} characters",
                                   field=f"answers.{q.id}")
        stored.append({"id": q.id, "label": q.label, "kind": q.kind, "value": value})
    return stored
