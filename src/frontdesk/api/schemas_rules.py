"""Request and response bodies of /api/v1/rules. A rule's definition is checked whole by
``domain.rules`` (so a 422 names the exact place, ``conditions.all[1].op``); these models only
describe it and refuse unknown keys and values no database can store."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from frontdesk.api.schemas import Id, Number, Strict


class RuleIn(Strict):
    name: Any = Field(default=None, description="1 to 100 characters")
    enabled: Any = Field(default=None, description="default true")
    position: Any = Field(default=None, description="order among the rules (lowest first); default last")
    trigger: Any = Field(default=None, description="ticket_opened, message_received, keyword, status_changed, "
                                                   "priority_changed, tag_added, escalated, csat_submitted, "
                                                   "csat_negative, sla_breach, ticket_stale, ticket_closed")
    keywords: Any = Field(default=None, description="for the keyword trigger: words or phrases")
    conditions: Any = Field(default=None, description='{"all": [...]} or {"any": [...]}, nestable; each '
                                                      'condition {"field", "op", "value"}')
    actions: Any = Field(default=None, description='ordered list, e.g. [{"type": "assign_round_robin"}]')
    stop_processing: Any = Field(default=None, description="later rules do not run for the event when this "
                                                           "one matched")


class RuleOut(BaseModel):
    id: int
    name: str
    enabled: bool
    position: int
    trigger: str
    keywords: list[str]
    conditions: dict[str, Any] | None
    actions: list[dict[str, Any]]
    stop_processing: bool
    version: int
    created_at: str
    updated_at: str
    created_by_id: int | None


class RuleList(BaseModel):
    items: list[RuleOut]


class ReorderIn(Strict):
    ids: list[Id] = Field(description="every rule's id, in the order they should run")


class DryRunEvent(Strict):
    type: str = Field(description="an event type, e.g. ticket.status_changed")
    payload: dict[str, Any] = Field(default_factory=dict, description="the event's details, e.g. "
                                                                      '{"after": {"status": "waiting"}}')


class DryRunIn(Strict):
    ticket: Number = Field(description="the ticket's number")
    event: DryRunEvent | None = Field(default=None, description="default: the event the rule's trigger listens to")


class ConditionResult(BaseModel):
    path: str
    field: str
    op: str
    value: Any
    actual: Any
    result: bool


class DryRunOut(BaseModel):
    rule_id: int
    ticket_number: int
    event: dict[str, Any]
    trigger_fired: bool
    keyword: str | None
    matched: bool = Field(description="the trigger fired and the conditions hold: the actions would run")
    conditions_matched: bool
    conditions: list[ConditionResult]
    changes: list[dict[str, Any]] = Field(description="what each action would do: the events it would write")
    error: str | None = Field(description="the action that would fail, undoing the rule's changes")


class RuleRunOut(BaseModel):
    id: int
    rule_id: int | None
    rule_name: str
    ticket_number: int | None
    event_id: int | None
    event_type: str
    trigger: str
    depth: int
    changes: list[dict[str, Any]]
    error: str | None
    stopped: str | None
    occurred_at: str


class RuleRunPage(BaseModel):
    items: list[RuleRunOut]
    next_cursor: str | None
