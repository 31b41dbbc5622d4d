"""/api/v1/me, /workspace, /members, /teams, /ticket-types, /custom-fields, /tokens, /events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Tx, get_member, get_workspace
from frontdesk.api import params as p
from frontdesk.api import schemas as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.db.models import Team, TicketType
from frontdesk.domain.errors import NotFound, ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.queries.tickets import workspace_events
from frontdesk.queries.workspace import (
    list_fields,
    list_members,
    list_teams,
    list_tokens,
    list_types,
    present_field,
    present_members,
    present_teams,
    present_token,
    present_type,
    present_workspace,
)

router = APIRouter(prefix="/api/v1", dependencies=[Depends(p.reject_nul_characters)])


@router.get("/me", response_model=s.MeOut, tags=["workspace"], summary="Who the token acts as")
async def me(caller: CallerDep) -> dict[str, Any]:
    """`is_staff` is true when the member staffs at least one ticket type, by any of the three
    paths (a type's staff role, a Discord power or role, a team permission)."""
    actor = caller.actor
    is_staff = actor.is_staff_anywhere
    return {"workspace_id": caller.workspace_id, "member_id": actor.member_id, "display_name": actor.display_name,
            "role": actor.role.value, "is_staff": is_staff, "is_management": actor.is_management}


@router.get("/workspace", response_model=s.WorkspaceOut, tags=["workspace"], summary="The token's workspace")
async def get_ws(caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return present_workspace(await get_workspace(tx))


@router.patch("/workspace", response_model=s.WorkspaceOut, tags=["workspace"], summary="Change workspace settings")
async def patch_ws(body: s.WorkspacePatch, caller: CallerDep) -> dict[str, Any]:
    """Admins only. `settings` is merged key by key (e.g. `transcript_retention_days`,
    `management_role_ids`)."""
    async with caller.tx() as tx:
        return present_workspace(await m.update_workspace(tx, **body.model_dump(exclude_unset=True)))


# --- members ----------------------------------------------------------------------------------------------------


@router.get("/members", response_model=s.MemberPage, tags=["members"], summary="List members")
async def members_list(caller: CallerDep, role: Annotated[s.RoleName | None, Query()] = None,
                       q: Annotated[str | None, Query(description="text in the display name")] = None,
                       cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 100) -> dict[str, Any]:
    require_staff(caller.actor, "list members")
    async with caller.read() as tx:
        items, next_cursor = await list_members(tx, role=role, q=q, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/members", status_code=201, response_model=s.MemberOut, tags=["members"], summary="Add a member")
async def members_create(body: s.MemberIn, request: Request, caller: CallerDep,
                         idempotency_key: IdempotencyKey = None) -> JSONResponse:
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return (await present_members(tx, [await m.add_member(tx, **data)]))[0]

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.MemberOut)


@router.get("/members/{member_id}", response_model=s.MemberOut, tags=["members"], summary="Get a member")
async def members_get(member_id: p.MemberId, caller: CallerDep) -> dict[str, Any]:
    if caller.actor.member_id != member_id:
        require_staff(caller.actor, "look up other members")
    async with caller.read() as tx:
        try:
            member = await get_member(tx, member_id)
        except ValidationFailed:
            raise NotFound(f"member {member_id} not found") from None
        return (await present_members(tx, [member]))[0]


@router.patch("/members/{member_id}", response_model=s.MemberOut, tags=["members"], summary="Change a member")
async def members_patch(member_id: p.MemberId, body: s.MemberPatch, caller: CallerDep) -> dict[str, Any]:
    async with caller.tx() as tx:
        try:
            await get_member(tx, member_id)
        except ValidationFailed:
            raise NotFound(f"member {member_id} not found") from None
        member = await m.update_member(tx, member_id, body.model_dump(exclude_unset=True))
        return (await present_members(tx, [member]))[0]


# --- teams ------------------------------------------------------------------------------------------------------


@router.get("/teams", response_model=s.TeamList, tags=["teams"], summary="List teams")
async def teams_list(caller: CallerDep) -> dict[str, Any]:
    require_staff(caller.actor, "list teams")
    async with caller.read() as tx:
        return {"items": await list_teams(tx)}


@router.post("/teams", status_code=201, response_model=s.TeamOut, tags=["teams"], summary="Create a team")
async def teams_create(body: s.TeamIn_, request: Request, caller: CallerDep,
                       idempotency_key: IdempotencyKey = None) -> JSONResponse:
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return (await present_teams(tx, [await m.create_team(tx, **data)]))[0]

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.TeamOut)


@router.get("/teams/{team_id}", response_model=s.TeamOut, tags=["teams"], summary="Get a team")
async def teams_get(team_id: p.TeamId, caller: CallerDep) -> dict[str, Any]:
    require_staff(caller.actor, "look up teams")
    async with caller.read() as tx:
        team = await tx.session.get(Team, team_id)
        if team is None or team.workspace_id != caller.workspace_id:
            raise NotFound(f"team {team_id} not found")
        return (await present_teams(tx, [team]))[0]


@router.put("/teams/{team_id}/members", response_model=s.TeamOut, tags=["teams"], summary="Set a team's members")
async def teams_members(team_id: p.TeamId, body: s.TeamMembersIn, caller: CallerDep) -> dict[str, Any]:
    async with caller.tx() as tx:
        team = await m.set_team_members(tx, team_id, body.member_ids)
        await tx.session.flush()
        return (await present_teams(tx, [team]))[0]


# --- ticket types -----------------------------------------------------------------------------------------------


def _type_values(body: s.TicketTypeIn | s.TicketTypePatch, *, partial: bool) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=partial)
    if values.get("intake_questions") is not None:
        values["intake_questions"] = [
            {k: v for k, v in q.items() if v is not None} for q in values["intake_questions"]
        ]
    if not partial:
        values = {k: v for k, v in values.items() if v is not None or k == "open_limit_per_user"}
    return values


