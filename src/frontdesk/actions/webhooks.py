"""Webhook endpoints and what is sent to them.

Management configures endpoints (URL, event selection, signing secret). The before-commit
hook ``deliver_events`` turns each event of a transaction into one delivery per subscribed,
enabled endpoint, written to the outbox in that same transaction; the worker sends it
(``worker/webhooks.py``).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from frontdesk import secretbox
from frontdesk.actions.base import Tx, _jsonable, get_owned
from frontdesk.actions.outbox import enqueue
from frontdesk.db.models import OutboxItem, Ticket, WebhookDelivery, WebhookEndpoint
from frontdesk.domain import events as ev
from frontdesk.domain import webhooks as wh
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.permissions import Actor, Role
from frontdesk.domain.timestrings import parse_timestring
from frontdesk.outbound import check_target, current_policy

OUTBOX_KIND = "webhook"
OVERLAP_LONGEST = timedelta(days=7)
# How tickets look in webhook bodies: as staff see them (an anonymous opener stays anonymous).
WEBHOOK_VIEWER = Actor(member_id=None, role=Role.ADMIN, display_name="webhooks")


def lane(endpoint_id: int) -> str:
    """The outbox lane of an endpoint's deliveries: the worker runs only so many at once."""
    return f"webhook:{endpoint_id}"


def _require_management(tx: Tx, what: str) -> None:
    if not tx.actor.is_management:
        raise NotPermitted(f"only management may {what}")


async def get_endpoint(tx: Tx, endpoint_id: int, *, for_update: bool = False,
                       field: str | None = None) -> WebhookEndpoint:
    """The endpoint with this id; with ``field``, a missing one is bad input naming it."""
    try:
        return await get_owned(tx, WebhookEndpoint, endpoint_id, what=f"webhook {endpoint_id}", for_update=for_update)
    except NotFound:
        if field is None:
            raise
        raise ValidationFailed(f"webhook {endpoint_id} does not exist in this workspace", field=field) from None


def _described(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"endpoint_id": endpoint.id, "name": endpoint.name, "url": endpoint.url, "events": endpoint.events,
            "enabled": endpoint.enabled}


async def _name_is_free(tx: Tx, name: str, *, besides: int | None = None) -> None:
    stmt = select(WebhookEndpoint.id).where(WebhookEndpoint.workspace_id == tx.workspace_id,
                                            WebhookEndpoint.name == name)
    if besides is not None:
        stmt = stmt.where(WebhookEndpoint.id != besides)
    if (await tx.session.execute(stmt)).first() is not None:
        raise ValidationFailed(f"a webhook named {name!r} exists already", field="name")


