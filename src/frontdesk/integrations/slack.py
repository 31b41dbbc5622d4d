"""Slack (Web API): a ticket's thread in the connection's channel, and posts in it.

``chat.postMessage`` with the bot token as a Bearer token. Slack answers HTTP 200 with
``{"ok": false, "error": ...}`` for most failures: errors about the token or the channel
are dead, Slack's own trouble (``internal_error``, ``ratelimited``, ...) is retried, and
HTTP 429 waits for Retry-After.

Slack has no idempotency key for posting. So the root message carries message metadata
naming its link (``frontdesk_ticket_thread``), and an attempt after the first reads the
channel's history since the link was made (``conversations.history``, which the
``channels:history`` / ``groups:history`` scope the Events API needs already allows) before
posting: when an earlier attempt's message is there (Slack posted it, its answer was lost),
the link takes that thread and nothing is posted twice. If the history cannot be read (a
scope missing, Slack's trouble), the attempt posts as before.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from frontdesk.actions.base import Desk
from frontdesk.actions.links import CREATE_KIND, SLACK_REPLY
from frontdesk.db.models import OutboxItem
from frontdesk.domain.integrations import Kind
from frontdesk.integrations.common import (
    CONNECTOR_RETRY,
    LinkContext,
    created,
    failed,
    failure,
    gave_up_or_retry,
    load_link,
    send,
)
from frontdesk.worker.outbox import Outcome, done, register, retry

log = logging.getLogger("frontdesk.integrations.slack")

RETRYABLE = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
                       "team_added_to_org"})
# How long a reply waits for its thread to exist (the root message is still being posted).
THREAD_WAIT_SECONDS = 10.0
# The root message's metadata, found again by a later attempt.
THREAD_EVENT = "frontdesk_ticket_thread"
# Pages of history an attempt reads looking for an earlier attempt's root message.
HISTORY_PAGES = 5
HISTORY_PAGE_SIZE = 200
# Read from a little before the link was made: the desk's clock and Slack's may differ.
HISTORY_MARGIN = timedelta(minutes=10)


async def _post(ctx: LinkContext, operation: str, body: dict[str, Any], what: str) -> dict[str, Any] | Outcome:
    base = ctx.config["api_base"]
    answer = await send(ctx, operation, "POST", f"{base}/chat.postMessage", json=body,
                        headers={"Authorization": f"Bearer {ctx.secrets['bot_token']}"})
    if isinstance(answer, Outcome):
        return answer
    if not answer.is_success:
        return failure(ctx, operation, answer, what)
    data = answer.json()
    if not data.get("ok"):
        error = str(data.get("error") or "unknown_error")
        if error in RETRYABLE:
            return gave_up_or_retry(ctx, operation, f"{what}: Slack said {error}")
        return failed(ctx, operation, f"{what}: Slack said {error}")
    return dict(data)


def root_text(ctx: LinkContext) -> str:
    link = ctx.ticket_url()
    title = f"Ticket #{ctx.ticket.number}: {ctx.ticket.title}"
    lines = [f"<{link}|{title}>" if link else title]
    if ctx.first_message:
        lines.append(ctx.first_message.strip()[:1000])
    lines.append("Replies in this thread are added to the ticket as internal notes.")
    return "\n".join(lines)


async def post_thread(desk: Desk, item: OutboxItem) -> Outcome:
    ctx = await load_link(desk, item)
    if ctx is None:
        return done()
    if ctx.link.external_id is not None:
        return done()  # an earlier attempt's outcome already stored the thread
    if item.attempts > 1:
        earlier = await _earlier_root(ctx)
        if earlier is not None:
            return created(ctx, external_id=earlier, key=None, url=None)
    body = {"channel": ctx.config["channel_id"], "text": root_text(ctx),
            "metadata": {"event_type": THREAD_EVENT, "event_payload": {"link_id": ctx.link.id,
                                                                       "ticket": ctx.ticket.number}}}
    data = await _post(ctx, "create", body, "starting the ticket's Slack thread")
    if isinstance(data, Outcome):
        return data
    ts = str(data["ts"])
    return created(ctx, external_id=ts, key=None, url=None)


async def _earlier_root(ctx: LinkContext) -> str | None:
    """The ``ts`` of a root message an earlier attempt posted for this link, if the channel's
    history since the link was made shows one; None when it does not, or cannot be read."""
    base = ctx.config["api_base"]
    params: dict[str, Any] = {"channel": ctx.config["channel_id"], "include_all_metadata": "true",
                              "limit": HISTORY_PAGE_SIZE,
                              "oldest": f"{(ctx.link.created_at - HISTORY_MARGIN).timestamp():.6f}"}
    for _ in range(HISTORY_PAGES):
        answer = await send(ctx, "create", "GET", f"{base}/conversations.history", params=params,
                            headers={"Authorization": f"Bearer {ctx.secrets['bot_token']}"})
        data = _json(answer) if not isinstance(answer, Outcome) and answer.is_success else {}
        if not data.get("ok"):
            log.info("Slack history not readable; posting the thread's root message again",
                     extra={"link_id": ctx.link.id, "error": data.get("error") if data else "no answer"})
            return None
        for message in data.get("messages") or []:
            metadata = message.get("metadata") or {}
            if (metadata.get("event_type") == THREAD_EVENT
                    and (metadata.get("event_payload") or {}).get("link_id") == ctx.link.id):
                return str(message["ts"])
        cursor = (data.get("response_metadata") or {}).get("next_cursor")
        if not data.get("has_more") or not cursor:
            return None
        params["cursor"] = cursor
    return None


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def post_reply(desk: Desk, item: OutboxItem) -> Outcome:
    ctx = await load_link(desk, item)
    if ctx is None:
        return done()
    if ctx.link.external_id is None:
        if ctx.link.sync_state == "failed":
            return done()
        return retry(after=THREAD_WAIT_SECONDS, error="waiting for the ticket's thread to be posted")
    data = await _post(ctx, "reply", {"channel": ctx.config["channel_id"], "thread_ts": ctx.link.external_id,
                                      "text": str(item.payload.get("text") or "")},
                       "posting in the ticket's Slack thread")
    if isinstance(data, Outcome):
        return data
    return done()


register(CREATE_KIND[Kind.SLACK], post_thread, retry=CONNECTOR_RETRY)
register(SLACK_REPLY, post_reply, retry=CONNECTOR_RETRY)
