"""The bot process: intents, permissions, the invite URL, and a ``commands.Bot`` built from a
``Desk``. The bot never writes rows itself; it calls actions as the desk (``Actor.system``)
or as the member who used a command."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import discord
from discord.ext import commands

from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.discord import member_for_discord_user
from frontdesk.actions.discord_mirror import resync
from frontdesk.actions.guilds import workspace_for_guild
from frontdesk.actions.members import actors_for_members
from frontdesk.domain.permissions import ADMINISTRATOR, MANAGE_CHANNELS, Actor
from frontdesk.queries.discord import ticket_by_id, workspace_id_for_guild
from frontdesk.queries.discord_mirror import locked_thread_ticket
from frontdesk.runtime import settle_heap

log = logging.getLogger("frontdesk.discord")
# frontdesk never joins voice channels; without this discord.py warns at every start that the
# voice libraries are missing.
discord.VoiceClient.warn_nacl = False
discord.VoiceClient.warn_dave = False

BOT_ACTOR = "discord bot"
TICKET_GONE = "That ticket no longer exists."
COGS = ("frontdesk.discord.cogs.tickets", "frontdesk.discord.cogs.close_requests", "frontdesk.discord.cogs.macros",
        "frontdesk.discord.cogs.panels", "frontdesk.discord.cogs.feedback", "frontdesk.discord.cogs.modmail")

# ``async def handler(message) -> bool``: True when it took the message (later ones are skipped).
MessageHandler = Callable[[discord.Message], Awaitable[bool]]
# Priorities of the message handlers the cogs register (lower runs first).
SHORTCODES_FIRST = 10   # ``?name`` in a ticket (the trigger is deleted, the macro posted)
RELAY = 50              # messages in ticket channels, threads, posts and DMs become ticket messages


def discord_powers(member: discord.abc.User) -> list[str] | None:
    """The powers frontdesk reads off a server member (None for a user outside a server)."""
    if not isinstance(member, discord.Member):
        return None
    permissions = member.guild_permissions
    powers = []
    if permissions.administrator:
        powers.append(ADMINISTRATOR)
    if permissions.manage_channels:
        powers.append(MANAGE_CHANNELS)
    return powers


def discord_role_ids(member: discord.abc.User) -> list[str] | None:
    """A server member's role ids, without @everyone (None for a user outside a server)."""
    if not isinstance(member, discord.Member):
        return None
    return [str(role.id) for role in member.roles if not role.is_default()]


def bot_intents() -> discord.Intents:
    """Every intent the bot asks for, in one place. Members and message content are
    privileged: switch them on in the developer portal (README, "Discord")."""
    intents = discord.Intents.none()
    intents.guilds = True  # servers, channels, threads, roles
    intents.members = True  # who joins, their roles (staff roles, blacklists)
    intents.guild_messages = True  # messages in ticket channels, threads and forum posts
    intents.dm_messages = True  # the DM relay (modmail)
    intents.message_content = True  # the text of those messages, `?name` shortcodes, `-r ` replies
    return intents


def bot_permissions() -> discord.Permissions:
    """The server permissions the invite asks for: what creating, moving, locking and closing
    ticket channels, threads and forum posts needs, plus webhooks for replies shown under a
    staff member's name."""
    return discord.Permissions(
        view_channel=True,
        manage_channels=True,
        manage_roles=True,  # permission overwrites on ticket channels (lockdown, adduser)
        manage_threads=True,
        manage_webhooks=True,
        manage_messages=True,  # pins, deleting `?name` trigger messages
        send_messages=True,
        send_messages_in_threads=True,
        create_public_threads=True,
        create_private_threads=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        add_reactions=True,
        use_external_emojis=True,
        mention_everyone=True,  # pinging staff roles that are not mentionable
    )


def application_id_from_token(token: str) -> int | None:
    """A bot token starts with its user id (which is the application's id) in base64."""
    head = token.strip().split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(decoded) if decoded.isdigit() else None


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=bot_permissions(),
                                   scopes=("bot", "applications.commands"))


class _Rehearsed(Exception):  # noqa: N818 - not an error: how a rehearsal rolls back
    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


