"""Tickets as the API and dashboard show them, lists with filters and cursors, timelines
and the audit log."""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, String, and_, cast, func, literal, or_, select, union_all

from frontdesk.actions.base import Tx, ticket_access, ticket_for
from frontdesk.actions.messages import customer_conversation_owners
from frontdesk.db.models import (
    Attachment,
    CloseRequest,
    Conversation,
    Event,
    Member,
    Message,
    MessageEdit,
    Team,
    Ticket,
    TicketParticipant,
    TicketTag,
    TicketType,
)
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import Capability, is_ticket_staff
from frontdesk.domain.tickets import Priority, Status, anonymous_nickname, normalize_tag
from frontdesk.queries.visibility import visible_tickets_clause

MAX_LIMIT = 200


def encode_cursor(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(value, dict):
            raise ValueError
        return value
    except (ValueError, json.JSONDecodeError):
        raise ValidationFailed("cursor is not one this API gave out", field="cursor") from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


async def present_tickets(tx: Tx, tickets: list[Ticket]) -> list[dict[str, Any]]:
    """The one ticket shape every response uses, loaded in two queries whatever the count:
    one for what hangs off the tickets (tags, people, conversations), one for names."""
    if not tickets:
        return []
    # What automation will do in this transaction belongs in the answer.
    await tx.settle()
    ids = [t.id for t in tickets]
    tags: dict[int, list[str]] = defaultdict(list)
    people: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"participant": [], "contact": []})
    conversations: dict[int, list[int]] = defaultdict(list)
    close_requests: dict[int, int] = {}
    parts = union_all(
        select(literal("tag").label("k"), TicketTag.ticket_id.label("t"), TicketTag.tag.label("s"),
               literal(None, Integer).label("i")).where(TicketTag.ticket_id.in_(ids)),
        select(TicketParticipant.kind, TicketParticipant.ticket_id, literal(None, String),
               TicketParticipant.member_id).where(TicketParticipant.ticket_id.in_(ids)),
        select(literal("conversation"), Conversation.ticket_id, literal(None, String), Conversation.id)
        .where(Conversation.ticket_id.in_(ids)),
        select(literal("close_request"), CloseRequest.ticket_id, literal(None, String), CloseRequest.id)
        .where(CloseRequest.ticket_id.in_(ids), CloseRequest.status == "pending"),
    )
    for kind, ticket_id, text_value, int_value in sorted(
            (await tx.session.execute(select(parts.subquery()))).all(),
            key=lambda r: (r[0], r[2] or "", r[3] or 0)):
        if kind == "tag":
            tags[ticket_id].append(text_value)
        elif kind == "close_request":
            close_requests[ticket_id] = int_value
        elif kind == "conversation":
            conversations[ticket_id].append(int_value)
        else:
            people[ticket_id][kind].append(int_value)
    member_ids = {m for t in tickets for m in (t.opener_id, t.assignee_id, t.claimer_id, t.closed_by_id) if m}
    member_ids |= {m for p in people.values() for ms in p.values() for m in ms}
    type_ids = {t.type_id for t in tickets if t.type_id}
    team_ids = {t.team_id for t in tickets if t.team_id}
    merged_ids = {t.merged_into_id for t in tickets if t.merged_into_id}
    lookups = [select(literal("member").label("k"), Member.id.label("id"), Member.display_name.label("v"))
               .where(Member.id.in_(member_ids))]
    if type_ids:
        lookups.append(select(literal("type"), TicketType.id, TicketType.name).where(TicketType.id.in_(type_ids)))
    if team_ids:
        lookups.append(select(literal("team"), Team.id, Team.name).where(Team.id.in_(team_ids)))
    if merged_ids:
        lookups.append(select(literal("merged"), Ticket.id, cast(Ticket.number, String))
                       .where(Ticket.id.in_(merged_ids)))
    found: dict[str, dict[int, str]] = defaultdict(dict)
    query = union_all(*lookups) if len(lookups) > 1 else lookups[0]
    for kind, row_id, value in (await tx.session.execute(select(query.subquery()))).all():
        found[kind][row_id] = value
    names, type_names, team_names = found["member"], found["type"], found["team"]
    merged_numbers = {k: int(v) for k, v in found["merged"].items()}

    def ref(member_id: int | None) -> dict[str, Any] | None:
        if member_id is None:
            return None
        return {"id": member_id, "display_name": names.get(member_id, f"member {member_id}")}

    out = []
    for t in tickets:
        opener = ref(t.opener_id)
        closed_by = ref(t.closed_by_id)
        if t.anonymous and opener is not None and tx.actor.member_id != t.opener_id and not tx.actor.is_system:
            opener = {"id": None, "display_name": anonymous_nickname(t.id, t.opener_id or 0), "anonymous": True}
            if t.closed_by_id == t.opener_id:
                closed_by = opener
        out.append({
            "number": t.number,
            "title": t.title,
            "channel_name": t.channel_name,
            "status": t.status,
            "priority": t.priority,
            "type": {"id": t.type_id, "name": type_names.get(t.type_id)} if t.type_id else None,
            "opener": opener,
            "assignee": ref(t.assignee_id),
            "claimer": ref(t.claimer_id),
            "team": {"id": t.team_id, "name": team_names.get(t.team_id)} if t.team_id else None,
            "tags": tags.get(t.id, []),
            "custom_fields": t.custom_fields or {},
            "intake_answers": t.intake_answers or [],
            "participants": [ref(m) for m in people[t.id]["participant"]],
            "contacts": [ref(m) for m in people[t.id]["contact"]],
            "conversation_ids": conversations.get(t.id, []),
            "escalated": t.escalated,
            "lockdown": t.lockdown,
            "pinned": t.pinned,
            "anonymous": t.anonymous,
            "merged_into": merged_numbers.get(t.merged_into_id) if t.merged_into_id else None,
            "close_reason": t.close_reason,
            "close_note": t.close_note,
            "closed_at": _iso(t.closed_at),
            "closed_by": closed_by,
            "csat": t.csat,
            "csat_comment": t.csat_comment,
            "first_response_at": _iso(t.first_response_at),
            "sla": sla_view(t),
            "close_request_id": close_requests.get(t.id),
            "last_message_at": _iso(t.last_message_at),
            "created_at": _iso(t.created_at),
            "updated_at": _iso(t.updated_at),
        })
    return out


