"""/api/v1/tickets/{number}/links: a ticket's links to Jira and Linear issues and its Slack
thread."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.actions import links
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.api.schemas_integrations import LinkIn, LinkList, LinkOut
from frontdesk.db.models import IntegrationConnection
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.integrations import list_links, present_link

router = APIRouter(prefix="/api/v1/tickets", tags=["ticket links"], dependencies=[Depends(p.reject_nul_characters)])

LinkId = Annotated[int, Path(ge=1, le=INT64_MAX, description="the link's id")]


@router.get("/{number}/links", response_model=LinkList, summary="List a ticket's links")
async def list_all(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """Staff on the ticket."""
    async with caller.read() as tx:
        return {"items": await list_links(tx, number), "next_cursor": None}


@router.post("/{number}/links", status_code=201, response_model=LinkOut, summary="Link a ticket to engineering")
async def create(number: p.TicketNumber, body: LinkIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """`{connection_id, push: true}` creates the issue in Jira or Linear (or the ticket's
    Slack thread) through the worker: the link is `pending` until then. `{connection_id,
    key}` or `{connection_id, url}` links an existing issue. Staff on the ticket; 409 when
    already linked. Honours `Idempotency-Key`."""
    data = body.model_dump()
    if body.push and (body.key is not None or body.url is not None):
        raise ValidationFailed("push creates a new issue: leave out key and url", field="push")

    async def run(tx: Tx) -> dict[str, Any]:
        if body.push:
            link = await links.push_ticket(tx, number, body.connection_id)
        else:
            link = await links.link_existing(tx, number, body.connection_id, key=body.key, url=body.url)
        connection = await tx.session.get(IntegrationConnection, link.connection_id)
        return present_link(link, connection, number)

    return await run_creating(caller, request, idempotency_key, data, run, response_model=LinkOut)


@router.delete("/{number}/links/{link_id}", status_code=204, response_class=Response, summary="Unlink")
async def remove(number: p.TicketNumber, link_id: LinkId, caller: CallerDep) -> Response:
    """Staff on the ticket. The issue or thread stays on the other side."""
    async with caller.tx() as tx:
        await links.unlink(tx, number, link_id)
    return Response(status_code=204)

