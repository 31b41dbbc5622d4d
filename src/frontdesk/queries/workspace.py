"""Workspace configuration as the API shows it: members, teams, types, fields, tokens,
conversations and transcripts."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.db.models import (
    ApiToken,
    Conversation,
    CustomFieldDefinition,
    Member,
    Team,
    TeamMember,
    Ticket,
    TicketType,
    Transcript,
    Workspace,
)
from frontdesk.queries.tickets import _iso, check_limit, decode_cursor, encode_cursor


def present_workspace(w: Workspace) -> dict[str, Any]:
    return {"id": w.id, "name": w.name, "timezone": w.timezone, "discord_guild_id": w.discord_guild_id,
            "settings": w.settings or {}, "created_at": _iso(w.created_at)}


async def present_members(tx: Tx, members: list[Member]) -> list[dict[str, Any]]:
    teams: dict[int, list[int]] = defaultdict(list)
    if members:
        for team_id, member_id in (await tx.session.execute(select(TeamMember.team_id, TeamMember.member_id).where(
                TeamMember.member_id.in_([m.id for m in members])).order_by(TeamMember.team_id))):
            teams[member_id].append(team_id)
    return [{"id": m.id, "display_name": m.display_name, "email": m.email, "discord_user_id": m.discord_user_id,
             "role": m.role, "discord_role_ids": m.discord_role_ids or [], "discord_powers": m.discord_powers or [],
             "is_integration": m.is_integration, "available": m.available, "team_ids": teams.get(m.id, []),
             "created_at": _iso(m.created_at)} for m in members]


async def list_members(tx: Tx, *, role: str | None = None, q: str | None = None, cursor: str | None = None,
                       limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
    check_limit(limit)
    stmt = select(Member).where(Member.workspace_id == tx.workspace_id)
    if role:
        stmt = stmt.where(Member.role == role)
    if q:
        stmt = stmt.where(Member.display_name.ilike(f"%{q}%"))
    if cursor:
        stmt = stmt.where(Member.id > int(decode_cursor(cursor).get("m", 0)))
    rows = list((await tx.session.execute(stmt.order_by(Member.id).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return await present_members(tx, rows), (encode_cursor({"m": rows[-1].id}) if more and rows else None)


async def present_teams(tx: Tx, teams: list[Team]) -> list[dict[str, Any]]:
    members: dict[int, list[int]] = defaultdict(list)
    if teams:
        for team_id, member_id in (await tx.session.execute(select(TeamMember.team_id, TeamMember.member_id).where(
                TeamMember.team_id.in_([t.id for t in teams])).order_by(TeamMember.member_id))):
            members[team_id].append(member_id)
    return [{"id": t.id, "name": t.name, "permissions": t.permissions or [], "member_ids": members.get(t.id, []),
             "created_at": _iso(t.created_at)} for t in teams]


async def list_teams(tx: Tx) -> list[dict[str, Any]]:
    rows = list((await tx.session.execute(select(Team).where(Team.workspace_id == tx.workspace_id)
                                          .order_by(Team.name))).scalars())
    return await present_teams(tx, rows)


def present_type(t: TicketType) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "emoji": t.emoji, "description": t.description, "category": t.category,
            "staff_role_ids": t.staff_role_ids or [], "allowed_role_ids": t.allowed_role_ids or [],
            "team_id": t.team_id, "intake_questions": t.intake_questions or [],
            "open_limit_per_user": t.open_limit_per_user, "opener_can_close": t.opener_can_close,
            "sequential_names": t.sequential_names, "discord_mode": t.discord_mode, "settings": t.settings or {},
            "archived": t.archived, "created_at": _iso(t.created_at)}


async def list_types(tx: Tx, *, include_archived: bool = False) -> list[dict[str, Any]]:
    stmt = select(TicketType).where(TicketType.workspace_id == tx.workspace_id)
    if not include_archived:
        stmt = stmt.where(TicketType.archived.is_(False))
    return [present_type(t) for t in (await tx.session.execute(stmt.order_by(TicketType.id))).scalars()]


def present_field(d: CustomFieldDefinition) -> dict[str, Any]:
    return {"id": d.id, "key": d.key, "label": d.label, "field_type": d.field_type, "options": d.options or [],
            "required": d.required, "created_at": _iso(d.created_at)}


async def list_fields(tx: Tx) -> list[dict[str, Any]]:
    rows = (await tx.session.execute(select(CustomFieldDefinition).where(
        CustomFieldDefinition.workspace_id == tx.workspace_id).order_by(CustomFieldDefinition.key))).scalars()
    return [present_field(d) for d in rows]


def present_token(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "member_id": t.member_id, "prefix": t.prefix,
            "created_at": _iso(t.created_at), "last_used_at": _iso(t.last_used_at), "revoked_at": _iso(t.revoked_at)}


async def list_tokens(tx: Tx) -> list[dict[str, Any]]:
    stmt = select(ApiToken).where(ApiToken.workspace_id == tx.workspace_id)
    if not tx.actor.is_workspace_admin:
        stmt = stmt.where(ApiToken.member_id == tx.actor.member_id)
    return [present_token(t) for t in (await tx.session.execute(stmt.order_by(ApiToken.id))).scalars()]


async def present_conversations(tx: Tx, rows: list[Conversation]) -> list[dict[str, Any]]:
    member_ids = {c.customer_id for c in rows if c.customer_id}
    names = dict((await tx.session.execute(select(Member.id, Member.display_name).where(
        Member.id.in_(member_ids)))).all()) if member_ids else {}
    ticket_ids = {c.ticket_id for c in rows if c.ticket_id}
    numbers = dict((await tx.session.execute(select(Ticket.id, Ticket.number).where(
        Ticket.id.in_(ticket_ids)))).all()) if ticket_ids else {}
    return [{"id": c.id, "channel": c.channel, "external_id": c.external_id, "subject": c.subject,
             "customer": {"id": c.customer_id, "display_name": names.get(c.customer_id)} if c.customer_id else None,
             "status": c.status, "ticket_number": numbers.get(c.ticket_id) if c.ticket_id else None,
             "created_at": _iso(c.created_at), "solved_at": _iso(c.solved_at),
             "last_message_at": _iso(c.last_message_at)} for c in rows]


async def list_conversations(tx: Tx, *, status: str | None = None, linked: bool | None = None,
                             cursor: str | None = None, limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
    check_limit(limit)
    stmt = select(Conversation).where(Conversation.workspace_id == tx.workspace_id)
    if not tx.actor.is_staff_anywhere:
        stmt = stmt.where(Conversation.customer_id == tx.actor.member_id)
    if status:
        stmt = stmt.where(Conversation.status == status)
    if linked is True:
        stmt = stmt.where(Conversation.ticket_id.is_not(None))
    elif linked is False:
        stmt = stmt.where(Conversation.ticket_id.is_(None))
    if cursor:
        stmt = stmt.where(Conversation.id < int(decode_cursor(cursor).get("c", 0)))
    rows = list((await tx.session.execute(stmt.order_by(Conversation.id.desc()).limit(limit + 1))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return await present_conversations(tx, rows), (encode_cursor({"c": rows[-1].id}) if more and rows else None)


def present_transcript(t: Transcript, number: int) -> dict[str, Any]:
    return {"id": t.id, "ticket_number": number, "message_count": t.message_count, "created_at": _iso(t.created_at),
            "expires_at": _iso(t.expires_at), "html_url": f"/api/v1/transcripts/{t.id}/html",
            "text_url": f"/api/v1/transcripts/{t.id}/text"}