def sla_view(t: Ticket) -> dict[str, Any]:
    """Where a ticket stands against its SLA: due times while the clock runs, breaches once missed."""
    return {
        "paused": bool(t.sla_paused),
        "running": t.sla_running_since is not None,
        "first_response_due_at": _iso(t.first_response_due_at),
        "resolution_due_at": _iso(t.resolution_due_at),
        "due_at": _iso(t.sla_due_at),
        "first_response_breached_at": _iso(t.first_response_breached_at),
        "resolution_breached_at": _iso(t.resolution_breached_at),
        "breached": t.first_response_breached_at is not None or t.resolution_breached_at is not None,
    }


async def present_ticket(tx: Tx, ticket: Ticket) -> dict[str, Any]:
    return (await present_tickets(tx, [ticket]))[0]


async def get_ticket_view(tx: Tx, number: int) -> dict[str, Any]:
    ticket = await ticket_for(tx, number, Capability.VIEW, for_update=False)
    return await present_ticket(tx, ticket)


@dataclass
class TicketFilters:
    status: list[str] | None = None
    priority: list[str] | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    claimer_id: int | None = None
    unclaimed: bool = False
    type_id: int | None = None
    team_id: int | None = None
    opener_id: int | None = None
    tag: list[str] | None = None
    escalated: bool | None = None
    q: str | None = None


def _filter(stmt: Select[Any], f: TicketFilters, viewer_id: int | None) -> Select[Any]:
    if f.status:
        for value in f.status:
            if value not in {s.value for s in Status}:
                raise ValidationFailed(f"unknown status {value!r}", field="status")
        stmt = stmt.where(Ticket.status.in_(f.status))
    if f.priority:
        for value in f.priority:
            if value not in {p.value for p in Priority}:
                raise ValidationFailed(f"unknown priority {value!r}", field="priority")
        stmt = stmt.where(Ticket.priority.in_(f.priority))
    if f.assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == f.assignee_id)
    if f.unassigned:
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    if f.claimer_id is not None:
        stmt = stmt.where(Ticket.claimer_id == f.claimer_id)
    if f.unclaimed:
        stmt = stmt.where(Ticket.claimer_id.is_(None))
    if f.type_id is not None:
        stmt = stmt.where(Ticket.type_id == f.type_id)
    if f.team_id is not None:
        stmt = stmt.where(Ticket.team_id == f.team_id)
    if f.opener_id is not None:
        stmt = stmt.where(Ticket.opener_id == f.opener_id)
        if f.opener_id != viewer_id:
            # Who opened an anonymous ticket stays hidden, also from a search by opener.
            stmt = stmt.where(Ticket.anonymous.is_(False))
    if f.escalated is not None:
        stmt = stmt.where(Ticket.escalated.is_(f.escalated))
    for tag in f.tag or []:
        stmt = stmt.where(select(TicketTag.ticket_id).where(
            TicketTag.ticket_id == Ticket.id, TicketTag.tag == normalize_tag(tag)).exists())
    if f.q:
        text = f.q.strip().lower()
        if len(text) > 200:
            raise ValidationFailed("q must be at most 200 characters", field="q")
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        in_messages = select(Message.id).join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.ticket_id == Ticket.id, Message.visibility == "public",
            func.lower(Message.body).like(pattern, escape="\\")).exists()
        conditions = [func.lower(Ticket.title).like(pattern, escape="\\"), in_messages]
        digits = text.lstrip("#")
        if digits.isdigit():
            conditions.append(Ticket.number == int(digits))
        stmt = stmt.where(or_(*conditions))
    return stmt


