"""/api/v1/rules: automation rules, their order, dry runs and the record of their runs.
Management changes rules; staff may read them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from frontdesk.actions import rules as r
from frontdesk.actions.automation import preview_rule
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.api.schemas import INT32_MAX
from frontdesk.api.schemas_rules import DryRunIn, DryRunOut, ReorderIn, RuleIn, RuleList, RuleOut, RuleRunPage
from frontdesk.queries import rules as q

router = APIRouter(prefix="/api/v1/rules", tags=["automation rules"], dependencies=[Depends(p.reject_nul_characters)])

RuleId = p.RuleId


@router.get("", response_model=RuleList, summary="List automation rules")
async def list_all(caller: CallerDep) -> dict[str, Any]:
    """Every rule, in the order they run (position, then id). Staff may read."""
    async with caller.read() as tx:
        return {"items": await q.list_rules(tx)}


@router.post("", status_code=201, response_model=RuleOut, summary="Create an automation rule")
async def create(body: RuleIn, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Management only. The rule is checked whole; a 422 names the bad field
    (`conditions.all[1].op`, `actions[2].member_id`). Honours `Idempotency-Key`."""
    data = body.model_dump(exclude_unset=True)

    async def run(tx: Tx) -> dict[str, Any]:
        return r.rule_json(await r.create_rule(tx, data))

    return await run_creating(caller, request, idempotency_key, data, run, response_model=RuleOut)


@router.get("/runs", response_model=RuleRunPage, summary="List rule runs")
async def runs(caller: CallerDep, rule_id: p.IdFilter = None,
               ticket: Annotated[int | None, Query(ge=1, le=INT32_MAX, description="a ticket number")] = None,
               cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    """Every rule considered for an event, newest first: whether it matched, what each action
    did, an error, or why the chain stopped. Staff may read."""
    async with caller.read() as tx:
        items, next_cursor = await q.list_runs(tx, rule_id=rule_id, number=ticket, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/reorder", response_model=RuleList, summary="Reorder automation rules")
async def reorder(body: ReorderIn, caller: CallerDep) -> dict[str, Any]:
    """Management only: `ids` lists every rule once, in the order they should run."""
    async with caller.tx() as tx:
        return {"items": [r.rule_json(rule) for rule in await r.reorder_rules(tx, body.ids)]}


@router.get("/{rule_id}", response_model=RuleOut, summary="Get an automation rule")
async def get(rule_id: RuleId, caller: CallerDep) -> dict[str, Any]:
    """Staff may read."""
    async with caller.read() as tx:
        return await q.get_rule(tx, rule_id)


@router.patch("/{rule_id}", response_model=RuleOut, summary="Change an automation rule")
async def patch(rule_id: RuleId, body: RuleIn, caller: CallerDep) -> dict[str, Any]:
    """Management only. Only the keys sent change; the resulting rule is checked whole."""
    async with caller.tx() as tx:
        return r.rule_json(await r.update_rule(tx, rule_id, body.model_dump(exclude_unset=True)))


@router.delete("/{rule_id}", status_code=204, summary="Delete an automation rule")
async def delete(rule_id: RuleId, caller: CallerDep) -> None:
    """Management only. Its runs stay on record."""
    async with caller.tx() as tx:
        await r.delete_rule(tx, rule_id)


@router.post("/{rule_id}/dry-run", response_model=DryRunOut, summary="Try a rule on a ticket")
async def dry_run(rule_id: RuleId, body: DryRunIn, caller: CallerDep) -> dict[str, Any]:
    """Management only. Whether the rule would match the ticket for an event (by default the
    one its trigger listens to), each condition's result, and the changes its actions would
    make. The actions run in a transaction that is rolled back: nothing changes."""
    event = body.event
    return await preview_rule(caller.desk, caller.actor, caller.workspace_id, rule_id, number=body.ticket,
                              event_type=event.type if event else None, payload=event.payload if event else None)
