"""Time-driven sweeps over tickets: SLA breaches, inactivity warnings and auto-close, stale
nudges and post-close follow-ups.

Each sweep selects due rows through a partial index, so its cost follows the number of due
rows, not the number of tickets, and claims every effect before performing it:

- SLA breaches are claimed in bulk by one ``UPDATE ... WHERE breached_at IS NULL`` (on
  PostgreSQL over rows taken with ``FOR UPDATE SKIP LOCKED``), which writes the breach time
  and returns exactly the rows this worker claimed; their events go in the same transaction.
- Per-ticket effects (warnings, closes, nudges, follow-ups) lock the ticket with SKIP LOCKED,
  check again that the effect is still due, and record that it happened on the ticket row,
  so a second worker, or the next sweep, finds nothing left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, and_, bindparam, delete, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.actions.base import Desk, EventRecord, Tx
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.actions.messages import post_message
from frontdesk.db.models import Event, SlaDeadline, Ticket, Workspace
from frontdesk.db.types import UtcDateTime
from frontdesk.domain import events as ev
from frontdesk.domain.errors import DomainError, ValidationFailed
from frontdesk.domain.permissions import Actor
from frontdesk.domain.policies import Policies
from frontdesk.domain.tickets import CloseReason, Status

log = logging.getLogger("frontdesk.worker")

tickets_table = Ticket.__table__
SYSTEM = Actor.system("frontdesk worker")
ACTIVE = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING)


async def workspace_policies(session: AsyncSession, ids: set[int] | None = None) -> dict[int, Policies]:
    """Each workspace's policies; a workspace whose stored settings no longer parse is skipped
    (and logged) rather than stopping the sweep for everyone."""
    stmt = select(Workspace.id, Workspace.settings, Workspace.timezone)
    if ids is not None:
        stmt = stmt.where(Workspace.id.in_(ids))
    found: dict[int, Policies] = {}
    for workspace_id, settings, timezone in (await session.execute(stmt)).all():
        try:
            found[workspace_id] = Policies.parse(settings, timezone=timezone)
        except ValidationFailed as exc:
            log.error("workspace settings do not parse; its sweeps are skipped",
                      extra={"workspace_id": workspace_id, "field": exc.field, "error": exc.message})
    return found


# --- SLA breaches ------------------------------------------------------------------------------------------------

BREACH_COLUMNS = {
    "first_response": (tickets_table.c.first_response_due_at, tickets_table.c.first_response_breached_at),
    "resolution": (tickets_table.c.resolution_due_at, tickets_table.c.resolution_breached_at),
}
deadlines_table = SlaDeadline.__table__
# Alerts name at most this many tickets; the count is always exact.
ALERT_TICKETS_LISTED = 100


async def sla_breaches(desk: Desk, *, limit: int = 1000) -> int:
    """Record every missed SLA target once: set its breach time on the ticket, drop its
    deadline and append ``sla.breach``; where a workspace alerts managers on breaches, one
    ``alert.raised`` per workspace and pass names the tickets. The desk's before-commit hooks
    (automation, the outbox) see each workspace's new events in the same transaction. Returns
    the breaches recorded (at most ``limit`` per target).

    The deadlines due are read without locks; each ticket is then claimed by an update that
    skips tickets other transactions hold (on PostgreSQL) and requires the target to be still
    unbreached and still due by the ticket's own due time, which every action keeps current.
    Tickets are locked before their deadlines here as in the actions, so the two never
    deadlock."""
    now = desk.clock.now()
    async with desk.db.transaction() as session:
        if not desk.db.is_sqlite:
            # A crash right after the commit may lose this pass (all of it: marks and events
            # alike), and the next pass records the same breaches again; so the commit need
            # not wait for the disk.
            await session.execute(text("SET LOCAL synchronous_commit = off"))
        recorded: list[EventRecord] = []
        for target in BREACH_COLUMNS:
            if desk.db.is_sqlite:
                recorded += await _record_breaches(session, target, now, limit)
            else:
                recorded += await _record_breaches_in_sql(session, target, now, limit)
        if recorded:
            await _after_breaches(desk, session, recorded, now)
    return len(recorded)


async def _record_breaches(session: AsyncSession, target: str, now: datetime, limit: int) -> list[EventRecord]:
    """Claim and record one target's due breaches, statement by statement."""
    due_column, breached_column = BREACH_COLUMNS[target]
    due = select(deadlines_table.c.ticket_id).where(
        deadlines_table.c.target == target, deadlines_table.c.due_at <= now
    ).order_by(deadlines_table.c.due_at).limit(limit)
    rows = (await session.execute(
        update(tickets_table)
        .where(tickets_table.c.id.in_(due.scalar_subquery()), breached_column.is_(None), due_column <= now)
        .values({breached_column: now})
        .returning(tickets_table.c.id, tickets_table.c.workspace_id, tickets_table.c.number,
                   tickets_table.c.priority, due_column, tickets_table.c.assignee_id)
    )).all()
    if not rows:
        return []
    await session.execute(delete(deadlines_table).where(
        deadlines_table.c.target == target, deadlines_table.c.ticket_id.in_([r.id for r in rows])))
    values = [system_event(row.workspace_id, ev.SLA_BREACH, row.id, now, {
        "ticket_number": row.number, "target": target, "priority": row.priority,
        "due_at": row[4].isoformat(timespec="microseconds"), "assignee_id": row.assignee_id}) for row in rows]
    ids = (await session.execute(insert(Event).returning(Event.id, sort_by_parameter_order=True), values)).scalars()
    return [EventRecord(id=event_id, workspace_id=v["workspace_id"], type=v["type"], ticket_id=v["ticket_id"],
                        occurred_at=now, payload=v["payload"]) for event_id, v in zip(ids, values, strict=True)]


