"""Bulk operations: one change applied to many tickets, each ticket's result reported.

Each ticket runs in a savepoint, so one refused ticket (not permitted, closed, unknown)
neither stops nor undoes the others. The events are the single actions' events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from frontdesk.actions.base import Tx
from frontdesk.actions.lifecycle import close_ticket, parse_close_reason
from frontdesk.actions.tickets import add_tag, assign_ticket, remove_tag, set_status
from frontdesk.domain.errors import BulkItemResult, DomainError, ValidationFailed
from frontdesk.domain.tickets import Status

BULK_MAX = 500


async def _each(tx: Tx, numbers: list[int], change: Callable[[int], Awaitable[Any]]) -> list[BulkItemResult]:
    if not numbers:
        raise ValidationFailed("give at least one ticket number", field="numbers")
    if len(numbers) > BULK_MAX:
        raise ValidationFailed(f"at most {BULK_MAX} tickets at once", field="numbers")
    results: list[BulkItemResult] = []
    for number in dict.fromkeys(numbers):
        recorded = len(tx.events)
        try:
            async with tx.session.begin_nested():
                await change(number)
        except DomainError as exc:
            del tx.events[recorded:]  # rolled back with the savepoint
            results.append(BulkItemResult(number, False, exc.code, exc.message))
        else:
            results.append(BulkItemResult(number, True))
    return results


async def bulk_assign(tx: Tx, numbers: list[int], assignee_id: int | None) -> list[BulkItemResult]:
    """Assign many tickets to one member (or unassign them). Staff; per-ticket permission as
    ``assign_ticket``. Emits ``ticket.assigned`` per changed ticket."""
    return await _each(tx, numbers, lambda n: assign_ticket(tx, n, assignee_id))


async def bulk_tag(tx: Tx, numbers: list[int], *, add: list[str] | None = None,
                   remove: list[str] | None = None) -> list[BulkItemResult]:
    """Add and remove tags on many tickets. Emits ``ticket.tag_added`` / ``ticket.tag_removed``."""
    if not add and not remove:
        raise ValidationFailed("give tags to add or remove", field="add")

    async def change(number: int) -> None:
        for tag in add or []:
            await add_tag(tx, number, tag)
        for tag in remove or []:
            await remove_tag(tx, number, tag)

    return await _each(tx, numbers, change)


async def bulk_status(tx: Tx, numbers: list[int], status: str, *, reason: str | None = None,
                      note: str | None = None) -> list[BulkItemResult]:
    """Change the status of many tickets; ``closed`` closes them with ``reason``.
    Emits ``ticket.status_changed`` or ``ticket.closed`` per changed ticket."""
    if status not in {s.value for s in Status}:
        raise ValidationFailed(f"status must be one of {', '.join(s.value for s in Status)}", field="status")
    if status == "closed":
        parse_close_reason(reason)
        return await _each(tx, numbers, lambda n: close_ticket(tx, n, reason=reason or "", note=note))
    return await _each(tx, numbers, lambda n: set_status(tx, n, status))
