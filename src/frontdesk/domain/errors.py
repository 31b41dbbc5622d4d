"""Domain errors: values the caller can act on.

Each error carries a stable ``code`` and, where one input is at fault, the ``field``
that caused it. Entry points map them once, at the edge: the API to HTTP statuses and
problem+json, the CLI to exit codes, the Discord bot to ephemeral replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class DomainError(Exception):
    """Base of every error an action may raise on purpose."""

    code = "error"
    title = "Request failed"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra

    @property
    def problems(self) -> list[FieldProblem]:
        return [FieldProblem(self.field, self.message)] if self.field else []


class ValidationFailed(DomainError):
    """Input is malformed or out of range. Maps to 422."""

    code = "validation_failed"
    title = "Invalid input"

    def __init__(self, message: str, *, field: str | None = None, problems: list[FieldProblem] | None = None,
                 **extra: Any) -> None:
        super().__init__(message, field=field, **extra)
        self._problems = problems

    @property
    def problems(self) -> list[FieldProblem]:
        if self._problems is not None:
            return self._problems
        return super().problems


class NotFound(DomainError):
    """The thing does not exist, or the caller may not see it. Maps to 404."""

    code = "not_found"
    title = "Not found"


class NotPermitted(DomainError):
    """The caller may see the thing but not change it this way. Maps to 403."""

    code = "not_permitted"
    title = "Not permitted"


class NotAuthenticated(DomainError):
    """No valid credentials were presented. Maps to 401."""

    code = "not_authenticated"
    title = "Not authenticated"


class Conflict(DomainError):
    """The request is valid but clashes with the current state. Maps to 409."""

    code = "conflict"
    title = "Conflict"


class TicketClosed(Conflict):
    code = "ticket_closed"
    title = "Ticket is closed"


class TicketNotClosed(Conflict):
    code = "ticket_not_closed"
    title = "Ticket is not closed"


class OpenLimitReached(Conflict):
    code = "open_limit_reached"
    title = "Open ticket limit reached"


class DeskClosed(Conflict):
    """The workspace takes new tickets during business hours only."""

    code = "outside_business_hours"
    title = "Outside business hours"


class AlreadyClaimed(Conflict):
    code = "already_claimed"
    title = "Ticket already claimed"


class MergeRefused(Conflict):
    code = "merge_refused"
    title = "Merge refused"


class UnmergeRefused(Conflict):
    code = "unmerge_refused"
    title = "Unmerge refused"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "Idempotency key reused with a different request"


@dataclass
class BulkItemResult:
    """The outcome of one ticket inside a bulk operation."""

    ticket_number: int
    ok: bool
    error_code: str | None = None
    message: str | None = None
    changed: dict[str, Any] = field(default_factory=dict)
