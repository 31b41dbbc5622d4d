"""Manager alerts: queue depth, a CSAT drop and an escalation spike.

Each condition is measured on every sweep, but an alert fires only when the condition starts
to hold (``alert.raised``) and clears once when it stops (``alert.cleared``). Whether it
holds is stored per workspace and kind in ``alert_states``; the change is claimed with a
conditional update (``... WHERE active = <what this worker saw>``), so several workers never
raise the same crossing twice. SLA breach alerts are raised by the breach sweep itself, one
per breach. Delivery (webhooks, Discord) reads the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.actions.base import Desk
from frontdesk.db.models import AlertState, Event, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.policies import Alerts
from frontdesk.domain.tickets import Csat, Status
from frontdesk.worker.sweeps import SYSTEM, workspace_policies

QUEUE_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING)


@dataclass(frozen=True)
class Reading:
    kind: str
    active: bool
    value: float | None
    detail: dict[str, Any]


async def queue_depth(session: AsyncSession, workspace_id: int, threshold: int) -> Reading:
    """Open tickets nobody has taken, or escalated ones, above the threshold."""
    waiting = await session.scalar(
        select(func.count()).select_from(Ticket).where(
            Ticket.workspace_id == workspace_id, Ticket.status.in_(QUEUE_STATUSES),
            or_(and_(Ticket.claimer_id.is_(None), Ticket.assignee_id.is_(None)), Ticket.escalated.is_(True))))
    waiting = int(waiting or 0)
    return Reading("queue_depth", waiting > threshold, waiting, {"count": waiting, "threshold": threshold})


async def _csat_share(session: AsyncSession, workspace_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    helpful, rated = (await session.execute(
        select(func.coalesce(func.sum(case((Ticket.csat == Csat.HELPFUL, 1), else_=0)), 0), func.count())
        .where(Ticket.workspace_id == workspace_id, Ticket.rated_at > start, Ticket.rated_at <= end,
               Ticket.csat.in_((Csat.HELPFUL, Csat.NOT_HELPFUL))))).one()
    return int(helpful), int(rated)


async def csat_drop(session: AsyncSession, workspace_id: int, alerts: Alerts, now: datetime) -> Reading:
    """The share of helpful ratings in the last window against the window before it; both
    windows need the minimum number of ratings to say anything."""
    window = alerts.csat_window
    now_helpful, now_rated = await _csat_share(session, workspace_id, now - window, now)
    was_helpful, was_rated = await _csat_share(session, workspace_id, now - 2 * window, now - window)
    detail: dict[str, Any] = {"ratings": now_rated, "previous_ratings": was_rated,
                              "threshold_points": alerts.csat_drop_points}
    if now_rated < alerts.csat_min_ratings or was_rated < alerts.csat_min_ratings:
        return Reading("csat_drop", False, None, detail | {"reason": "too few ratings"})
    current = 100.0 * now_helpful / now_rated
    previous = 100.0 * was_helpful / was_rated
    drop = previous - current
    detail |= {"csat": round(current, 1), "previous_csat": round(previous, 1), "drop_points": round(drop, 1)}
    return Reading("csat_drop", drop >= (alerts.csat_drop_points or 0), round(drop, 1), detail)


async def escalation_spike(session: AsyncSession, workspace_id: int, alerts: Alerts, now: datetime) -> Reading:
    """More escalations inside the window than the threshold."""
    count = int(await session.scalar(
        select(func.count()).select_from(Event).where(
            Event.type == ev.TICKET_ESCALATED, Event.occurred_at > now - alerts.escalation_window,
            Event.occurred_at <= now, Event.workspace_id == workspace_id)) or 0)
    threshold = alerts.escalation_spike or 0
    return Reading("escalation_spike", count > threshold, count,
                   {"count": count, "threshold": threshold,
                    "window_minutes": int(alerts.escalation_window.total_seconds() // 60)})


async def manager_alerts(desk: Desk, *, limit: int = 500) -> int:
    """Measure each configured condition of each workspace and record the crossings.
    Returns the number of alerts raised or cleared."""
    now = desk.clock.now()
    async with desk.db.reading() as session:
        policies = await workspace_policies(session)
    changes = 0
    for workspace_id, workspace in policies.items():
        alerts = workspace.alerts
        if not alerts.any:
            continue
        async with desk.db.reading() as session:
            readings = []
            if alerts.queue_depth is not None:
                readings.append(await queue_depth(session, workspace_id, alerts.queue_depth))
            if alerts.csat_drop_points is not None:
                readings.append(await csat_drop(session, workspace_id, alerts, now))
            if alerts.escalation_spike is not None:
                readings.append(await escalation_spike(session, workspace_id, alerts, now))
        for reading in readings:
            changes += await _record_crossing(desk, workspace_id, reading, now)
    return changes


async def _record_crossing(desk: Desk, workspace_id: int, reading: Reading, now: datetime) -> int:
    async with desk.db.transaction() as session:
        state = await session.get(AlertState, (workspace_id, reading.kind))
        if state is None:
            if not reading.active:
                return 0
            await session.execute(
                desk.db.insert(AlertState).values(workspace_id=workspace_id, kind=reading.kind, active=False,
                                                  value=None, changed_at=now).on_conflict_do_nothing())
            was_active = False
        else:
            was_active = state.active
        if was_active == reading.active:
            return 0
        claimed = (await session.execute(
            update(AlertState).where(AlertState.workspace_id == workspace_id, AlertState.kind == reading.kind,
                                     AlertState.active.is_(was_active))
            .values(active=reading.active, value=reading.value, changed_at=now)
            .returning(AlertState.kind))).first()
        if claimed is None:
            return 0
        tx = desk.tx_in(session, SYSTEM, workspace_id)
        tx.now = now
        await tx.record(ev.ALERT_RAISED if reading.active else ev.ALERT_CLEARED, kind=reading.kind,
                        value=reading.value, **reading.detail)
        await desk.run_before_commit(tx)
        return 1

