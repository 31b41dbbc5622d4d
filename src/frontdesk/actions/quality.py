"""Quality flags: tickets that need a second look (a negative rating, an escalation the bot
could not answer, a low-confidence bot reply). Staff review and resolve them."""

from __future__ import annotations

import enum
import math
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, ticket_access
from frontdesk.db.models import Message, QualityFlag, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, ValidationFailed
from frontdesk.domain.permissions import is_ticket_staff, require_staff

RESOLUTION_NOTE_MAX = 500


class QualityFlagKind(enum.StrEnum):
    NEGATIVE_CSAT = "negative_csat"
    ESCALATED = "escalated"
    LOW_CONFIDENCE = "low_confidence"


async def flag_ticket(tx: Tx, ticket: Ticket, kind: QualityFlagKind, **detail: Any) -> QualityFlag | None:
    """Raise a flag of ``kind`` on a ticket, unless one of that kind is already open there.
    Emits ``quality_flag.created``."""
    existing = await tx.session.scalar(select(QualityFlag.id).where(
        QualityFlag.ticket_id == ticket.id, QualityFlag.kind == kind.value, QualityFlag.resolved_at.is_(None)))
    if existing is not None:
        return None
    flag = QualityFlag(workspace_id=tx.workspace_id, ticket_id=ticket.id, kind=kind.value,
                       detail={k: v for k, v in detail.items() if v is not None}, created_at=tx.now)
    tx.session.add(flag)
    await tx.session.flush()
    await tx.record(ev.QUALITY_FLAG_CREATED, ticket=ticket, flag_id=flag.id, kind=kind.value)
    return flag


async def resolve_flag(tx: Tx, flag_id: int, *, note: str | None = None) -> QualityFlag:
    """Mark a flag reviewed. Staff on its ticket (others get 404, as the list leaves it out
    for them); resolving a resolved flag is a conflict.
    Emits ``quality_flag.resolved``."""
    require_staff(tx.actor, "resolve quality flags")
    if note is not None and len(note) > RESOLUTION_NOTE_MAX:
        raise ValidationFailed(f"note must be at most {RESOLUTION_NOTE_MAX} characters", field="note")
    flag = (await tx.session.execute(select(QualityFlag).where(
        QualityFlag.id == flag_id, QualityFlag.workspace_id == tx.workspace_id).with_for_update())).scalar_one_or_none()
    if flag is None:
        raise NotFound(f"quality flag {flag_id} not found")
    ticket = await tx.session.get(Ticket, flag.ticket_id)
    if ticket is None or not (tx.actor.is_system or is_ticket_staff(tx.actor, await ticket_access(tx, ticket))):
        # Like the list: a flag on a ticket the caller does not work as staff is not there for them.
        raise NotFound(f"quality flag {flag_id} not found")
    if flag.resolved_at is not None:
        raise Conflict(f"quality flag {flag_id} is already resolved")
    flag.resolved_at = tx.now
    flag.resolved_by_id = tx.actor.member_id
    flag.resolution_note = (note or "").strip() or None
    await tx.record(ev.QUALITY_FLAG_RESOLVED, ticket=ticket, flag_id=flag.id, kind=flag.kind,
                    note=flag.resolution_note)
    return flag


def _finite(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed(f"{field} must be a finite number", field=field)
    return float(value)


async def flag_low_confidence(tx: Tx, ticket: Ticket, *, score: float, threshold: float,
                              message_id: int | None) -> QualityFlag | None:
    """Raise a ``low_confidence`` flag for a bot reply whose retrieval ``score`` fell below
    ``threshold`` (``message_id``: the reply, when it was sent). A score at or above the
    threshold raises nothing, nor does a second flag while one is open on the ticket. Staff
    or the desk itself (the AI answering path). Emits ``quality_flag.created``."""
    require_staff(tx.actor, "flag replies")
    score = _finite(score, "score")
    threshold = _finite(threshold, "threshold")
    if message_id is not None:
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise ValidationFailed("message_id must be a message id", field="message_id")
        message = await tx.session.get(Message, message_id)
        if message is None or message.workspace_id != tx.workspace_id:
            raise ValidationFailed(f"message {message_id} does not exist", field="message_id")
    if score >= threshold:
        return None
    return await flag_ticket(tx, ticket, QualityFlagKind.LOW_CONFIDENCE, score=score, threshold=threshold,
                             message_id=message_id)
