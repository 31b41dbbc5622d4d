"""Transcripts: rendered when a ticket closes, kept for the workspace's retention period."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select

from frontdesk.actions.base import Tx, get_workspace, ticket_access
from frontdesk.actions.messages import customer_conversation_owners
from frontdesk.db.models import (
    Attachment,
    Conversation,
    Member,
    Message,
    Ticket,
    TicketTag,
    TicketType,
    Transcript,
)
from frontdesk.domain.permissions import is_ticket_staff, require_workspace_admin
from frontdesk.domain.tickets import Visibility, anonymous_nickname
from frontdesk.domain.transcripts import (
    TranscriptAttachment,
    TranscriptMessage,
    TranscriptTicket,
    excerpt,
    render_html,
    render_text,
)


async def create_transcript(tx: Tx, ticket: Ticket) -> Transcript:
    """Render the ticket's public messages as HTML and text and store them. Called by
    ``close_ticket``; emits ``transcript.created``."""
    workspace = await get_workspace(tx)
    html, text, count = await render_transcript(tx, ticket)
    retention = (workspace.settings or {}).get("transcript_retention_days")
    transcript = Transcript(
        workspace_id=tx.workspace_id, ticket_id=ticket.id, html=html, text=text, message_count=count,
        created_at=tx.now, expires_at=tx.now + timedelta(days=retention) if retention else None,
    )
    tx.session.add(transcript)
    await tx.session.flush()
    await tx.record("transcript.created", ticket=ticket, transcript_id=transcript.id,
                    message_count=transcript.message_count)
    return transcript


async def render_transcript(tx: Tx, ticket: Ticket, *, customer_ids: set[int] | None = None,
                            until: datetime | None = None) -> tuple[str, str, int]:
    """The ticket's public messages as (HTML, text, message count). ``customer_ids`` keeps only
    those customers' conversations (a customer's view of a ticket that holds other customers'
    conversations); ``until`` leaves out later messages (the state at a past close)."""
    workspace = await get_workspace(tx)
    conversations = select(Conversation.id).where(Conversation.ticket_id == ticket.id)
    if customer_ids is not None:
        conversations = conversations.where(Conversation.customer_id.in_(customer_ids))
    wanted = [Message.conversation_id.in_(conversations.scalar_subquery()), Message.visibility == Visibility.PUBLIC]
    if until is not None:
        wanted.append(Message.created_at <= until)
    messages = list((await tx.session.execute(
        select(Message).where(*wanted).order_by(Message.created_at, Message.id)
    )).scalars())
    member_ids = {m.author_id for m in messages if m.author_id} | {ticket.opener_id} - {None}
    names = dict((await tx.session.execute(
        select(Member.id, Member.display_name).where(Member.id.in_(member_ids))
    )).all()) if member_ids else {}
    attachments: dict[int, list[TranscriptAttachment]] = {}
    if messages:
        for a in (await tx.session.execute(
            select(Attachment).where(Attachment.message_id.in_([m.id for m in messages])).order_by(Attachment.id)
        )).scalars():
            attachments.setdefault(a.message_id or 0, []).append(
                TranscriptAttachment(a.filename, a.size, a.url or f"/api/v1/attachments/{a.id}")
            )
    by_id = {m.id: m for m in messages}

    def author(member_id: int | None, anonymous: bool, kind: str) -> str:
        if member_id is None:
            return "frontdesk" if kind in ("bot", "system") else "unknown"
        if anonymous:
            if kind == "customer":
                return anonymous_nickname(ticket.id, member_id)
            return "Staff"
        return names.get(member_id, f"member {member_id}")

    rendered = [
        TranscriptMessage(
            author=author(m.author_id, m.anonymous, m.author_kind),
            author_kind=m.author_kind,
            body=m.body,
            created_at=m.created_at,
            edited=m.edited_at is not None,
            reply_to_excerpt=excerpt(by_id[m.reply_to_id].body) if m.reply_to_id in by_id else None,
            attachments=tuple(attachments.get(m.id, ())),
        )
        for m in messages
    ]
    ticket_type = await tx.session.get(TicketType, ticket.type_id) if ticket.type_id else None
    tags = tuple(sorted((await tx.session.execute(
        select(TicketTag.tag).where(TicketTag.ticket_id == ticket.id)
    )).scalars()))
    opener = author(ticket.opener_id, ticket.anonymous, "customer")
    head = TranscriptTicket(
        workspace=workspace.name, number=ticket.number, title=ticket.title,
        type_name=ticket_type.name if ticket_type else None, opener=opener, opened_at=ticket.created_at,
        closed_at=ticket.closed_at, close_reason=ticket.close_reason, close_note=ticket.close_note, tags=tags,
    )
    return render_html(head, rendered), render_text(head, rendered), len(rendered)


async def transcript_for_viewer(tx: Tx, transcript: Transcript, ticket: Ticket) -> tuple[str, str]:
    """The (HTML, text) of a stored transcript as ``tx.actor`` may read it. Staff read what was
    stored at close. A customer of a ticket that also holds other customers' conversations
    (after a merge or link) reads the same close rendered from their own conversations only."""
    access = await ticket_access(tx, ticket)
    if tx.actor.is_system or is_ticket_staff(tx.actor, access):
        return transcript.html, transcript.text
    owners = customer_conversation_owners(ticket, access, tx.actor.member_id)
    others = await tx.session.scalar(select(Conversation.id).where(
        Conversation.ticket_id == ticket.id, Conversation.customer_id.not_in(owners)).limit(1))
    if others is None:
        return transcript.html, transcript.text
    html, text, _ = await render_transcript(tx, ticket, customer_ids=owners, until=transcript.created_at)
    return html, text


async def purge_expired_transcripts(tx: Tx, *, now: datetime | None = None) -> int:
    """Delete transcripts past their retention date in this workspace. Admins or the desk.
    Emits one ``transcript.purged`` event with the count when any were removed."""
    require_workspace_admin(tx.actor, "purge transcripts")
    cutoff = now or tx.now
    result = await tx.session.execute(
        delete(Transcript).where(
            Transcript.workspace_id == tx.workspace_id,
            or_(Transcript.expires_at <= cutoff),
        )
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        await tx.record("transcript.purged", count=count, cutoff=cutoff)
    return count


async def apply_retention_setting(tx: Tx) -> int:
    """Recompute every transcript's expiry from the workspace's current retention days
    (after the setting changes). Returns how many rows changed."""
    workspace = await get_workspace(tx)
    retention = (workspace.settings or {}).get("transcript_retention_days")
    rows = list((await tx.session.execute(
        select(Transcript).where(Transcript.workspace_id == tx.workspace_id)
    )).scalars())
    for row in rows:
        row.expires_at = row.created_at + timedelta(days=retention) if retention else None
    return len(rows)


__all__ = ["apply_retention_setting", "create_transcript", "purge_expired_transcripts", "Ticket"]
