"""/api/v1/tickets: create, list, read, edit, and one sub-resource per lifecycle action."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from frontdesk.actions import bulk, conversations, lifecycle, merge, messages, tickets, timers
from frontdesk.actions.base import Tx, get_ticket
from frontdesk.actions.messages import NewAttachment
from frontdesk.api import params as p
from frontdesk.api import schemas as s
from frontdesk.api.auth import Caller
from frontdesk.api.deps import CallerDep, IdempotencyKey
from frontdesk.api.idempotency import run_creating
from frontdesk.db.models import Ticket
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.tickets import (
    TicketFilters,
    get_ticket_view,
    list_tickets,
    present_messages,
    present_ticket,
    ticket_events,
    ticket_timeline,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"],
                   dependencies=[Depends(p.reject_nul_characters)])

TicketAction = Callable[[Tx], Awaitable[Ticket]]


async def _change(caller: Caller, action: TicketAction) -> dict[str, Any]:
    """Run one ticket action in one transaction and answer with the ticket's shape."""
    async with caller.tx() as tx:
        ticket = await action(tx)
        return await present_ticket(tx, ticket)


def _person(value: str | None, caller: Caller, field: str) -> tuple[int | None, bool]:
    """``me``, ``none`` or a member id -> (id, wants-none)."""
    if value is None:
        return None, False
    if value == "me":
        return caller.actor.member_id, False
    if value == "none":
        return None, True
    if value.isdigit():
        return int(value), False
    raise ValidationFailed(f"{field} must be a member id, 'me' or 'none'", field=field)


