"""The DM relay's intake (modmail): a DM from a user without an open relay ticket picks the
server (when they share several with the bot that take tickets by DM) and the type (when
there are several), then a post in the type's forum holds the ticket and the user is told
"Message sent". Also the relay's message handler, which hands everything else to
``frontdesk.discord.relay``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from frontdesk.actions.discord import link_message, place_ticket
from frontdesk.actions.messages import post_message
from frontdesk.actions.tickets import open_ticket
from frontdesk.discord.group_commit import group_commit_of
from frontdesk.discord.relay import (
    CANNOT_OPEN,
    USER_COLOUR,
    PendingIntake,
    as_the_desk,
    copy_into_post,
    from_ticket_place,
    message_body,
    read_open_ticket,
    read_place,
    relay_dm,
    relay_of,
    replied_to,
    taken_in,
)
from frontdesk.domain.discord import (
    MESSAGE_MAX,
    TAG_OPEN,
    TAG_UNANSWERED,
    anonymous_identity,
    clip,
    forum_post_name,
)
from frontdesk.domain.errors import DomainError
from frontdesk.domain.permissions import Actor
from frontdesk.domain.tickets import ConversationChannel, DiscordMode
from frontdesk.queries.modmail import (
    DmServer,
    ForumType,
    dm_servers,
)

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord.modmail")

TITLE_MAX = 80
MESSAGE_SENT = "Message sent. Staff will answer you here."
NO_SERVER = ("You can't open a ticket by DM: none of the servers we share takes tickets by direct message. "
             "Use the server's ticket panel instead.")
PICK_SERVER = "Which server is your message for?"
PICK_TYPE = "What is your message about?"
WRITE_FIRST = "You're writing to **{guild}** ({type}). Send your message here and staff will answer in this chat."
ALREADY_OPEN = "You already have an open ticket: just write here and staff will see it."
BLACKLISTED = "You can't open tickets in **{guild}**."
NOT_SET_UP = "Tickets by DM are not set up in **{guild}** any more; use the server's ticket panel."

def ticket_title(text: str) -> str | None:
    """A DM ticket's subject: the first line of the first message (None: the type's default)."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return clip(first, TITLE_MAX) if first else None


# --- the message handler ----------------------------------------------------------------------------------------

async def take_message(bot: FrontdeskBot, message: discord.Message) -> bool:
    """The relay's message handler: every DM, and messages in tickets' places."""
    if message.guild is None:
        if not taken_in(message):
            return False
        await from_dm(bot, message)
        return True
    async with relay_of(bot).in_order(message.channel.id):
        place = await read_place(bot, message.channel.id)
        if place is None:
            return False
        if taken_in(message) and place.is_open:
            # A closed ticket's place is being archived or deleted: what is written there now is not kept.
            await from_ticket_place(bot, message, place)
        return True


async def from_dm(bot: FrontdeskBot, message: discord.Message) -> None:
    """A DM: into the user's open ticket, or the first message of a new one.

    The common case, a user writing in their open ticket, is stored at once with the other
    messages arriving now (``group_commit`` finds the ticket and stores the DM in one batch);
    then, in turn after the user's DMs before it, its copy goes into the post. A DM without an
    open ticket waits its turn and then starts (or continues) intake."""
    relay = relay_of(bot)
    turn = relay.turn(message.channel.id)  # before any await: the order the DMs arrived in
    writer = group_commit_of(bot)
    body = message_body(message)
    held = False
    answer = copy = None
    try:
        if body:
            try:
                answer = await writer.store(message.author, body, external_id=f"discord:{message.id}", place=None,
                                            origin=(message.channel.id, message.id), reply_to=replied_to(message))
            except DomainError as exc:
                async with turn:
                    await message.channel.send(CANNOT_OPEN.format(reason=exc.message))
                return
            held = answer is None
        async with turn:
            if answer is not None:
                place, stored = answer
                relay.pending.pop(message.author.id, None)
                copy = await copy_into_post(bot, message, place, stored, body)
            else:
                await without_open_ticket(bot, message)
    finally:
        turn.done()
        if held:
            writer.release(message.author.id)
    if answer is not None:
        # Out of turn: the next DM's copy need not wait for this link to be written.
        await writer.link_copies(answer[0].workspace_id, answer[1].message_id, copy)


