"""Which tickets an actor may see, as SQL conditions that match ``domain.permissions``."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true

from frontdesk.actions.base import Tx, type_access
from frontdesk.db.models import Ticket, TicketParticipant, TicketType
from frontdesk.domain.permissions import is_type_staff
from frontdesk.domain.tickets import Status


async def staffed_tickets_clause(tx: Tx) -> ColumnElement[bool]:
    """A WHERE clause selecting the tickets ``tx.actor`` sees as staff: every ticket for
    management; otherwise those of the types they staff and of the teams they are in, never a
    locked-down one."""
    actor = tx.actor
    if actor.is_system or actor.is_management:
        return true()
    types = list((await tx.session.execute(
        select(TicketType).where(TicketType.workspace_id == tx.workspace_id))).scalars())
    staff_type_ids = [t.id for t in types if is_type_staff(actor, type_access(t))]
    staffed: ColumnElement[bool]
    if len(staff_type_ids) == len(types) and is_type_staff(actor, type_access(None)):
        staffed = true()
    else:
        staffed = Ticket.type_id.in_(staff_type_ids) if staff_type_ids else false()
        if actor.team_ids:
            staffed = or_(staffed, Ticket.team_id.in_(sorted(actor.team_ids)))
    return and_(staffed, Ticket.lockdown.is_(False))


async def visible_tickets_clause(tx: Tx) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the tickets ``tx.actor`` may view."""
    actor = tx.actor
    if actor.is_system or actor.is_management:
        return true()
    member_id = actor.member_id
    own: ColumnElement[bool] = false()
    if member_id is not None:
        own = or_(
            Ticket.opener_id == member_id,
            exists(select(TicketParticipant.ticket_id).where(
                TicketParticipant.ticket_id == Ticket.id, TicketParticipant.member_id == member_id)),
        )
    # Customers keep an open lockdown ticket of their own; closed lockdown tickets are management-only.
    own_visible = and_(own, or_(Ticket.lockdown.is_(False), Ticket.status != Status.CLOSED))
    return or_(await staffed_tickets_clause(tx), own_visible)
