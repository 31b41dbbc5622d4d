"""Relaying messages between a ticket's place and the user: what people write in a ticket's
channel, thread or post is stored as its author's (``external_id = discord:<message id>``,
linked as ``origin``); in a DM-relay post, staff messages are forwarded to the user's DMs
(always, or only with ``-r `` or a leading mention of the bot when automatic forwarding is off),
as replies when they answer a user's message; a user's later DMs are stored and copied into
the post. Every message is stored before anything is sent, so a Discord failure (closed DMs,
an outage) loses nothing: staff are told, and the message has no ``copy`` link.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from frontdesk.actions.base import Tx
from frontdesk.discord.group_commit import Stored, group_commit_of
from frontdesk.domain.discord import (
    STAFF_ANONYMOUS_NAME,
    anonymous_identity,
    clip,
)
from frontdesk.domain.errors import DomainError
from frontdesk.domain.permissions import Actor
from frontdesk.domain.tickets import AuthorKind
from frontdesk.queries.modmail import (
    TicketPlace,
    open_modmail_ticket,
    place_of_channel,
)

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord.modmail")

EMBED_TEXT_MAX = 4096
USER_COLOUR = 0x5865F2
STAFF_COLOUR = 0x3BA55C

CANNOT_OPEN = "Your message could not be sent: {reason}"
DMS_CLOSED = ("Not delivered: {user} has closed their DMs or blocked the bot. The message is saved in the ticket, "
              "but the user has not seen it.")
NOT_DELIVERED = "Not delivered to {user}: Discord answered {reason}. The message is saved in the ticket."
PREFIX_FORWARD = "-r "


# --- what a message says ----------------------------------------------------------------------------------------

def forward_prefix(content: str, bot_user_id: int) -> tuple[bool, str]:
    """Whether a staff message asks to be forwarded (``-r `` or a leading mention of the bot),
    and its text without that prefix."""
    text = content.lstrip()
    if text.startswith(PREFIX_FORWARD) or text == PREFIX_FORWARD.strip():
        return True, text[len(PREFIX_FORWARD):].lstrip()
    for mention in (f"<@{bot_user_id}>", f"<@!{bot_user_id}>"):
        if text.startswith(mention):
            return True, text[len(mention):].lstrip()
    return False, content


def message_body(message: discord.Message, text: str | None = None) -> str:
    """The text to store: the message's text, then the URL of each attachment on its own line
    (attachments are kept as links to Discord's copy, not downloaded)."""
    parts = [message.content if text is None else text] + [a.url for a in message.attachments]
    return "\n".join(p for p in parts if p and p.strip()).strip()


def taken_in(message: discord.Message) -> bool:
    """Messages the relay reads: people's ordinary messages and replies, not the bot's own, not
    webhooks' (our relay's copies, integrations) and not system messages (pins, joins)."""
    if message.type not in (discord.MessageType.default, discord.MessageType.reply):
        return False
    return not message.author.bot and message.webhook_id is None


@contextmanager
def as_the_desk(tx: Tx) -> Iterator[Tx]:
    """Inside a member's transaction, record as the desk what only the desk records (where a
    ticket lives, message links), in the same unit of work."""
    from frontdesk.discord.bot import BOT_ACTOR

    actor, tx.actor = tx.actor, Actor.system(BOT_ACTOR)
    try:
        yield tx
    finally:
        tx.actor = actor


# --- the relay's memory -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PendingIntake:
    """A user who chose a server and type and has not written their first message yet."""

    guild_id: int
    type_id: int


@dataclass
class Relay:
    """What the relay keeps in memory: only caches and pending first messages, none of which
    must survive a restart (a user whose pending choice is lost is simply asked again)."""

    pending: dict[int, PendingIntake] = field(default_factory=dict)  # by user id
    # One lock per channel being relayed, so its messages are stored (and copied) in the order
    # Discord delivered them; a lock lives only while someone holds or waits for it.
    _channels: weakref.WeakValueDictionary[int, asyncio.Lock] = field(default_factory=weakref.WeakValueDictionary)

    # The last turn taken in each DM channel (see ``Turn``).
    _last_turns: dict[int, Turn] = field(default_factory=dict)

    def in_order(self, channel_id: int) -> asyncio.Lock:
        lock = self._channels.get(channel_id)
        if lock is None:
            lock = self._channels[channel_id] = asyncio.Lock()
        return lock

    def turn(self, channel_id: int) -> Turn:
        """A place in ``channel_id``'s line, taken now (so: in the order messages arrive)."""
        previous = self._last_turns.get(channel_id)
        turn = self._last_turns[channel_id] = Turn(self, channel_id, previous)
        return turn


class Turn:
    """A DM's place in its channel's line. What a DM does in Discord (its copy in the post,
    intake) happens in the order the DMs arrived: ``async with turn`` waits for the DM before
    it to be done. Storing does not wait for a turn: DMs are stored in arrival order already,
    many to a transaction (``group_commit``). ``done`` must be called in any case (it is
    idempotent); the next DM's turn waits for it."""

    def __init__(self, relay: Relay, channel_id: int, previous: Turn | None) -> None:
        self._relay = relay
        self._channel_id = channel_id
        self._previous = previous
        self._done = asyncio.get_running_loop().create_future()

    async def __aenter__(self) -> Turn:
        if self._previous is not None and not self._previous._done.done():
            # Shielded: a DM whose handler is cancelled must not cancel the one before it.
            await asyncio.shield(self._previous._done)
        self._previous = None
        return self

    async def __aexit__(self, *_: object) -> None:
        self.done()

    def done(self) -> None:
        if not self._done.done():
            self._done.set_result(None)
        if self._relay._last_turns.get(self._channel_id) is self:
            del self._relay._last_turns[self._channel_id]


def relay_of(bot: FrontdeskBot) -> Relay:
    relay = getattr(bot, "_modmail_relay", None)
    if relay is None:
        relay = Relay()
        bot._modmail_relay = relay  # type: ignore[attr-defined]
    return relay


async def read_place(bot: FrontdeskBot, channel_id: int) -> TicketPlace | None:
    from frontdesk.discord.bot import BOT_ACTOR

    async with bot.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
        return await place_of_channel(tx, channel_id)


async def read_open_ticket(bot: FrontdeskBot, user_id: int) -> TicketPlace | None:
    from frontdesk.discord.bot import BOT_ACTOR

    async with bot.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
        return await open_modmail_ticket(tx, user_id)


# --- storing, forwarding, copying ---------------------------------------------------------------------------

async def store(bot: FrontdeskBot, place: TicketPlace, author: discord.abc.User, body: str, *, external_id: str,
                origin: tuple[int, int] | None, reply_to: int | None, other_channel_id: str | None,
                anonymous: bool = False, staff_only: bool = False) -> Stored:
    """The message stored in the ticket as ``author``'s (``group_commit``: with the others
    arriving now, in one transaction), linked where it was written (``origin``: channel and
    message id), replying to what the Discord message it answers shows."""
    answer = await group_commit_of(bot).store(author, body, external_id=external_id, place=place, origin=origin,
                                              reply_to=reply_to, other_channel_id=other_channel_id,
                                              anonymous=anonymous, staff_only=staff_only)
    assert answer is not None, "a message for a known ticket is stored or refused"
    return answer[1]


async def link_copies(bot: FrontdeskBot, workspace_id: int, message_id: int, *copies: discord.Message | None) -> None:
    await group_commit_of(bot).link_copies(workspace_id, message_id, *copies)


def _reference(channel_id: int, message_id: str | None) -> discord.MessageReference | None:
    if message_id is None:
        return None
    return discord.MessageReference(message_id=int(message_id), channel_id=channel_id, fail_if_not_exists=False)


def replied_to(message: discord.Message) -> int | None:
    ref = message.reference
    if ref is None or ref.message_id is None or (ref.channel_id and ref.channel_id != message.channel.id):
        return None
    return ref.message_id


async def from_ticket_place(bot: FrontdeskBot, message: discord.Message, place: TicketPlace) -> None:
    """A message in a ticket's channel, thread or post: stored as its author's; in a DM-relay
    post, a staff message is also forwarded to the user when it should be."""
    text, forward = message.content, False
    if place.relays_to_dm:
        explicit, stripped = forward_prefix(message.content, bot.user.id if bot.user else 0)
        if explicit:
            text = stripped
        forward = explicit or place.settings.forward_automatically
    body = message_body(message, text)
    if not body:
        return
    try:
        stored = await store(bot, place, message.author, body, external_id=f"discord:{message.id}",
                             origin=(message.channel.id, message.id), reply_to=replied_to(message),
                             other_channel_id=place.dm_channel_id,
                             anonymous=forward and place.settings.anonymous_replies)
    except DomainError as exc:
        log.warning("a message in a ticket's place was not stored", extra={
            "channel_id": str(message.channel.id), "message_id": str(message.id), "error": exc.message})
        return
    if not forward or stored.author_kind != AuthorKind.STAFF:
        return
    try:
        sent = await deliver(bot, place, body, author=message.author, anonymous=stored.anonymous,
                             reply_reference=stored.reply_reference)
    except discord.HTTPException as exc:
        await message.reply(undelivered(recipient(place), exc), mention_author=False)
        return
    await link_copies(bot, place.workspace_id, stored.message_id, sent)


def recipient(place: TicketPlace) -> str:
    """The ticket's user as staff may see them (not named for an anonymous ticket)."""
    return f"<@{place.user_id}>" if place.user_id and not place.anonymous else "the user"


def undelivered(who: str, exc: discord.HTTPException) -> str:
    if isinstance(exc, discord.Forbidden) and exc.code == 50007:
        return DMS_CLOSED.format(user=who)
    return NOT_DELIVERED.format(user=who, reason=f"{exc.status} {exc.text or ''}".strip())


def _guild_name(bot: FrontdeskBot, guild_id: str) -> str:
    guild = bot.get_guild(int(guild_id))
    return guild.name if guild is not None else "the server"


def staff_embed(body: str, *, author: discord.abc.User, anonymous: bool, guild_name: str) -> discord.Embed:
    """A staff reply as the user sees it in their DMs: who wrote it (or "Staff") and where."""
    embed = discord.Embed(description=clip(body, EMBED_TEXT_MAX), colour=STAFF_COLOUR)
    if anonymous:
        embed.set_author(name=STAFF_ANONYMOUS_NAME)
    else:
        embed.set_author(name=getattr(author, "display_name", None) or author.name,
                         icon_url=author.display_avatar.url)
    embed.set_footer(text=guild_name)
    return embed


async def deliver(bot: FrontdeskBot, place: TicketPlace, body: str, *, author: discord.abc.User, anonymous: bool,
                  reply_reference: str | None) -> discord.Message:
    """Send a staff reply to the ticket's user, in their DM channel with the bot."""
    assert place.dm_channel_id is not None
    dm = bot.get_partial_messageable(int(place.dm_channel_id), type=discord.ChannelType.private)
    kwargs: dict[str, object] = {"embed": staff_embed(body, author=author, anonymous=anonymous,
                                                       guild_name=_guild_name(bot, place.guild_id))}
    reference = _reference(dm.id, reply_reference)
    if reference is not None:
        kwargs["reference"] = reference
    return await dm.send(**kwargs)  # type: ignore[arg-type]


# --- the user's side --------------------------------------------------------------------------------------------

def user_embed(opener_id: int | None, ticket_id: int, anonymous: bool, author: discord.abc.User,
               body: str) -> discord.Embed:
    """The user's message as staff see it in the post: their name and avatar, or for an
    anonymous ticket the generated nickname and avatar, never their name or id."""
    embed = discord.Embed(description=clip(body, EMBED_TEXT_MAX), colour=USER_COLOUR)
    if anonymous:
        identity = anonymous_identity(ticket_id, opener_id)
        embed.set_author(name=identity.nickname, icon_url=identity.avatar_url)
    else:
        embed.set_author(name=getattr(author, "display_name", None) or author.name,
                         icon_url=author.display_avatar.url)
        embed.set_footer(text=f"User {author.id}")
    return embed


async def relay_dm(bot: FrontdeskBot, message: discord.Message, place: TicketPlace) -> None:
    """A later DM: stored as the user's, then copied into the post."""
    body = message_body(message)
    if not body:
        return
    try:
        stored = await store(bot, place, message.author, body, external_id=f"discord:{message.id}",
                             origin=(message.channel.id, message.id), reply_to=replied_to(message),
                             other_channel_id=place.channel_id)
    except DomainError as exc:
        await message.channel.send(CANNOT_OPEN.format(reason=exc.message))
        return
    copy = await copy_into_post(bot, message, place, stored, body)
    await link_copies(bot, place.workspace_id, stored.message_id, copy)


async def copy_into_post(bot: FrontdeskBot, message: discord.Message, place: TicketPlace, stored: Stored,
                         body: str) -> discord.Message | None:
    """A stored DM's copy posted in the ticket's post (None when Discord refused it); the
    caller links it (``link_copies``)."""
    post = bot.get_partial_messageable(int(place.channel_id), guild_id=int(place.guild_id))
    kwargs: dict[str, object] = {"embed": user_embed(place.opener_id, place.ticket_id, place.anonymous,
                                                     message.author, body)}
    reference = _reference(post.id, stored.reply_reference)
    if reference is not None:
        kwargs["reference"] = reference
    try:
        copy = await post.send(**kwargs)  # type: ignore[arg-type]
    except discord.HTTPException as exc:
        # Stored all the same: staff read it in the desk, and the mirror's sync shows the activity.
        log.warning("a DM could not be copied into its ticket's post", extra={
            "ticket_id": place.ticket_id, "status": exc.status, "code": exc.code})
        return None
    return copy
