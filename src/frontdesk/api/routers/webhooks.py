"""/api/v1/webhooks: endpoints, their delivery log, redelivery, test sends, secret rotation.
Management only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.actions import webhooks as actions
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api import schemas_webhooks as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.domain import webhooks as wh
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries import webhooks as queries

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], dependencies=[Depends(p.reject_nul_characters)])

WebhookId = Annotated[int, Path(ge=1, le=INT64_MAX)]
DeliveryId = Annotated[int, Path(ge=1, le=INT64_MAX)]


@router.get("", response_model=s.WebhookList, summary="List webhooks")
async def list_webhooks(caller: CallerDep) -> dict[str, Any]:
    """Every endpoint of the workspace (secrets are never listed)."""
    async with caller.read() as tx:
        return {"items": await queries.list_endpoints(tx)}


@router.get("/events", response_model=s.EventNames, summary="Event names a webhook may select")
async def event_names(caller: CallerDep) -> dict[str, Any]:
    """`*` selects all of them, including events added in later versions."""
    return {"items": [wh.ALL_EVENTS, *sorted(wh.SELECTABLE_EVENTS)]}


@router.post("", status_code=201, response_model=s.WebhookWithSecret, summary="Add a webhook")
async def create_webhook(body: s.WebhookIn, request: Request, caller: CallerDep,
                         idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """The answer carries the signing secret, this once. Honours `Idempotency-Key` (a
    replay answers with the same secret)."""
    data = body.model_dump()

    async def create(tx: Tx) -> dict[str, Any]:
        endpoint, secret = await actions.create_webhook(tx, **data)
        return {**queries.present_endpoint(endpoint), "secret": secret}

    return await run_creating(caller, request, idempotency_key, data, create, response_model=s.WebhookWithSecret)


@router.get("/{webhook_id}", response_model=s.WebhookOut, summary="Get a webhook")
async def get_webhook(webhook_id: WebhookId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return await queries.endpoint_view(tx, webhook_id)


@router.patch("/{webhook_id}", response_model=s.WebhookOut, summary="Change a webhook")
async def patch_webhook(webhook_id: WebhookId, body: s.WebhookPatch, caller: CallerDep) -> dict[str, Any]:
    """Fields left out stay as they are; `description: null` clears the description."""
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "url", "events", "enabled"):
        if required in changes and changes[required] is None:
            raise ValidationFailed(f"{required} cannot be null", field=required)
    async with caller.tx() as tx:
        return queries.present_endpoint(await actions.update_webhook(tx, webhook_id, **changes))


@router.delete("/{webhook_id}", status_code=204, summary="Delete a webhook")
async def delete_webhook(webhook_id: WebhookId, caller: CallerDep) -> Response:
    """With its delivery log; deliveries not sent yet are dropped."""
    async with caller.tx() as tx:
        await actions.delete_webhook(tx, webhook_id)
    return Response(status_code=204)


@router.post("/{webhook_id}/rotate-secret", response_model=s.WebhookWithSecret, summary="Rotate a webhook's secret")
async def rotate_secret(webhook_id: WebhookId, caller: CallerDep, body: s.RotateSecretIn | None = None) -> Any:
    """A new signing secret (shown this once). During `overlap` every delivery is signed
    with the new and the old secret (two signatures in `webhook-signature`)."""
    body = body or s.RotateSecretIn()
    async with caller.tx() as tx:
        endpoint, secret = await actions.rotate_webhook_secret(tx, webhook_id, secret=body.secret,
                                                               overlap=body.overlap)
        return {**queries.present_endpoint(endpoint), "secret": secret}


@router.post("/{webhook_id}/test", status_code=202, response_model=s.DeliveryQueued, summary="Send a test delivery")
async def test_webhook(webhook_id: WebhookId, caller: CallerDep) -> dict[str, Any]:
    """Queues a `webhook.test` delivery, sent at once; follow it in the delivery log."""
    async with caller.tx() as tx:
        delivery = await actions.send_test(tx, webhook_id)
        return {"delivery_id": delivery.id, "webhook_id": delivery.message_id}


@router.get("/{webhook_id}/deliveries", response_model=s.DeliveryPage, summary="A webhook's delivery log")
async def deliveries(webhook_id: WebhookId, caller: CallerDep,
                     cursor: Annotated[str | None, Query(max_length=200)] = None,
                     limit: Annotated[int, Query()] = 50) -> dict[str, Any]:
    """Newest first, each delivery with every attempt (status, latency, an excerpt of the answer)."""
    async with caller.read() as tx:
        items, next_cursor = await queries.list_deliveries(tx, webhook_id, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{webhook_id}/deliveries/{delivery_id}", response_model=s.DeliveryOut, summary="One delivery")
async def delivery(webhook_id: WebhookId, delivery_id: DeliveryId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return await queries.delivery_view(tx, webhook_id, delivery_id)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202, response_model=s.DeliveryQueued,
             summary="Send a delivery again")
async def redeliver(webhook_id: WebhookId, delivery_id: DeliveryId, caller: CallerDep) -> dict[str, Any]:
    """With the same `webhook-id` and body, at once; 409 while it is being sent."""
    async with caller.tx() as tx:
        delivery = await actions.redeliver(tx, webhook_id, delivery_id)
        return {"delivery_id": delivery.id, "webhook_id": delivery.message_id}
