"""The clock-driven state a ticket carries: its SLA clock and due times, its activity times
for inactivity and nudges, and the post-close follow-up.

Actions call these helpers whenever they change what the clocks depend on (status, pause,
priority, type, the first staff reply, a public message, close and reopen), inside their own
transaction, so stored due times are always current and the worker's sweeps only have to
find rows whose due time has passed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from frontdesk.actions.base import Tx, _load_type, ticket_for, touch
from frontdesk.db.models import SlaDeadline, Ticket, Workspace
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound
from frontdesk.domain.permissions import Capability
from frontdesk.domain.policies import Policies
from frontdesk.domain.sla import SlaClock, SlaPolicy, clock_runs
from frontdesk.domain.tickets import AuthorKind, CloseReason, Priority, Status

# Closes after which asking "was this solved?" makes no sense.
NO_FOLLOW_UP_REASONS = frozenset({CloseReason.USER_UNRESPONSIVE, CloseReason.SPAM, CloseReason.DUPLICATE})


async def load_policies(tx: Tx) -> Policies:
    """The workspace's policies, read once per transaction."""
    if tx.policies is None:
        # By primary key: no read when the transaction has the workspace loaded already.
        workspace = await tx.session.get(Workspace, tx.workspace_id)
        if workspace is None:
            raise NotFound("workspace not found")
        tx.policies = Policies.parse(workspace.settings, timezone=workspace.timezone)
    return tx.policies


async def sla_policy_for(tx: Tx, ticket: Ticket) -> tuple[Policies, SlaPolicy]:
    policies = await load_policies(tx)
    ticket_type = await _load_type(tx, ticket.type_id) if ticket.type_id else None
    return policies, policies.sla_for(ticket_type.settings if ticket_type is not None else None)


async def sync_sla(tx: Tx, ticket: Ticket) -> None:
    """Bring the SLA clock and due times in line with the ticket as it now is: stop or start
    the clock by status and pause, and recompute both due times from the targets of its
    priority and type. Breaches already recorded stay recorded."""
    before = pending_deadlines(ticket)
    policies, sla = await sla_policy_for(tx, ticket)
    hours = policies.sla_hours(sla)
    clock = SlaClock(ticket.sla_used_minutes or 0.0, ticket.sla_running_since)
    if policies.sla_enabled and clock_runs(Status(ticket.status), bool(ticket.sla_paused)):
        clock = clock.start(tx.now)
    else:
        clock = clock.stop(tx.now, hours)
    ticket.sla_used_minutes = clock.used_minutes
    ticket.sla_running_since = clock.running_since
    priority = Priority(ticket.priority)
    first = None if ticket.first_response_at is not None else clock.due(sla.target("first_response", priority), hours)
    resolution = clock.due(sla.target("resolution", priority), hours)
    ticket.first_response_due_at = first
    ticket.resolution_due_at = resolution
    pending = [d for d in (first, resolution) if d is not None]
    ticket.sla_due_at = min(pending) if pending else None
    if ticket.id is not None:
        await write_deadlines(tx, ticket, before)


def pending_deadlines(ticket: Ticket) -> dict[str, datetime]:
    """The targets of a ticket the breach sweep must watch: due, and not breached yet."""
    pending = {}
    if ticket.first_response_due_at is not None and ticket.first_response_breached_at is None:
        pending["first_response"] = ticket.first_response_due_at
    if ticket.resolution_due_at is not None and ticket.resolution_breached_at is None:
        pending["resolution"] = ticket.resolution_due_at
    return pending


async def write_deadlines(tx: Tx, ticket: Ticket, before: dict[str, datetime]) -> None:
    """Bring the ticket's rows in ``sla_deadlines`` from ``before`` to what it now has pending
    (a new ticket passes ``{}`` once it has an id). Statements only for what changed."""
    after = pending_deadlines(ticket)
    gone = [target for target in before if target not in after]
    if gone:
        await tx.session.execute(delete(SlaDeadline).where(SlaDeadline.ticket_id == ticket.id,
                                                           SlaDeadline.target.in_(gone)))
    changed = [{"ticket_id": ticket.id, "target": target, "workspace_id": ticket.workspace_id, "due_at": due}
               for target, due in after.items() if before.get(target) != due]
    if changed:
        assert tx.db is not None, "actions run in a desk's transaction"
        stmt = tx.db.insert(SlaDeadline).values(changed)
        await tx.session.execute(stmt.on_conflict_do_update(
            index_elements=[SlaDeadline.ticket_id, SlaDeadline.target], set_={"due_at": stmt.excluded.due_at}))