async def create_webhook(tx: Tx, *, name: str, url: str, events: list[str], enabled: bool = True,
                         description: str | None = None, secret: str | None = None) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint. Returns it with its signing secret (given, or generated), which is
    shown this once. Management only. Emits ``webhook.created``."""
    _require_management(tx, "manage webhooks")
    name = wh.check_name(name)
    description = wh.check_description(description)
    selection = wh.check_events(events)
    if secret is not None:
        wh.secret_key(secret)
    target = await check_target(url, current_policy())
    await _name_is_free(tx, name)
    secret = secret or wh.generate_secret()
    endpoint = WebhookEndpoint(
        workspace_id=tx.workspace_id, name=name, url=target.url, enabled=enabled, events=selection,
        description=description, secret_encrypted=secretbox.encrypt(secret), created_at=tx.now, updated_at=tx.now)
    tx.session.add(endpoint)
    await tx.session.flush()
    await tx.record(ev.WEBHOOK_CREATED, **_described(endpoint))
    return endpoint, secret


_UNSET: Any = object()


async def update_webhook(tx: Tx, endpoint_id: int, *, name: str = _UNSET, url: str = _UNSET,
                         events: list[str] = _UNSET, enabled: bool = _UNSET,
                         description: str | None = _UNSET) -> WebhookEndpoint:
    """Change an endpoint's fields (those given). Enabling it again clears why it was
    disabled; deliveries that failed meanwhile are not resent (redeliver them). Management
    only. Emits ``webhook.updated`` with what changed, when anything did."""
    _require_management(tx, "manage webhooks")
    endpoint = await get_endpoint(tx, endpoint_id, for_update=True)
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        changes["name"] = wh.check_name(name)
        if changes["name"] != endpoint.name:
            await _name_is_free(tx, changes["name"], besides=endpoint.id)
    if description is not _UNSET:
        changes["description"] = wh.check_description(description)
    if events is not _UNSET:
        changes["events"] = wh.check_events(events)
    if enabled is not _UNSET:
        if not isinstance(enabled, bool):
            raise ValidationFailed("enabled is true or false", field="enabled")
        changes["enabled"] = enabled
    if url is not _UNSET:
        changes["url"] = (await check_target(url, current_policy())).url
    before = {k: getattr(endpoint, k) for k, v in changes.items() if getattr(endpoint, k) != v}
    if not before:
        return endpoint
    for key in before:
        setattr(endpoint, key, changes[key])
    if before.get("enabled") is False:
        endpoint.disabled_reason = None
    endpoint.updated_at = tx.now
    await tx.record(ev.WEBHOOK_UPDATED, endpoint_id=endpoint.id, before=before,
                    after={k: changes[k] for k in before})
    return endpoint


async def delete_webhook(tx: Tx, endpoint_id: int) -> None:
    """Remove an endpoint with its delivery log; deliveries not yet sent are dropped.
    Management only. Emits ``webhook.deleted``."""
    _require_management(tx, "manage webhooks")
    endpoint = await get_endpoint(tx, endpoint_id, for_update=True)
    described = _described(endpoint)
    await tx.session.delete(endpoint)
    await tx.record(ev.WEBHOOK_DELETED, **described)


async def rotate_webhook_secret(tx: Tx, endpoint_id: int, *, secret: str | None = None,
                                overlap: str | None = "24h") -> tuple[WebhookEndpoint, str]:
    """Give an endpoint a new signing secret (given or generated, shown this once). For
    ``overlap`` (a time string, at most 7d; ``0s`` for none) deliveries carry signatures with
    both the new and the old secret, so receivers can switch without losing any. Management
    only. Emits ``webhook.secret_rotated`` (without either secret)."""
    _require_management(tx, "manage webhooks")
    if secret is not None:
        wh.secret_key(secret)
    keep_old = _overlap(overlap)
    endpoint = await get_endpoint(tx, endpoint_id, for_update=True)
    secret = secret or wh.generate_secret()
    if keep_old:
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = tx.now + keep_old
    else:
        endpoint.previous_secret_encrypted = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = secretbox.encrypt(secret)
    endpoint.updated_at = tx.now
    await tx.record(ev.WEBHOOK_SECRET_ROTATED, endpoint_id=endpoint.id,
                    previous_valid_until=endpoint.previous_secret_expires_at)
    return endpoint, secret


def _overlap(text: str | None) -> timedelta:
    if text is None or (isinstance(text, str) and text.strip() in ("0", "0s", "")):
        return timedelta(0)
    return parse_timestring(text, field="overlap", longest=OVERLAP_LONGEST)


async def disable_gone_webhook(tx: Tx, endpoint_id: int, *, reason: str) -> None:
    """The endpoint answered 410 Gone: disable it, so its pending deliveries stop. The
    worker calls this as the desk. Emits ``webhook.disabled``."""
    endpoint = await get_endpoint(tx, endpoint_id, for_update=True)
    if not endpoint.enabled:
        return
    endpoint.enabled = False
    endpoint.disabled_reason = reason[:200]
    endpoint.updated_at = tx.now
    await tx.record(ev.WEBHOOK_DISABLED, endpoint_id=endpoint.id, name=endpoint.name, reason=endpoint.disabled_reason)


# --- deliveries ----------------------------------------------------------------------------------------------


def _body(type: str, timestamp: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type, "timestamp": timestamp.isoformat(), "data": _jsonable(data)}


DeliveryRow = tuple[int, str, str, int | None, dict[str, Any]]


async def _write_deliveries(tx: Tx, rows: list[DeliveryRow]) -> list[WebhookDelivery]:
    """One outbox row and one delivery per (endpoint id, message id, type, event id, body)."""
    items = [await enqueue(tx, OUTBOX_KIND, {"endpoint_id": endpoint_id}, lane=lane(endpoint_id))
             for endpoint_id, *_ in rows]
    await tx.session.flush()
    deliveries = [
        WebhookDelivery(workspace_id=tx.workspace_id, endpoint_id=endpoint_id, outbox_id=item.id,
                        message_id=message_id, event_type=type, event_id=event_id, body=body, created_at=tx.now)
        for item, (endpoint_id, message_id, type, event_id, body) in zip(items, rows, strict=True)]
    tx.session.add_all(deliveries)
    return deliveries


async def _ticket_shapes(tx: Tx, ticket_ids: set[int]) -> dict[int, dict[str, Any] | None]:
    """The API's ticket shape for each ticket (None for one under lockdown, which webhooks
    do not reveal), as the ticket stands when the transaction commits."""
    from frontdesk.queries.tickets import present_tickets

    if not ticket_ids:
        return {}
    # The tickets this transaction changed are loaded already, as they stand now.
    tickets = [t for t in tx.locked_tickets.values() if t.id in ticket_ids]
    missing = ticket_ids - {t.id for t in tickets}
    if missing:
        tickets += list((await tx.session.execute(select(Ticket).where(Ticket.id.in_(missing)))).scalars())
    shown = [t for t in tickets if not t.lockdown]
    viewer = dataclasses.replace(tx, actor=WEBHOOK_VIEWER)
    shapes: dict[int, dict[str, Any] | None] = {t.id: None for t in tickets}
    for ticket, shape in zip(shown, await present_tickets(viewer, shown), strict=True):
        shapes[ticket.id] = shape
    return shapes


async def deliver_events(tx: Tx) -> None:
    """Before-commit hook: one delivery per event of this transaction and enabled endpoint of
    the workspace subscribed to its type. Costs one query when the workspace has no enabled
    endpoint. Events of tickets under lockdown are not sent."""
    events = tx.unseen("webhooks")
    if not events:
        return
    endpoints = (await tx.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events)
        .where(WebhookEndpoint.workspace_id == tx.workspace_id, WebhookEndpoint.enabled.is_(True)))).all()
    if not endpoints:
        return
    matched = [(event, [endpoint_id for endpoint_id, selection in endpoints if wh.subscribes(selection, event.type)])
               for event in events]
    matched = [(event, ids) for event, ids in matched if ids]
    if not matched:
        return
    await tx.session.flush()  # event ids
    shapes = await _ticket_shapes(tx, {e.ticket_id for e, _ in matched if e.ticket_id is not None})
    rows = []
    for event, endpoint_ids in matched:
        if event.ticket_id is not None and shapes.get(event.ticket_id) is None:
            continue
        data = dict(event.payload or {})
        data.setdefault("event_id", event.id)
        data.setdefault("actor", {"id": event.actor_id, "kind": event.actor_kind})
        if event.ticket_id is not None:
            data["ticket"] = shapes[event.ticket_id]
        body = _body(event.type, event.occurred_at, data)
        rows += [(endpoint_id, f"msg_{event.id}", event.type, event.id, body) for endpoint_id in endpoint_ids]
    if rows:
        await _write_deliveries(tx, rows)


async def send_test(tx: Tx, endpoint_id: int) -> WebhookDelivery:
    """Send a ``webhook.test`` message to an enabled endpoint now, through the outbox, so it
    is signed, retried and logged like any other delivery. Management only. Emits no event."""
    _require_management(tx, "test webhooks")
    endpoint = await get_endpoint(tx, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(f"webhook {endpoint_id} is disabled; enable it first")
    body = _body(wh.TEST_TYPE, tx.now, {"endpoint_id": endpoint.id, "name": endpoint.name,
                                         "message": "A test delivery from frontdesk."})
    [delivery] = await _write_deliveries(tx, [(endpoint.id, f"msg_test_{uuid.uuid4().hex}", wh.TEST_TYPE, None,
                                               body)])
    await tx.session.flush()
    return delivery


async def redeliver(tx: Tx, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again, with the same ``webhook-id`` and body. One that still waits
    for a retry is sent now instead; one being sent at this moment is a conflict.
    Management only. Emits no event."""
    _require_management(tx, "redeliver webhooks")
    endpoint = await get_endpoint(tx, endpoint_id)
    delivery = (await tx.session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id)
        .with_for_update())).scalar_one_or_none()
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} of webhook {endpoint_id} not found")
    if not endpoint.enabled:
        raise Conflict(f"webhook {endpoint_id} is disabled; enable it first")
    current = await tx.session.get(OutboxItem, delivery.outbox_id, with_for_update=True) if delivery.outbox_id else None
    if current is not None and current.status == "pending":
        if current.lease_until is not None and current.lease_until > tx.now:
            raise Conflict(f"delivery {delivery_id} is being sent right now")
        current.next_attempt_at = tx.now
        tx.outbox_enqueued += 1
        return delivery
    item = await enqueue(tx, OUTBOX_KIND, {"endpoint_id": endpoint.id}, lane=lane(endpoint.id))
    await tx.session.flush()
    delivery.outbox_id = item.id
    return delivery


