"""Macros from Discord: ``/macro name`` (autocompleted, each choice showing its category) and
the ``?name`` shortcode typed alone in a ticket's channel, thread or post.

Sending a macro from Discord takes three steps, so that it shows at once and exactly once:

1. one transaction as the staff member: ``actions.macros.send_macro`` stores the rendered
   message, and the message is marked ``external_id = "discord:pending"`` (the mirror never
   posts a message whose external id starts with ``discord:``, so it cannot post it too);
2. the bot posts the text in the ticket's channel: through the channel's ``frontdesk``
   webhook under the staff member's name and avatar when the macro is sent as staff, else as
   the bot (also when the webhook cannot be used);
3. a second, small transaction as the desk links the Discord message to the stored one
   (``link_message(kind="origin")``) and sets ``external_id = "discord:<message id>"``.

When step 2 fails the message stays stored (the ticket's history has it), its external id
is cleared, and the staff member is told (``/macro``) or a warning is logged (``?name``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.actions.base import get_workspace
from frontdesk.actions.discord import link_message, mark_shown_in_discord
from frontdesk.actions.macros import as_desk, get_macro_by_shortcut, send_macro
from frontdesk.db.models import Macro
from frontdesk.discord.bot import BOT_ACTOR, SHORTCODES_FIRST
from frontdesk.discord.cogs.tickets import AUTOCOMPLETE_MAX, NOT_A_TICKET, Here, ticket_here
from frontdesk.discord.replies import reporting, say
from frontdesk.discord.webhooks import forget_webhook, own_webhook
from frontdesk.domain.discord import DiscordSettings, clip
from frontdesk.domain.errors import DomainError, NotFound
from frontdesk.domain.macros import SHORTCUT_MAX
from frontdesk.domain.permissions import Actor
from frontdesk.queries.discord import ticket_in_channel
from frontdesk.queries.macros import list_macros

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord")

# ``?name`` alone in a message (spaces around it ignored); ``?name and more`` is a normal message.
SHORTCODE = re.compile(rf"\?([a-z0-9_-]{{1,{SHORTCUT_MAX}}})", re.IGNORECASE)
PENDING = "discord:pending"
WEBHOOK_USERNAME_MAX = 80
# Macros may mention the opener; never @everyone or roles.
MACRO_MENTIONS = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)


def shortcode_name(content: str) -> str | None:
    """The macro name of a ``?name`` message, in lower case; None for any other message."""
    match = SHORTCODE.fullmatch(content.strip())
    return match.group(1).lower() if match else None


def choice_name(shortcut: str, category: str | None) -> str:
    return clip(f"{shortcut} — {category}" if category else shortcut, 100)


@dataclass(frozen=True)
class Stored:
    """A macro message stored by ``send_macro``, not yet posted in Discord."""

    workspace_id: int
    message_id: int
    text: str
    as_staff: bool


class MacroCommands(commands.Cog):
    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot
        # Channel (or forum) id -> the bot's webhook there, for macros sent as staff.
        # One bound method, so that the bot can remove exactly the handler it was given.
        self.shortcode_handler = self.on_shortcode

    async def cog_load(self) -> None:
        self.bot.add_message_handler(SHORTCODES_FIRST, self.shortcode_handler)

    async def cog_unload(self) -> None:
        self.bot.remove_message_handler(self.shortcode_handler)

    # --- /macro ---

    @app_commands.command(name="macro", description="Send a macro in this ticket")
    @app_commands.describe(name="The macro (type to search)")
    @app_commands.guild_only()
    async def macro(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, SHORTCUT_MAX]) -> None:
        here = await ticket_here(self.bot, interaction)
        if here is None:
            await say(interaction, NOT_A_TICKET)
            return
        if await self.find(here.workspace_id, name) is None:
            await say(interaction, f"There is no macro named {name.strip()!r}.")
            return
        stored: Stored | None = None
        async with reporting(interaction):
            stored = await self.store(here, name, interaction.user)
        if stored is None:
            return
        # Posting may wait on Discord (a new webhook, rate limits): answer within the 3 s first.
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction.channel or self.bot.get_partial_messageable(
            interaction.channel_id or 0, guild_id=interaction.guild_id)
        posted = await self.publish(stored, channel, interaction.user)
        if posted is None:
            await say(interaction, "The macro is stored in the ticket, but posting it here failed; the bot may "
                                   "lack permission to send messages in this channel.")
        else:
            await say(interaction, f"Sent the macro {name.strip().lower()!r}.")

    @macro.autocomplete("name")
    async def macro_names(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """Macros whose shortcut, text or category contains what was typed, with their category."""
        if interaction.guild_id is None:
            return []
        workspace_id = await self.bot.workspace_id_of(interaction.guild_id)
        if workspace_id is None:
            return []
        try:
            async with self.bot.acting(workspace_id, interaction.user) as tx:
                rows, _ = await list_macros(tx, q=current.strip() or None, limit=AUTOCOMPLETE_MAX)
        except DomainError:
            return []  # not staff: no macros to show
        return [app_commands.Choice(name=choice_name(r["shortcut"], r["category"]), value=r["shortcut"])
                for r in rows]

    # --- ?name ---

    async def on_shortcode(self, message: discord.Message) -> bool:
        """A staff member's ``?name`` in a ticket: the trigger is deleted and the macro posted.
        Left alone (False, a normal message) when a custom command has that name, no macro
        does, the author is not staff on the ticket, or it is not in a ticket."""
        if message.guild is None or message.author.bot or message.webhook_id is not None:
            return False
        name = shortcode_name(message.content or "")
        if name is None:
            return False
        here = await self.shortcode_ticket(message.guild.id, message.channel.id, name)
        if here is None:
            return False
        try:
            stored = await self.store(here, name, message.author)
        except DomainError as exc:
            log.info("shortcode not sent", extra={"shortcut": name, "reason": exc.message})
            return False
        try:
            await message.delete()
        except discord.Forbidden:
            log.warning("cannot delete a ?name trigger message (Manage Messages missing); the macro is sent anyway",
                        extra={"channel_id": str(message.channel.id), "message_id": str(message.id)})
        except discord.NotFound:
            pass
        except discord.HTTPException as exc:
            log.warning("deleting a ?name trigger message failed", extra={"status": exc.status})
        if await self.publish(stored, message.channel, message.author) is None:
            log.warning("a ?name macro is stored but could not be posted",
                        extra={"channel_id": str(message.channel.id), "message_id": stored.message_id})
        return True

    async def shortcode_ticket(self, guild_id: int, channel_id: int, name: str) -> Here | None:
        """The ticket of ``channel_id`` when ``?name`` should send a macro there."""
        workspace_id = await self.bot.workspace_id_of(guild_id)
        if workspace_id is None:
            return None
        async with self.bot.desk.read(Actor.system(BOT_ACTOR), workspace_id) as tx:
            ticket = await ticket_in_channel(tx, channel_id)
            if ticket is None:
                return None
            workspace = await get_workspace(tx)
            if name in DiscordSettings.of(workspace.settings).custom_commands:
                return None  # the custom command wins
            try:
                await get_macro_by_shortcut(tx, name)
            except NotFound:
                return None
            return Here(workspace_id=workspace_id, ticket_id=ticket.id, number=ticket.number, title=ticket.title)

    # --- sending ---

    async def find(self, workspace_id: int, shortcut: str) -> Macro | None:
        async with self.bot.desk.read(Actor.system(BOT_ACTOR), workspace_id) as tx:
            try:
                return await get_macro_by_shortcut(tx, shortcut)
            except NotFound:
                return None

    async def store(self, here: Here, shortcut: str, user: discord.abc.User) -> Stored:
        """Step 1: the macro stored in the ticket as ``user`` (their permission is checked)."""
        async with self.bot.acting(here.workspace_id, user) as tx:
            macro, message = await send_macro(tx, here.number, shortcut)
            await mark_shown_in_discord(as_desk(tx), message.id, PENDING)
            stored = Stored(workspace_id=here.workspace_id, message_id=message.id, text=message.body,
                            as_staff=macro.send_as_staff)
        return stored

    async def publish(self, stored: Stored, channel: discord.abc.Messageable, user: discord.abc.User
                      ) -> discord.Message | None:
        """Steps 2 and 3: post the stored macro in ``channel`` and link it; None when posting failed."""
        try:
            posted = await self.post(channel, stored.text, as_staff=user if stored.as_staff else None)
        except discord.HTTPException as exc:
            log.warning("posting a macro failed", extra={"status": exc.status, "code": exc.code})
            async with self.bot.as_desk(stored.workspace_id) as tx:
                await mark_shown_in_discord(tx, stored.message_id, None)
            return None
        channel_id = channel.id  # type: ignore[attr-defined]
        async with self.bot.as_desk(stored.workspace_id) as tx:
            await link_message(tx, stored.message_id, channel_id=channel_id, discord_message_id=posted.id,
                               kind="origin")
            await mark_shown_in_discord(tx, stored.message_id, f"discord:{posted.id}")
        return posted

    async def post(self, channel: discord.abc.Messageable, text: str, *, as_staff: discord.abc.User | None
                   ) -> discord.Message:
        """``text`` in ``channel``: under ``as_staff``'s name and avatar through the webhook, or
        as the bot (when not sent as staff, or when the webhook cannot be used)."""
        body = clip(text)
        if as_staff is not None:
            target = channel.parent if isinstance(channel, discord.Thread) else channel
            if isinstance(target, discord.TextChannel | discord.ForumChannel):
                try:
                    hook = await own_webhook(self.bot, target, reason="frontdesk: macros sent as staff")
                    extra = {"thread": channel} if isinstance(channel, discord.Thread) else {}
                    return await hook.send(
                        body, username=clip(getattr(as_staff, "display_name", None) or as_staff.name,
                                            WEBHOOK_USERNAME_MAX),
                        avatar_url=as_staff.display_avatar.url, allowed_mentions=MACRO_MENTIONS, wait=True,
                        **extra)  # type: ignore[arg-type]
                except discord.HTTPException as exc:
                    forget_webhook(self.bot, target.id)
                    log.warning("posting a macro as staff failed; posting it as the bot",
                                extra={"status": exc.status, "code": exc.code})
        return await channel.send(body, allowed_mentions=MACRO_MENTIONS)


async def setup(bot: FrontdeskBot) -> None:
    await bot.add_cog(MacroCommands(bot))
