"""Choosing who gets a new ticket: manual only, round robin, or load balanced.

Pure choices over plain data. The caller gives the eligible staff (the type's staff roles or
its team, available members only) and, for round robin, the member chosen last time (stored
in the database, not in memory), or, for load balancing, each candidate's open assigned
tickets. Ties and orders are by member id, so every process makes the same choice.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping

from frontdesk.domain.errors import ValidationFailed


class AssignmentMode(enum.StrEnum):
    MANUAL = "manual"
    ROUND_ROBIN = "round_robin"
    LOAD_BALANCED = "load_balanced"


def parse_mode(value: str, *, field: str = "assignment_mode") -> AssignmentMode:
    try:
        return AssignmentMode(value)
    except ValueError:
        raise ValidationFailed(f"assignment mode must be one of {', '.join(m.value for m in AssignmentMode)}",
                               field=field) from None


def next_in_rotation(eligible: Iterable[int], last: int | None) -> int | None:
    """The member after ``last`` in id order, wrapping around; the first when ``last`` is
    unknown or no longer eligible keeps its place (the next id above it)."""
    ordered = sorted(set(eligible))
    if not ordered:
        return None
    if last is None:
        return ordered[0]
    return next((m for m in ordered if m > last), ordered[0])


def least_loaded(open_counts: Mapping[int, int]) -> int | None:
    """The candidate with the fewest open assigned tickets; the lowest id among equals."""
    if not open_counts:
        return None
    return min(open_counts, key=lambda member_id: (open_counts[member_id], member_id))
