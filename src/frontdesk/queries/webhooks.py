"""Webhook endpoints and their delivery log, as the API shows them (never a secret)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.actions.webhooks import get_endpoint
from frontdesk.db.models import OutboxItem, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from frontdesk.domain.errors import NotFound, NotPermitted, ValidationFailed
from frontdesk.queries.tickets import check_limit, decode_cursor, encode_cursor


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _require_management(tx: Tx) -> None:
    if not tx.actor.is_management:
        raise NotPermitted("only management may see webhooks")


def present_endpoint(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "name": endpoint.name,
        "url": endpoint.url,
        "enabled": endpoint.enabled,
        "events": list(endpoint.events or []),
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "previous_secret_valid_until": _iso(endpoint.previous_secret_expires_at)
        if endpoint.previous_secret_encrypted else None,
        "created_at": _iso(endpoint.created_at),
        "updated_at": _iso(endpoint.updated_at),
    }


async def list_endpoints(tx: Tx) -> list[dict[str, Any]]:
    _require_management(tx)
    rows = (await tx.session.execute(select(WebhookEndpoint).where(WebhookEndpoint.workspace_id == tx.workspace_id)
                                     .order_by(WebhookEndpoint.id))).scalars()
    return [present_endpoint(e) for e in rows]


async def endpoint_view(tx: Tx, endpoint_id: int) -> dict[str, Any]:
    _require_management(tx)
    return present_endpoint(await get_endpoint(tx, endpoint_id))


def delivery_state(item: OutboxItem | None) -> str:
    """pending (not tried yet), retrying (failed, tried again later), succeeded, failed (given up)."""
    if item is None:
        return "failed"
    if item.status == "done":
        return "succeeded"
    if item.status == "dead":
        return "failed"
    return "retrying" if item.last_error else "pending"


def present_delivery(delivery: WebhookDelivery, item: OutboxItem | None,
                     attempts: list[WebhookAttempt]) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "webhook_id": delivery.message_id,
        "event_type": delivery.event_type,
        "event_id": delivery.event_id,
        "status": delivery_state(item),
        "next_attempt_at": _iso(item.next_attempt_at) if item is not None and item.status == "pending" else None,
        "last_error": item.last_error if item is not None else None,
        "created_at": _iso(delivery.created_at),
        "body": delivery.body,
        "attempts": [{"attempt": a.attempt, "started_at": _iso(a.started_at), "status_code": a.status_code,
                      "latency_ms": a.latency_ms, "response_excerpt": a.response_excerpt, "error": a.error}
                     for a in attempts],
    }


async def _present(tx: Tx, deliveries: list[WebhookDelivery]) -> list[dict[str, Any]]:
    ids = [d.id for d in deliveries]
    outbox_ids = [d.outbox_id for d in deliveries if d.outbox_id is not None]
    items = {i.id: i for i in (await tx.session.execute(
        select(OutboxItem).where(OutboxItem.id.in_(outbox_ids)))).scalars()} if outbox_ids else {}
    attempts: dict[int, list[WebhookAttempt]] = defaultdict(list)
    if ids:
        for a in (await tx.session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids))
                                           .order_by(WebhookAttempt.delivery_id, WebhookAttempt.id))).scalars():
            attempts[a.delivery_id].append(a)
    return [present_delivery(d, items.get(d.outbox_id) if d.outbox_id else None, attempts[d.id])
            for d in deliveries]


async def list_deliveries(tx: Tx, endpoint_id: int, *, cursor: str | None = None,
                          limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    """An endpoint's deliveries, newest first, each with its attempts. Management only."""
    _require_management(tx)
    check_limit(limit)
    endpoint = await get_endpoint(tx, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if cursor:
        before = decode_cursor(cursor).get("before")
        if not isinstance(before, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(WebhookDelivery.id < before)
    rows = list((await tx.session.execute(stmt.order_by(WebhookDelivery.id.desc()).limit(limit + 1))).scalars())
    page = rows[:limit]
    next_cursor = encode_cursor({"before": page[-1].id}) if len(rows) > limit else None
    return await _present(tx, page), next_cursor


async def delivery_view(tx: Tx, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    _require_management(tx)
    delivery = (await tx.session.execute(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id,
        WebhookDelivery.workspace_id == tx.workspace_id))).scalar_one_or_none()
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} of webhook {endpoint_id} not found")
    return (await _present(tx, [delivery]))[0]
