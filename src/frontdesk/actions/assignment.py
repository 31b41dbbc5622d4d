"""Automatic assignment of new tickets: round robin or load balanced over eligible staff.

Eligible staff are the members who staff the ticket's type through its own routing (holders
of its Discord staff roles, members of its team); a type with neither draws on the
workspace's own staff (owner, admin, manager, staff). Members marked unavailable and
integrations are skipped. The choice is made under a lock on the scope's cursor row, held
until the opening transaction commits, so tickets opened at the same moment by several
processes take turns: round robin reads the position the previous one stored, and load
balancing counts the previous one's assignment.
"""

from __future__ import annotations

from sqlalchemy import Text, and_, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from frontdesk.actions.base import Tx
from frontdesk.actions.timers import load_policies
from frontdesk.db.models import AssignmentCursor, Member, TeamMember, Ticket, TicketType
from frontdesk.db.session import Database
from frontdesk.domain import events as ev
from frontdesk.domain.assignment import AssignmentMode, least_loaded, next_in_rotation
from frontdesk.domain.permissions import STAFF_ROLES
from frontdesk.domain.tickets import Status


async def eligible_staff(tx: Tx, ticket_type: TicketType) -> list[int]:
    """Ids of the available members who may be given tickets of this type."""
    base = select(Member.id).where(Member.workspace_id == tx.workspace_id, Member.available.is_(True),
                                   Member.is_integration.is_(False))
    routes = []
    role_ids = [str(r) for r in ticket_type.staff_role_ids or ()]
    if role_ids:
        if not _db(tx).is_sqlite:
            routes.append(Member.discord_role_ids.op("?|")(literal(role_ids, ARRAY(Text))))
        else:
            held = func.json_each(Member.discord_role_ids).table_valued("value")
            routes.append(exists(select(literal(1)).select_from(held).where(held.c.value.in_(role_ids))))
    if ticket_type.team_id is not None:
        routes.append(exists(select(TeamMember.member_id).where(
            TeamMember.member_id == Member.id, TeamMember.team_id == ticket_type.team_id)))
    if not routes:
        routes.append(Member.role.in_([r.value for r in STAFF_ROLES]))
    return list((await tx.session.execute(base.where(or_(*routes)).order_by(Member.id))).scalars())


def _db(tx: Tx) -> Database:
    assert tx.db is not None, "actions run in a desk's transaction"
    return tx.db


async def _lock_cursor(tx: Tx, scope: str) -> AssignmentCursor:
    """The scope's cursor row, created on first use and locked for this transaction."""
    await tx.session.execute(
        _db(tx).insert(AssignmentCursor).values(workspace_id=tx.workspace_id, scope=scope, last_member_id=None,
                                        updated_at=tx.now).on_conflict_do_nothing())
    return (await tx.session.execute(
        select(AssignmentCursor).where(AssignmentCursor.workspace_id == tx.workspace_id,
                                       AssignmentCursor.scope == scope)
        .with_for_update().execution_options(populate_existing=True))).scalar_one()


async def auto_assign(tx: Tx, ticket: Ticket, ticket_type: TicketType) -> int | None:
    """Assign a just-opened ticket by the mode of its type (or the workspace). Returns the
    chosen member, or ``None`` when the mode is manual or nobody is eligible. Emits
    ``ticket.assigned`` with ``cause: auto`` and the mode."""
    mode = (await load_policies(tx)).assignment_for(ticket_type.settings)
    if mode is AssignmentMode.MANUAL:
        return None
    return await assign_by_mode(tx, ticket, ticket_type, mode, cause="auto")


async def assign_by_mode(tx: Tx, ticket: Ticket, ticket_type: TicketType, mode: AssignmentMode, *,
                         cause: str) -> int | None:
    """Choose the assignee of a loaded, locked ticket by round robin or load balancing among
    the type's eligible staff, under the lock on the type's cursor (also for automation
    rules). Returns the chosen member, or ``None`` when nobody is eligible; choosing the
    current assignee changes nothing. Emits ``ticket.assigned`` with ``cause`` and the mode."""
    scope = f"type:{ticket_type.id}"
    cursor = await _lock_cursor(tx, scope)
    candidates = await eligible_staff(tx, ticket_type)
    if mode is AssignmentMode.ROUND_ROBIN:
        chosen = next_in_rotation(candidates, cursor.last_member_id)
    else:
        counts = dict.fromkeys(candidates, 0)
        if candidates:
            rows = await tx.session.execute(
                select(Ticket.assignee_id, func.count()).where(
                    Ticket.workspace_id == tx.workspace_id, Ticket.assignee_id.in_(candidates),
                    Ticket.status != Status.CLOSED, Ticket.id != ticket.id)
                .group_by(Ticket.assignee_id))
            counts.update({member_id: n for member_id, n in rows.all()})
        chosen = least_loaded(counts)
    if chosen is None:
        return None
    await tx.session.execute(
        update(AssignmentCursor)
        .where(and_(AssignmentCursor.workspace_id == tx.workspace_id, AssignmentCursor.scope == scope))
        .values(last_member_id=chosen, updated_at=tx.now))
    if ticket.assignee_id == chosen:
        return chosen
    before = ticket.assignee_id
    ticket.assignee_id = chosen
    await tx.record(ev.TICKET_ASSIGNED, ticket=ticket, before={"assignee_id": before},
                    after={"assignee_id": chosen}, cause=cause, mode=mode.value)
    return chosen
