"""The unit of work actions run in, and the helpers every action shares."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.clock import Clock, SystemClock
from frontdesk.db.models import Conversation, Event, Member, Ticket, TicketParticipant, TicketType, Workspace
from frontdesk.db.session import Database
from frontdesk.domain.errors import NotFound, ValidationFailed
from frontdesk.domain.permissions import Actor, Capability, TicketAccess, TypeAccess, require
from frontdesk.domain.policies import Policies
from frontdesk.domain.tickets import Status
from frontdesk.files import FileStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An event row written by a bulk statement (the worker's breach pass), with the same
    attributes as ``Event``: what before-commit hooks read, without building ORM objects for
    rows the session never loaded."""

    id: int
    workspace_id: int
    type: str
    ticket_id: int | None
    occurred_at: datetime
    payload: dict[str, Any]
    conversation_id: int | None = None
    actor_id: int | None = None
    actor_kind: str = "system"


@dataclass
class Tx:
    """What an action sees: one open transaction, who is acting, in which workspace, and when."""

    session: AsyncSession
    actor: Actor
    workspace_id: int
    now: datetime
    files: FileStore
    # Every event this transaction appended: ``Event`` rows, or ``EventRecord``s for rows a
    # bulk statement wrote. Before-commit hooks read them; ORM events get their ids on flush.
    events: list[Any] = field(default_factory=list)
    db: Database | None = None
    # Set once this transaction has written the workspace row (so it holds its lock).
    workspace_written: bool = False
    # Rows this transaction has loaded and may read again. The session's identity map holds
    # objects weakly, so without these a second lookup would go back to the database.
    locked_tickets: dict[int, Ticket] = field(default_factory=dict)
    types: dict[int, TicketType] = field(default_factory=dict)
    # Tickets' participant rows and conversations, read once per transaction: a batch of
    # messages (the Discord relay's group commit) writes many into one ticket. Every action
    # that adds or removes participants or moves conversations calls ``forget_ticket_reads``.
    participant_rows: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    conversation_lists: dict[int, list[Conversation]] = field(default_factory=dict)
    # Members by Discord user id, as read in this transaction (``actions.discord``).
    discord_members: dict[str, Member] = field(default_factory=dict)
    # The workspace's parsed policies, read once per transaction (see ``actions.timers``).
    policies: Policies | None = None
    # Added to the payload of every event this transaction records (an automation rule's
    # actions run in a copy of the Tx carrying its ``rule_id``).
    event_tags: dict[str, Any] = field(default_factory=dict)
    # Where the automation hook stands in ``events`` (``actions.automation``).
    automation: Any = None
    # How many outbox rows this transaction enqueued (``actions.outbox.enqueue``).
    outbox_enqueued: int = 0
    # The desk's before-commit hooks, set for a transaction opened by ``Desk.tx`` (see
    # ``settle``); whether they are running; and how far each hook that asks ``unseen`` got.
    run_hooks: Callable[[Tx], Awaitable[None]] | None = None
    hooks_running: bool = False
    hook_cursors: dict[str, int] = field(default_factory=dict)

    async def settle(self) -> None:
        """Run the before-commit hooks now over what was recorded so far, so that what is read
        next (the answer an entry point builds) shows what automation changed. At commit
        they run again, over what was recorded after this. Nothing happens in a read-only
        view, in a ``Tx`` built around a caller's session, or from inside a hook."""
        if self.run_hooks is not None and not self.hooks_running:
            await self.run_hooks(self)

    def unseen(self, key: str) -> list[Any]:
        """The events recorded since the hook named ``key`` last asked: what a hook that only
        reads events handles on each run (the hooks may run more than once a transaction)."""
        start = self.hook_cursors.get(key, 0)
        self.hook_cursors[key] = len(self.events)
        return self.events[start:]

    def forget_ticket_reads(self) -> None:
        """Drop the participants and conversations read so far: they have just changed."""
        self.participant_rows.clear()
        self.conversation_lists.clear()

    @property
    def actor_kind(self) -> str:
        if self.actor.is_system:
            return "system"
        return "member"

    async def record(
        self,
        type: str,
        *,
        ticket: Ticket | None = None,
        conversation_id: int | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        **payload: Any,
    ) -> Event:
        """Append one event row. Every state change calls this exactly once per fact."""
        body: dict[str, Any] = dict(payload)
        for key, value in self.event_tags.items():
            body.setdefault(key, value)
        if ticket is not None:
            body.setdefault("ticket_number", ticket.number)
        if before is not None:
            body["before"] = before
        if after is not None:
            body["after"] = after
        event = Event(
            workspace_id=self.workspace_id,
            type=type,
            ticket_id=ticket.id if ticket is not None else None,
            conversation_id=conversation_id,
            actor_id=self.actor.member_id,
            actor_kind=self.actor_kind,
            occurred_at=self.now,
            payload=_jsonable(body),
        )
        self.session.add(event)
        self.events.append(event)
        return event


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    return value


