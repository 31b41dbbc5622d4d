"""Slack (Web API): a ticket's thread in the connection's channel, and posts in it.

``chat.postMessage`` with the bot token as a Bearer token. Slack answers HTTP 200 with
``{"ok": false, "error": ...}`` for most failures: errors about the token or the channel
are dead, Slack's own trouble (``internal_error``, ``ratelimited``, ...) is retried, and
HTTP 429 waits for Retry-After. Slack has no idempotency key for posting, so an answer lost
after Slack posted makes the retry post the root message a second time; the link keeps the
thread of the answer it got.
"""

from __future__ import annotations

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

RETRYABLE = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited",
                       "team_added_to_org"})
# How long a reply waits for its thread to exist (the root message is still being posted).
THREAD_WAIT_SECONDS = 10.0


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
    data = await _post(ctx, "create", {"channel": ctx.config["channel_id"], "text": root_text(ctx)},
                       "starting the ticket's Slack thread")
    if isinstance(data, Outcome):
        return data
    ts = str(data["ts"])
    return created(ctx, external_id=ts, key=None, url=None)


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