class FrontdeskBot(commands.Bot):
    """One gateway client (or, as ``ShardedFrontdeskBot``, a range of shards) over a desk."""

    def __init__(self, desk: Desk, *, sync_commands: bool = True, **options: Any) -> None:
        # Guilds are not chunked at start-up: a public bot in thousands of servers would fetch
        # every member list on each restart; members are read as events name them.
        options.setdefault("chunk_guilds_at_startup", False)
        super().__init__(command_prefix=commands.when_mentioned, intents=bot_intents(), help_command=None,
                         **options)
        self.desk = desk
        self.sync_commands = sync_commands
        self.synced = False
        # Server id -> workspace id; a server's workspace never changes, so this is only a cache.
        self.workspace_ids: dict[int, int] = {}
        self.message_handlers: list[tuple[int, MessageHandler]] = []

    def add_message_handler(self, priority: int, handler: MessageHandler) -> None:
        """Offer every message the bot sees (but its own) to ``handler``, in priority order."""
        self.message_handlers.append((priority, handler))
        self.message_handlers.sort(key=lambda pair: pair[0])

    def remove_message_handler(self, handler: MessageHandler) -> None:
        self.message_handlers = [(p, h) for p, h in self.message_handlers if h is not handler]

    async def on_message(self, message: discord.Message) -> None:
        if self.user is not None and message.author.id == self.user.id:
            return
        for _, handler in list(self.message_handlers):
            if await handler(message):
                return

    async def workspace_id_of(self, guild_id: int, guild: discord.Guild | None = None) -> int | None:
        """The workspace of a server: cached, else read, else created when ``guild`` is known."""
        cached = self.workspace_ids.get(guild_id)
        if cached is not None:
            return cached
        async with self.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
            found = await workspace_id_for_guild(tx, guild_id)
        if found is None:
            return await self.ensure_workspace(guild) if guild is not None else None
        self.workspace_ids[guild_id] = found
        return found

    async def ticket_of_button(self, interaction: discord.Interaction, ticket_id: int) -> tuple[int, int] | None:
        """(workspace id, number) of the ticket a persistent button names, or None after telling
        the clicker the ticket is gone."""
        async with self.desk.read(Actor.system(BOT_ACTOR), 0) as tx:
            found = await ticket_by_id(tx, ticket_id)
        if found is None:
            from frontdesk.discord.replies import say

            await say(interaction, TICKET_GONE)
        return found

    @asynccontextmanager
    async def acting(self, workspace_id: int, user: discord.abc.User) -> AsyncIterator[Tx]:
        """One transaction in ``workspace_id`` as the Discord user ``user``: their member is
        found (created as a customer when new) and their roles and powers brought up to date
        from what Discord sent, then the actions called in the block check permissions as them."""
        async with self.desk.tx(Actor.system(BOT_ACTOR), workspace_id) as tx:
            tx.actor = await self.actor_of(tx, user)
            yield tx

    async def actor_of(self, tx: Tx, user: discord.abc.User) -> Actor:
        """In a transaction of the desk's, the Discord user ``user`` as the permission module
        sees them: their member found (created as a customer when new), with their roles and
        powers brought up to date from what Discord sent."""
        return (await self.actors_of(tx, [user]))[0]

    async def actors_of(self, tx: Tx, users: list[discord.abc.User], *,
                        workspace_settings: dict[str, Any] | None = None) -> list[Actor]:
        """``actor_of`` for several users (in their order), their teams read at once.
        ``workspace_settings`` saves a read when the caller has them."""
        members = [await member_for_discord_user(
            tx, user_id=user.id, display_name=getattr(user, "display_name", None) or user.name,
            role_ids=discord_role_ids(user), powers=discord_powers(user)) for user in users]
        return await actors_for_members(tx, members, workspace_settings=workspace_settings)

    async def rehearse_open(self, workspace_id: int, user: discord.abc.User, **ticket: Any) -> int:
        """Run ``open_ticket`` as ``user`` and roll it back, before anything is made in Discord:
        its refusals (allowed roles, the open limit, business hours, answers) come out as they
        are; otherwise the answer is the number the ticket would get. The number is taken
        inside the rolled-back transaction (as one that wrote the workspace row does), so none
        is used up, on PostgreSQL either."""
        from frontdesk.actions.tickets import open_ticket

        try:
            async with self.acting(workspace_id, user) as tx:
                tx.workspace_written = True
                raise _Rehearsed((await open_ticket(tx, **ticket)).number)
        except _Rehearsed as rehearsed:
            return rehearsed.number

    @asynccontextmanager
    async def as_desk(self, workspace_id: int) -> AsyncIterator[Tx]:
        """One transaction in ``workspace_id`` as the desk itself (recording where things are)."""
        async with self.desk.tx(Actor.system(BOT_ACTOR), workspace_id) as tx:
            yield tx

    async def setup_hook(self) -> None:
        from frontdesk.discord import rest

        # Outbox handlers in this process (the mirror) reach Discord through the bot's client.
        rest.share_client(self.http)
        for cog in COGS:
            await self.load_extension(cog)

    async def close(self) -> None:
        from frontdesk.discord import rest
        from frontdesk.discord.group_commit import group_commit_of

        # Messages already taken in are stored before the connection goes.
        await group_commit_of(self).drain()
        rest.share_client(None)
        await super().close()

    def syncs_commands(self) -> bool:
        """Commands are global: one shard is enough to overwrite them (shard 0, or the only one)."""
        shard_ids = getattr(self, "shard_ids", None)
        return self.sync_commands and (shard_ids is None or 0 in shard_ids)

    async def on_ready(self) -> None:
        # The caches of servers, channels and members are built: later collections skip them.
        settle_heap("discord ready")
        if self.user is not None:
            log.info("discord connected", extra={"user": str(self.user), "guilds": len(self.guilds),
                                                 "invite_url": invite_url(self.application_id or self.user.id)})
        if self.syncs_commands() and not self.synced:
            synced = await self.tree.sync()
            self.synced = True
            log.info("slash commands synced", extra={"commands": sorted(c.name for c in synced)})

    async def on_guild_join(self, guild: discord.Guild) -> None:
        await self.ensure_workspace(guild)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        await self.ensure_workspace(guild)

    async def on_thread_member_join(self, member: discord.ThreadMember) -> None:
        """Someone came into a thread (a role mention brings its members into a private
        thread): when it is a locked-down ticket's, the mirror takes out whoever may not see it."""
        workspace_id = await self.workspace_id_of(member.thread.guild.id)
        if workspace_id is None:
            return
        async with self.desk.read(Actor.system(BOT_ACTOR), workspace_id) as tx:
            ticket_id = await locked_thread_ticket(tx, member.thread.id)
        if ticket_id is not None:
            async with self.as_desk(workspace_id) as tx:
                await resync(tx, ticket_id)

    async def ensure_workspace(self, guild: discord.Guild) -> int:
        """The workspace of ``guild``, created when the bot first sees the server."""
        cached = self.workspace_ids.get(guild.id)
        if cached is not None:
            return cached
        async with self.desk.tx(Actor.system(BOT_ACTOR), 0) as tx:
            workspace, created = await workspace_for_guild(tx, guild_id=str(guild.id), name=guild.name)
            workspace_id = workspace.id
        if created:
            log.info("workspace created for a Discord server", extra={"guild_id": str(guild.id),
                                                                       "workspace_id": workspace_id})
        self.workspace_ids[guild.id] = workspace_id
        return workspace_id


class ShardedFrontdeskBot(FrontdeskBot, commands.AutoShardedBot):
    """The same bot over a range of shards (``frontdesk discord --shard-ids 0,1 --shard-count 4``)."""


def build_bot(desk: Desk, *, shard_ids: list[int] | None = None, shard_count: int | None = None,
              **options: Any) -> FrontdeskBot:
    if shard_ids is None and shard_count is None:
        return FrontdeskBot(desk, **options)
    return ShardedFrontdeskBot(desk, shard_ids=shard_ids, shard_count=shard_count, **options)
