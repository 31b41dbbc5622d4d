"""Jira Cloud (REST API v3): create an issue from a ticket, move it when our status changes.

Authentication is basic auth with the account's email and an API token. Descriptions are
Atlassian Document Format. Jira has no idempotency key for creating issues, so every pushed
issue carries a label made from its outbox row (``frontdesk-<row id>``); a retry (the first
answer may have been lost) first searches for that label and takes the issue it finds.
Jira's search index lags by a few seconds, so a retry that comes sooner than that could
still create a second issue; the first retry waits 30 s, well beyond that lag.
"""

from __future__ import annotations

from typing import Any

import httpx

from frontdesk.actions.base import Desk
from frontdesk.actions.links import CREATE_KIND, SYNC_KIND
from frontdesk.db.models import OutboxItem
from frontdesk.domain.integrations import Kind, adf_description, outbound_status, same_status
from frontdesk.integrations.common import (
    CONNECTOR_RETRY,
    LinkContext,
    created,
    failed,
    failure,
    load_link,
    send,
    synced,
)
from frontdesk.worker.outbox import Outcome, done, register

SUMMARY_MAX = 255


def _auth(ctx: LinkContext) -> httpx.BasicAuth:
    return httpx.BasicAuth(ctx.config["email"], ctx.secrets["api_token"])


def label_for(item: OutboxItem) -> str:
    return f"frontdesk-{item.id}"


def _created(ctx: LinkContext, issue: dict[str, Any]) -> Outcome:
    key = str(issue["key"])
    status = ((issue.get("fields") or {}).get("status") or {}).get("name")
    return created(ctx, external_id=str(issue["id"]), key=key, url=f"{ctx.config['base_url']}/browse/{key}",
                   external_status=status)


async def create_issue(desk: Desk, item: OutboxItem) -> Outcome:
    ctx = await load_link(desk, item)
    if ctx is None:
        return done()
    base, label = ctx.config["base_url"], label_for(item)
    if item.attempts > 1:
        jql = f'project = "{ctx.config["project_key"]}" AND labels = "{label}"'
        answer = await send(ctx, "create", "POST", f"{base}/rest/api/3/search/jql", auth=_auth(ctx),
                            json={"jql": jql, "fields": ["status"], "maxResults": 1})
        if isinstance(answer, Outcome):
            return answer
        if not answer.is_success:
            return failure(ctx, "create", answer, "searching for an earlier attempt's issue")
        issues = answer.json().get("issues") or []
        if issues:
            return _created(ctx, issues[0])
    fields = {
        "project": {"key": ctx.config["project_key"]},
        "issuetype": {"name": ctx.config["issue_type"]},
        "summary": ctx.ticket.title[:SUMMARY_MAX],
        "description": adf_description(ctx.first_message, ctx.ticket.number, ctx.ticket_url()),
        "labels": [label],
    }
    answer = await send(ctx, "create", "POST", f"{base}/rest/api/3/issue", auth=_auth(ctx), json={"fields": fields})
    if isinstance(answer, Outcome):
        return answer
    if not answer.is_success:
        return failure(ctx, "create", answer, "creating the Jira issue")
    return _created(ctx, answer.json())


async def sync_status(desk: Desk, item: OutboxItem) -> Outcome:
    """Move the issue to the status mapped from the ticket's status now (not the one the
    change had: of two quick changes, the later wins whatever order they are sent in)."""
    ctx = await load_link(desk, item)
    if ctx is None or ctx.link.external_id is None:
        return done()
    target = outbound_status(Kind.JIRA, ctx.config, ctx.ticket.status)
    if target is None or same_status(target, ctx.link.external_status):
        return done()
    base, issue = ctx.config["base_url"], ctx.link.external_id
    answer = await send(ctx, "sync", "GET", f"{base}/rest/api/3/issue/{issue}/transitions", auth=_auth(ctx))
    if isinstance(answer, Outcome):
        return answer
    if not answer.is_success:
        return failure(ctx, "sync", answer, "reading the issue's transitions")
    transitions = answer.json().get("transitions") or []
    chosen = next((t for t in transitions if same_status(((t.get("to") or {}).get("name")), target)), None) \
        or next((t for t in transitions if same_status(t.get("name"), target)), None)
    if chosen is None:
        names = ", ".join(sorted({str((t.get("to") or {}).get("name")) for t in transitions})) or "none"
        return failed(ctx, "sync", f"the issue has no transition to {target!r} (it can go to: {names})")
    answer = await send(ctx, "sync", "POST", f"{base}/rest/api/3/issue/{issue}/transitions", auth=_auth(ctx),
                        json={"transition": {"id": chosen["id"]}})
    if isinstance(answer, Outcome):
        return answer
    if not answer.is_success:
        return failure(ctx, "sync", answer, "moving the issue")
    return synced(ctx, ((chosen.get("to") or {}).get("name")) or target)


register(CREATE_KIND[Kind.JIRA], create_issue, retry=CONNECTOR_RETRY)
register(SYNC_KIND[Kind.JIRA], sync_status, retry=CONNECTOR_RETRY)