async def without_open_ticket(bot: FrontdeskBot, message: discord.Message) -> None:
    """A DM the relay found no open ticket for: read again (the DM before it, in its turn, may
    have opened one), else the chosen server and type, else intake."""
    relay = relay_of(bot)
    place = await read_open_ticket(bot, message.author.id)
    if place is not None:
        relay.pending.pop(message.author.id, None)
        await relay_dm(bot, message, place)
        return
    pending = relay.pending.pop(message.author.id, None)
    if pending is not None:
        candidate, forum_type = await _server_and_type_found(bot, pending.guild_id, pending.type_id,
                                                             message.author.id)
        if candidate is not None and forum_type is not None:
            await open_from_dm(bot, message.author, candidate, forum_type, message)
            return
    await begin_intake(bot, message)


# --- intake -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    server: DmServer
    guild: discord.Guild
    member: discord.Member


async def member_of(guild: discord.Guild, user_id: int) -> discord.Member | None:
    """The user as a member of ``guild``: from the cache, else asked of Discord (members are
    not chunked at start-up, so the cache only holds those events named)."""
    member = guild.get_member(user_id)
    if member is not None:
        return member
    try:
        return await guild.fetch_member(user_id)
    except discord.NotFound:
        return None


async def candidates(bot: FrontdeskBot, user_id: int, *, guild_id: int | None = None) -> list[Candidate]:
    """The servers the user shares with the bot whose workspace takes tickets by DM. Only those
    servers are asked about membership, so a bot in many servers makes few requests."""
    from frontdesk.discord.bot import BOT_ACTOR

    guilds = {str(g.id): g for g in bot.guilds if guild_id is None or g.id == guild_id}
    async with bot.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
        servers = await dm_servers(tx, set(guilds))
    found = []
    for server in servers:
        guild = guilds[server.guild_id]
        member = await member_of(guild, user_id)
        if member is not None:
            found.append(Candidate(server, guild, member))
    return sorted(found, key=lambda c: c.guild.name.lower())


async def begin_intake(bot: FrontdeskBot, message: discord.Message) -> None:
    """The first DM of a user without a ticket: pick the server, then the type, then open."""
    from frontdesk.discord.cogs.modmail import server_picker

    found = await candidates(bot, message.author.id)
    if not found:
        await message.channel.send(NO_SERVER)
        return
    if len(found) == 1:
        await offer_types(bot, message.channel, found[0], first=message)
        return
    await message.channel.send(PICK_SERVER, view=server_picker([(c.guild.id, c.guild.name) for c in found]),
                               reference=message.to_reference(fail_if_not_exists=False), mention_author=False)


async def offer_types(bot: FrontdeskBot, channel: discord.abc.Messageable, candidate: Candidate, *,
                      first: discord.Message | None, interaction: discord.Interaction | None = None) -> None:
    """One type: open (or ask for the first message); several: the type select, replying to
    the user's first message so a click after a restart still finds it."""
    from frontdesk.discord.cogs.modmail import type_picker

    types = candidate.server.types
    if len(types) > 1:
        view = type_picker(candidate.guild.id, [(t.type_id, t.name) for t in types])
        if interaction is not None:
            await interaction.response.edit_message(content=PICK_TYPE, view=view)
        else:
            kwargs: dict[str, object] = {"view": view}
            if first is not None:
                kwargs.update(reference=first.to_reference(fail_if_not_exists=False), mention_author=False)
            await channel.send(PICK_TYPE, **kwargs)  # type: ignore[arg-type]
        return
    if interaction is not None:
        await interaction.response.edit_message(content=f"Writing to **{candidate.guild.name}**.", view=None)
    await type_chosen(bot, channel, candidate, types[0], first=first)


async def type_chosen(bot: FrontdeskBot, channel: discord.abc.Messageable, candidate: Candidate,
                      forum_type: ForumType, *, first: discord.Message | None) -> None:
    if first is None:
        user_id = candidate.member.id
        relay_of(bot).pending[user_id] = PendingIntake(candidate.guild.id, forum_type.type_id)
        await channel.send(WRITE_FIRST.format(guild=candidate.guild.name, type=forum_type.name))
        return
    await open_from_dm(bot, first.author, candidate, forum_type, first)


async def rehearse(bot: FrontdeskBot, workspace_id: int, member: discord.Member, *, type_id: int,
                   title: str | None, anonymous: bool) -> int:
    """Open the ticket as the member and roll it back: its refusals (allowed roles, the open
    ticket limit, business hours) come before a post exists; the number names the post."""
    return await bot.rehearse_open(workspace_id, member, type_id=type_id, title=title, anonymous=anonymous,
                                   channel=ConversationChannel.DISCORD_FORUM)


