"""The quality flags list: tickets waiting for a review, newest first, with filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.db.models import QualityFlag, Ticket
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.queries.tickets import check_limit, decode_cursor, encode_cursor
from frontdesk.queries.visibility import staffed_tickets_clause

FLAG_STATUSES = ("open", "resolved", "all")
FLAG_KINDS = ("negative_csat", "escalated", "low_confidence")


def ticket_link(ticket: Ticket) -> dict[str, Any]:
    """What a flag says about its ticket: enough to show it and to go there."""
    return {"number": ticket.number, "path": f"/api/v1/tickets/{ticket.number}", "title": ticket.title,
            "status": ticket.status}


def present_flag(flag: QualityFlag, ticket: Ticket) -> dict[str, Any]:
    return {
        "id": flag.id,
        "kind": flag.kind,
        "status": "resolved" if flag.resolved_at is not None else "open",
        "ticket_number": ticket.number,
        "ticket": ticket_link(ticket),
        "detail": flag.detail or {},
        "created_at": flag.created_at.isoformat(),
        "resolved_at": flag.resolved_at.isoformat() if flag.resolved_at else None,
        "resolved_by_id": flag.resolved_by_id,
        "resolution_note": flag.resolution_note,
    }


async def list_flags(tx: Tx, *, status: str = "open", kind: str | None = None, ticket_number: int | None = None,
                     created_since: datetime | None = None, created_until: datetime | None = None,
                     cursor: str | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Flags of the workspace (``open``, ``resolved`` or ``all``), newest first, for staff:
    flags on the tickets they work as staff (all of them for management, locked-down ones
    included; never a locked-down one for anyone else). ``created_since`` is inclusive,
    ``created_until`` exclusive."""
    require_staff(tx.actor, "read quality flags")
    check_limit(limit)
    if status not in FLAG_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(FLAG_STATUSES)}", field="status")
    if kind is not None and kind not in FLAG_KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(FLAG_KINDS)}", field="kind")
    if created_since is not None and created_until is not None and created_until <= created_since:
        raise ValidationFailed("created_until must be after created_since", field="created_until")
    stmt = (select(QualityFlag, Ticket).join(Ticket, Ticket.id == QualityFlag.ticket_id)
            .where(QualityFlag.workspace_id == tx.workspace_id, await staffed_tickets_clause(tx)))
    if status == "open":
        stmt = stmt.where(QualityFlag.resolved_at.is_(None))
    elif status == "resolved":
        stmt = stmt.where(QualityFlag.resolved_at.is_not(None))
    if kind is not None:
        stmt = stmt.where(QualityFlag.kind == kind)
    if ticket_number is not None:
        stmt = stmt.where(Ticket.number == ticket_number)
    if created_since is not None:
        stmt = stmt.where(QualityFlag.created_at >= created_since)
    if created_until is not None:
        stmt = stmt.where(QualityFlag.created_at < created_until)
    if cursor:
        before = decode_cursor(cursor).get("before")
        if isinstance(before, bool) or not isinstance(before, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(QualityFlag.id < before)
    rows = (await tx.session.execute(stmt.order_by(QualityFlag.id.desc()).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"before": rows[-1][0].id}) if more else None
    return [present_flag(flag, ticket) for flag, ticket in rows], next_cursor
