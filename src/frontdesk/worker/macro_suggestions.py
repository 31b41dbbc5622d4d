"""The daily suggested-macros job: mine each workspace's recent staff replies once a day.

A workspace is mined when its ``macro_mining_states.last_mined_at`` is a day old or unset.
The worker claims it with a conditional update (``... WHERE last_mined_at IS NULL OR
last_mined_at <= now - 1 day``) in the transaction that then mines and stores the
suggestions, so any number of workers mine a workspace once a day, and a failed mining run
leaves the claim undone for the next pass. It only ever proposes; staff create macros.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased

from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.macro_suggestions import record_suggestions
from frontdesk.db.models import (
    Conversation,
    Macro,
    MacroMiningState,
    MacroSuggestion,
    Member,
    Message,
    Ticket,
    Workspace,
)
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.macro_mining import MiningPolicy, StaffReply, Suggestion, macro_hash, mine
from frontdesk.domain.macros import CONTENT_MAX
from frontdesk.domain.permissions import Actor
from frontdesk.domain.tickets import AuthorKind, Status, Visibility

log = logging.getLogger("frontdesk.worker")

SYSTEM = Actor.system("frontdesk worker")
EVERY = timedelta(days=1)


async def mine_macro_suggestions(desk: Desk, *, limit: int = 100) -> int:
    """Mine every workspace whose last mining is a day old (at most ``limit`` per call).
    Returns how many workspaces this call claimed."""
    now = desk.clock.now()
    due = now - EVERY
    async with desk.db.reading() as session:
        candidates = (await session.execute(
            select(Workspace.id, Workspace.settings)
            .outerjoin(MacroMiningState, MacroMiningState.workspace_id == Workspace.id)
            .where(or_(MacroMiningState.last_mined_at.is_(None), MacroMiningState.last_mined_at <= due))
            .order_by(Workspace.id).limit(limit))).all()
    claimed = 0
    for workspace_id, settings in candidates:
        try:
            policy: MiningPolicy | None = MiningPolicy.parse(settings)
        except ValidationFailed as exc:
            # Still claimed, so the workspace waits a day like the others instead of being
            # picked first on every pass.
            log.error("macro_suggestions setting does not parse; mining skipped",
                      extra={"workspace_id": workspace_id, "field": exc.field, "error": exc.message})
            policy = None
        try:
            async with desk.tx(SYSTEM, workspace_id) as tx:
                if not await _claim(tx, desk, due):
                    continue
                claimed += 1
                if policy is not None and policy.enabled:
                    await record_suggestions(tx, await find_suggestions(tx, policy))
        except Exception:
            log.exception("mining suggested macros failed", extra={"workspace_id": workspace_id})
    return claimed


async def _claim(tx: Tx, desk: Desk, due: datetime) -> bool:
    await tx.session.execute(desk.db.insert(MacroMiningState).values(
        workspace_id=tx.workspace_id, last_mined_at=None).on_conflict_do_nothing())
    row = (await tx.session.execute(
        update(MacroMiningState)
        .where(MacroMiningState.workspace_id == tx.workspace_id,
               or_(MacroMiningState.last_mined_at.is_(None), MacroMiningState.last_mined_at <= due))
        .values(last_mined_at=tx.now).returning(MacroMiningState.workspace_id))).first()
    return row is not None


async def find_suggestions(tx: Tx, policy: MiningPolicy) -> list[Suggestion]:
    """What mining proposes now: public staff messages of tickets closed within the lookback,
    lockdown tickets left out, against the workspace's macros and earlier suggestions."""
    opener, author = aliased(Member), aliased(Member)
    rows = (await tx.session.execute(
        select(Ticket.number, Message.body, opener.display_name, author.display_name, Ticket.anonymous)
        .select_from(Ticket)
        .join(Conversation, Conversation.ticket_id == Ticket.id)
        .join(Message, Message.conversation_id == Conversation.id)
        .outerjoin(opener, opener.id == Ticket.opener_id)
        .outerjoin(author, author.id == Message.author_id)
        .where(Ticket.workspace_id == tx.workspace_id, Ticket.status == Status.CLOSED.value,
               Ticket.closed_at >= tx.now - policy.lookback, Ticket.lockdown.is_(False),
               Message.visibility == Visibility.PUBLIC.value, Message.author_kind == AuthorKind.STAFF.value,
               func.length(Message.body) <= CONTENT_MAX)
        .order_by(Message.id))).all()
    replies = [StaffReply(ticket_number=number, text=body, opener_name=None if anonymous else opener_name,
                          staff_name=staff_name)
               for number, body, opener_name, staff_name, anonymous in rows]
    known = set((await tx.session.execute(select(MacroSuggestion.text_hash).where(
        MacroSuggestion.workspace_id == tx.workspace_id))).scalars())
    taken = set((await tx.session.execute(select(MacroSuggestion.suggested_shortcut).where(
        MacroSuggestion.workspace_id == tx.workspace_id))).scalars())
    for shortcut, content in (await tx.session.execute(select(Macro.shortcut, Macro.content).where(
            Macro.workspace_id == tx.workspace_id))).all():
        taken.add(shortcut)
        known.add(macro_hash(content))
    return mine(replies, known_hashes=known, taken_shortcuts=taken)
