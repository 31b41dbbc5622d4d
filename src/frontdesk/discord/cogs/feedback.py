"""Buttons in the opener's DMs that must work whenever they are clicked, also after a restart:
rating a closed ticket (Helpful, Not helpful, Skip) and answering a close request (Accept,
Deny). Each is a ``DynamicItem`` whose custom id carries the ticket's id; the click is an
action as the clicking Discord user, so the actions decide whether they may (only the
opener rates and answers)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from frontdesk.actions.base import Tx
from frontdesk.actions.close_requests import accept_close_request, deny_close_request
from frontdesk.actions.lifecycle import rate_ticket
from frontdesk.discord.replies import reporting
from frontdesk.domain.discord import CLOSE_REQUEST_BUTTON, CSAT_BUTTON

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

CSAT_CHOICES = (("helpful", "Helpful", discord.ButtonStyle.success),
                ("not_helpful", "Not helpful", discord.ButtonStyle.danger),
                ("skip", "Skip", discord.ButtonStyle.secondary))
# The button's word and the rating the desk stores.
CSAT_VALUES = {"helpful": "helpful", "not_helpful": "not_helpful", "skip": "skipped"}
CSAT_THANKS = {"helpful": "Thanks for your feedback: glad we could help!",
               "not_helpful": "Thanks for telling us. Someone from the team will look at what went wrong.",
               "skip": "No problem: you were not asked to rate this ticket."}
CLOSE_REQUEST_CHOICES = (("accept", "Yes, close it", discord.ButtonStyle.success),
                         ("deny", "No, I still need help", discord.ButtonStyle.secondary))
ACCEPTED_TEXT = "You agreed to close ticket #{number}: it is closed now."
DENIED_TEXT = "Ticket #{number} stays open: the team will get back to you."


def csat_view(ticket_id: int) -> discord.ui.View:
    """The three rating buttons of a close DM."""
    view = discord.ui.View(timeout=None)
    for rating, label, style in CSAT_CHOICES:
        view.add_item(CsatButton(ticket_id, rating, label=label, style=style))
    return view


def close_request_view(ticket_id: int) -> discord.ui.View:
    """Accept and Deny under a close request."""
    view = discord.ui.View(timeout=None)
    for answer, label, style in CLOSE_REQUEST_CHOICES:
        view.add_item(CloseRequestButton(ticket_id, answer, label=label, style=style))
    return view


async def _answer_as_clicker(interaction: discord.Interaction, ticket_id: int,
                             action: Callable[[Tx, int], Awaitable[object]], **edit: Any) -> None:
    """Run ``action`` on the button's ticket as the person who clicked, then replace the
    prompt's message with ``edit`` (``{number}`` in its content is the ticket's number)."""
    bot: FrontdeskBot = interaction.client  # type: ignore[assignment]
    found = await bot.ticket_of_button(interaction, ticket_id)
    if found is None:
        return
    workspace_id, number = found
    async with reporting(interaction):
        async with bot.acting(workspace_id, interaction.user) as tx:
            await action(tx, number)
        await interaction.response.edit_message(**{**edit, "content": edit["content"].format(number=number)})


class CsatButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                 template=r"fd:csat:(?P<ticket_id>\d+):(?P<rating>helpful|not_helpful|skip)"):
    def __init__(self, ticket_id: int, rating: str, *, label: str | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(discord.ui.Button(label=label or rating.replace("_", " ").capitalize(), style=style,
                                           custom_id=CSAT_BUTTON.format(ticket_id=ticket_id, rating=rating)))
        self.ticket_id = ticket_id
        self.rating = rating

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: Any) -> CsatButton:
        return cls(int(match["ticket_id"]), match["rating"])

    async def callback(self, interaction: discord.Interaction) -> None:
        rating = CSAT_VALUES[self.rating]
        await _answer_as_clicker(interaction, self.ticket_id, lambda tx, number: rate_ticket(tx, number, rating),
                                 content=CSAT_THANKS[self.rating], view=None)


class CloseRequestButton(discord.ui.DynamicItem[discord.ui.Button[Any]],
                         template=r"fd:closereq:(?P<ticket_id>\d+):(?P<answer>accept|deny)"):
    def __init__(self, ticket_id: int, answer: str, *, label: str | None = None,
                 style: discord.ButtonStyle = discord.ButtonStyle.secondary) -> None:
        super().__init__(discord.ui.Button(label=label or answer.capitalize(), style=style,
                                           custom_id=CLOSE_REQUEST_BUTTON.format(ticket_id=ticket_id, answer=answer)))
        self.ticket_id = ticket_id
        self.answer = answer

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: Any) -> CloseRequestButton:
        return cls(int(match["ticket_id"]), match["answer"])

    async def callback(self, interaction: discord.Interaction) -> None:
        accept = self.answer == "accept"
        await _answer_as_clicker(interaction, self.ticket_id, accept_close_request if accept else deny_close_request,
                                 content=ACCEPTED_TEXT if accept else DENIED_TEXT, embed=None, view=None)


class Feedback(commands.Cog):
    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot


async def setup(bot: FrontdeskBot) -> None:
    bot.add_dynamic_items(CsatButton, CloseRequestButton)
    await bot.add_cog(Feedback(bot))