BeforeCommit = Callable[["Tx"], Awaitable[None]]


class Desk:
    """Wires a database, a clock and a file store into units of work for actions."""

    def __init__(self, db: Database, *, clock: Clock | None = None, files: FileStore | None = None,
                 before_commit: list[BeforeCommit] | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.files = files or FileStore(None)
        # Awaited in order, inside the transaction, once the action's body has finished and
        # before the commit: what reacts to the transaction's events in the same unit of work
        # (automation rules, the webhook outbox). A hook that raises rolls everything back.
        if before_commit is None:
            from frontdesk.actions.hooks import default_before_commit

            before_commit = default_before_commit()
        self.before_commit: list[BeforeCommit] = before_commit
        # Called with the events of each committed transaction (in this process) that appended
        # events or enqueued outbox rows.
        self.after_commit: list[Callable[[list[Event]], None]] = []

    def _tx(self, session: AsyncSession, actor: Actor, workspace_id: int) -> Tx:
        return Tx(session=session, actor=actor, workspace_id=workspace_id, now=self.clock.now(),
                  files=self.files, db=self.db)

    @asynccontextmanager
    async def tx(self, actor: Actor, workspace_id: int) -> AsyncIterator[Tx]:
        """One action's transaction: commits when the block ends, rolls back on any error."""
        async with self.db.transaction() as session:
            tx = self._tx(session, actor, workspace_id)
            tx.run_hooks = self.run_before_commit
            yield tx
            await self.run_before_commit(tx)
        if tx.events or tx.outbox_enqueued:
            for hook in self.after_commit:
                hook(tx.events)

    async def run_before_commit(self, tx: Tx) -> None:
        """The before-commit hooks over ``tx``; also for code that opens its own session
        (the bulk sweeps) and builds a ``Tx`` around it."""
        if tx.hooks_running:
            return
        tx.hooks_running = True
        try:
            for hook in self.before_commit:
                await hook(tx)
        finally:
            tx.hooks_running = False

    def tx_in(self, session: AsyncSession, actor: Actor, workspace_id: int) -> Tx:
        """A ``Tx`` over a session the caller already holds (and commits)."""
        return self._tx(session, actor, workspace_id)

    @asynccontextmanager
    async def read(self, actor: Actor, workspace_id: int) -> AsyncIterator[Tx]:
        """A read-only view with the same shape as a transaction, for queries."""
        async with self.db.reading() as session:
            yield self._tx(session, actor, workspace_id)


# --- loading -------------------------------------------------------------------------------------------------


async def get_workspace(tx: Tx, *, for_update: bool = False) -> Workspace:
    stmt = select(Workspace).where(Workspace.id == tx.workspace_id)
    if for_update:
        stmt = stmt.with_for_update()
    workspace = (await tx.session.execute(stmt)).scalar_one_or_none()
    if workspace is None:
        raise NotFound("workspace not found")
    return workspace


async def get_owned(tx: Tx, model: type[T], row_id: int, *, what: str, for_update: bool = False) -> T:
    """The row of ``model`` (a table with ``id`` and ``workspace_id``) with this id in the
    transaction's workspace, locked with ``for_update``; ``NotFound`` naming ``what`` (such
    as "rule 7") when there is none, also when it belongs to another workspace."""
    table: Any = model
    stmt = select(model).where(table.id == row_id, table.workspace_id == tx.workspace_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await tx.session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def get_ticket(tx: Tx, number: int, *, for_update: bool = True) -> Ticket:
    """The ticket with this workspace number, locked for the rest of the transaction."""
    if (locked := tx.locked_tickets.get(number)) is not None:
        return locked
    stmt = select(Ticket).where(Ticket.workspace_id == tx.workspace_id, Ticket.number == number)
    if for_update:
        stmt = stmt.with_for_update()
    ticket = (await tx.session.execute(stmt)).scalar_one_or_none()
    if ticket is None:
        raise NotFound(f"ticket {number} not found")
    if for_update:
        tx.locked_tickets[number] = ticket
    return ticket


async def preload_tickets(tx: Tx, numbers: Iterable[int]) -> None:
    """Load and lock the tickets with these numbers, with their participants and
    conversations, in three round trips, for a transaction about to write into many of them
    (the Discord relay's group commit); ``get_ticket`` and ``ticket_access`` then read none
    of it again. Locks are taken in id order, as every batch does, so two never deadlock."""
    wanted = sorted(set(numbers) - set(tx.locked_tickets))
    if not wanted:
        return
    tickets = list((await tx.session.execute(
        select(Ticket).where(Ticket.workspace_id == tx.workspace_id, Ticket.number.in_(wanted))
        .order_by(Ticket.id).with_for_update())).scalars())
    for ticket in tickets:
        tx.locked_tickets[ticket.number] = ticket
    ids = [t.id for t in tickets if t.id not in tx.participant_rows or t.id not in tx.conversation_lists]
    if not ids:
        return
    participants: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    for ticket_id, member_id, kind in await tx.session.execute(
            select(TicketParticipant.ticket_id, TicketParticipant.member_id, TicketParticipant.kind)
            .where(TicketParticipant.ticket_id.in_(ids))):
        participants[ticket_id].append((member_id, kind))
    conversations: dict[int, list[Conversation]] = {i: [] for i in ids}
    for conversation in (await tx.session.execute(
            select(Conversation).where(Conversation.ticket_id.in_(ids)).order_by(Conversation.id))).scalars():
        conversations[conversation.ticket_id].append(conversation)
    tx.participant_rows.update(participants)
    tx.conversation_lists.update(conversations)


async def get_member(tx: Tx, member_id: int, *, field: str = "member_id") -> Member:
    member = await tx.session.get(Member, member_id)
    if member is None or member.workspace_id != tx.workspace_id:
        raise ValidationFailed(f"member {member_id} does not exist in this workspace", field=field)
    return member


async def _load_type(tx: Tx, type_id: int) -> TicketType | None:
    ticket_type = tx.types.get(type_id)
    if ticket_type is None:
        ticket_type = await tx.session.get(TicketType, type_id)
        if ticket_type is not None:
            tx.types[type_id] = ticket_type
    return ticket_type


async def get_type(tx: Tx, type_id: int, *, field: str = "type_id") -> TicketType:
    ticket_type = await _load_type(tx, type_id)
    if ticket_type is None or ticket_type.workspace_id != tx.workspace_id:
        raise ValidationFailed(f"ticket type {type_id} does not exist in this workspace", field=field)
    return ticket_type


def type_access(ticket_type: TicketType | None) -> TypeAccess:
    if ticket_type is None:
        return TypeAccess()
    return TypeAccess(
        staff_role_ids=frozenset(ticket_type.staff_role_ids or ()),
        allowed_role_ids=frozenset(ticket_type.allowed_role_ids or ()),
        team_id=ticket_type.team_id,
        opener_can_close=ticket_type.opener_can_close,
    )


async def ticket_access(tx: Tx, ticket: Ticket) -> TicketAccess:
    ticket_type = await _load_type(tx, ticket.type_id) if ticket.type_id else None
    rows = tx.participant_rows.get(ticket.id)
    if rows is None:
        rows = tx.participant_rows[ticket.id] = [tuple(row) for row in (await tx.session.execute(  # type: ignore[misc]
            select(TicketParticipant.member_id, TicketParticipant.kind).where(
                TicketParticipant.ticket_id == ticket.id))).all()]
    return TicketAccess(
        type=type_access(ticket_type),
        opener_id=ticket.opener_id,
        participant_ids=frozenset(m for m, k in rows if k == "participant"),
        contact_ids=frozenset(m for m, k in rows if k == "contact"),
        claimer_id=ticket.claimer_id,
        assignee_id=ticket.assignee_id,
        lockdown=ticket.lockdown,
        closed=ticket.status == Status.CLOSED,
        team_id=ticket.team_id,
    )


async def ticket_for(tx: Tx, number: int, capability: Capability, *, for_update: bool = True) -> Ticket:
    """Load and lock a ticket, then check the actor may do ``capability`` on it."""
    return (await ticket_and_access(tx, number, capability, for_update=for_update))[0]


async def ticket_and_access(tx: Tx, number: int, capability: Capability, *,
                            for_update: bool = True) -> tuple[Ticket, TicketAccess]:
    """``ticket_for``, also returning the access facts it checked, for actions that need
    them again (who is staff here) without another round trip."""
    ticket = await get_ticket(tx, number, for_update=for_update)
    access = await ticket_access(tx, ticket)
    require(tx.actor, capability, access, what=f"ticket {number}")
    return ticket, access


def touch(tx: Tx, ticket: Ticket) -> None:
    ticket.updated_at = tx.now
