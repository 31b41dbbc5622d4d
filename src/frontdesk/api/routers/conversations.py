"""/api/v1/conversations: inbox threads that are not tickets (yet)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from frontdesk.actions import conversations as conv
from frontdesk.actions.base import Tx
from frontdesk.api import params as p
from frontdesk.api import schemas as s
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.db.models import Message
from frontdesk.queries.tickets import present_messages, present_ticket
from frontdesk.queries.workspace import list_conversations, present_conversations

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"],
                   dependencies=[Depends(p.reject_nul_characters)])


async def _detail(tx: Tx, conversation_id: int) -> dict[str, Any]:
    conversation = await conv.get_conversation(tx, conversation_id, for_update=False)
    out = (await present_conversations(tx, [conversation]))[0]
    stmt = select(Message).where(Message.conversation_id == conversation.id)
    staff = tx.actor.is_staff_anywhere
    if not staff:
        stmt = stmt.where(Message.visibility == "public")
    rows = list((await tx.session.execute(stmt.order_by(Message.created_at, Message.id))).scalars())
    out["messages"] = await present_messages(tx, rows, ticket=None, staff=staff)
    return out


@router.post("", status_code=201, response_model=s.ConversationDetail, summary="Start a conversation")
async def create(body: s.ConversationCreate, request: Request, caller: CallerDep,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        conversation = await conv.start_conversation(tx, **data)
        return await _detail(tx, conversation.id)

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.ConversationDetail)


@router.get("", response_model=s.ConversationPage, summary="List conversations")
async def list_all(caller: CallerDep,
                   status: Annotated[Literal["open", "solved"] | None, Query(description="open or solved")] = None,
                   linked: Annotated[bool | None, Query(description="linked to a ticket or not")] = None,
                   cursor: str | None = None, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    async with caller.read() as tx:
        items, next_cursor = await list_conversations(tx, status=status, linked=linked, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{conversation_id}", response_model=s.ConversationDetail, summary="Get a conversation")
async def get_one(conversation_id: p.ConversationId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return await _detail(tx, conversation_id)


@router.post("/{conversation_id}/messages", status_code=201, response_model=s.MessageOut,
             summary="Write in a conversation")
async def post(conversation_id: p.ConversationId, body: s.ConversationMessageIn, request: Request, caller: CallerDep,
               idempotency_key: IdempotencyKey = None) -> JSONResponse:
    data = body.model_dump()

    async def run(tx: Tx) -> dict[str, Any]:
        message = await conv.post_in_conversation(tx, conversation_id, body.body, internal=body.internal)
        return (await present_messages(tx, [message], ticket=None, staff=True))[0]

    return await run_creating(caller, request, idempotency_key, data, run,
                              response_model=s.MessageOut)


@router.post("/{conversation_id}/solve", response_model=s.ConversationDetail, summary="Solve without a ticket")
async def solve(conversation_id: p.ConversationId, caller: CallerDep) -> dict[str, Any]:
    async with caller.tx() as tx:
        await conv.solve_conversation(tx, conversation_id)
        return await _detail(tx, conversation_id)


@router.post("/{conversation_id}/convert", status_code=201, response_model=s.TicketOut,
             summary="Convert to ticket")
async def convert(conversation_id: p.ConversationId, body: s.ConvertIn, caller: CallerDep) -> dict[str, Any]:
    """Open a ticket for this conversation and keep it linked; replies still go out through
    the conversation's own channel."""
    async with caller.tx() as tx:
        ticket = await conv.convert_to_ticket(tx, conversation_id, **body.model_dump())
        return await present_ticket(tx, ticket)