# On PostgreSQL one statement claims the tickets (skipping those other transactions hold),
# drops their deadlines and writes their events, so no row passes through Python.
_RECORD_IN_SQL = """
WITH due AS (
    SELECT ticket_id FROM sla_deadlines
    WHERE target = :target AND due_at <= :now ORDER BY due_at LIMIT :limit
), claimed AS (
    UPDATE tickets SET {breached} = :now
    WHERE id IN (SELECT id FROM tickets WHERE id IN (SELECT ticket_id FROM due) FOR UPDATE SKIP LOCKED)
      AND {breached} IS NULL AND {due} <= :now
    RETURNING id, workspace_id, number, priority, {due} AS due_at, assignee_id
), gone AS (
    DELETE FROM sla_deadlines d USING claimed c WHERE d.ticket_id = c.id AND d.target = :target
)
INSERT INTO events (workspace_id, type, ticket_id, actor_kind, occurred_at, payload)
SELECT workspace_id, 'sla.breach', id, 'system', :now, jsonb_build_object(
    'ticket_number', number, 'target', CAST(:target AS text), 'priority', priority,
    'due_at', to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || '+00:00',
    'assignee_id', assignee_id)
FROM claimed
RETURNING id, workspace_id, ticket_id, payload
"""


async def _record_breaches_in_sql(session: AsyncSession, target: str, now: datetime,
                                  limit: int) -> list[EventRecord]:
    due_column, breached_column = BREACH_COLUMNS[target]
    statement = text(_RECORD_IN_SQL.format(due=due_column.name, breached=breached_column.name)).bindparams(
        bindparam("now", type_=UtcDateTime())).columns(payload=JSON)
    rows = (await session.execute(statement, {"target": target, "now": now, "limit": limit})).all()
    return [EventRecord(id=event_id, workspace_id=workspace_id, type=ev.SLA_BREACH, ticket_id=ticket_id,
                        occurred_at=now, payload=payload) for event_id, workspace_id, ticket_id, payload in rows]


async def _after_breaches(desk: Desk, session: AsyncSession, breaches: list[EventRecord], now: datetime) -> None:
    """Per workspace: one ``alert.raised`` naming the tickets where managers are alerted on
    breaches, then the before-commit hooks over that workspace's new events."""
    by_workspace: dict[int, list[EventRecord]] = {}
    for breach in breaches:
        by_workspace.setdefault(breach.workspace_id, []).append(breach)
    policies = await workspace_policies(session, set(by_workspace))
    for workspace_id, recorded in by_workspace.items():
        tx = desk.tx_in(session, SYSTEM, workspace_id)
        tx.now = now
        tx.events.extend(recorded)
        workspace = policies.get(workspace_id)
        if workspace is not None and workspace.alerts.sla_breach:
            missed = [{"ticket_number": b.payload["ticket_number"], "target": b.payload["target"]}
                      for b in recorded]
            await tx.record(ev.ALERT_RAISED, kind="sla_breach", count=len(missed),
                            tickets=missed[:ALERT_TICKETS_LISTED])
        if desk.before_commit:
            await desk.run_before_commit(tx)


def system_event(workspace_id: int, type: str, ticket_id: int | None, now: datetime,
           payload: dict[str, Any]) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "type": type, "ticket_id": ticket_id, "conversation_id": None,
            "actor_id": None, "actor_kind": "system", "occurred_at": now, "payload": payload}


# --- per-ticket effects ---------------------------------------------------------------------------------------------