@router.post("", status_code=201, response_model=s.TicketOut, summary="Open a ticket")
async def create_ticket(body: s.TicketCreate, request: Request, caller: CallerDep,
                        idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Open a ticket of a type, with its first message. Type restrictions and the per-user
    open-ticket limit apply (409 when reached). Honours `Idempotency-Key`."""
    data = body.model_dump()

    async def create(tx: Tx) -> dict[str, Any]:
        ticket = await tickets.open_ticket(tx, **data)
        return await present_ticket(tx, ticket)

    return await run_creating(caller, request, idempotency_key, data, create,
                              response_model=s.TicketOut)


@router.get("", response_model=s.TicketPage, summary="List tickets")
async def list_all(
    caller: CallerDep,
    status: Annotated[list[str] | None, Query(description="repeatable")] = None,
    priority: Annotated[list[str] | None, Query(description="repeatable")] = None,
    assignee: Annotated[str | None, Query(description="member id, 'me' or 'none'")] = None,
    claimer: Annotated[str | None, Query(description="member id, 'me' or 'none'")] = None,
    type_id: p.IdFilter = None,
    team_id: p.IdFilter = None,
    opener_id: p.IdFilter = None,
    tag: Annotated[list[str] | None, Query(description="repeatable; all must match")] = None,
    escalated: bool | None = None,
    q: Annotated[str | None, Query(description="text in the title or messages, or a ticket number")] = None,
    order: Annotated[str, Query(description="newest or oldest")] = "newest",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Tickets the caller may see, filtered, a page at a time (`next_cursor` for the next)."""
    assignee_id, unassigned = _person(assignee, caller, "assignee")
    claimer_id, unclaimed = _person(claimer, caller, "claimer")
    filters = TicketFilters(status=status, priority=priority, assignee_id=assignee_id, unassigned=unassigned,
                            claimer_id=claimer_id, unclaimed=unclaimed, type_id=type_id, team_id=team_id,
                            opener_id=opener_id, tag=tag, escalated=escalated, q=q)
    async with caller.read() as tx:
        items, next_cursor = await list_tickets(tx, filters, cursor=cursor, limit=limit, order=order)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/bulk", response_model=s.BulkResult, summary="Bulk assign, tag or change status")
async def bulk_operation(body: s.BulkIn, caller: CallerDep) -> dict[str, Any]:
    """Apply one change to many tickets. Each ticket's result is reported; a refused ticket
    does not stop or undo the others."""
    async with caller.tx() as tx:
        if body.operation == "assign":
            results = await bulk.bulk_assign(tx, body.numbers, body.assignee_id)
        elif body.operation == "tag":
            results = await bulk.bulk_tag(tx, body.numbers, add=body.add, remove=body.remove)
        else:
            if body.status is None:
                raise ValidationFailed("status is required for a status change", field="status")
            results = await bulk.bulk_status(tx, body.numbers, body.status, reason=body.reason, note=body.note)
    items = [{"ticket_number": r.ticket_number, "ok": r.ok, "error_code": r.error_code, "message": r.message}
             for r in results]
    ok = sum(1 for r in results if r.ok)
    return {"succeeded": ok, "failed": len(results) - ok, "results": items}


@router.get("/{number}", response_model=s.TicketOut, summary="Get a ticket")
async def get_one(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        return await get_ticket_view(tx, number)


@router.patch("/{number}", response_model=s.TicketOut, summary="Edit ticket fields")
async def patch(number: p.TicketNumber, body: s.TicketPatch, caller: CallerDep) -> dict[str, Any]:
    """Plain field edits; each field goes through the same action as its own endpoint, so
    the same events are written."""
    changes = body.model_dump(exclude_unset=True)
    return await _change(caller, lambda tx: tickets.update_ticket(tx, number, changes))


@router.post("/{number}/claim", response_model=s.TicketOut, summary="Claim")
async def claim(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """"I'm working this." Staff only; 409 when someone else holds the claim."""
    return await _change(caller, lambda tx: tickets.claim_ticket(tx, number))


@router.post("/{number}/unclaim", response_model=s.TicketOut, summary="Release the claim")
async def unclaim(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.unclaim_ticket(tx, number))


@router.post("/{number}/assign", response_model=s.TicketOut, summary="Assign")
async def assign(number: p.TicketNumber, body: s.AssignIn, caller: CallerDep) -> dict[str, Any]:
    """"You'll handle this." The assignee must be staff for the ticket's type."""
    return await _change(caller, lambda tx: tickets.assign_ticket(tx, number, body.assignee_id))


@router.post("/{number}/unassign", response_model=s.TicketOut, summary="Unassign")
async def unassign(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.assign_ticket(tx, number, None))


@router.post("/{number}/status", response_model=s.TicketOut, summary="Change status")
async def status(number: p.TicketNumber, body: s.StatusIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.set_status(tx, number, body.status))


@router.post("/{number}/priority", response_model=s.TicketOut, summary="Change priority")
async def priority(number: p.TicketNumber, body: s.PriorityIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.set_priority(tx, number, body.priority))


@router.post("/{number}/tags", response_model=s.TicketOut, summary="Add a tag")
async def add_tag(number: p.TicketNumber, body: s.TagIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.add_tag(tx, number, body.tag))


@router.delete("/{number}/tags/{tag}", response_model=s.TicketOut, summary="Remove a tag")
async def remove_tag(number: p.TicketNumber, tag: str, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.remove_tag(tx, number, tag))


@router.put("/{number}/fields/{key}", response_model=s.TicketOut, summary="Set a custom field")
async def set_field(number: p.TicketNumber, key: str, body: s.FieldValueIn, caller: CallerDep) -> dict[str, Any]:
    """Set a custom field, validated against its definition; `null` clears it."""
    return await _change(caller, lambda tx: tickets.set_custom_field(tx, number, key, body.value))


@router.post("/{number}/rename", response_model=s.TicketOut, summary="Rename")
async def rename(number: p.TicketNumber, body: s.RenameIn, caller: CallerDep) -> dict[str, Any]:
    """Set a custom subject, kept exactly as written; the channel name follows it."""
    return await _change(caller, lambda tx: tickets.rename_ticket(tx, number, body.title))


@router.post("/{number}/move", response_model=s.TicketOut, summary="Move to another type")
async def move(number: p.TicketNumber, body: s.MoveIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.move_ticket(tx, number, body.type_id))


@router.post("/{number}/team", response_model=s.TicketOut, summary="Route to a team")
async def team(number: p.TicketNumber, body: s.TeamIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.set_team(tx, number, body.team_id))


@router.post("/{number}/participants", response_model=s.TicketOut, summary="Add a participant or contact")
async def add_participant(number: p.TicketNumber, body: s.ParticipantIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.add_participant(tx, number, body.member_id, kind=body.kind))


@router.delete("/{number}/participants/{member_id}", response_model=s.TicketOut,
               summary="Remove a participant or contact")
async def remove_participant(number: p.TicketNumber, member_id: p.MemberId, caller: CallerDep,
                             kind: str = "participant") -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.remove_participant(tx, number, member_id, kind=kind))


@router.post("/{number}/pin", response_model=s.TicketOut, summary="Pin (exempt from auto-close)")
async def pin(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.pin_ticket(tx, number))


@router.post("/{number}/unpin", response_model=s.TicketOut, summary="Unpin")
async def unpin(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.unpin_ticket(tx, number))


@router.post("/{number}/escalate", response_model=s.TicketOut, summary="Escalate to a human")
async def escalate(number: p.TicketNumber, caller: CallerDep, body: s.EscalateIn | None = None) -> dict[str, Any]:
    """Staff, or the opener asking for a human."""
    data = body or s.EscalateIn()
    return await _change(caller, lambda tx: tickets.escalate_ticket(tx, number, reason=data.reason, note=data.note))


@router.post("/{number}/lockdown", response_model=s.TicketOut, summary="Lock down (management only)")
async def lockdown(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.lockdown_ticket(tx, number))


@router.post("/{number}/unlock", response_model=s.TicketOut, summary="Lift lockdown (management only)")
async def unlock(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: tickets.unlock_ticket(tx, number))


@router.post("/{number}/sla/pause", response_model=s.TicketOut, summary="Pause the SLA clock")
async def pause_sla(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """Stop the SLA clock by hand; it resumes where it stopped. Management, or staff whose team
    grants ``sla.pause``. 409 on a closed ticket."""
    return await _change(caller, lambda tx: timers.pause_sla(tx, number))


@router.post("/{number}/sla/resume", response_model=s.TicketOut, summary="Resume the SLA clock")
async def resume_sla(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: timers.resume_sla(tx, number))


@router.post("/{number}/close", response_model=s.TicketOut, summary="Close with a reason")
async def close(number: p.TicketNumber, body: s.CloseIn, caller: CallerDep) -> dict[str, Any]:
    """Close with a reason and an optional note (at most 500 characters); renders the
    transcript. 409 when the ticket is already closed."""
    return await _change(caller, lambda tx: lifecycle.close_ticket(tx, number, reason=body.reason, note=body.note,
                                                                       share_comment=body.share_comment))


@router.post("/{number}/reopen", response_model=s.TicketOut, summary="Reopen")
async def reopen(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: lifecycle.reopen_ticket(tx, number))


@router.post("/{number}/rate", response_model=s.TicketOut, summary="Rate (CSAT, opener only, after close)")
async def rate(number: p.TicketNumber, body: s.RateIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: lifecycle.rate_ticket(tx, number, body.rating, comment=body.comment))


@router.post("/{number}/merge", response_model=s.TicketOut, summary="Merge into another ticket")
async def merge_into(number: p.TicketNumber, body: s.MergeIn, caller: CallerDep) -> dict[str, Any]:
    """Merge this ticket into `into`; answers with the destination. The destination inherits
    conversations, notes and tags; this one is closed with `merged_into`."""
    return await _change(caller, lambda tx: merge.merge_tickets(tx, number, body.into))


@router.post("/{number}/unmerge", response_model=s.TicketOut, summary="Undo a merge (within 30 days)")
async def unmerge(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: merge.unmerge_ticket(tx, number))


@router.post("/{number}/conversations", response_model=s.TicketOut, summary="Link a conversation")
async def link(number: p.TicketNumber, body: s.LinkConversationIn, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: conversations.link_conversation(tx, number, body.conversation_id))


@router.delete("/{number}/conversations/{conversation_id}", response_model=s.TicketOut,
               summary="Unlink a conversation")
async def unlink(number: p.TicketNumber, conversation_id: p.ConversationId, caller: CallerDep) -> dict[str, Any]:
    return await _change(caller, lambda tx: conversations.unlink_conversation(tx, number, conversation_id))


# --- messages and notes ---------------------------------------------------------------------------------------


def decode_attachments(items: list[s.AttachmentIn], max_bytes: int) -> list[NewAttachment]:
    out = []
    for i, a in enumerate(items):
        data = None
        if a.content_base64 is not None:
            try:
                data = base64.b64decode(a.content_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationFailed("content_base64 is not valid base64",
                                       field=f"attachments[{i}].content_base64") from None
            if len(data) > max_bytes:
                raise ValidationFailed(f"an attachment may be at most {max_bytes} bytes",
                                       field=f"attachments[{i}].content_base64")
        out.append(NewAttachment(filename=a.filename, content_type=a.content_type, data=data, url=a.url,
                                 size=a.size))
    return out


@router.get("/{number}/messages", response_model=s.MessageList, summary="The ticket's messages and notes")
async def list_messages(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """Oldest first. Customers see public messages only; staff see internal notes too."""
    async with caller.read() as tx:
        return {"items": await ticket_timeline(tx, number)}


@router.post("/{number}/messages", status_code=201, response_model=s.MessageOut, summary="Post a message")
async def post_message(number: p.TicketNumber, body: s.MessageIn, request: Request, caller: CallerDep,
                       idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """A public message, sent through the conversation's own channel. Attachments carry a URL
    or their bytes base64-encoded. Honours `Idempotency-Key`."""
    files = decode_attachments(body.attachments, request.app.state.max_attachment_bytes)
    data = body.model_dump()

    async def create(tx: Tx) -> dict[str, Any]:
        message = await messages.post_message(
            tx, number, body.body, conversation_id=body.conversation_id, anonymous=body.anonymous,
            reply_to_id=body.reply_to_id, attachments=files, external_id=body.external_id)
        ticket = await get_ticket(tx, number, for_update=False)
        return (await present_messages(tx, [message], ticket=ticket, staff=True))[0]

    return await run_creating(caller, request, idempotency_key, data, create,
                              response_model=s.MessageOut)


@router.post("/{number}/notes", status_code=201, response_model=s.MessageOut, summary="Add an internal note")
async def add_note(number: p.TicketNumber, body: s.NoteIn, request: Request, caller: CallerDep,
                   idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Staff-only; never shown to the customer. Honours `Idempotency-Key`."""
    files = decode_attachments(body.attachments, request.app.state.max_attachment_bytes)
    data = body.model_dump()

    async def create(tx: Tx) -> dict[str, Any]:
        note = await messages.add_note(tx, number, body.body, attachments=files)
        ticket = await get_ticket(tx, number, for_update=False)
        return (await present_messages(tx, [note], ticket=ticket, staff=True))[0]

    return await run_creating(caller, request, idempotency_key, data, create,
                              response_model=s.MessageOut)


@router.get("/{number}/events", response_model=s.EventPage, summary="The ticket's audit log")
async def events(number: p.TicketNumber, caller: CallerDep, cursor: str | None = None,
                 limit: Annotated[int, Query(ge=1, le=200)] = 100) -> dict[str, Any]:
    """Every change to the ticket, oldest first, with who, when, and before/after. Staff only."""
    async with caller.read() as tx:
        items, next_cursor = await ticket_events(tx, number, cursor=cursor, limit=limit)
    return {"items": items, "next_cursor": next_cursor}
