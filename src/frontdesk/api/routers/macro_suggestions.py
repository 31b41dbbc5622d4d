"""/api/v1/macro-suggestions: replies staff repeat, proposed as macros; accept or dismiss."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from frontdesk.actions import macro_suggestions as actions
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api import schemas_macros as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT64_MAX
from frontdesk.queries.macros import list_suggestions, macro_json, suggestion_json

router = APIRouter(prefix="/api/v1/macro-suggestions", tags=["macros"],
                   dependencies=[Depends(p.reject_nul_characters)])

SuggestionId = Annotated[int, Path(ge=1, le=INT64_MAX)]


@router.get("", response_model=s.SuggestionList, summary="List suggested macros")
async def suggestions(caller: CallerDep,
                      status: Annotated[Literal["pending", "accepted", "dismissed", "all"], Query()] = "pending",
                      cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Staff only; most repeated first."""
    async with caller.read() as tx:
        items, next_cursor = await list_suggestions(tx, status=None if status == "all" else status,
                                                    cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/{suggestion_id}/accept", response_model=s.Accepted, summary="Accept a suggested macro")
async def accept(suggestion_id: SuggestionId, body: s.AcceptIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Creates the macro with the chosen shortcut (422 naming `shortcut` when taken).
    Management or a team with `macros.manage`; 409 once decided. Honours `Idempotency-Key`."""
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        row, macro = await actions.accept_suggestion(tx, suggestion_id, **data)
        return {"suggestion": suggestion_json(row), "macro": macro_json(macro)}

    return await run_creating(caller, request, idempotency_key, data, run, response_model=s.Accepted,
                              status_code=200)


@router.post("/{suggestion_id}/dismiss", response_model=s.SuggestionOut, summary="Dismiss a suggested macro")
async def dismiss(suggestion_id: SuggestionId, caller: CallerDep) -> dict[str, Any]:
    """Never proposed again. Management or a team with `macros.manage`; 409 once decided."""
    async with caller.tx() as tx:
        return suggestion_json(await actions.dismiss_suggestion(tx, suggestion_id))
