"""The staff queue: tickets waiting on the team, in the order they should be worked.

The queue holds the tickets not yet Resolved or Closed that the caller may see *as staff*,
sorted by SLA due time (the earliest first, tickets with no running SLA last), then priority,
then number. Views narrow it (unclaimed, mine, escalated, awaiting staff, awaiting customer);
the counts of every view come from one query over the whole queue, whatever view is shown.
Pages are keyset pages on the sort key, so a ticket claimed or answered while someone pages
through never makes the next page skip or repeat another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, literal_column, or_, select, true

from frontdesk.actions.base import Tx
from frontdesk.db.models import Ticket
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.domain.tickets import Priority, Status
from frontdesk.queries.tickets import check_limit, decode_cursor, encode_cursor, present_tickets
from frontdesk.queries.visibility import staffed_tickets_clause

VIEWS = ("all", "unclaimed", "mine", "escalated", "awaiting_staff", "awaiting_customer")

# Statuses that leave the queue: the work is done (Resolved) or over (Closed; merged tickets too).
# Written into the SQL as constants, so PostgreSQL can match ``status <> 'closed'`` to the partial
# index ix_tickets_queue even in a generic prepared plan.
NOT_CLOSED = Ticket.status != literal_column(f"'{Status.CLOSED.value}'")
NOT_RESOLVED = Ticket.status != literal_column(f"'{Status.RESOLVED.value}'")

# Queue order: urgent first (the reverse of ``Priority.rank``).
PRIORITY_RANK = {p.value: Priority.URGENT.rank - p.rank for p in Priority}
UNKNOWN_RANK = len(PRIORITY_RANK)

INT32_MAX = 2**31 - 1


@dataclass
class QueuePage:
    view: str
    items: list[dict[str, Any]]
    counts: dict[str, int]
    next_cursor: str | None


# --- who spoke last ----------------------------------------------------------------------------------------------


def _customer_spoke_last() -> ColumnElement[bool]:
    customer, staff = Ticket.last_customer_message_at, Ticket.last_staff_message_at
    return and_(customer.is_not(None), or_(staff.is_(None), customer > staff))


def _staff_spoke_last() -> ColumnElement[bool]:
    customer, staff = Ticket.last_customer_message_at, Ticket.last_staff_message_at
    return and_(staff.is_not(None), or_(customer.is_(None), staff >= customer))


def awaiting(ticket: Ticket) -> str | None:
    """Whose turn it is, by who wrote the last public message: "staff" when the customer
    did, "customer" when staff did, None before anyone wrote. The same rule as the views."""
    customer, staff = ticket.last_customer_message_at, ticket.last_staff_message_at
    if customer is not None and (staff is None or customer > staff):
        return "staff"
    if staff is not None:
        return "customer"
    return None


def is_breached(ticket: Ticket) -> bool:
    """A target was missed: the breach sweep recorded a first-response or resolution breach
    (the same rule as the ``breached`` of a ticket's SLA)."""
    return ticket.first_response_breached_at is not None or ticket.resolution_breached_at is not None


# --- which tickets ---------------------------------------------------------------------------------------------------


def view_clauses(member_id: int | None) -> dict[str, ColumnElement[bool]]:
    mine: ColumnElement[bool] = false()
    if member_id is not None:
        mine = or_(Ticket.claimer_id == member_id, Ticket.assignee_id == member_id)
    return {
        "all": true(),  # counted as count(*), see ``_count``
        "unclaimed": and_(Ticket.claimer_id.is_(None), Ticket.assignee_id.is_(None)),
        "mine": mine,
        "escalated": Ticket.escalated.is_(True),
        "awaiting_staff": _customer_spoke_last(),
        "awaiting_customer": _staff_spoke_last(),
    }


def _check_view(view: str) -> str:
    if view not in VIEWS:
        raise ValidationFailed(f"view must be one of {', '.join(VIEWS)}", field="view")
    return view


# --- order and cursors -----------------------------------------------------------------------------------------------


def _rank() -> ColumnElement[int]:
    return case(PRIORITY_RANK, value=Ticket.priority, else_=UNKNOWN_RANK)


def _no_due() -> ColumnElement[int]:
    return case((Ticket.sla_due_at.is_(None), 1), else_=0)


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("cursor is not one this API gave out for this view", field="cursor")


def _read_cursor(cursor: str, view: str) -> tuple[datetime | None, int, int]:
    """(due time, priority rank, number) of the last ticket of the previous page."""
    position = decode_cursor(cursor)
    due, rank, number = position.get("d"), position.get("p"), position.get("n")
    if position.get("v") != view:
        raise _bad_cursor()
    for value, high in ((rank, UNKNOWN_RANK), (number, INT32_MAX)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
            raise _bad_cursor()
    if due is None:
        return None, rank, number
    if not isinstance(due, str):
        raise _bad_cursor()
    try:
        when = datetime.fromisoformat(due)
    except ValueError:
        raise _bad_cursor() from None
    if when.tzinfo is None:
        raise _bad_cursor()
    return when, rank, number


def _write_cursor(ticket: Ticket, view: str) -> str:
    due = ticket.sla_due_at.isoformat() if ticket.sla_due_at is not None else None
    return encode_cursor({"v": view, "d": due, "p": PRIORITY_RANK.get(ticket.priority, UNKNOWN_RANK),
                          "n": ticket.number})


def _after(due: datetime | None, rank: int, number: int) -> ColumnElement[bool]:
    """Tickets that sort after the position (due, rank, number), due times NULL last."""
    later_in_tie = or_(_rank() > rank, and_(_rank() == rank, Ticket.number > number))
    if due is None:
        return and_(Ticket.sla_due_at.is_(None), later_in_tie)
    return or_(Ticket.sla_due_at.is_(None), Ticket.sla_due_at > due,
               and_(Ticket.sla_due_at == due, later_in_tie))


def _count(name: str, clause: ColumnElement[bool]) -> ColumnElement[int]:
    if name == "all":
        return func.count().label(name)
    return func.count(case((clause, literal(1)))).label(name)


# --- the query -------------------------------------------------------------------------------------------------------


async def staff_queue(tx: Tx, *, view: str = "all", limit: int = 50, cursor: str | None = None) -> QueuePage:
    """One page of the staff queue in ``view``, with the count of every view. Staff only."""
    require_staff(tx.actor, "read the staff queue")
    _check_view(view)
    check_limit(limit)
    position = _read_cursor(cursor, view) if cursor else None
    base = [Ticket.workspace_id == tx.workspace_id, NOT_CLOSED, NOT_RESOLVED, await staffed_tickets_clause(tx)]
    views = view_clauses(tx.actor.member_id)

    counts_row = (await tx.session.execute(
        select(*(_count(name, clause) for name, clause in views.items()))
        .select_from(Ticket).where(*base))).one()
    counts = {name: int(counts_row[i] or 0) for i, name in enumerate(views)}

    stmt = select(Ticket).where(*base, views[view])
    if position is not None:
        stmt = stmt.where(_after(*position))
    stmt = stmt.order_by(_no_due(), Ticket.sla_due_at, _rank(), Ticket.number).limit(limit + 1)
    rows = list((await tx.session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    items = await present_tickets(tx, rows)
    for item, ticket in zip(items, rows, strict=True):
        item["sla_due_at"] = ticket.sla_due_at.isoformat() if ticket.sla_due_at is not None else None
        item["breached"] = is_breached(ticket)
        item["awaiting"] = awaiting(ticket)
    return QueuePage(view=view, items=items, counts=counts,
                     next_cursor=_write_cursor(rows[-1], view) if more and rows else None)
