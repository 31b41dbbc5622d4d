"""Staff commands used inside a ticket's channel, thread or forum post."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.domain.permissions import Actor
from frontdesk.queries.discord import ticket_in_channel, workspace_id_for_guild

if TYPE_CHECKING:
    from frontdesk.db.models import Ticket
    from frontdesk.discord.bot import FrontdeskBot

NOT_A_TICKET = "This command only works inside a ticket: use it in the ticket's channel, thread or post."


class TicketCommands(commands.Cog):
    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot

    async def ticket_here(self, interaction: discord.Interaction) -> Ticket | None:
        """The ticket whose channel the interaction came from, if it came from one."""
        if interaction.guild_id is None or interaction.channel_id is None:
            return None
        async with self.bot.desk.read(Actor.system(), 0) as tx:
            workspace_id = await workspace_id_for_guild(tx, interaction.guild_id)
            if workspace_id is None:
                return None
            tx.workspace_id = workspace_id
            return await ticket_in_channel(tx, interaction.channel_id)

    @app_commands.command(name="claim", description="Claim this ticket: you are working on it")
    @app_commands.guild_only()
    async def claim(self, interaction: discord.Interaction) -> None:
        ticket = await self.ticket_here(interaction)
        if ticket is None:
            await interaction.response.send_message(NOT_A_TICKET, ephemeral=True)
            return
        # Claiming from Discord arrives with the ticket commands (issue 5, later work).
        await interaction.response.send_message(f"Ticket {ticket.number}: claiming from Discord is not available yet.",
                                                ephemeral=True)


async def setup(bot: FrontdeskBot) -> None:
    await bot.add_cog(TicketCommands(bot))
