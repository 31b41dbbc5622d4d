"""``/close-request create`` and ``/close-request delete``: staff ask the opener whether the
ticket may close, optionally closing it by itself after a time, or withdraw the question.
The request with its Accept / Deny buttons reaches the opener through the mirror, from the
``close_request.created`` event; withdrawing it removes that message (``close_request.cancelled``)."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.actions import close_requests
from frontdesk.actions.base import Tx
from frontdesk.db.models import CloseRequest
from frontdesk.discord.cogs.tickets import Here, run_in_ticket

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot


def close_time_text(req: CloseRequest) -> str:
    """When an unanswered request closes the ticket, as Discord shows a time to each reader."""
    if req.close_at is None:
        return ""
    close_at = req.close_at if req.close_at.tzinfo is not None else req.close_at.replace(tzinfo=UTC)
    return f" Unless the opener answers, it closes by itself {discord.utils.format_dt(close_at, 'R')}."


class CloseRequestCommands(commands.Cog):
    close_request = app_commands.Group(name="close-request", description="Ask the opener whether this ticket may close",
                                       guild_only=True)

    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot

    @close_request.command(name="create", description="Ask the opener whether this ticket may close")
    @app_commands.describe(comment="A comment for the request",
                           share_comment="Show the comment to the opener (default: yes)",
                           close_time="Close by itself after this long without an answer: 30m, 24h, 2d")
    @app_commands.rename(share_comment="share-comment", close_time="close-time")
    async def create(self, interaction: discord.Interaction,
                     comment: app_commands.Range[str, 1, close_requests.COMMENT_MAX] | None = None,
                     share_comment: bool = True, close_time: app_commands.Range[str, 1, 50] | None = None) -> None:
        async def act(tx: Tx, here: Here) -> str:
            req = await close_requests.create_close_request(tx, here.number, comment=comment,
                                                            share_comment=share_comment, close_after=close_time)
            return "Close request sent to the opener." + close_time_text(req)

        await run_in_ticket(self.bot, interaction, act, public=False)

    @close_request.command(name="delete", description="Withdraw this ticket's pending close request")
    async def delete(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await close_requests.cancel_close_request(tx, here.number)
            return "Close request withdrawn."

        await run_in_ticket(self.bot, interaction, act, public=False)


async def setup(bot: FrontdeskBot) -> None:
    await bot.add_cog(CloseRequestCommands(bot))
