"""Linear (GraphQL): create an issue from a ticket, change its workflow state when our
status changes.

The API key goes in the ``Authorization`` header as it is. Linear lets the caller choose a
new issue's id, so the id is derived from the outbox row (a UUID v5 of its key): a retry
first asks for the issue with that id and takes it if the first attempt did create it, and
Linear itself refuses a second issue with the same id. Errors come back as GraphQL
``errors`` (often with HTTP 400): ``RATELIMITED`` is retried, authentication and permission
errors are dead like 401/403.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import httpx

from frontdesk.actions.base import Desk
from frontdesk.actions.links import CREATE_KIND, SYNC_KIND
from frontdesk.db.models import OutboxItem
from frontdesk.domain.integrations import Kind, issue_description, outbound_status, same_status
from frontdesk.integrations.common import (
    CONNECTOR_RETRY,
    LinkContext,
    created,
    failed,
    failure,
    gave_up_or_retry,
    load_link,
    retry_after,
    send,
    synced,
)
from frontdesk.worker.outbox import Outcome, done, register

ISSUE_FIELDS = "id identifier url state { id name }"
CREATE = f"""mutation IssueCreate($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
}}"""
UPDATE = f"""mutation IssueUpdate($id: String!, $input: IssueUpdateInput!) {{
  issueUpdate(id: $id, input: $input) {{ success issue {{ {ISSUE_FIELDS} }} }}
}}"""
FIND = f"""query Issue($id: String!) {{ issue(id: $id) {{ {ISSUE_FIELDS} }} }}"""
# Linear names error kinds in ``extensions.type`` ("authentication error") and ``code``.
PERMANENT_KINDS = frozenset({"authenticationerror", "forbidden", "forbiddenerror"})


def issue_id_for(item: OutboxItem) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"frontdesk:outbox:{item.key or item.id}"))


async def _call(ctx: LinkContext, operation: str, query: str, variables: dict[str, Any],
                what: str) -> dict[str, Any] | Outcome:
    """The ``data`` of one GraphQL call, or the outcome its failure means."""
    answer = await send(ctx, operation, "POST", ctx.config["api_url"], json={"query": query, "variables": variables},
                        headers={"Authorization": ctx.secrets["api_key"]})
    if isinstance(answer, Outcome):
        return answer
    body: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        body = answer.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return _graphql_failure(ctx, operation, errors, what, answer)
    if not answer.is_success:
        return failure(ctx, operation, answer, what)
    return body.get("data") or {}


def _graphql_failure(ctx: LinkContext, operation: str, errors: list[Any], what: str,
                     answer: httpx.Response) -> Outcome:
    first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
    extensions = first.get("extensions") or {}
    code = str(extensions.get("code") or "").upper()
    kind = "".join(ch for ch in str(extensions.get("type") or "").lower() if ch.isalpha())
    code_kind = "".join(ch for ch in code.lower() if ch.isalpha())
    message = f"{what}: {first.get('message') or 'GraphQL error'}"
    if code == "RATELIMITED" or kind == "ratelimited" or answer.status_code == 429:
        return gave_up_or_retry(ctx, operation, message, after=retry_after(answer))
    if answer.status_code >= 500:
        return gave_up_or_retry(ctx, operation, message)
    if kind in PERMANENT_KINDS or code_kind in PERMANENT_KINDS or answer.status_code in (401, 403):
        return failed(ctx, operation, f"{message} (the API key was refused)")
    return failed(ctx, operation, message)


def _created(ctx: LinkContext, issue: dict[str, Any]) -> Outcome:
    state = issue.get("state") or {}
    return created(ctx, external_id=str(issue["id"]), key=issue.get("identifier"), url=issue.get("url"),
                   external_status=state.get("id"))


async def create_issue(desk: Desk, item: OutboxItem) -> Outcome:
    ctx = await load_link(desk, item)
    if ctx is None:
        return done()
    issue_id = issue_id_for(item)
    if item.attempts > 1:
        data = await _call(ctx, "create", FIND, {"id": issue_id}, "looking for an earlier attempt's issue")
        if isinstance(data, Outcome):
            return data
        if data.get("issue"):
            return _created(ctx, data["issue"])
    fields: dict[str, Any] = {
        "id": issue_id, "teamId": ctx.config["team_id"], "title": ctx.ticket.title,
        "description": issue_description(ctx.first_message, ctx.ticket.number, ctx.ticket_url()),
    }
    state = outbound_status(Kind.LINEAR, ctx.config, ctx.ticket.status)
    if state:
        fields["stateId"] = state
    data = await _call(ctx, "create", CREATE, {"input": fields}, "creating the Linear issue")
    if isinstance(data, Outcome):
        return data
    result = data.get("issueCreate") or {}
    if not result.get("success") or not result.get("issue"):
        return failed(ctx, "create", "creating the Linear issue: Linear answered without success")
    return _created(ctx, result["issue"])


async def sync_status(desk: Desk, item: OutboxItem) -> Outcome:
    """Set the issue's state to the one mapped from the ticket's status now."""
    ctx = await load_link(desk, item)
    if ctx is None or ctx.link.external_id is None:
        return done()
    target = outbound_status(Kind.LINEAR, ctx.config, ctx.ticket.status)
    if target is None or same_status(target, ctx.link.external_status):
        return done()
    data = await _call(ctx, "sync", UPDATE, {"id": ctx.link.external_id, "input": {"stateId": target}},
                       "changing the issue's state")
    if isinstance(data, Outcome):
        return data
    result = data.get("issueUpdate") or {}
    if not result.get("success"):
        return failed(ctx, "sync", "changing the issue's state: Linear answered without success")
    state = ((result.get("issue") or {}).get("state") or {}).get("id") or target
    return synced(ctx, state)


register(CREATE_KIND[Kind.LINEAR], create_issue, retry=CONNECTOR_RETRY)
register(SYNC_KIND[Kind.LINEAR], sync_status, retry=CONNECTOR_RETRY)
