"""/api/v1/integrations: connections to Jira, Linear and Slack, and the calls those services
make back to us (webhooks, Slack's Events API). The inbound routes take no bearer token:
each is authenticated by its signature alone, and a bad or stale one changes nothing."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.actions import integrations as integ
from frontdesk.actions import links
from frontdesk.actions.base import Desk, Tx
from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep, DeskDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.api.schemas_integrations import (
    InboundOut,
    IntegrationIn,
    IntegrationOut,
    IntegrationPage,
    IntegrationPatch,
)
from frontdesk.db.models import IntegrationConnection
from frontdesk.domain.errors import Conflict, NotAuthenticated, NotFound, ValidationFailed
from frontdesk.domain.integrations import (
    Kind,
    jira_signature_ok,
    linear_signature_ok,
    slack_signature_ok,
)
from frontdesk.domain.permissions import Actor
from frontdesk.queries.integrations import list_connections, present_connection, show_connection

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"],
                   dependencies=[Depends(p.reject_nul_characters)])

ConnectionId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the integration's id")]
INBOUND_MAX_BYTES = 1024 * 1024
# Marks the routes other services call: no bearer token, authenticated by signature alone.
SIGNED = {"x-frontdesk-auth": "signature"}


def _cursor(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) <= INT64_MAX:
        raise ValidationFailed("cursor is not a next_cursor this list gave out", field="cursor")
    return int(value)


@router.get("", response_model=IntegrationPage, summary="List integrations")
async def list_all(caller: CallerDep, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Staff may list them (to pick one when linking a ticket); credentials show only
    whether each is set."""
    async with caller.read() as tx:
        items, after = await list_connections(tx, cursor=_cursor(cursor), limit=limit)
    return {"items": items, "next_cursor": str(after) if after is not None else None}


