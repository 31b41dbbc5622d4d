"""/api/v1/macros: canned replies, searched, previewed for a ticket, and sent into one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from frontdesk.actions import macros as actions
from frontdesk.actions.base import Tx, get_ticket
from frontdesk.api import params as p
from frontdesk.api import schemas_macros as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.queries.macros import list_macros, macro_json, read_macro
from frontdesk.queries.tickets import present_messages

router = APIRouter(prefix="/api/v1", tags=["macros"], dependencies=[Depends(p.reject_nul_characters)])

MacroId = Annotated[int, Path(ge=1, le=INT64_MAX)]
Shortcut = Annotated[str, Path(max_length=64, description="the macro's shortcut")]


@router.get("/macros", response_model=s.MacroList, summary="List or search macros")
async def macros(caller: CallerDep,
                 q: Annotated[str | None, Query(description="text in the shortcut, content or category")] = None,
                 category: Annotated[str | None, Query(max_length=50)] = None,
                 cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Staff only; ordered by shortcut."""
    async with caller.read() as tx:
        items, next_cursor = await list_macros(tx, q=q, category=category, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/macros", status_code=201, response_model=s.MacroOut, summary="Create a macro")
async def create(body: s.MacroIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Management or a team with `macros.manage`. A taken shortcut is 422 naming `shortcut`.
    Honours `Idempotency-Key`."""
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return macro_json(await actions.create_macro(tx, **data))

    return await run_creating(caller, request, idempotency_key, data, run, response_model=s.MacroOut)


@router.get("/macros/{macro_id}", response_model=s.MacroOut, summary="Read a macro")
async def read(macro_id: MacroId, caller: CallerDep) -> dict[str, Any]:
    """Staff only."""
    async with caller.read() as tx:
        return await read_macro(tx, macro_id)


@router.patch("/macros/{macro_id}", response_model=s.MacroOut, summary="Edit a macro")
async def edit(macro_id: MacroId, body: s.MacroPatch, caller: CallerDep) -> dict[str, Any]:
    """Management or a team with `macros.manage`; only the fields sent change."""
    async with caller.tx() as tx:
        return macro_json(await actions.update_macro(tx, macro_id, body.model_dump(exclude_unset=True)))


@router.delete("/macros/{macro_id}", status_code=204, summary="Delete a macro")
async def delete(macro_id: MacroId, caller: CallerDep) -> Response:
    """Management or a team with `macros.manage`."""
    async with caller.tx() as tx:
        await actions.delete_macro(tx, macro_id)
    return Response(status_code=204)


@router.post("/macros/{macro_id}/preview", response_model=s.PreviewOut, summary="Render a macro for a ticket")
async def preview(macro_id: MacroId, body: s.PreviewIn, caller: CallerDep) -> dict[str, Any]:
    """The macro's text filled in for the ticket, to insert into a reply; nothing is sent.
    Staff on that ticket."""
    async with caller.read() as tx:
        text = await actions.preview_macro(tx, macro_id, body.ticket)
    return {"macro_id": macro_id, "ticket_number": body.ticket, "text": text}


@router.post("/tickets/{number}/macros/{shortcut}", status_code=201, response_model=s.MacroSent,
             summary="Send a macro into a ticket")
async def send(number: p.TicketNumber, shortcut: Shortcut, request: Request, caller: CallerDep,
               idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Posts the macro as a public message (as the sender, or as the bot when the macro is
    not sent as staff) and counts a use. Staff on the ticket. Honours `Idempotency-Key`."""

    async def run(tx: Tx) -> dict[str, Any]:
        macro, message = await actions.send_macro(tx, number, shortcut)
        ticket = await get_ticket(tx, number, for_update=False)
        [shown] = await present_messages(tx, [message], ticket=ticket, staff=True)
        return {"macro": macro_json(macro), "message": shown}

    return await run_creating(caller, request, idempotency_key, {"shortcut": shortcut}, run,
                              response_model=s.MacroSent)
