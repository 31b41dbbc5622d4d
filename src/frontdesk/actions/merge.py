"""Merging duplicate tickets, and undoing a merge from the event log within 30 days."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from frontdesk.actions.base import Tx, ticket_for, touch
from frontdesk.actions.close_requests import settle_close_request_on_close
from frontdesk.actions.lifecycle import mark_closed
from frontdesk.actions.timers import after_reopen
from frontdesk.db.models import Conversation, Event, Message, Ticket, TicketParticipant, TicketTag
from frontdesk.domain import events as ev
from frontdesk.domain.errors import MergeRefused, UnmergeRefused
from frontdesk.domain.permissions import Capability
from frontdesk.domain.tickets import UNMERGE_WINDOW_DAYS, CloseReason, Status


async def merge_tickets(tx: Tx, source_number: int, into_number: int) -> Ticket:
    """Merge ticket ``source_number`` into ``into_number``: the destination inherits the
    source's conversations, internal notes, tags and participants; the source is closed as a
    duplicate with ``merged_into``. Staff of both tickets only. A ticket cannot be merged into
    itself, into a closed or merged ticket, and a closed ticket is not merged.
    Emits ``ticket.merged`` on both tickets; the destination's event records exactly what
    moved, which is what ``unmerge_ticket`` reads."""
    if source_number == into_number:
        raise MergeRefused("a ticket cannot be merged into itself")
    # Lock in a fixed order so two crossing merges cannot deadlock.
    first, second = sorted((source_number, into_number))
    locked = {first: await ticket_for(tx, first, Capability.MERGE),
              second: await ticket_for(tx, second, Capability.MERGE)}
    source, dest = locked[source_number], locked[into_number]
    if dest.merged_into_id is not None:
        raise MergeRefused(f"ticket {into_number} was itself merged into another ticket")
    if dest.status == Status.CLOSED:
        raise MergeRefused(f"ticket {into_number} is closed; reopen it before merging into it")
    if source.merged_into_id is not None:
        raise MergeRefused(f"ticket {source_number} is already merged")
    if source.status == Status.CLOSED:
        raise MergeRefused(f"ticket {source_number} is closed; reopen it before merging it")
    if source.lockdown and not dest.lockdown:
        # Its conversation would become visible to the regular staff of the destination.
        raise MergeRefused(f"ticket {source_number} is under lockdown; lock ticket {into_number} down first")

    conversation_ids = list((await tx.session.execute(
        select(Conversation.id).where(Conversation.ticket_id == source.id).order_by(Conversation.id)
    )).scalars())
    note_ids = list((await tx.session.execute(
        select(Message.id).where(Message.ticket_id == source.id).order_by(Message.id)
    )).scalars())
    source_tags = set((await tx.session.execute(
        select(TicketTag.tag).where(TicketTag.ticket_id == source.id))).scalars())
    dest_tags = set((await tx.session.execute(select(TicketTag.tag).where(TicketTag.ticket_id == dest.id))).scalars())
    added_tags = sorted(source_tags - dest_tags)
    source_people = set((await tx.session.execute(
        select(TicketParticipant.member_id, TicketParticipant.kind).where(TicketParticipant.ticket_id == source.id)
    )).all())
    dest_people = set((await tx.session.execute(
        select(TicketParticipant.member_id, TicketParticipant.kind).where(TicketParticipant.ticket_id == dest.id)
    )).all())
    if source.opener_id is not None and source.opener_id != dest.opener_id:
        # The other ticket's opener keeps access to their conversation.
        source_people.add((source.opener_id, "participant"))
    added_people = sorted(p for p in source_people - dest_people if p[0] != dest.opener_id)

    tx.forget_ticket_reads()
    if conversation_ids:
        await tx.session.execute(update(Conversation).where(Conversation.id.in_(conversation_ids))
                                 .values(ticket_id=dest.id))
    if note_ids:
        await tx.session.execute(update(Message).where(Message.id.in_(note_ids)).values(ticket_id=dest.id))
    for tag in added_tags:
        tx.session.add(TicketTag(ticket_id=dest.id, tag=tag))
    for member_id, kind in added_people:
        tx.session.add(TicketParticipant(ticket_id=dest.id, member_id=member_id, kind=kind, added_at=tx.now))

    source_before = {"status": source.status, "close_reason": source.close_reason, "close_note": source.close_note}
    await settle_close_request_on_close(tx, source)
    await mark_closed(tx, source, CloseReason.DUPLICATE, f"Merged into ticket {dest.number}")
    source.merged_into_id = dest.id
    if dest.last_message_at is None or (source.last_message_at and source.last_message_at > dest.last_message_at):
        dest.last_message_at = source.last_message_at
    touch(tx, dest)
    await tx.record(ev.TICKET_MERGED, ticket=dest, role="destination", source_number=source.number,
                    into_number=dest.number, moved_conversation_ids=conversation_ids, moved_note_ids=note_ids,
                    added_tags=added_tags, added_participants=[[m, k] for m, k in added_people],
                    source_before=source_before)
    await tx.record(ev.TICKET_MERGED, ticket=source, role="source", source_number=source.number,
                    into_number=dest.number, before=source_before,
                    after={"status": Status.CLOSED.value, "close_reason": CloseReason.DUPLICATE.value})
    return dest


async def unmerge_ticket(tx: Tx, source_number: int) -> Ticket:
    """Undo the merge of ticket ``source_number`` within 30 days: moves back exactly the
    conversations and notes the merge moved, removes the tags and participants it added, and
    restores the source's status. Read from the merge's event. Staff of both tickets only;
    refused while the destination is itself merged into a third ticket.
    Emits ``ticket.unmerged`` on both tickets."""
    source = await ticket_for(tx, source_number, Capability.MERGE)
    if source.merged_into_id is None:
        raise UnmergeRefused(f"ticket {source_number} is not merged")
    dest = await tx.session.get(Ticket, source.merged_into_id)
    assert dest is not None
    await ticket_for(tx, dest.number, Capability.MERGE)
    if dest.merged_into_id is not None:
        # What moved now sits on a third ticket; undo the later merge first.
        raise UnmergeRefused(f"ticket {dest.number} was itself merged afterwards; unmerge it first")
    merge_event = (await tx.session.execute(
        select(Event).where(Event.ticket_id == dest.id, Event.type == ev.TICKET_MERGED)
        .order_by(Event.id.desc())
    )).scalars()
    record = next((e for e in merge_event if e.payload.get("role") == "destination"
                   and e.payload.get("source_number") == source.number), None)
    if record is None:
        raise UnmergeRefused(f"no merge of ticket {source_number} is recorded in the event log")
    if tx.now - record.occurred_at > timedelta(days=UNMERGE_WINDOW_DAYS):
        raise UnmergeRefused(
            f"ticket {source_number} was merged on {_date(record.occurred_at)}; merges can be undone "
            f"for {UNMERGE_WINDOW_DAYS} days"
        )
    payload = record.payload
    conversation_ids = list(payload.get("moved_conversation_ids", []))
    note_ids = list(payload.get("moved_note_ids", []))
    tx.forget_ticket_reads()
    if conversation_ids:
        await tx.session.execute(update(Conversation).where(
            Conversation.id.in_(conversation_ids), Conversation.ticket_id == dest.id).values(ticket_id=source.id))
    if note_ids:
        await tx.session.execute(update(Message).where(
            Message.id.in_(note_ids), Message.ticket_id == dest.id).values(ticket_id=source.id))
    for tag in payload.get("added_tags", []):
        row = await tx.session.get(TicketTag, (dest.id, tag))
        if row is not None:
            await tx.session.delete(row)
    for member_id, kind in payload.get("added_participants", []):
        row = await tx.session.get(TicketParticipant, (dest.id, member_id, kind))
        if row is not None:
            await tx.session.delete(row)
    before = payload.get("source_before", {})
    source.status = before.get("status", Status.OPEN)
    source.close_reason = before.get("close_reason")
    source.close_note = before.get("close_note")
    source.closed_at = None
    source.closed_by_id = None
    source.merged_into_id = None
    await after_reopen(tx, source)
    touch(tx, source)
    touch(tx, dest)
    await tx.record(ev.TICKET_UNMERGED, ticket=dest, role="destination", source_number=source.number,
                    merge_event_id=record.id, restored_conversation_ids=conversation_ids,
                    restored_note_ids=note_ids)
    await tx.record(ev.TICKET_UNMERGED, ticket=source, role="source", into_number=dest.number,
                    merge_event_id=record.id, after={"status": source.status})
    return source


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")
