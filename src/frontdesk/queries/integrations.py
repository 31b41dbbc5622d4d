"""Reading connections and ticket links; credentials appear only as which ones are set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, ticket_for
from frontdesk.actions.integrations import credentials_set, get_connection
from frontdesk.db.models import IntegrationConnection, TicketLink
from frontdesk.domain.integrations import Kind, credential_names
from frontdesk.domain.permissions import Capability, require_staff


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def present_connection(connection: IntegrationConnection) -> dict[str, Any]:
    held = set(credentials_set(connection))
    return {
        "id": connection.id, "kind": connection.kind, "name": connection.name, "enabled": connection.enabled,
        "config": connection.config,
        "credentials": {name: name in held for name in credential_names(Kind(connection.kind))},
        "member_id": connection.member_id,
        "created_at": _iso(connection.created_at), "updated_at": _iso(connection.updated_at),
    }


async def list_connections(tx: Tx, *, cursor: int | None, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    """Staff may list connections (to pick one when linking a ticket); a page by id."""
    require_staff(tx.actor, "list integrations")
    stmt = select(IntegrationConnection).where(IntegrationConnection.workspace_id == tx.workspace_id)
    if cursor is not None:
        stmt = stmt.where(IntegrationConnection.id > cursor)
    rows = list((await tx.session.execute(stmt.order_by(IntegrationConnection.id).limit(limit + 1))).scalars())
    page = rows[:limit]
    return [present_connection(c) for c in page], (page[-1].id if len(rows) > limit else None)


async def show_connection(tx: Tx, connection_id: int) -> dict[str, Any]:
    require_staff(tx.actor, "read integrations")
    return present_connection(await get_connection(tx, connection_id))


def present_link(link: TicketLink, connection: IntegrationConnection | None, number: int) -> dict[str, Any]:
    return {
        "id": link.id, "ticket_number": number, "connection_id": link.connection_id,
        "kind": connection.kind if connection else None, "external_id": link.external_id, "key": link.key,
        "url": link.url, "external_status": link.external_status, "sync_state": link.sync_state,
        "last_error": link.last_error, "created_by_id": link.created_by_id, "created_at": _iso(link.created_at),
        "last_synced_at": _iso(link.last_synced_at),
    }


async def list_links(tx: Tx, number: int) -> list[dict[str, Any]]:
    """A ticket's links, oldest first. Staff on the ticket (its links are internal)."""
    ticket = await ticket_for(tx, number, Capability.NOTE, for_update=False)
    rows = (await tx.session.execute(
        select(TicketLink, IntegrationConnection)
        .join(IntegrationConnection, IntegrationConnection.id == TicketLink.connection_id)
        .where(TicketLink.ticket_id == ticket.id).order_by(TicketLink.id))).all()
    return [present_link(link, connection, ticket.number) for link, connection in rows]
