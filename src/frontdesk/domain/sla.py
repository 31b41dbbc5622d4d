"""SLA policies and the SLA clock.

A policy sets first-response and resolution targets in minutes (at least 5) per priority,
counted in business hours or in calendar time. The clock runs only while a ticket is Open or
In progress and not explicitly paused; it resumes where it stopped, so a due time is the
moment the remaining target runs out counting from the last resume.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from frontdesk.domain.calendar import BusinessHours
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.tickets import Priority, Status

MIN_TARGET_MINUTES = 5
DEFAULT_FIRST_RESPONSE = {Priority.URGENT: 15, Priority.HIGH: 60, Priority.NORMAL: 240, Priority.LOW: 1440}
KINDS = ("first_response", "resolution")


@dataclass(frozen=True)
class SlaPolicy:
    first_response: dict[Priority, int]
    resolution: dict[Priority, int]
    business_hours: bool = True

    @classmethod
    def default(cls) -> SlaPolicy:
        # Resolution defaults to eight times the response target (urgent: two hours).
        return cls(dict(DEFAULT_FIRST_RESPONSE), {p: m * 8 for p, m in DEFAULT_FIRST_RESPONSE.items()})

    @classmethod
    def parse(cls, data: dict[str, Any], *, field: str = "sla", base: SlaPolicy | None = None) -> SlaPolicy:
        """Read ``{"first_response": {"urgent": 15, ...}, "resolution": {...}, "business_hours": true}``
        over ``base`` (the defaults, or a workspace policy a ticket type overrides)."""
        policy = base or cls.default()
        if not isinstance(data, dict):
            raise ValidationFailed("an SLA policy is an object", field=field)
        unknown = set(data) - {*KINDS, "business_hours"}
        if unknown:
            key = sorted(unknown)[0]
            raise ValidationFailed(f"unknown key {key!r}", field=f"{field}.{key}")
        targets: dict[str, dict[Priority, int]] = {k: dict(getattr(policy, k)) for k in KINDS}
        for kind in KINDS:
            given = data.get(kind, {})
            if not isinstance(given, dict):
                raise ValidationFailed("targets map priorities to minutes", field=f"{field}.{kind}")
            for name, minutes in given.items():
                where = f"{field}.{kind}.{name}"
                try:
                    priority = Priority(name)
                except ValueError:
                    raise ValidationFailed(f"{name!r} is not a priority", field=where) from None
                if isinstance(minutes, bool) or not isinstance(minutes, int):
                    raise ValidationFailed("a target is a whole number of minutes", field=where)
                if minutes < MIN_TARGET_MINUTES:
                    raise ValidationFailed(f"a target is at least {MIN_TARGET_MINUTES} minutes", field=where)
                targets[kind][priority] = minutes
        business = data.get("business_hours", policy.business_hours)
        if not isinstance(business, bool):
            raise ValidationFailed("business_hours is true or false", field=f"{field}.business_hours")
        return replace(policy, first_response=targets["first_response"], resolution=targets["resolution"],
                       business_hours=business)

    def target(self, kind: str, priority: Priority) -> int:
        return (self.first_response if kind == "first_response" else self.resolution)[priority]


def clock_runs(status: Status, paused: bool) -> bool:
    """Open and In progress count toward the SLA; Waiting, Resolved, Closed and a pause stop it."""
    return status.counts_toward_sla and not paused


@dataclass(frozen=True)
class SlaClock:
    """How much target time a ticket has used (``used_minutes``, counted in the policy's
    terms) and, while running, since when."""

    used_minutes: float = 0.0
    running_since: datetime | None = None

    def start(self, at: datetime) -> SlaClock:
        return self if self.running_since is not None else replace(self, running_since=at)

    def stop(self, at: datetime, hours: BusinessHours | None) -> SlaClock:
        if self.running_since is None:
            return self
        return SlaClock(self.used_minutes + _span(self.running_since, at, hours), None)

    def used_at(self, at: datetime, hours: BusinessHours | None) -> float:
        if self.running_since is None:
            return self.used_minutes
        return self.used_minutes + _span(self.running_since, at, hours)

    def due(self, target_minutes: int, hours: BusinessHours | None) -> datetime | None:
        """When ``target_minutes`` run out, if the clock keeps running; ``None`` while stopped."""
        if self.running_since is None:
            return None
        left = max(0.0, target_minutes - self.used_minutes)
        if hours is None:
            return self.running_since + timedelta(minutes=left)
        return hours.add_business_minutes(self.running_since, left)


def _span(start: datetime, end: datetime, hours: BusinessHours | None) -> float:
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start) / timedelta(minutes=1)
    return hours.business_minutes_between(start, end)