async def _claim_ticket(tx: Tx, ticket_id: int) -> Ticket | None:
    """Lock one ticket for this worker; ``None`` when another worker holds it."""
    stmt = select(Ticket).where(Ticket.id == ticket_id).with_for_update(skip_locked=True) \
        .execution_options(populate_existing=True)
    ticket = (await tx.session.execute(stmt)).scalar_one_or_none()
    if ticket is not None:
        tx.locked_tickets[ticket.number] = ticket
    return ticket


Effect = Callable[[Tx, Ticket, Policies], Awaitable[bool]]


async def _each(desk: Desk, candidates: list[tuple[int, int]], policies: dict[int, Policies],
                effect: Effect) -> int:
    """Run ``effect`` on each candidate (workspace id, ticket id) in a transaction of its own.
    The effect re-checks the locked row and returns whether it did anything. One failing
    ticket is logged and the others go on."""
    done = 0
    for workspace_id, ticket_id in candidates:
        try:
            async with desk.tx(SYSTEM, workspace_id) as tx:
                tx.policies = policies[workspace_id]
                ticket = await _claim_ticket(tx, ticket_id)
                if ticket is not None and await effect(tx, ticket, tx.policies):
                    done += 1
        except DomainError as exc:
            log.warning("sweep effect refused", extra={"ticket_id": ticket_id, "error": exc.message})
    return done


# --- inactivity -------------------------------------------------------------------------------------------------------


def _activity_column(policies: Policies) -> Any:
    return Ticket.customer_activity_at if policies.inactivity.customer_only else Ticket.activity_at


def _activity_of(ticket: Ticket, policies: Policies) -> datetime:
    return ticket.customer_activity_at if policies.inactivity.customer_only else ticket.activity_at


def _close_at(ticket: Ticket, policies: Policies) -> datetime:
    return _activity_of(ticket, policies) + policies.inactivity.timeout(bool(ticket.escalated))


async def inactivity(desk: Desk, *, limit: int = 500) -> int:
    """Close tickets with no activity for the workspace's timeout (a longer one when
    escalated; pinned tickets never), as ``user_unresponsive``; before that, when configured,
    post one warning per quiet spell. The assignee is named for notification on both."""
    now = desk.clock.now()
    async with desk.db.reading() as session:
        all_policies = await workspace_policies(session)
    total = 0
    for workspace_id, policies in all_policies.items():
        rule = policies.inactivity
        if not rule.enabled:
            continue
        column = _activity_column(policies)

        def due_by(before_close: timedelta, column: Any = column, rule: Any = rule) -> Any:
            """Quiet since before the close time minus ``before_close`` (by escalation)."""
            return or_(and_(Ticket.escalated.is_(False), column <= now - rule.after + before_close),
                       and_(Ticket.escalated.is_(True), column <= now - rule.timeout(True) + before_close))

        base = select(Ticket.workspace_id, Ticket.id).where(
            Ticket.workspace_id == workspace_id, Ticket.status != Status.CLOSED, Ticket.pinned.is_(False))
        async with desk.db.reading() as session:
            closing = (await session.execute(base.where(due_by(timedelta(0))).order_by(column).limit(limit))).all()
        total += await _each(desk, [tuple(r) for r in closing], all_policies, _close_if_inactive)
        if rule.warn_before is not None:
            async with desk.db.reading() as session:
                warning = (await session.execute(
                    base.where(due_by(rule.warn_before),
                               or_(Ticket.inactivity_warned_at.is_(None), Ticket.inactivity_warned_at < column))
                    .order_by(column).limit(limit))).all()
            total += await _each(desk, [tuple(r) for r in warning], all_policies, _warn_if_inactive)
    return total


async def _close_if_inactive(tx: Tx, ticket: Ticket, policies: Policies) -> bool:
    if ticket.status == Status.CLOSED or ticket.pinned or _close_at(ticket, policies) > tx.now:
        return False
    timeout = policies.inactivity.timeout(bool(ticket.escalated))
    await close_ticket(tx, ticket.number, reason=CloseReason.USER_UNRESPONSIVE,
                       note=f"Closed automatically after {_days(timeout)} without activity",
                       cause="inactivity", notify_member_ids=_to_notify(ticket))
    return True


