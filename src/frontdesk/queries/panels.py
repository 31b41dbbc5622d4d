"""Panels as the API and the bot read them, and the ticket types a panel shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.actions.panels import require_panel_manager
from frontdesk.db.models import DiscordPanel, TicketType
from frontdesk.domain.errors import NotFound, ValidationFailed
from frontdesk.queries.tickets import check_limit, decode_cursor, encode_cursor


def panel_json(panel: DiscordPanel) -> dict[str, Any]:
    return {
        "id": panel.id,
        "channel_id": panel.channel_id,
        "message_id": panel.message_id,
        "posted": panel.message_id is not None,
        "title": panel.title,
        "description": panel.description,
        "type_ids": list(panel.type_ids or []),
        "created_by_id": panel.created_by_id,
        "created_at": panel.created_at.isoformat(),
    }


async def list_panels(tx: Tx, *, cursor: str | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """The workspace's panels, oldest first. Panel managers only."""
    require_panel_manager(tx.actor)
    check_limit(limit)
    stmt = select(DiscordPanel).where(DiscordPanel.workspace_id == tx.workspace_id)
    if cursor:
        after = decode_cursor(cursor).get("id")
        if not isinstance(after, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(DiscordPanel.id > after)
    rows = list((await tx.session.execute(stmt.order_by(DiscordPanel.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return [panel_json(p) for p in rows], encode_cursor({"id": rows[-1].id}) if more else None


async def read_panel(tx: Tx, panel_id: int) -> DiscordPanel:
    panel = await tx.session.scalar(select(DiscordPanel).where(DiscordPanel.id == panel_id,
                                                               DiscordPanel.workspace_id == tx.workspace_id))
    if panel is None:
        raise NotFound(f"panel {panel_id} not found")
    return panel


async def shown_types(tx: Tx, type_ids: list[int]) -> list[TicketType]:
    """The types of ``type_ids`` still open for tickets, in that order (archived or deleted
    types drop out)."""
    if not type_ids:
        return []
    rows = {t.id: t for t in (await tx.session.scalars(select(TicketType).where(
        TicketType.workspace_id == tx.workspace_id, TicketType.id.in_(type_ids),
        TicketType.archived.is_(False)))).all()}
    return [rows[i] for i in type_ids if i in rows]


async def active_types(tx: Tx) -> list[TicketType]:
    """Every ticket type that is not archived, by name."""
    return list((await tx.session.scalars(select(TicketType).where(
        TicketType.workspace_id == tx.workspace_id, TicketType.archived.is_(False)).order_by(TicketType.name))).all())


async def type_ids_named(tx: Tx, names: list[str]) -> list[int]:
    """The ids of the active types called ``names`` (any case), in that order; an unknown name
    is refused naming it and the known ones."""
    types = await active_types(tx)
    by_name = {t.name.casefold(): t.id for t in types}
    ids = []
    for name in names:
        found = by_name.get(name.strip().casefold())
        if found is None:
            known = ", ".join(t.name for t in types) or "none yet"
            raise ValidationFailed(f"there is no ticket type named {name.strip()!r} (types: {known})", field="types")
        ids.append(found)
    return ids


async def ticket_type(tx: Tx, type_id: int) -> TicketType | None:
    return await tx.session.scalar(select(TicketType).where(TicketType.id == type_id,
                                                            TicketType.workspace_id == tx.workspace_id))