@router.post("", status_code=201, response_model=IntegrationOut, summary="Connect Jira, Linear or Slack")
async def create(body: IntegrationIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Management only. Credentials are write-only: stored encrypted, never returned.
    422 names the bad setting (`config.base_url`, `credentials.api_token`, ...). Honours
    `Idempotency-Key`."""
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return present_connection(await integ.create_connection(tx, **data))

    return await run_creating(caller, request, idempotency_key, data, run, response_model=IntegrationOut)


@router.get("/{connection_id}", response_model=IntegrationOut, summary="Show an integration")
async def show(connection_id: ConnectionId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return await show_connection(tx, connection_id)


@router.patch("/{connection_id}", response_model=IntegrationOut, summary="Change an integration")
async def patch(connection_id: ConnectionId, body: IntegrationPatch, caller: CallerDep) -> dict[str, Any]:
    """Management only. `config` is merged key by key; `credentials` replace (or, with null,
    remove) only the ones named."""
    changes = body.model_dump(exclude_unset=True)
    async with caller.tx() as tx:
        return present_connection(await integ.update_connection(tx, connection_id, changes))


@router.delete("/{connection_id}", status_code=204, response_class=Response, summary="Remove an integration")
async def remove(connection_id: ConnectionId, caller: CallerDep) -> Response:
    """Management only. Its ticket links go too; issues and threads stay where they are."""
    async with caller.tx() as tx:
        await integ.delete_connection(tx, connection_id)
    return Response(status_code=204)


# --- calls from the other side -------------------------------------------------------------------------------


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > INBOUND_MAX_BYTES:
        raise ValidationFailed(f"the body is larger than {INBOUND_MAX_BYTES} bytes", field="body")
    return body


async def _connection(desk: Desk, connection_id: int, kind: Kind) -> tuple[IntegrationConnection, dict[str, str]]:
    # Unknown, disabled or of another kind: the same 401 as a bad signature, revealing nothing.
    async with desk.db.reading() as session:
        connection = await session.get(IntegrationConnection, connection_id)
    if connection is None or connection.kind != kind.value or not connection.enabled:
        raise NotAuthenticated("the signature does not verify")
    return connection, integ.secrets_of(connection)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        raise ValidationFailed("the body is not JSON", field="body") from None
    if not isinstance(value, dict):
        raise ValidationFailed("the body is not a JSON object", field="body")
    return value


async def _apply_status(desk: Desk, connection: IntegrationConnection, delivery: str | None,
                        issue_ids: tuple[str | None, ...], status_id: str | None,
                        status_name: str | None) -> dict[str, Any]:
    try:
        async with desk.tx(Actor.system(), connection.workspace_id) as tx:
            if not await links.first_receipt(tx, connection, delivery):
                return {"result": "duplicate"}
            result = await links.apply_external_status(tx, connection, issue_ids=issue_ids,
                                                       status_id=status_id, status_name=status_name)
    except (Conflict, NotFound) as exc:
        # The ticket cannot take that status now (merged, locked down): nothing changed and a
        # redelivery would not change it either, so the sender is not asked to retry.
        return {"result": "ignored", "detail": str(exc)}
    return {"result": result}


@router.post("/{connection_id}/jira/webhook", response_model=InboundOut, response_model_exclude_none=True,
             summary="Jira webhook (issue updated)", openapi_extra=SIGNED)
async def jira_webhook(connection_id: ConnectionId, request: Request, desk: DeskDep) -> dict[str, Any]:
    """Signed with the connection's webhook secret: `X-Hub-Signature: sha256=<hex HMAC of the
    body>`. A `jira:issue_updated` whose status changed moves the linked ticket to the mapped
    status, as the integration member; anything else is ignored. 401 when the signature does
    not verify."""
    body = await _body(request)
    connection, secrets = await _connection(desk, connection_id, Kind.JIRA)
    if not jira_signature_ok(secrets.get("webhook_secret"), body, request.headers.get("x-hub-signature")):
        raise NotAuthenticated("the signature does not verify")
    payload = _json(body)
    issue = payload.get("issue") if isinstance(payload.get("issue"), dict) else None
    if payload.get("webhookEvent") != "jira:issue_updated" or issue is None:
        return {"result": "ignored"}
    changelog = payload.get("changelog")
    if isinstance(changelog, dict) and isinstance(changelog.get("items"), list) and not any(
            isinstance(i, dict) and i.get("field") == "status" for i in changelog["items"]):
        return {"result": "ignored"}
    status = ((issue.get("fields") or {}).get("status") or {})
    delivery = request.headers.get("x-atlassian-webhook-identifier")
    return await _apply_status(desk, connection, delivery, (_str(issue.get("id")), _str(issue.get("key"))),
                               _str(status.get("id")), _str(status.get("name")))


@router.post("/{connection_id}/linear/webhook", response_model=InboundOut, response_model_exclude_none=True,
             summary="Linear webhook (issue state)", openapi_extra=SIGNED)
async def linear_webhook(connection_id: ConnectionId, request: Request, desk: DeskDep) -> dict[str, Any]:
    """Signed with the connection's webhook secret: `Linear-Signature` is the hex HMAC-SHA256
    of the body, whose `webhookTimestamp` must be within a minute. An `Issue` update that
    changed its state moves the linked ticket to the mapped status. 401 otherwise."""
    body = await _body(request)
    connection, secrets = await _connection(desk, connection_id, Kind.LINEAR)
    try:
        payload = _json(body)
    except ValidationFailed:
        raise NotAuthenticated("the signature does not verify") from None
    if not linear_signature_ok(secrets.get("webhook_secret"), body, request.headers.get("linear-signature"),
                               payload.get("webhookTimestamp"), desk.clock.now()):
        raise NotAuthenticated("the signature does not verify")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else None
    if payload.get("type") != "Issue" or payload.get("action") not in ("update", "create") or data is None:
        return {"result": "ignored"}
    updated_from = payload.get("updatedFrom")
    if isinstance(updated_from, dict) and "stateId" not in updated_from:
        return {"result": "ignored"}
    state = data.get("state") if isinstance(data.get("state"), dict) else {}
    delivery = request.headers.get("linear-delivery")
    return await _apply_status(desk, connection, delivery, (_str(data.get("id")), _str(data.get("identifier"))),
                               _str(state.get("id") or data.get("stateId")), _str(state.get("name")))


@router.post("/{connection_id}/slack/events", response_model=InboundOut, response_model_exclude_none=True,
             summary="Slack Events API", openapi_extra=SIGNED)
async def slack_events(connection_id: ConnectionId, request: Request, desk: DeskDep) -> dict[str, Any]:
    """Signed with the connection's signing secret (`X-Slack-Signature`, with
    `X-Slack-Request-Timestamp` within five minutes). Answers `url_verification` with its
    challenge; a reply in a ticket's thread becomes an internal note (bot messages and
    edits are ignored; a retried event is noted once). 401 when the signature does not
    verify."""
    body = await _body(request)
    connection, secrets = await _connection(desk, connection_id, Kind.SLACK)
    if not slack_signature_ok(secrets.get("signing_secret"), body, request.headers.get("x-slack-request-timestamp"),
                              request.headers.get("x-slack-signature"), desk.clock.now()):
        raise NotAuthenticated("the signature does not verify")
    payload = _json(body)
    if payload.get("type") == "url_verification":
        return {"result": "challenge", "challenge": _str(payload.get("challenge")) or ""}
    event = payload.get("event") if isinstance(payload.get("event"), dict) else None
    if payload.get("type") != "event_callback" or event is None or event.get("type") != "message":
        return {"result": "ignored"}
    thread_ts, ts = _str(event.get("thread_ts")), _str(event.get("ts"))
    if (event.get("subtype") or event.get("bot_id") or not thread_ts or thread_ts == ts
            or not isinstance(event.get("text"), str) or not event["text"].strip()
            or event.get("channel") != connection.config.get("channel_id")):
        return {"result": "ignored"}
    try:
        async with desk.tx(Actor.system(), connection.workspace_id) as tx:
            if not await links.first_receipt(tx, connection, _str(payload.get("event_id"))):
                return {"result": "duplicate"}
            noted = await links.add_thread_reply(tx, connection, thread_ts=thread_ts, text=event["text"],
                                                 slack_user=_str(event.get("user")))
    except (Conflict, NotFound) as exc:
        return {"result": "ignored", "detail": str(exc)}
    return {"result": "noted" if noted else "ignored"}


def _str(value: Any) -> str | None:
    return str(value) if value is not None and not isinstance(value, dict | list) else None