async def _warn_if_inactive(tx: Tx, ticket: Ticket, policies: Policies) -> bool:
    rule = policies.inactivity
    activity = _activity_of(ticket, policies)
    close_at = _close_at(ticket, policies)
    if (ticket.status == Status.CLOSED or ticket.pinned or rule.warn_before is None
            or close_at - rule.warn_before > tx.now or close_at <= tx.now
            or (ticket.inactivity_warned_at is not None and ticket.inactivity_warned_at >= activity)):
        return False
    ticket.inactivity_warned_at = tx.now
    text = rule.warning.format(close_at=_when(close_at, policies),
                               days=_days(rule.timeout(bool(ticket.escalated))))
    message = await post_message(tx, ticket.number, text)
    await tx.record(ev.TICKET_INACTIVITY_WARNING, ticket=ticket, close_at=close_at, message_id=message.id,
                    notify_member_ids=_to_notify(ticket))
    return True


def _to_notify(ticket: Ticket) -> list[int]:
    """Who hears that the desk is about to close, or closed, a quiet ticket: its assignee."""
    return [ticket.assignee_id] if ticket.assignee_id is not None else []


def _days(duration: timedelta) -> str:
    days = duration.total_seconds() / 86400
    return f"{days:g} day{'s' if days != 1 else ''}" if days >= 1 else f"{duration.total_seconds() / 3600:g} hours"


def _when(at: datetime, policies: Policies) -> str:
    zone = policies.business_hours.zone if policies.business_hours is not None else None
    local = at.astimezone(zone) if zone is not None else at
    return local.strftime("on %A %d %B at %H:%M ") + (local.tzname() or "UTC")


# --- stale nudges ---------------------------------------------------------------------------------------------------


async def stale_nudges(desk: Desk, *, limit: int = 500) -> int:
    """Mark each open ticket that has had no activity for the configured time as stale
    (``ticket.stale``, once per quiet spell: again only after new activity and another quiet
    spell) and post the workspace's nudge in it, unless the nudge's message is null."""
    now = desk.clock.now()
    async with desk.db.reading() as session:
        all_policies = await workspace_policies(session)
    total = 0
    for workspace_id, policies in all_policies.items():
        if not policies.stale_nudge.enabled:
            continue
        async with desk.db.reading() as session:
            rows = (await session.execute(
                select(Ticket.workspace_id, Ticket.id).where(
                    # `status <> 'closed'` is the predicate of the partial index on activity_at.
                    Ticket.workspace_id == workspace_id, Ticket.status != Status.CLOSED,
                    Ticket.status.in_(ACTIVE), Ticket.activity_at <= now - policies.stale_nudge.after,
                    or_(Ticket.nudged_at.is_(None), Ticket.nudged_at < Ticket.activity_at))
                .order_by(Ticket.activity_at).limit(limit))).all()
        total += await _each(desk, [tuple(r) for r in rows], all_policies, _nudge_if_stale)
    return total


async def _nudge_if_stale(tx: Tx, ticket: Ticket, policies: Policies) -> bool:
    rule = policies.stale_nudge
    if (ticket.status not in ACTIVE or ticket.activity_at > tx.now - rule.after
            or (ticket.nudged_at is not None and ticket.nudged_at >= ticket.activity_at)):
        return False
    ticket.nudged_at = tx.now
    await tx.record(ev.TICKET_STALE, ticket=ticket, idle_since=ticket.activity_at)
    if rule.message is not None:
        message = await post_message(tx, ticket.number, rule.message)
        await tx.record(ev.TICKET_NUDGED, ticket=ticket, message_id=message.id, idle_since=ticket.activity_at)
    return True


# --- post-close follow-ups -------------------------------------------------------------------------------------


async def follow_ups(desk: Desk, *, limit: int = 500) -> int:
    """Ask once, some time after a close, whether the issue was solved. The message is an
    event for the notification paths (the Discord bot sends it as a DM)."""
    now = desk.clock.now()
    async with desk.db.reading() as session:
        rows = (await session.execute(
            select(Ticket.workspace_id, Ticket.id).where(Ticket.follow_up_due_at <= now)
            .order_by(Ticket.follow_up_due_at).limit(limit))).all()
        policies = await workspace_policies(session, {r.workspace_id for r in rows}) if rows else {}
    rows = [r for r in rows if r.workspace_id in policies]
    return await _each(desk, [tuple(r) for r in rows], policies, _send_follow_up)


async def _send_follow_up(tx: Tx, ticket: Ticket, policies: Policies) -> bool:
    if ticket.follow_up_due_at is None or ticket.follow_up_due_at > tx.now:
        return False
    ticket.follow_up_due_at = None
    if ticket.status != Status.CLOSED or not policies.follow_up.enabled:
        return False
    ticket.follow_up_sent_at = tx.now
    await tx.record(ev.TICKET_FOLLOW_UP, ticket=ticket, kind="post_close", recipient_id=ticket.opener_id,
                    message=policies.follow_up.message)
    return True
