"""Group commit for the relay: the messages people write in Discord are stored many to a
transaction.

Every message the relay takes in (a user's DM, a message in a ticket's channel, thread or
post) and every link to a copy the bot posted goes into one queue. A single writer takes what
has queued, up to ``MAX_BATCH`` items, and stores them with one transaction per workspace;
while that transaction runs, the next messages queue up for the one after. A quiet desk
therefore still writes each message alone and at once, and a busy one pays the fixed price of
a transaction (begin, the before-commit hooks, the commit) once per batch instead of once per
message.

Each message is stored exactly as alone: its author's member is found and the actions run as
them (``FrontdeskBot.actor_of``), so every permission check is the same, and the two halves
of ``post_message`` do the work: each message is checked and added (``prepare_message``), one
flush inserts them all, then each is finished (``finish_message``) in order. The desk's
before-commit hooks (automation, mirrors, webhooks) run over the batch's events; when a
message caused more than its own ``message.created`` (a status change, an away message), they
run right after it, while its author is still the actor, so what they record names the right
person. A batch is all or nothing: when any of its items fails, the batch is rolled back and
every item is stored again on its own, so one bad message fails alone, with its own error,
and no other message is lost.

A DM names no workspace: the batch looks up the open relay ticket of every DM author it does
not remember from the last ``PLACE_TTL_SECONDS`` in one read
(``queries.modmail.open_modmail_tickets``), and a DM whose author has none comes back as
``None`` (the caller then starts intake). A ticket closed since it was found comes back the
same way: ``post_message`` refuses it. Until the caller of such a DM is done with it
(``release``), the author's later DMs come back as ``None`` too, so none of them is stored
ahead of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from frontdesk.actions.base import Tx, get_workspace, preload_tickets
from frontdesk.actions.discord import link_messages, preload_discord_members
from frontdesk.actions.messages import PreparedMessage, finish_message, prepare_message
from frontdesk.db.models import Message
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotPermitted, TicketClosed
from frontdesk.domain.permissions import Actor, require_staff
from frontdesk.domain.tickets import AuthorKind
from frontdesk.queries.modmail import TicketPlace, counterpart, open_modmail_tickets

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord.modmail")

# At most this many items in one batch (one transaction per workspace among them).
MAX_BATCH = 100
# How long a DM author's open ticket, once found, routes their next DMs without a read, and
# how many authors are remembered so.
PLACE_TTL_SECONDS = 30.0
PLACES_KEPT = 10_000
# Events a stored message records without anything else happening: hooks can wait for the
# batch's commit for these.
_QUIET_EVENTS = frozenset({ev.MESSAGE_CREATED})


@dataclass(frozen=True)
class Stored:
    """A message the relay stored."""

    message_id: int
    author_kind: str
    anonymous: bool
    # The Discord message a copy should reply to (the other side's message this one answers).
    reply_reference: str | None


@dataclass(eq=False)
class StoreRequest:
    """A message to store as ``author``'s in ``place``'s ticket (or, with ``place`` None, in
    the open relay ticket of the DM's author)."""

    author: discord.abc.User
    body: str
    external_id: str
    # Where it was written (channel id, Discord message id): linked as its origin.
    origin: tuple[int, int] | None
    # The Discord message (in the origin's channel) it replies to, if any.
    reply_to: int | None
    place: TicketPlace | None
    # Where the other side's copies live: a reply here references the copy in that channel.
    other_channel_id: str | None = None
    anonymous: bool = False
    staff_only: bool = False
    future: asyncio.Future[Any] = field(init=False, repr=False)
    # Whether the batch looks up the ticket (a DM): then "no open ticket" is an answer, None.
    looks_up: bool = field(init=False)

    def __post_init__(self) -> None:
        self.looks_up = self.place is None


@dataclass(eq=False)
class LinkRequest:
    """Copies the bot posted of a stored message: ``(channel id, Discord message id)`` each."""

    workspace_id: int
    message_id: int
    copies: list[tuple[int, int]]
    future: asyncio.Future[Any] = field(init=False, repr=False)


Request = StoreRequest | LinkRequest


class GroupCommit:
    """The relay's writer: one per bot (``group_commit_of``)."""

    def __init__(self, bot: FrontdeskBot, *, max_batch: int = MAX_BATCH) -> None:
        self.bot = bot
        self.max_batch = max_batch
        self._queue: deque[Request] = deque()
        self._writer: asyncio.Task[None] | None = None
        # DM authors with a DM answered "no open ticket" whose caller has not finished with it
        # (``release``): their later DMs get the same answer, so that none of them is stored
        # ahead of one that is still on its way through intake.
        self._held: dict[int, int] = {}
        # DM authors' open relay tickets as last read, with when: their next DMs go there without
        # a read. What could have changed is checked where it matters: ``post_message`` refuses
        # a closed ticket (the DM then comes back as "no ticket" and the entry is dropped). An
        # entry lives ``PLACE_TTL_SECONDS``, so a newer ticket in another server is found soon.
        self._places: dict[int, tuple[float, TicketPlace]] = {}
        # Figures for the benchmark and the logs: batches written and items in them.
        self.batches = 0
        self.items = 0

    # --- what callers await -------------------------------------------------------------------------------------

    async def store(self, author: discord.abc.User, body: str, *, external_id: str, place: TicketPlace | None,
                    origin: tuple[int, int] | None, reply_to: int | None = None, other_channel_id: str | None = None,
                    anonymous: bool = False, staff_only: bool = False) -> tuple[TicketPlace, Stored] | None:
        """Store a message; ``place`` None means the open relay ticket of the DM's author, and
        the answer is None when they have none. A ``DomainError`` says why it was refused."""
        request = StoreRequest(author=author, body=body, external_id=external_id, origin=origin, reply_to=reply_to,
                               place=place, other_channel_id=other_channel_id, anonymous=anonymous,
                               staff_only=staff_only)
        return await self._submit(request)  # type: ignore[no-any-return]

    def release(self, author_id: int) -> None:
        """The caller of a DM answered None is done with it (stored it another way, or not)."""
        left = self._held.get(author_id, 0) - 1
        if left > 0:
            self._held[author_id] = left
        else:
            self._held.pop(author_id, None)

    async def link_copies(self, workspace_id: int, message_id: int, *copies: discord.Message | None) -> None:
        """Record the copies the bot posted of a stored message."""
        sent = [(c.channel.id, c.id) for c in copies if c is not None]
        if sent:
            await self._submit(LinkRequest(workspace_id, message_id, sent))

    async def drain(self) -> None:
        """Wait until everything queued so far is written."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    # --- the writer ---------------------------------------------------------------------------------------------

    def _submit(self, request: Request) -> asyncio.Future[Any]:
        request.future = asyncio.get_running_loop().create_future()
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(), name="frontdesk: relay group commit")
        return request.future

    async def _write_all(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
            try:
                await self._write_batch(batch)
            except BaseException as exc:
                # Nobody waits forever: whatever was not answered gets the error.
                failure = exc if isinstance(exc, Exception) else RuntimeError("the relay's writer was stopped")
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(failure)
                if not isinstance(exc, Exception):
                    raise
                log.exception("a batch of relayed messages failed")

    async def _write_batch(self, batch: list[Request]) -> None:
        self.batches += 1
        self.items += len(batch)
        looking = [r for r in batch if isinstance(r, StoreRequest) and r.place is None]
        places = await self._open_tickets({r.author.id for r in looking if r.author.id not in self._held})
        for request in looking:
            place = places.get(request.author.id) if request.author.id not in self._held else None
            if place is None:
                self._no_ticket(request)
            else:
                request.place = place
                request.other_channel_id = place.channel_id
        by_workspace: dict[int, list[Request]] = {}
        for request in batch:
            if request.future.done():
                continue
            workspace_id = request.workspace_id if isinstance(request, LinkRequest) else request.place.workspace_id  # type: ignore[union-attr]
            by_workspace.setdefault(workspace_id, []).append(request)
        await asyncio.gather(*(self._commit(workspace_id, requests)
                               for workspace_id, requests in by_workspace.items()))

    async def _open_tickets(self, author_ids: set[int]) -> dict[int, TicketPlace]:
        """The open relay ticket of each author that has one: remembered, else read (all the
        authors not remembered in one query)."""
        now = time.monotonic()
        found: dict[int, TicketPlace] = {}
        for author_id in author_ids:
            kept = self._places.get(author_id)
            if kept is not None and now - kept[0] < PLACE_TTL_SECONDS:
                found[author_id] = kept[1]
        unknown = author_ids - set(found)
        if unknown:
            from frontdesk.discord.bot import BOT_ACTOR

            async with self.bot.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
                read = await open_modmail_tickets(tx, unknown)
            if len(self._places) + len(read) > PLACES_KEPT:
                self._places.clear()
            for author_id in unknown:
                place = read.get(str(author_id))
                if place is None:
                    self._places.pop(author_id, None)
                else:
                    found[author_id] = place
                    self._places[author_id] = (now, place)
        return found

    def _no_ticket(self, request: StoreRequest) -> None:
        self._held[request.author.id] = self._held.get(request.author.id, 0) + 1
        self._places.pop(request.author.id, None)
        request.future.set_result(None)

    def _fail(self, request: Request, exc: Exception) -> None:
        if isinstance(exc, TicketClosed) and isinstance(request, StoreRequest) and request.looks_up:
            # Closed since it was looked up: the DM starts a new ticket instead.
            self._no_ticket(request)
        else:
            request.future.set_exception(exc)

    async def _commit(self, workspace_id: int, requests: list[Request]) -> None:
        """One workspace's part of a batch: all in one transaction, else each on its own."""
        try:
            answers = await self._transaction(workspace_id, requests)
        except Exception as exc:  # noqa: BLE001 - each request gets its own answer below
            if len(requests) == 1:
                self._fail(requests[0], exc)
                return
            for request in requests:
                try:
                    answer = (await self._transaction(workspace_id, [request]))[0]
                except Exception as alone:  # noqa: BLE001 - the request's own error, for its caller
                    self._fail(request, alone)
                else:
                    request.future.set_result(answer)
            return
        for request, answer in zip(requests, answers, strict=True):
            request.future.set_result(answer)

    async def _transaction(self, workspace_id: int, requests: list[Request]) -> list[Any]:
        """Every request in one transaction. Messages go in two passes: each checked and added
        as its author (``prepare_message``), then one flush inserts them all, then each
        finished as its author (``finish_message``), in order. A message that replies to
        another Discord message first completes those before it: the one it answers may be
        among them, and is found through its link."""
        answers: list[Any] = [None] * len(requests)
        links: list[tuple[int, str | int, str | int, str]] = []
        async with self.bot.as_desk(workspace_id) as tx:
            desk = tx.actor
            # Held until the commit (the hooks run inside this block), with the messages written:
            # what the actions and hooks read of them again (policies, the mirror) is then found
            # in the session without a read.
            workspace = await get_workspace(tx)
            written: list[Message] = []
            stores = [r for r in requests if isinstance(r, StoreRequest)]
            await preload_tickets(tx, {r.place.number for r in stores if r.place is not None})
            await preload_discord_members(tx, {r.author.id for r in stores})
            # Every author's permission view before the first message is added: a read after
            # that would flush the messages added so far one at a time.
            authors = list({r.author.id: r.author for r in stores}.values())
            views = await self.bot.actors_of(tx, authors, workspace_settings=workspace.settings or {})
            actors = dict(zip((a.id for a in authors), views, strict=True))
            pending: list[_Pending] = []

            async def complete() -> None:
                """Finish the messages added so far, and write every link gathered so far."""
                if pending:
                    await tx.session.flush()
                    for item in pending:
                        written.append(item.prepared.message)
                        tx.actor = item.actor
                        try:
                            answers[item.index] = await _finish(tx, item, links)
                        finally:
                            tx.actor = desk
                    pending.clear()
                await link_messages(tx, links)
                links.clear()

            for index, request in enumerate(requests):
                if isinstance(request, LinkRequest):
                    links += [(request.message_id, channel_id, message_id, "copy")
                              for channel_id, message_id in request.copies]
                    continue
                if request.reply_to is not None:
                    await complete()
                actor = tx.actor = actors[request.author.id]
                try:
                    pending.append(await _prepare(tx, index, request, actor))
                finally:
                    tx.actor = desk
            await complete()
        return answers


@dataclass
class _Pending:
    """A message of the batch added to the session, waiting for the flush."""

    index: int
    request: StoreRequest
    actor: Actor
    prepared: PreparedMessage
    reply_reference: str | None


async def _prepare(tx: Tx, index: int, request: StoreRequest, actor: Actor) -> _Pending:
    """A message's checks, as its author (``tx.actor``), replying to what the Discord message it
    answers shows; the message added to the session."""
    place = request.place
    assert place is not None
    if request.staff_only:
        require_staff(tx.actor, "send messages to a ticket's user")
    reply_message_id, reply_reference = None, None
    if request.reply_to is not None and request.origin is not None:
        found = await counterpart(tx, request.origin[0], request.reply_to,
                                  request.other_channel_id or request.origin[0])
        if found is not None:
            reply_message_id, reply_reference = found
    prepared = await prepare_message(tx, place.number, request.body, external_id=request.external_id,
                                     reply_to_id=reply_message_id,
                                     anonymous=request.anonymous and tx.actor.is_staff_anywhere)
    if request.staff_only and prepared.kind != AuthorKind.STAFF:
        raise NotPermitted("only the ticket's staff may send messages to its user")
    return _Pending(index, request, actor, prepared, reply_reference)


async def _finish(tx: Tx, item: _Pending, links: list[tuple[int, str | int, str | int, str]]
                  ) -> tuple[TicketPlace, Stored]:
    """A flushed message finished as its author (``tx.actor``), its origin link added to
    ``links``."""
    request = item.request
    assert request.place is not None
    first_event = len(tx.events)
    message = await finish_message(tx, item.prepared)
    if request.origin is not None:
        links.append((message.id, request.origin[0], request.origin[1], "origin"))
    if any(e.type not in _QUIET_EVENTS for e in tx.events[first_event:]):
        await tx.settle()  # as the author: what the hooks record names them
    return request.place, Stored(message.id, message.author_kind, message.anonymous, item.reply_reference)


def group_commit_of(bot: FrontdeskBot) -> GroupCommit:
    writer = getattr(bot, "_relay_group_commit", None)
    if writer is None:
        writer = GroupCommit(bot)
        bot._relay_group_commit = writer  # type: ignore[attr-defined]
    return writer