@router.get("/ticket-types", response_model=s.TicketTypeList, tags=["ticket types"], summary="List ticket types")
async def types_list(caller: CallerDep, include_archived: bool = False) -> dict[str, Any]:
    async with caller.read() as tx:
        return {"items": await list_types(tx, include_archived=include_archived)}


@router.post("/ticket-types", status_code=201, response_model=s.TicketTypeOut, tags=["ticket types"],
             summary="Create a ticket type")
async def types_create(body: s.TicketTypeIn, request: Request, caller: CallerDep,
                       idempotency_key: IdempotencyKey = None) -> JSONResponse:
    values = _type_values(body, partial=False)

    async def run(tx: Tx) -> dict[str, Any]:
        return present_type(await m.create_ticket_type(tx, **values))

    return await run_creating(caller, request, idempotency_key, values, run,
                              response_model=s.TicketTypeOut)


@router.get("/ticket-types/{type_id}", response_model=s.TicketTypeOut, tags=["ticket types"],
            summary="Get a ticket type")
async def types_get(type_id: p.TypeId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        row = (await tx.session.execute(select(TicketType).where(
            TicketType.id == type_id, TicketType.workspace_id == caller.workspace_id))).scalar_one_or_none()
        if row is None:
            raise NotFound(f"ticket type {type_id} not found")
        return present_type(row)


@router.patch("/ticket-types/{type_id}", response_model=s.TicketTypeOut, tags=["ticket types"],
              summary="Change a ticket type")
async def types_patch(type_id: p.TypeId, body: s.TicketTypePatch, caller: CallerDep) -> dict[str, Any]:
    async with caller.tx() as tx:
        return present_type(await m.update_ticket_type(tx, type_id, _type_values(body, partial=True)))


# --- custom fields ----------------------------------------------------------------------------------------------


@router.get("/custom-fields", response_model=s.CustomFieldList, tags=["custom fields"],
            summary="List custom field definitions")
async def fields_list(caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return {"items": await list_fields(tx)}


@router.post("/custom-fields", status_code=201, response_model=s.CustomFieldOut, tags=["custom fields"],
             summary="Define a custom field")
async def fields_create(body: s.CustomFieldIn, request: Request, caller: CallerDep,
                        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        return present_field(await m.define_custom_field(tx, **data))

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.CustomFieldOut)


# --- tokens -----------------------------------------------------------------------------------------------------


@router.get("/tokens", response_model=s.TokenList, tags=["tokens"], summary="List API tokens")
async def tokens_list(caller: CallerDep) -> dict[str, Any]:
    """Admins see every token of the workspace; others their own. Secrets are never shown."""
    async with caller.read() as tx:
        return {"items": await list_tokens(tx)}


@router.post("/tokens", status_code=201, response_model=s.TokenCreated, tags=["tokens"],
             summary="Create an API token")
async def tokens_create(body: s.TokenIn, request: Request, caller: CallerDep,
                        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """The secret is in this answer only; frontdesk stores a hash."""
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        token, secret = await m.create_api_token(tx, member_id=body.member_id or caller.actor.member_id or 0,
                                                 name=body.name)
        return present_token(token) | {"token": secret}

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.TokenCreated)


@router.delete("/tokens/{token_id}", response_model=s.TokenOut, tags=["tokens"], summary="Revoke an API token")
async def tokens_revoke(token_id: p.TokenId, caller: CallerDep) -> dict[str, Any]:
    async with caller.tx() as tx:
        return present_token(await m.revoke_api_token(tx, token_id))


# --- events -----------------------------------------------------------------------------------------------------


@router.get("/events", response_model=s.EventPage, tags=["events"], summary="The workspace's event log")
async def events_list(caller: CallerDep,
                      after: Annotated[int | None, Query(ge=0, le=s.INT64_MAX, description="event id")] = None,
                      type: Annotated[list[str] | None, Query(description="repeatable")] = None,
                      limit: Annotated[int, Query(ge=1, le=200)] = 100) -> dict[str, Any]:
    """Every event after `after`, oldest first; for integrations that poll. Staff only."""
    require_staff(caller.actor, "read the workspace's event log")
    async with caller.read() as tx:
        items, next_cursor = await workspace_events(tx, after_id=after, types=type, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
