"""The quality flags list: tickets waiting for a review, newest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.db.models import QualityFlag, Ticket
from frontdesk.domain.permissions import require_staff


def present_flag(flag: QualityFlag, ticket_number: int | None) -> dict[str, Any]:
    return {
        "id": flag.id,
        "kind": flag.kind,
        "ticket_number": ticket_number,
        "detail": flag.detail or {},
        "created_at": flag.created_at.isoformat(),
        "resolved_at": flag.resolved_at.isoformat() if flag.resolved_at else None,
        "resolved_by_id": flag.resolved_by_id,
        "resolution_note": flag.resolution_note,
    }


async def list_flags(tx: Tx, *, state: str = "open", limit: int = 50,
                     before_id: int | None = None) -> list[dict[str, Any]]:
    """Flags of the workspace (``open``, ``resolved`` or ``all``), for staff. Flags on
    locked-down tickets are listed for management only, like the tickets themselves."""
    require_staff(tx.actor, "read quality flags")
    stmt = (select(QualityFlag, Ticket.number).join(Ticket, Ticket.id == QualityFlag.ticket_id)
            .where(QualityFlag.workspace_id == tx.workspace_id).order_by(QualityFlag.id.desc()).limit(limit))
    if state == "open":
        stmt = stmt.where(QualityFlag.resolved_at.is_(None))
    elif state == "resolved":
        stmt = stmt.where(QualityFlag.resolved_at.is_not(None))
    if before_id is not None:
        stmt = stmt.where(QualityFlag.id < before_id)
    if not tx.actor.is_management:
        stmt = stmt.where(Ticket.lockdown.is_(False))
    return [present_flag(flag, number) for flag, number in (await tx.session.execute(stmt)).all()]