async def enqueue_rule_webhook(tx: Tx, endpoint_id: int, ticket: Ticket, *, rule_id: int, event: Any) -> None:
    """Automation's ``send_webhook``: a ``rule.triggered`` delivery to this endpoint whatever
    its event selection, with the ticket's shape, the rule and the event that triggered it.
    An unknown or disabled endpoint is a ``ValidationFailed`` naming ``endpoint_id``. Runs as
    part of the rule's action (its permission was checked when the rule was saved). Emits no
    event."""
    endpoint = await get_endpoint(tx, endpoint_id, field="endpoint_id")
    if not endpoint.enabled:
        raise ValidationFailed(f"webhook {endpoint_id} is disabled", field="endpoint_id")
    await tx.session.flush()
    shape = (await _ticket_shapes(tx, {ticket.id})).get(ticket.id)
    trigger = _event_view(event)
    data = {"rule_id": rule_id, "event": trigger, "ticket": shape}
    message_id = f"msg_rule{rule_id}_{trigger.get('id') or uuid.uuid4().hex}_{ticket.id}"
    await _write_deliveries(tx, [(endpoint.id, message_id[:64], wh.RULE_TYPE, trigger.get("id"),
                                  _body(wh.RULE_TYPE, tx.now, data))])


def _event_view(event: Any) -> dict[str, Any]:
    if event is None:
        return {}
    if isinstance(event, str):
        return {"type": event}
    if isinstance(event, dict):
        return dict(event)
    occurred = getattr(event, "occurred_at", None)
    return {"id": getattr(event, "id", None), "type": getattr(event, "type", None),
            "occurred_at": occurred.isoformat() if occurred else None, "payload": getattr(event, "payload", None)}
