"""/api/v1 transcripts, attachments and message edits: things reached by id whose access
follows the ticket they belong to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from sqlalchemy import select

from frontdesk.actions import messages
from frontdesk.actions.base import Tx, ticket_for
from frontdesk.actions.transcripts import purge_expired_transcripts, transcript_for_viewer
from frontdesk.api import params as p
from frontdesk.api import schemas as s
from frontdesk.api.deps import CallerDep
from frontdesk.db.models import Attachment, Conversation, Message, Ticket, Transcript
from frontdesk.domain.errors import NotFound, NotPermitted
from frontdesk.domain.permissions import Capability
from frontdesk.queries.tickets import present_messages
from frontdesk.queries.workspace import present_transcript

router = APIRouter(prefix="/api/v1", dependencies=[Depends(p.reject_nul_characters)])


@router.get("/tickets/{number}/transcripts", response_model=s.TranscriptList, tags=["transcripts"],
            summary="A ticket's transcripts")
async def ticket_transcripts(number: p.TicketNumber, caller: CallerDep) -> dict[str, Any]:
    """One transcript per close, newest first. Anyone who may see the ticket."""
    async with caller.read() as tx:
        ticket = await ticket_for(tx, number, Capability.VIEW, for_update=False)
        rows = (await tx.session.execute(select(Transcript).where(Transcript.ticket_id == ticket.id)
                                         .order_by(Transcript.id.desc()))).scalars()
        return {"items": [present_transcript(t, number) for t in rows]}


async def _transcript(tx: Tx, transcript_id: int) -> tuple[Transcript, Ticket]:
    transcript = await tx.session.get(Transcript, transcript_id)
    if transcript is None or transcript.workspace_id != tx.workspace_id:
        raise NotFound(f"transcript {transcript_id} not found")
    ticket = await tx.session.get(Ticket, transcript.ticket_id)
    assert ticket is not None
    try:
        await ticket_for(tx, ticket.number, Capability.VIEW, for_update=False)
    except NotFound:
        raise NotFound(f"transcript {transcript_id} not found") from None
    return transcript, ticket


@router.get("/transcripts/{transcript_id}", response_model=s.TranscriptOut, tags=["transcripts"],
            summary="A transcript's details")
async def transcript_meta(transcript_id: p.TranscriptId, caller: CallerDep) -> dict[str, Any]:
    async with caller.read() as tx:
        transcript, ticket = await _transcript(tx, transcript_id)
        return present_transcript(transcript, ticket.number)


@router.get("/transcripts/{transcript_id}/html", response_class=HTMLResponse, tags=["transcripts"],
            summary="Download a transcript as a standalone HTML page")
async def transcript_html(transcript_id: p.TranscriptId, caller: CallerDep, download: bool = False) -> HTMLResponse:
    async with caller.read() as tx:
        transcript, ticket = await _transcript(tx, transcript_id)
        html, _ = await transcript_for_viewer(tx, transcript, ticket)
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src *"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="ticket-{ticket.number}-transcript.html"'
    return HTMLResponse(html, headers=headers)


@router.get("/transcripts/{transcript_id}/text", response_class=PlainTextResponse, tags=["transcripts"],
            summary="Download a transcript as plain text")
async def transcript_text(transcript_id: p.TranscriptId, caller: CallerDep,
                          download: bool = False) -> PlainTextResponse:
    async with caller.read() as tx:
        transcript, ticket = await _transcript(tx, transcript_id)
        _, text = await transcript_for_viewer(tx, transcript, ticket)
    headers = {}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="ticket-{ticket.number}-transcript.txt"'
    return PlainTextResponse(text, headers=headers)


@router.post("/transcripts/purge", response_model=s.PurgeOut, tags=["transcripts"],
             summary="Delete transcripts past the retention period")
async def purge(caller: CallerDep) -> dict[str, Any]:
    """Admins only. Uses the workspace's `transcript_retention_days`."""
    async with caller.tx() as tx:
        return {"purged": await purge_expired_transcripts(tx)}


@router.get("/attachments/{attachment_id}", tags=["attachments"], summary="Download an attachment",
            response_class=Response)
async def attachment(attachment_id: p.AttachmentId, caller: CallerDep) -> Response:
    """The stored bytes, for whoever may see the message it belongs to."""
    async with caller.read() as tx:
        row = await tx.session.get(Attachment, attachment_id)
        if row is None or row.workspace_id != caller.workspace_id or row.message_id is None:
            raise NotFound(f"attachment {attachment_id} not found")
        message = await tx.session.get(Message, row.message_id)
        assert message is not None
        ticket = await messages.ticket_of_message(tx, message)
        try:
            if ticket is not None:
                capability = Capability.NOTE if message.visibility == "internal" else Capability.VIEW
                await ticket_for(tx, ticket.number, capability, for_update=False)
            elif not caller.actor.is_staff_anywhere:
                conversation = await tx.session.get(Conversation, message.conversation_id or 0)
                if conversation is None or conversation.customer_id != caller.actor.member_id \
                        or message.visibility == "internal":
                    raise NotFound("hidden")
        except (NotFound, NotPermitted):
            # An attachment on a note the caller may not read does not exist for them.
            raise NotFound(f"attachment {attachment_id} not found") from None
        if row.storage_key is None:
            return Response(status_code=307, headers={"Location": row.url or ""})
        data = tx.files.get(row.storage_key)
    safe_name = row.filename.replace('"', "")
    return Response(data, media_type=row.content_type,
                    headers={"Content-Disposition": f'attachment; filename="{safe_name}"',
                             "X-Content-Type-Options": "nosniff"})


@router.patch("/messages/{message_id}", response_model=s.MessageOut, tags=["messages"], summary="Edit a message")
async def edit(message_id: p.MessageId, body: s.MessageEditIn, caller: CallerDep) -> dict[str, Any]:
    """Only the author. The previous text is kept and listed under `edits`."""
    async with caller.tx() as tx:
        message = await messages.edit_message(tx, message_id, body.body)
        ticket = await messages.ticket_of_message(tx, message)
        return (await present_messages(tx, [message], ticket=ticket, staff=True))[0]
