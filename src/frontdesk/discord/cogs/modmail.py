"""The DM relay in the bot: the message handler (ticket places and DMs), the server and type
pickers of DM intake (persistent: they work after a restart), and ``/send`` with its modal."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.discord import modmail
from frontdesk.discord.bot import RELAY
from frontdesk.discord.replies import reporting, say
from frontdesk.discord.send import send_command
from frontdesk.domain.discord import DM_PICK_SERVER, DM_PICK_TYPE, clip

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

SEND_MODAL = "fd:sendmodal"
SELECT_OPTIONS_MAX = 25  # Discord's limit


def _bot(interaction: discord.Interaction) -> FrontdeskBot:
    return interaction.client  # type: ignore[return-value]


def _value(interaction: discord.Interaction) -> str | None:
    values = (interaction.data or {}).get("values") or []  # type: ignore[union-attr]
    return str(values[0]) if values else None


class PickServer(discord.ui.DynamicItem[discord.ui.Select[Any]], template=re.escape(DM_PICK_SERVER)):
    """Which server a DM is for (values: server ids)."""

    def __init__(self, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(discord.ui.Select(custom_id=DM_PICK_SERVER, placeholder="Choose a server",
                                           options=options or [discord.SelectOption(label="-", value="0")]))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PickServer:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        value = _value(interaction)
        if value is None or not value.isdigit():
            await say(interaction, "Choose one of the servers.")
            return
        await modmail.server_picked(_bot(interaction), interaction, int(value))


class PickType(discord.ui.DynamicItem[discord.ui.Select[Any]],
               template=DM_PICK_TYPE.replace("{guild_id}", r"(?P<guild_id>\d+)")):
    """Which ticket type of a server a DM is about (values: type ids)."""

    def __init__(self, guild_id: int, options: list[discord.SelectOption] | None = None) -> None:
        self.guild_id = guild_id
        super().__init__(discord.ui.Select(custom_id=DM_PICK_TYPE.format(guild_id=guild_id),
                                           placeholder="Choose what it is about",
                                           options=options or [discord.SelectOption(label="-", value="0")]))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PickType:
        return cls(int(match["guild_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        value = _value(interaction)
        if value is None or not value.isdigit():
            await say(interaction, "Choose one of the types.")
            return
        await modmail.type_picked(_bot(interaction), interaction, self.guild_id, int(value))


def _options(choices: list[tuple[int, str]]) -> list[discord.SelectOption]:
    return [discord.SelectOption(label=clip(name, 100), value=str(value))
            for value, name in choices[:SELECT_OPTIONS_MAX]]


def server_picker(guilds: list[tuple[int, str]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PickServer(_options(guilds)))
    return view


def type_picker(guild_id: int, types: list[tuple[int, str]]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PickType(guild_id, _options(types)))
    return view


class SendModal(discord.ui.Modal, title="Send a message"):
    """``/send`` without a message: a longer text, with the command's other options kept."""

    text: discord.ui.TextInput[SendModal] = discord.ui.TextInput(
        label="Message", style=discord.TextStyle.paragraph, max_length=2000, custom_id="message")

    def __init__(self, user: discord.abc.User | None, anonymous_override: bool | None) -> None:
        super().__init__(custom_id=SEND_MODAL, timeout=None)
        self.user = user
        self.anonymous_override = anonymous_override

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await run_send(interaction, self.text.value, self.user, self.anonymous_override)


async def run_send(interaction: discord.Interaction, text: str, user: discord.abc.User | None,
                   anonymous_override: bool | None) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    async with reporting(interaction):
        answer = await send_command(_bot(interaction), interaction, text, user, anonymous_override)
        await say(interaction, answer)


class Modmail(commands.Cog):
    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot

    async def take_message(self, message: discord.Message) -> bool:
        return await modmail.take_message(self.bot, message)

    @app_commands.command(name="send", description="Send a message to a ticket's user (or, outside a ticket, "
                                                   "to any member) by DM")
    @app_commands.guild_only()
    @app_commands.describe(user="Who to write to (in a ticket: its user, the default)",
                           message="What to send; leave empty to write it in a form",
                           anonym_override="Send without your name (in a ticket)")
    @app_commands.rename(anonym_override="anonym-override")
    async def send(self, interaction: discord.Interaction, user: discord.User | None = None,
                   message: str | None = None, anonym_override: bool | None = None) -> None:
        if not (message or "").strip():
            await interaction.response.send_modal(SendModal(user, anonym_override))
            return
        await run_send(interaction, message or "", user, anonym_override)


async def setup(bot: FrontdeskBot) -> None:
    cog = Modmail(bot)
    await bot.add_cog(cog)
    bot.add_dynamic_items(PickServer, PickType)
    bot.add_message_handler(RELAY, cog.take_message)


async def teardown(bot: FrontdeskBot) -> None:
    for _, handler in list(bot.message_handlers):
        if getattr(handler, "__self__", None).__class__ is Modmail:
            bot.remove_message_handler(handler)
