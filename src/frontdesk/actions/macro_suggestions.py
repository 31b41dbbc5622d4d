"""Suggested macros: recording what the daily mining found, and staff accepting (which
creates the macro) or dismissing (never proposed again) each one. Nothing here creates a
macro without a member asking for it."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.actions.macros import create_macro, require_macro_editor
from frontdesk.db.models import Macro, MacroSuggestion
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted
from frontdesk.domain.macro_mining import Suggestion

PENDING, ACCEPTED, DISMISSED = "pending", "accepted", "dismissed"
STATUSES = (PENDING, ACCEPTED, DISMISSED)


async def record_suggestions(tx: Tx, found: list[Suggestion]) -> list[MacroSuggestion]:
    """Store what mining found as pending suggestions. The desk itself (the worker).
    Emits ``macro_suggestion.created`` for each."""
    if not tx.actor.is_system:
        raise NotPermitted("suggested macros are found by the desk itself")
    rows = []
    for suggestion in found:
        row = MacroSuggestion(
            workspace_id=tx.workspace_id, text_hash=suggestion.text_hash, content=suggestion.content,
            suggested_shortcut=suggestion.suggested_shortcut, message_count=suggestion.message_count,
            ticket_count=suggestion.ticket_count, example_ticket_numbers=list(suggestion.example_ticket_numbers),
            status=PENDING, created_at=tx.now)
        tx.session.add(row)
        rows.append(row)
    if rows:
        await tx.session.flush()
    for row in rows:
        await tx.record(ev.MACRO_SUGGESTION_CREATED, suggestion_id=row.id, suggested_shortcut=row.suggested_shortcut,
                        message_count=row.message_count, ticket_count=row.ticket_count,
                        example_ticket_numbers=row.example_ticket_numbers)
    return rows


async def _pending(tx: Tx, suggestion_id: int) -> MacroSuggestion:
    row = (await tx.session.execute(select(MacroSuggestion).where(
        MacroSuggestion.id == suggestion_id, MacroSuggestion.workspace_id == tx.workspace_id)
        .with_for_update())).scalar_one_or_none()
    if row is None:
        raise NotFound(f"macro suggestion {suggestion_id} not found")
    if row.status != PENDING:
        raise Conflict(f"macro suggestion {suggestion_id} is already {row.status}")
    return row


async def accept_suggestion(tx: Tx, suggestion_id: int, *, shortcut: str, category: str | None = None,
                            content: str | None = None) -> tuple[MacroSuggestion, Macro]:
    """Create the macro a pending suggestion proposes, with the shortcut staff chose (and
    their edits to the content, if any). Management or ``macros.manage``; a taken shortcut
    is a 422 naming ``shortcut``, a decided suggestion a 409. Emits ``macro.created`` and
    ``macro_suggestion.accepted``."""
    require_macro_editor(tx.actor)
    row = await _pending(tx, suggestion_id)
    macro = await create_macro(tx, shortcut=shortcut, content=row.content if content is None else content,
                               category=category)
    row.status, row.macro_id = ACCEPTED, macro.id
    row.decided_by_id, row.decided_at = tx.actor.member_id, tx.now
    await tx.record(ev.MACRO_SUGGESTION_ACCEPTED, suggestion_id=row.id, macro_id=macro.id, shortcut=macro.shortcut)
    return row, macro


async def dismiss_suggestion(tx: Tx, suggestion_id: int) -> MacroSuggestion:
    """Hide a pending suggestion for good: its text is never proposed again. Management or
    ``macros.manage``; a decided suggestion is a 409. Emits ``macro_suggestion.dismissed``."""
    require_macro_editor(tx.actor)
    row = await _pending(tx, suggestion_id)
    row.status = DISMISSED
    row.decided_by_id, row.decided_at = tx.actor.member_id, tx.now
    await tx.record(ev.MACRO_SUGGESTION_DISMISSED, suggestion_id=row.id)
    return row
