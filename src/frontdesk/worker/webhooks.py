"""Sending webhook deliveries: the outbox handler of kind ``webhook``.

Each attempt POSTs the delivery's fixed body with Standard Webhooks headers (``webhook-id``
fixed when the delivery was written, ``webhook-timestamp`` the moment of this attempt,
``webhook-signature`` with the current secret, and the previous one during a rotation's
overlap). A 2xx answer within the timeout is success; the verdict on anything else is in
``domain/webhooks.judge``. Every attempt is logged in ``webhook_attempts``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select

from frontdesk import secretbox
from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.webhooks import OUTBOX_KIND, disable_gone_webhook
from frontdesk.db.models import OutboxItem, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from frontdesk.domain import webhooks as wh
from frontdesk.outbound import OutboundPolicy, client, current_policy
from frontdesk.worker import outbox as ob

READ_MAX = 64 * 1024
EXCERPT_MAX = 1024

# The schedule of domain/webhooks (about three days); one attempt is bounded by the
# delivery timeout, the handler's by this policy's.
RETRY = ob.RetryPolicy(delays=wh.SCHEDULE, jitter=0.2, timeout=75)

_keys: OrderedDict[str, bytes] = OrderedDict()


def _key(encrypted: str) -> bytes:
    """The HMAC key of a stored secret; decrypted once per process and secret."""
    key = _keys.get(encrypted)
    if key is None:
        key = wh.secret_key(secretbox.decrypt(encrypted))
        _keys[encrypted] = key
        if len(_keys) > 4096:
            _keys.popitem(last=False)
    return key


def signing_keys(endpoint: WebhookEndpoint, now: datetime) -> list[bytes]:
    keys = [_key(endpoint.secret_encrypted)]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at is not None
            and endpoint.previous_secret_expires_at > now):
        keys.append(_key(endpoint.previous_secret_encrypted))
    return keys


def encode_body(body: dict[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Answer:
    status_code: int | None = None
    retry_after: str | None = None
    excerpt: str | None = None
    error: str | None = None
    latency_ms: int = 0


async def post(url: str, body: bytes, headers: dict[str, str], policy: OutboundPolicy) -> Answer:
    """One POST, bounded in time (as a whole, not per phase) and in how much of the answer is read."""
    answer = Answer()
    timeout = policy.timeout
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with client(policy).stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
                answer.status_code = response.status_code
                answer.retry_after = response.headers.get("retry-after")
                read = bytearray()
                async for chunk in response.aiter_bytes():
                    read += chunk
                    if len(read) >= READ_MAX:
                        break
                answer.excerpt = bytes(read[:EXCERPT_MAX]).decode("utf-8", errors="replace") or None
    except TimeoutError:
        if answer.status_code is None:
            answer.error = f"no answer within {timeout:g} s"
        else:
            answer.error = f"the answer's body did not arrive within {timeout:g} s"
            answer.status_code = None
    except httpx.HTTPError as exc:
        answer.status_code = None
        answer.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    answer.latency_ms = int((time.perf_counter() - started) * 1000)
    return answer


# Deliveries and endpoints loaded for a claimed batch (``prepare``), taken by the handler.
_prepared: dict[int, tuple[WebhookDelivery, WebhookEndpoint] | None] = {}


def _with_endpoint():  # type: ignore[no-untyped-def]
    return (select(WebhookDelivery, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id))


async def prepare_batch(desk: Desk, items: list[OutboxItem]) -> None:
    """One query for a claimed batch's deliveries and endpoints."""
    ids = [item.id for item in items]
    async with desk.db.reading() as session:
        rows = (await session.execute(_with_endpoint().where(WebhookDelivery.outbox_id.in_(ids)))).all()
    found = {delivery.outbox_id: (delivery, endpoint) for delivery, endpoint in rows}
    for outbox_id in ids:
        _prepared[outbox_id] = found.get(outbox_id)


async def _load(desk: Desk, item: OutboxItem) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    if item.id in _prepared:
        return _prepared.pop(item.id)
    async with desk.db.reading() as session:
        row = (await session.execute(_with_endpoint().where(WebhookDelivery.outbox_id == item.id))).first()
    return (row[0], row[1]) if row is not None else None


async def deliver_webhook(desk: Desk, item: OutboxItem) -> ob.Outcome:
    loaded = await _load(desk, item)
    if loaded is None:
        return ob.dead("the delivery or its webhook was deleted")
    delivery, endpoint = loaded
    if not endpoint.enabled:
        return ob.dead(f"webhook {endpoint.id} is disabled")
    policy = current_policy()
    started_at = desk.clock.now()
    body = encode_body(delivery.body)
    # The receiver compares the timestamp with its own clock: this is the wall clock.
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": wh.signature_header(signing_keys(endpoint, started_at), delivery.message_id,
                                                 timestamp, body),
    }
    answer = await post(endpoint.url, body, headers, policy)
    logged = (WebhookAttempt(delivery_id=delivery.id, attempt=item.attempts, started_at=started_at,
                             status_code=answer.status_code, latency_ms=answer.latency_ms,
                             response_excerpt=answer.excerpt, error=answer.error),)
    if answer.status_code is None:
        return ob.retry(error=answer.error, rows=logged)
    verdict = wh.judge(answer.status_code, item.attempts, answer.retry_after, now=started_at)
    if verdict.status == "done":
        return ob.done(rows=logged)
    if verdict.gone:
        return ob.dead(verdict.reason, rows=logged, effect=_disable(endpoint.id, verdict.reason))
    if verdict.status == "dead":
        return ob.dead(verdict.reason, rows=logged)
    return ob.retry(after=verdict.after, error=verdict.reason, rows=logged)


def _disable(endpoint_id: int, reason: str) -> ob.Effect:
    async def effect(tx: Tx) -> None:
        await disable_gone_webhook(tx, endpoint_id, reason=reason)

    return effect


ob.register(OUTBOX_KIND, deliver_webhook, retry=RETRY, prepare=prepare_batch)
