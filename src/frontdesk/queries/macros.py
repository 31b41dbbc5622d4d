"""Macros and suggested macros as the API shows them: lists, search, pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from frontdesk.actions.base import Tx
from frontdesk.actions.macro_suggestions import STATUSES
from frontdesk.db.models import Macro, MacroSuggestion
from frontdesk.domain.errors import NotFound, ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.domain.templating import variables_in
from frontdesk.queries.tickets import check_limit, decode_cursor, encode_cursor

Q_MAX = 200


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def macro_json(macro: Macro) -> dict[str, Any]:
    return {
        "id": macro.id,
        "shortcut": macro.shortcut,
        "content": macro.content,
        "category": macro.category,
        "send_as_staff": macro.send_as_staff,
        "variables": variables_in(macro.content),
        "created_by_id": macro.created_by_id,
        "usage_count": macro.usage_count,
        "last_used_at": _iso(macro.last_used_at),
        "created_at": _iso(macro.created_at),
        "updated_at": _iso(macro.updated_at),
    }


def suggestion_json(row: MacroSuggestion) -> dict[str, Any]:
    return {
        "id": row.id,
        "content": row.content,
        "suggested_shortcut": row.suggested_shortcut,
        "message_count": row.message_count,
        "ticket_count": row.ticket_count,
        "example_ticket_numbers": list(row.example_ticket_numbers or []),
        "status": row.status,
        "macro_id": row.macro_id,
        "decided_by_id": row.decided_by_id,
        "decided_at": _iso(row.decided_at),
        "created_at": _iso(row.created_at),
    }


async def read_macro(tx: Tx, macro_id: int) -> dict[str, Any]:
    """One macro, for staff."""
    require_staff(tx.actor, "read macros")
    macro = await tx.session.scalar(select(Macro).where(Macro.id == macro_id, Macro.workspace_id == tx.workspace_id))
    if macro is None:
        raise NotFound(f"macro {macro_id} not found")
    return macro_json(macro)


async def list_macros(tx: Tx, *, q: str | None = None, category: str | None = None, cursor: str | None = None,
                      limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """The workspace's macros by shortcut, for staff. ``q`` finds text in the shortcut, the
    content or the category (case-insensitive); ``category`` keeps one category (same)."""
    require_staff(tx.actor, "read macros")
    check_limit(limit)
    stmt = select(Macro).where(Macro.workspace_id == tx.workspace_id)
    if q is not None and q.strip():
        text = q.strip().lower()
        if len(text) > Q_MAX:
            raise ValidationFailed(f"q must be at most {Q_MAX} characters", field="q")
        stmt = stmt.where(or_(*(func.lower(column).contains(text, autoescape=True)
                                for column in (Macro.shortcut, Macro.content, Macro.category))))
    if category is not None and category.strip():
        stmt = stmt.where(func.lower(Macro.category) == " ".join(category.split()).lower())
    if cursor:
        after = decode_cursor(cursor).get("s")
        if not isinstance(after, str):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(Macro.shortcut > after)
    rows = list((await tx.session.execute(stmt.order_by(Macro.shortcut).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return [macro_json(m) for m in rows], encode_cursor({"s": rows[-1].shortcut}) if more else None


async def list_suggestions(tx: Tx, *, status: str | None = "pending", cursor: str | None = None,
                           limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """Suggested macros, most repeated first (then newest), for staff; ``status`` ``None``
    lists every status."""
    require_staff(tx.actor, "read suggested macros")
    check_limit(limit)
    if status is not None and status not in STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(STATUSES)}", field="status")
    stmt = select(MacroSuggestion).where(MacroSuggestion.workspace_id == tx.workspace_id)
    if status is not None:
        stmt = stmt.where(MacroSuggestion.status == status)
    if cursor:
        position = decode_cursor(cursor)
        count, last_id = position.get("c"), position.get("i")
        if not isinstance(count, int) or not isinstance(last_id, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(or_(MacroSuggestion.message_count < count,
                              (MacroSuggestion.message_count == count) & (MacroSuggestion.id < last_id)))
    rows = list((await tx.session.execute(
        stmt.order_by(MacroSuggestion.message_count.desc(), MacroSuggestion.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"c": rows[-1].message_count, "i": rows[-1].id}) if more else None
    return [suggestion_json(r) for r in rows], next_cursor
