"""/api/v1/discord/panels: panels posted in the workspace's Discord server by the worker."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.actions import panels as actions
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api import schemas_discord as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.queries.panels import list_panels, panel_json

router = APIRouter(prefix="/api/v1/discord", tags=["discord"], dependencies=[Depends(p.reject_nul_characters)])

PanelId = Annotated[int, Path(ge=1, le=INT64_MAX)]


@router.post("/panels", status_code=202, response_model=s.PanelOut, summary="Post a panel in a Discord channel")
async def create(body: s.PanelIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Workspace admins and members with Manage Channels. Answers 202 with the panel: the
    worker posts it, then `message_id` is set (a channel outside the server, or one the bot
    may not post in, leaves it unset; the outbox row says why). Unknown or archived types,
    no types or more than 25, and a channel id that is not a Discord id are 422.
    Honours `Idempotency-Key`."""
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return panel_json(await actions.create_panel(tx, **data))

    return await run_creating(caller, request, idempotency_key, data, run, response_model=s.PanelOut,
                              status_code=202)


@router.get("/panels", response_model=s.PanelList, summary="List panels")
async def panels(caller: CallerDep,
                 cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Workspace admins and members with Manage Channels; oldest first."""
    async with caller.read() as tx:
        items, next_cursor = await list_panels(tx, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.delete("/panels/{panel_id}", status_code=204, summary="Delete a panel")
async def delete(panel_id: PanelId, caller: CallerDep) -> Response:
    """Workspace admins and members with Manage Channels. The worker deletes its Discord message."""
    async with caller.tx() as tx:
        await actions.delete_panel(tx, panel_id)
    return Response(status_code=204)