def note_public_message(tx: Tx, ticket: Ticket, kind: AuthorKind) -> None:
    """Move the activity times for a public message (before ``last_*_message_at`` change).

    Any customer or staff message is activity. The customer's own time restarts with their
    message, or with the first staff reply after it, so later staff replies alone do not keep
    a ticket with a silent customer open. Bot and system messages (warnings, nudges, away
    messages) are not activity."""
    if kind is AuthorKind.CUSTOMER:
        ticket.activity_at = tx.now
        ticket.customer_activity_at = tx.now
    elif kind is AuthorKind.STAFF:
        ticket.activity_at = tx.now
        customer_spoke = ticket.last_customer_message_at or ticket.created_at
        if ticket.last_staff_message_at is None or ticket.last_staff_message_at < customer_spoke:
            ticket.customer_activity_at = tx.now


async def after_close(tx: Tx, ticket: Ticket, reason: CloseReason) -> None:
    """Stop the SLA clock and schedule the post-close follow-up when the workspace sends one
    (not after inactivity, spam, duplicate or lockdown closes)."""
    await sync_sla(tx, ticket)
    policies = await load_policies(tx)
    ticket.follow_up_sent_at = None
    ticket.follow_up_due_at = None
    if policies.follow_up.enabled and reason not in NO_FOLLOW_UP_REASONS and not ticket.lockdown:
        ticket.follow_up_due_at = tx.now + policies.follow_up.after


async def after_reopen(tx: Tx, ticket: Ticket) -> None:
    """A reopened ticket starts its inactivity and stale times afresh and resumes its SLA."""
    ticket.activity_at = tx.now
    ticket.customer_activity_at = tx.now
    ticket.inactivity_warned_at = None
    ticket.nudged_at = None
    ticket.follow_up_due_at = None
    await sync_sla(tx, ticket)


async def pause_sla(tx: Tx, number: int) -> Ticket:
    """Stop the SLA clock by hand (waiting on the opener, say); it resumes where it stopped.
    Management, or staff whose team grants ``sla.pause``. Emits ``sla.paused``."""
    return await _set_paused(tx, number, True)


async def resume_sla(tx: Tx, number: int) -> Ticket:
    """Restart a paused SLA clock. Same permission as pausing. Emits ``sla.resumed``."""
    return await _set_paused(tx, number, False)


async def _set_paused(tx: Tx, number: int, paused: bool) -> Ticket:
    ticket = await ticket_for(tx, number, Capability.PAUSE_SLA)
    if ticket.status == Status.CLOSED:
        raise Conflict(f"ticket {number} is closed; its SLA no longer runs")
    if bool(ticket.sla_paused) == paused:
        return ticket
    ticket.sla_paused = paused
    await sync_sla(tx, ticket)
    touch(tx, ticket)
    await tx.record(ev.SLA_PAUSED if paused else ev.SLA_RESUMED, ticket=ticket,
                    before={"sla_paused": not paused}, after={"sla_paused": paused},
                    used_minutes=round(ticket.sla_used_minutes, 2))
    return ticket


SLA_KEYS = frozenset({"sla", "business_hours"})


async def resync_open_tickets(tx: Tx, *, type_id: int | None = None, batch: int = 500) -> int:
    """Recompute the SLA due times of every ticket not yet closed (of one type, or all), after
    a policy they depend on changed. Returns how many were looked at."""
    done, after_id = 0, 0
    while True:
        stmt = (select(Ticket).where(Ticket.workspace_id == tx.workspace_id, Ticket.status != Status.CLOSED,
                                     Ticket.id > after_id)
                .order_by(Ticket.id).limit(batch).with_for_update())
        if type_id is not None:
            stmt = stmt.where(Ticket.type_id == type_id)
        tickets = list((await tx.session.execute(stmt)).scalars())
        if not tickets:
            return done
        for ticket in tickets:
            await sync_sla(tx, ticket)
        await tx.session.flush()
        done += len(tickets)
        after_id = tickets[-1].id