async def list_tickets(tx: Tx, filters: TicketFilters, *, cursor: str | None = None, limit: int = 50,
                       order: str = "newest") -> tuple[list[dict[str, Any]], str | None]:
    """Tickets the actor may see, newest (or oldest) first, a page at a time."""
    check_limit(limit)
    if order not in ("newest", "oldest"):
        raise ValidationFailed("order must be newest or oldest", field="order")
    stmt = select(Ticket).where(Ticket.workspace_id == tx.workspace_id, await visible_tickets_clause(tx))
    stmt = _filter(stmt, filters, tx.actor.member_id)
    if cursor:
        position = decode_cursor(cursor)
        after = position.get("n")
        if not isinstance(after, int) or position.get("o") != order:
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(Ticket.number < after if order == "newest" else Ticket.number > after)
    stmt = stmt.order_by(Ticket.number.desc() if order == "newest" else Ticket.number.asc()).limit(limit + 1)
    rows = list((await tx.session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor({"n": rows[-1].number, "o": order}) if more and rows else None
    return await present_tickets(tx, rows), next_cursor


async def ticket_timeline(tx: Tx, number: int, *, include_internal: bool | None = None) -> list[dict[str, Any]]:
    """Messages of all the ticket's conversations and its notes, oldest first. Customers see
    public messages only; staff see internal notes too."""
    ticket = await ticket_for(tx, number, Capability.VIEW, for_update=False)
    access = await ticket_access(tx, ticket)
    staff = tx.actor.is_system or is_ticket_staff(tx.actor, access)
    show_internal = staff if include_internal is None else (include_internal and staff)
    conversations = select(Conversation.id).where(Conversation.ticket_id == ticket.id)
    if not staff:
        owners = customer_conversation_owners(ticket, access, tx.actor.member_id)
        conversations = conversations.where(Conversation.customer_id.in_(owners))
    conversation_ids = conversations.scalar_subquery()
    where = or_(Message.conversation_id.in_(conversation_ids), Message.ticket_id == ticket.id)
    if not show_internal:
        where = and_(where, Message.visibility == "public")
    messages = list((await tx.session.execute(
        select(Message).where(where).order_by(Message.created_at, Message.id))).scalars())
    return await present_messages(tx, messages, ticket=ticket, staff=staff)


async def present_messages(tx: Tx, messages: list[Message], *, ticket: Ticket | None,
                           staff: bool) -> list[dict[str, Any]]:
    if not messages:
        return []
    await tx.settle()
    ids = [m.id for m in messages]
    files: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in (await tx.session.execute(select(Attachment).where(Attachment.message_id.in_(ids))
                                       .order_by(Attachment.id))).scalars():
        files[a.message_id or 0].append({"id": a.id, "filename": a.filename, "content_type": a.content_type,
                                         "size": a.size, "url": a.url or f"/api/v1/attachments/{a.id}"})
    edits: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if staff and any(m.edited_at is not None for m in messages):
        for e in (await tx.session.execute(select(MessageEdit).where(MessageEdit.message_id.in_(ids))
                                           .order_by(MessageEdit.id))).scalars():
            edits[e.message_id].append({"previous_body": e.previous_body, "edited_at": _iso(e.edited_at)})
    author_ids = {m.author_id for m in messages if m.author_id}
    names = dict((await tx.session.execute(
        select(Member.id, Member.display_name).where(Member.id.in_(author_ids)))).all()) if author_ids else {}
    out = []
    for m in messages:
        author: dict[str, Any] | None = None
        if m.author_id is not None:
            author = {"id": m.author_id, "display_name": names.get(m.author_id)}
            if m.anonymous and tx.actor.member_id != m.author_id:
                # Customers of an anonymous ticket (its opener and participants) go by a
                # nickname; staff writing anonymously show as "Staff" to customers.
                if ticket is not None and m.author_kind == "customer":
                    author = {"id": None, "display_name": anonymous_nickname(ticket.id, m.author_id),
                              "anonymous": True}
                elif not staff:
                    author = {"id": None, "display_name": "Staff", "anonymous": True}
        out.append({
            "id": m.id,
            "conversation_id": m.conversation_id,
            "ticket_number": ticket.number if ticket is not None else None,
            "visibility": m.visibility,
            "author_kind": m.author_kind,
            "author": author,
            "anonymous": m.anonymous,
            "body": m.body,
            "reply_to_id": m.reply_to_id,
            "external_id": m.external_id,
            "attachments": files.get(m.id, []),
            "created_at": _iso(m.created_at),
            "edited_at": _iso(m.edited_at),
            "edits": edits.get(m.id, []) if staff else [],
        })
    return out


async def ticket_events(tx: Tx, number: int, *, cursor: str | None = None,
                        limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
    """The ticket's audit log, oldest first. Staff on the ticket only."""
    check_limit(limit)
    ticket = await ticket_for(tx, number, Capability.NOTE, for_update=False)
    stmt = select(Event).where(Event.ticket_id == ticket.id)
    if cursor:
        after = decode_cursor(cursor).get("e")
        if not isinstance(after, int):
            raise ValidationFailed("cursor is not one this API gave out", field="cursor")
        stmt = stmt.where(Event.id > after)
    rows = list((await tx.session.execute(stmt.order_by(Event.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    hidden = {ticket.id: ticket.opener_id} if ticket.anonymous and ticket.opener_id != tx.actor.member_id else {}
    return [present_event(e, hidden) for e in rows], (encode_cursor({"e": rows[-1].id}) if more and rows else None)


# Payload keys that can name the opener of an anonymous ticket.
_PERSON_KEYS = ("opener_id", "member_id", "customer_id", "claimer_id", "assignee_id")


def present_event(e: Event, hidden_openers: dict[int, int | None] | None = None) -> dict[str, Any]:
    """An event as the API shows it. ``hidden_openers`` maps anonymous tickets to their
    openers, who are left unnamed (as ``null``) wherever they appear."""
    actor_id, payload = e.actor_id, e.payload
    hidden = (hidden_openers or {}).get(e.ticket_id or 0)
    if hidden is not None:
        actor_id = None if actor_id == hidden else actor_id
        payload = _unname(payload, hidden)
    return {"id": e.id, "type": e.type, "ticket_number": e.payload.get("ticket_number"),
            "conversation_id": e.conversation_id, "actor_id": actor_id, "actor_kind": e.actor_kind,
            "occurred_at": _iso(e.occurred_at), "payload": payload}


def _unname(value: Any, member_id: int) -> Any:
    if isinstance(value, dict):
        return {k: (None if k in _PERSON_KEYS and v == member_id else _unname(v, member_id))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_unname(v, member_id) for v in value]
    return value


async def _anonymous_openers(tx: Tx, events: list[Event]) -> dict[int, int | None]:
    ticket_ids = {e.ticket_id for e in events if e.ticket_id is not None}
    if not ticket_ids:
        return {}
    rows = (await tx.session.execute(select(Ticket.id, Ticket.opener_id).where(
        Ticket.id.in_(ticket_ids), Ticket.anonymous.is_(True)))).all()
    return {ticket_id: opener for ticket_id, opener in rows if opener != tx.actor.member_id}


async def workspace_events(tx: Tx, *, after_id: int | None = None, types: list[str] | None = None,
                           limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
    """Every event of the workspace after an id, for integrations that poll. Events of
    tickets the actor may not see (such as lockdown tickets for regular staff) are left out."""
    check_limit(limit)
    stmt = select(Event).where(Event.workspace_id == tx.workspace_id)
    if not tx.actor.is_management:
        visible = select(Ticket.id).where(Ticket.workspace_id == tx.workspace_id, await visible_tickets_clause(tx))
        stmt = stmt.where(or_(Event.ticket_id.is_(None), Event.ticket_id.in_(visible)))
    if after_id is not None:
        stmt = stmt.where(Event.id > after_id)
    if types:
        stmt = stmt.where(Event.type.in_(types))
    rows = list((await tx.session.execute(stmt.order_by(Event.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    hidden = await _anonymous_openers(tx, rows)
    return [present_event(e, hidden) for e in rows], (encode_cursor({"e": rows[-1].id}) if more and rows else None)
