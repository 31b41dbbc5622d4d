"""Automation rules and their runs, as staff read them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.actions.rules import get_rule_row, rule_json
from frontdesk.db.models import AutomationRule, RuleRun, Ticket
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.queries.tickets import decode_cursor, encode_cursor


async def list_rules(tx: Tx) -> list[dict[str, Any]]:
    """Every rule of the workspace in the order they run. Staff may read."""
    require_staff(tx.actor, "read automation rules")
    rows = (await tx.session.execute(select(AutomationRule).where(AutomationRule.workspace_id == tx.workspace_id)
                                     .order_by(AutomationRule.position, AutomationRule.id))).scalars()
    return [rule_json(r) for r in rows]


async def get_rule(tx: Tx, rule_id: int) -> dict[str, Any]:
    require_staff(tx.actor, "read automation rules")
    return rule_json(await get_rule_row(tx, rule_id))


def present_run(run: RuleRun, number: int | None) -> dict[str, Any]:
    return {"id": run.id, "rule_id": run.rule_id, "rule_name": run.rule_name, "ticket_number": number,
            "event_id": run.event_id, "event_type": run.event_type, "trigger": run.trigger, "depth": run.depth,
            "changes": run.changes or [], "error": run.error, "stopped": run.stopped,
            "occurred_at": run.occurred_at.isoformat()}


async def list_runs(tx: Tx, *, rule_id: int | None = None, number: int | None = None, cursor: str | None = None,
                    limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Runs newest first, by rule and/or ticket. Staff may read; runs on locked-down tickets
    are listed for management only."""
    require_staff(tx.actor, "read automation runs")
    stmt = (select(RuleRun, Ticket.number).outerjoin(Ticket, Ticket.id == RuleRun.ticket_id)
            .where(RuleRun.workspace_id == tx.workspace_id).order_by(RuleRun.id.desc()).limit(limit + 1))
    if rule_id is not None:
        stmt = stmt.where(RuleRun.rule_id == rule_id)
    if number is not None:
        ticket_id = await tx.session.scalar(select(Ticket.id).where(Ticket.workspace_id == tx.workspace_id,
                                                                    Ticket.number == number))
        stmt = stmt.where(RuleRun.ticket_id == (ticket_id or 0))
    if cursor:
        before = decode_cursor(cursor).get("r")
        if not isinstance(before, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(RuleRun.id < before)
    if not tx.actor.is_management:
        stmt = stmt.where((Ticket.lockdown.is_(False)) | (Ticket.id.is_(None)))
    rows = (await tx.session.execute(stmt)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return [present_run(r, n) for r, n in rows], (encode_cursor({"r": rows[-1][0].id}) if more and rows else None)