def _tags(forum: discord.ForumChannel) -> list[discord.ForumTag]:
    wanted = {TAG_OPEN.lower(), TAG_UNANSWERED.lower()}
    return [tag for tag in forum.available_tags if tag.name.lower() in wanted]


def starter_embed(opener_id: int | None, ticket_id: int | None, anonymous: bool, user: discord.abc.User,
                  type_name: str) -> discord.Embed:
    """The embed of the post's first message: who wrote (for an anonymous ticket the generated
    identity, once the ticket exists). The first message itself is the message's text, which
    stays when the mirror replaces this embed with the ticket's card."""
    about = discord.Embed(title=clip(f"New ticket: {type_name}", 256), colour=USER_COLOUR)
    if anonymous:
        if ticket_id is not None:
            identity = anonymous_identity(ticket_id, opener_id)
            about.set_author(name=identity.nickname, icon_url=identity.avatar_url)
            about.add_field(name="User", value=f"{identity.nickname} (anonymous ticket)")
        else:
            about.add_field(name="User", value="anonymous ticket")
    else:
        about.set_author(name=getattr(user, "display_name", None) or user.name, icon_url=user.display_avatar.url)
        about.add_field(name="User", value=f"<@{user.id}> ({user.name}, {user.id})")
    return about


async def open_from_dm(bot: FrontdeskBot, user: discord.abc.User, candidate: Candidate, forum_type: ForumType,
                       first: discord.Message) -> None:
    """Open a ticket from the user's first DM: blacklist, a rehearsal of ``open_ticket``, the
    forum post, then the ticket, its place and its first message in one transaction (the post
    is deleted when that fails), and "Message sent"."""
    dm = first.channel
    server, guild, member = candidate.server, candidate.guild, candidate.member
    settings = server.settings
    if settings.blacklisted(user.id, [r.id for r in member.roles if not r.is_default()]):
        await dm.send(BLACKLISTED.format(guild=guild.name))
        return
    body = message_body(first)
    title = ticket_title(first.content)
    anonymous = settings.anonymous_tickets
    try:
        number = await rehearse(bot, server.workspace_id, member, type_id=forum_type.type_id, title=title,
                                anonymous=anonymous)
    except DomainError as exc:
        await dm.send(CANNOT_OPEN.format(reason=exc.message))
        return
    forum = guild.get_channel(int(forum_type.forum_channel_id))
    if forum is None:
        try:
            forum = await guild.fetch_channel(int(forum_type.forum_channel_id))
        except discord.HTTPException:
            forum = None
    if not isinstance(forum, discord.ForumChannel):
        log.warning("a DM ticket type's forum is missing", extra={"type_id": forum_type.type_id,
                                                                   "forum_channel_id": forum_type.forum_channel_id})
        await dm.send(NOT_SET_UP.format(guild=guild.name))
        return
    post_title = title or f"{forum_type.name} request"
    try:
        created = await forum.create_thread(
            name=forum_post_name(number=number, title=post_title),
            content=clip(body, MESSAGE_MAX) if body else None,
            embed=starter_embed(None, None, anonymous, user, forum_type.name),
            applied_tags=_tags(forum), allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as exc:
        log.warning("a DM ticket's forum post could not be created", extra={"status": exc.status, "code": exc.code})
        await dm.send(CANNOT_OPEN.format(reason="the server's ticket forum can't be written to; tell its staff"))
        return
    post, starter = created.thread, created.message
    try:
        async with bot.acting(server.workspace_id, member) as tx:
            ticket = await open_ticket(tx, type_id=forum_type.type_id, title=title, anonymous=anonymous,
                                       channel=ConversationChannel.DISCORD_FORUM, external_id=str(post.id))
            message = await post_message(tx, ticket.number, body, external_id=f"discord:{first.id}") if body else None
            with as_the_desk(tx):
                await place_ticket(tx, ticket, guild_id=guild.id, mode=DiscordMode.FORUM, channel_id=post.id,
                                   parent_id=forum.id, user_id=user.id, dm_channel_id=dm.id,
                                   welcome_message_id=starter.id)
                if message is not None:
                    await link_message(tx, message.id, channel_id=dm.id, discord_message_id=first.id, kind="origin")
                    await link_message(tx, message.id, channel_id=post.id, discord_message_id=starter.id,
                                       kind="copy")
            opened = (ticket.id, ticket.number, ticket.title, ticket.opener_id)
    except BaseException as exc:
        try:
            await post.delete()
        except discord.HTTPException:
            log.warning("the post of a ticket that failed to open could not be deleted", extra={"post_id": post.id})
        if isinstance(exc, DomainError):
            await dm.send(CANNOT_OPEN.format(reason=exc.message))
            return
        raise
    ticket_id, real_number, real_title, opener_id = opened
    try:
        if real_number != number:  # another ticket took the rehearsed number meanwhile
            await post.edit(name=forum_post_name(number=real_number, title=real_title))
        if anonymous:
            await starter.edit(embed=starter_embed(opener_id, ticket_id, True, user, forum_type.name))
    except discord.HTTPException as exc:
        log.warning("a DM ticket's post could not be completed", extra={"ticket_id": ticket_id, "code": exc.code})
    await dm.send(MESSAGE_SENT)


async def start_dm_intake(bot: FrontdeskBot, user: discord.abc.User, *, guild_id: int, type_id: int | None) -> None:
    """Continue opening a ticket of ``guild_id`` in the user's DMs (a panel's forum-mode type):
    with ``type_id`` the user is asked for their first message and the post is created when it
    arrives; without, they pick the type first. Raises ``discord.Forbidden`` when the user's DMs
    are closed (the caller says so)."""
    if await read_open_ticket(bot, user.id) is not None:
        await user.send(ALREADY_OPEN)
        return
    found = await candidates(bot, user.id, guild_id=guild_id)
    guild = bot.get_guild(guild_id)
    if not found:
        await user.send(NOT_SET_UP.format(guild=guild.name if guild else "this server"))
        return
    candidate = found[0]
    if candidate.server.settings.blacklisted(user.id, [r.id for r in candidate.member.roles if not r.is_default()]):
        await user.send(BLACKLISTED.format(guild=candidate.guild.name))
        return
    dm = user.dm_channel or await user.create_dm()
    forum_type = candidate.server.type_named(type_id) if type_id is not None else None
    if forum_type is not None:
        await type_chosen(bot, dm, candidate, forum_type, first=None)
        return
    await offer_types(bot, dm, candidate, first=None)


async def _find_candidate(bot: FrontdeskBot, user_id: int, guild_id: int) -> Candidate | None:
    found = await candidates(bot, user_id, guild_id=guild_id)
    return found[0] if found else None


async def _server_and_type_found(bot: FrontdeskBot, guild_id: int, type_id: int | None, user_id: int
                                 ) -> tuple[Candidate | None, ForumType | None]:
    candidate = await _find_candidate(bot, user_id, guild_id)
    if candidate is None or type_id is None:
        return candidate, None
    return candidate, candidate.server.type_named(type_id)


async def first_message_of(interaction: discord.Interaction) -> discord.Message | None:
    """The user's first DM, which the picker message replies to (read again after a restart)."""
    message = interaction.message
    ref = message.reference if message is not None else None
    if ref is None or ref.message_id is None:
        return None
    if isinstance(ref.resolved, discord.Message):
        return ref.resolved
    channel = interaction.channel
    if channel is None or not hasattr(channel, "fetch_message"):
        return None
    try:
        return await channel.fetch_message(ref.message_id)  # type: ignore[union-attr]
    except discord.HTTPException:
        return None


async def server_picked(bot: FrontdeskBot, interaction: discord.Interaction, guild_id: int) -> None:
    """The server select: on to the type (or straight to the ticket when there is one type)."""
    candidate = await _find_candidate(bot, interaction.user.id, guild_id)
    if candidate is None:
        await interaction.response.edit_message(content=NO_SERVER, view=None)
        return
    first = await first_message_of(interaction)
    await offer_types(bot, _dm_of(interaction), candidate, first=first, interaction=interaction)


async def type_picked(bot: FrontdeskBot, interaction: discord.Interaction, guild_id: int, type_id: int) -> None:
    """The type select: open the ticket with the first message (or ask for it)."""
    candidate, forum_type = await _server_and_type_found(bot, guild_id, type_id, interaction.user.id)
    if candidate is None or forum_type is None:
        await interaction.response.edit_message(content=NO_SERVER, view=None)
        return
    await interaction.response.edit_message(content=f"Writing to **{candidate.guild.name}** ({forum_type.name}).",
                                            view=None)
    first = await first_message_of(interaction)
    await type_chosen(bot, _dm_of(interaction), candidate, forum_type, first=first)


def _dm_of(interaction: discord.Interaction) -> discord.abc.Messageable:
    channel = interaction.channel
    if channel is not None and hasattr(channel, "send"):
        return channel  # type: ignore[return-value]
    return interaction.user
