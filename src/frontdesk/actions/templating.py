"""The values of a ticket's template variables (``domain.templating.TICKET_VARIABLES``), read
in one query; shared by macros, automation rules and the worker's messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import aliased

from frontdesk.actions.base import Tx
from frontdesk.db.models import Member, Ticket, TicketType, Workspace
from frontdesk.domain.templating import render


async def ticket_values(tx: Tx, ticket: Ticket, *, staff_id: int | None = None) -> dict[str, Any]:
    """Every ticket variable's value for ``ticket``; ``{staff}`` is ``staff_id``'s name (the
    acting member when not given). An anonymous ticket's opener is shown as "Anonymous"."""
    opener, assignee, staff = aliased(Member), aliased(Member), aliased(Member)
    staff_id = staff_id if staff_id is not None else tx.actor.member_id
    row = (await tx.session.execute(
        select(opener.display_name, opener.discord_user_id, assignee.display_name, staff.display_name,
               TicketType.name, Workspace.name)
        .select_from(Workspace)
        .outerjoin(opener, opener.id == ticket.opener_id)
        .outerjoin(assignee, assignee.id == ticket.assignee_id)
        .outerjoin(staff, staff.id == staff_id)
        .outerjoin(TicketType, TicketType.id == ticket.type_id)
        .where(Workspace.id == ticket.workspace_id)
    )).one()
    opener_name, opener_discord, assignee_name, staff_name, type_name, workspace_name = row
    if ticket.anonymous:
        opener_name, opener_discord = "Anonymous", None
    values: dict[str, Any] = {
        "user": opener_name or "there",
        "user.mention": f"<@{opener_discord}>" if opener_discord else (opener_name or "there"),
        "staff": staff_name or "the support team",
        "ticket.number": ticket.number,
        "ticket.title": ticket.title,
        "ticket.status": ticket.status.replace("_", " "),
        "ticket.priority": ticket.priority,
        "ticket.type": type_name or "",
        "ticket.assignee": assignee_name or "nobody",
        "workspace": workspace_name,
    }
    return values


async def render_for_ticket(tx: Tx, template: str, ticket: Ticket, *, staff_id: int | None = None) -> str:
    """``template`` filled in with ``ticket``'s values."""
    return render(template, await ticket_values(tx, ticket, staff_id=staff_id))
