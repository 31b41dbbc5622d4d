"""The transcript page a close DM links to: no API token, a signed link for one member
(``frontdesk.transcript_links``). The page shows what that member may read of the transcript,
as ``transcript_for_viewer`` renders it for them, and only while they may still see the ticket."""

from __future__ import annotations

import html

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from frontdesk.actions.base import ticket_for
from frontdesk.actions.members import actor_for_member
from frontdesk.actions.transcripts import transcript_for_viewer
from frontdesk.api.deps import DeskDep
from frontdesk.db.models import Member, Ticket, Transcript
from frontdesk.domain.errors import NotFound
from frontdesk.domain.permissions import Actor, Capability
from frontdesk.transcript_links import verify

router = APIRouter(tags=["transcripts"])

_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src *",
            "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
_INT = {"ge": 1, "le": 2**63 - 1}


def _refusal(status: int, title: str, text: str) -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:40em;margin:4em auto'><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p></body></html>")
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


NOT_FOUND = ("Transcript not found", "This transcript does not exist any more, or you may no longer see it.")


@router.get("/transcripts/{transcript_id}/page", response_class=HTMLResponse,
            summary="A transcript page from a signed link (the close DM's)")
async def transcript_page(desk: DeskDep, transcript_id: int,
                          member: int = Query(..., **_INT), expires: int = Query(..., ge=0, le=2**63 - 1),
                          sig: str = Query(..., max_length=128)) -> HTMLResponse:
    """403 when the signature does not match (altered or foreign) or the link has expired
    (links last 30 days); 404 when the transcript is gone (retention) or the member may no
    longer see the ticket."""
    if not 1 <= transcript_id <= 2**63 - 1:
        return _refusal(404, *NOT_FOUND)
    check = verify(transcript_id, member, expires, sig)
    if not check.ok:
        if check.reason == "expired":
            return _refusal(403, "This link has expired",
                            "Transcript links are valid for 30 days. Ask the support team for a new one.")
        return _refusal(403, "This link is not valid",
                        "The link was changed or was not made by this desk. Use the link from your message as it is.")
    async with desk.read(Actor.system(), 0) as tx:
        transcript = await tx.session.get(Transcript, transcript_id)
        person = await tx.session.get(Member, member)
        if transcript is None or person is None or person.workspace_id != transcript.workspace_id:
            return _refusal(404, *NOT_FOUND)
        ticket = await tx.session.get(Ticket, transcript.ticket_id)
        if ticket is None:
            return _refusal(404, *NOT_FOUND)
        tx.workspace_id = transcript.workspace_id
        tx.actor = await actor_for_member(tx, person)
        try:
            await ticket_for(tx, ticket.number, Capability.VIEW, for_update=False)
        except NotFound:
            return _refusal(404, *NOT_FOUND)
        page, _ = await transcript_for_viewer(tx, transcript, ticket)
    return HTMLResponse(page, headers=_HEADERS)
