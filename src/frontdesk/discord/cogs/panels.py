"""Panels: ``/panel`` posts one; its buttons and select, the intake modal and the welcome
message's "Request human" button work from their custom ids, before and after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.actions.macros import as_desk
from frontdesk.actions.panels import create_panel, set_panel_message
from frontdesk.discord.components import DYNAMIC_ITEMS, INTAKE_PATTERN, panel_embed, panel_view
from frontdesk.discord.opening import submit_intake
from frontdesk.discord.replies import reporting, say
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.panels import active_types, shown_types, type_ids_named

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

DEFAULT_TITLE = "Open a ticket"
DEFAULT_DESCRIPTION = "Pick the kind of help you need; a private ticket opens for you and our staff."


class PanelCommands(commands.Cog):
    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot

    @app_commands.command(name="panel", description="Post a panel: a button per ticket type that opens a ticket")
    @app_commands.describe(title="The panel's heading", description="Text under the heading",
                           channel="Where to post it (default: here)",
                           types="Ticket type names, separated by commas (default: every active type)")
    @app_commands.guild_only()
    async def panel(self, interaction: discord.Interaction, title: str = DEFAULT_TITLE,
                    description: str | None = None, channel: discord.TextChannel | None = None,
                    types: str | None = None) -> None:
        guild = interaction.guild
        target = channel or interaction.channel
        if guild is None or not isinstance(target, discord.TextChannel | discord.Thread):
            await say(interaction, "Post panels in a server's text channel.")
            return
        workspace_id = await self.bot.workspace_id_of(guild.id, guild)
        assert workspace_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            async with reporting(interaction):
                # One transaction: a panel Discord refused leaves no row behind.
                async with self.bot.acting(workspace_id, interaction.user) as tx:
                    names = [n for n in (types or "").split(",") if n.strip()]
                    type_ids = await type_ids_named(tx, names) if names else [t.id for t in await active_types(tx)]
                    if not type_ids:
                        raise ValidationFailed("there are no ticket types to show yet: create one first",
                                               field="types")
                    row = await create_panel(tx, channel_id=target.id, title=title,
                                             description=description or DEFAULT_DESCRIPTION, type_ids=type_ids,
                                             post_by_worker=False)
                    kinds = await shown_types(tx, list(row.type_ids))
                    message = await target.send(embed=panel_embed(row.title, row.description),
                                                view=panel_view(row.id, kinds))
                    await set_panel_message(as_desk(tx), row.id, message.id)
                await say(interaction, f"Panel posted in {target.mention}.")
        except discord.Forbidden:
            await say(interaction, f"I can't post in {target.mention}: I need View Channel, Send Messages and "
                                   "Embed Links there.")

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Intake modals are answered here, from the custom id alone, so a modal opened before a
        restart still opens its ticket after it."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        match = INTAKE_PATTERN.fullmatch(str((interaction.data or {}).get("custom_id", "")))
        if match is not None:
            await submit_intake(self.bot, interaction, int(match["type_id"]))


async def setup(bot: FrontdeskBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)
    await bot.add_cog(PanelCommands(bot))
