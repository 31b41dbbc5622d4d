"""What the connectors share: loading a link with its connection and ticket, one HTTP client,
and turning an answer into an outbox outcome.

2xx is done; 429 is retried after its Retry-After; 5xx, timeouts and refused connections are
retried on the policy's backoff; 401, 403 and 404 (and any other 4xx) are dead, with the
error stored on the link and ``ticket.link_failed`` recorded. A retry on the policy's last
attempt is turned into dead here, so the link still learns why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from frontdesk.actions import links
from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.integrations import secrets_of
from frontdesk.config import load_settings
from frontdesk.db.models import Conversation, IntegrationConnection, Message, OutboxItem, Ticket, TicketLink
from frontdesk.domain.tickets import AuthorKind, Visibility
from frontdesk.worker.outbox import Outcome, RetryPolicy, dead, done, retry

# About two days of attempts, each bounded well below the handler timeout.
CONNECTOR_RETRY = RetryPolicy.exponential(first=30, cap=3600, attempts=12, timeout=30)
HTTP_TIMEOUT = httpx.Timeout(15.0)
EXCERPT = 300
PERMANENT = frozenset({401, 403, 404})



def client() -> httpx.AsyncClient:
    """A client for one handler call: no redirects followed, bounded time per request. (One
    per call rather than one per process: a pooled client belongs to the event loop that
    made it, and connector traffic is a few calls per ticket.)"""
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False, headers={"User-Agent": "frontdesk"})


@dataclass
class LinkContext:
    item: OutboxItem
    link: TicketLink
    connection: IntegrationConnection
    secrets: dict[str, str]
    ticket: Ticket
    first_message: str | None

    @property
    def config(self) -> dict[str, Any]:
        return self.connection.config

    def ticket_url(self) -> str | None:
        base = load_settings().public_url
        return f"{base.rstrip('/')}/tickets/{self.ticket.number}" if base else None


async def load_link(desk: Desk, item: OutboxItem) -> LinkContext | None:
    """The item's link, its connection and ticket, read fresh; None when the link is gone
    or its connection is disabled (the item is then done: there is nothing to do)."""
    async with desk.db.reading() as session:
        link = await session.get(TicketLink, item.payload.get("link_id"))
        if link is None:
            return None
        connection = await session.get(IntegrationConnection, link.connection_id)
        ticket = await session.get(Ticket, link.ticket_id)
        if connection is None or ticket is None or not connection.enabled:
            return None
        first = (await session.execute(
            select(Message.body).join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.ticket_id == ticket.id, Message.visibility == Visibility.PUBLIC,
                   Message.author_kind == AuthorKind.CUSTOMER)
            .order_by(Message.id).limit(1))).scalar_one_or_none()
        return LinkContext(item=item, link=link, connection=connection, secrets=secrets_of(connection),
                           ticket=ticket, first_message=first)


def excerpt(response: httpx.Response) -> str:
    try:
        text = response.text
    except Exception:  # noqa: BLE001 - an undecodable body is described, not raised
        text = "<undecodable body>"
    return " ".join(text.split())[:EXCERPT]


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def failure(ctx: LinkContext, operation: str, response: httpx.Response, what: str) -> Outcome:
    """The outcome for a non-2xx answer."""
    error = f"{what}: HTTP {response.status_code} {excerpt(response)}".strip()
    if response.status_code == 429:
        return gave_up_or_retry(ctx, operation, error, after=retry_after(response))
    if response.status_code >= 500:
        return gave_up_or_retry(ctx, operation, error)
    if response.status_code in PERMANENT:
        reason = {401: "the credentials were refused", 403: "the credentials may not do this",
                  404: "not found (check the site, project or issue)"}[response.status_code]
        error = f"{what}: {reason} (HTTP {response.status_code}) {excerpt(response)}".strip()
    return failed(ctx, operation, error)


def failed(ctx: LinkContext, operation: str, error: str) -> Outcome:
    link_id = ctx.link.id

    async def effect(tx: Tx) -> None:
        await links.record_link_failed(tx, link_id, error, operation=operation)

    return dead(error, effect=effect)


def gave_up_or_retry(ctx: LinkContext, operation: str, error: str, *, after: float | None = None,
                     policy: RetryPolicy = CONNECTOR_RETRY) -> Outcome:
    if ctx.item.attempts >= policy.max_attempts:
        return failed(ctx, operation, f"gave up after {ctx.item.attempts} attempts: {error}")
    link_id = ctx.link.id

    async def effect(tx: Tx) -> None:
        await links.note_link_error(tx, link_id, error)

    return retry(after=after, error=error, effect=effect)


async def send(ctx: LinkContext, operation: str, method: str, url: str, **options: Any) -> httpx.Response | Outcome:
    """Make one request; a network failure or timeout becomes a retry."""
    try:
        async with client() as http:
            response = await http.request(method, url, **options)
            await response.aread()
            return response
    except httpx.HTTPError as exc:
        return gave_up_or_retry(ctx, operation, f"{operation}: {type(exc).__name__}: {exc}".strip())


def synced(ctx: LinkContext, external_status: str | None) -> Outcome:
    link_id, status = ctx.link.id, ctx.ticket.status

    async def effect(tx: Tx) -> None:
        await links.record_link_synced(tx, link_id, external_status=external_status, direction="outbound",
                                       status=status)

    return done(effect=effect)


def created(ctx: LinkContext, *, external_id: str, key: str | None, url: str | None,
            external_status: str | None = None) -> Outcome:
    link_id = ctx.link.id

    async def effect(tx: Tx) -> None:
        await links.record_link_created(tx, link_id, external_id=external_id, key=key, url=url,
                                        external_status=external_status)

    return done(effect=effect)
