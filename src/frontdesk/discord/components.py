"""The persistent components of panels and welcome messages, and the intake modal.

Each button and select is a ``DynamicItem``: its custom id (formats in ``domain/discord.py``)
carries all its handler needs, and the cog registers the classes at start-up, so a click on
a message posted before a restart still works. The intake modal is answered by the cog's
listener from its custom id alone, for the same reason (``IntakeModal.on_submit`` does nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import discord

from frontdesk.db.models import TicketType
from frontdesk.domain.discord import INTAKE_MODAL, PANEL_BUTTON, PANEL_SELECT, REQUEST_HUMAN, clip
from frontdesk.domain.fields import IntakeQuestion

BUTTONS_MAX = 4  # more types than this get a select menu
BUTTON_LABEL_MAX = 80
OPTION_LABEL_MAX = 100
OPTION_DESCRIPTION_MAX = 100
MODAL_TITLE_MAX = 45
TEXT_INPUT_MAX = 4000
PANEL_COLOUR = 0x5865F2


def template(custom_id_format: str) -> str:
    """The regular expression of a custom-id format: ``fd:open:{type_id}`` ->
    ``fd:open:(?P<type_id>[0-9]+)`` (every placeholder here is an id)."""
    parts = re.split(r"\{(\w+)\}", custom_id_format)
    return "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[0-9]+)" for i, p in enumerate(parts))


INTAKE_PATTERN = re.compile(template(INTAKE_MODAL))


def _emoji(value: str | None) -> discord.PartialEmoji | None:
    return discord.PartialEmoji.from_str(value) if value else None


class PanelButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=template(PANEL_BUTTON)):
    """A panel's button for one ticket type."""

    def __init__(self, type_id: int, *, label: str = "Open a ticket", emoji: str | None = None) -> None:
        super().__init__(discord.ui.Button(label=clip(label, BUTTON_LABEL_MAX), emoji=_emoji(emoji),
                                           style=discord.ButtonStyle.primary,
                                           custom_id=PANEL_BUTTON.format(type_id=type_id)))
        self.type_id = type_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PanelButton:
        return cls(int(match["type_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        from frontdesk.discord.opening import start_opening

        await start_opening(interaction.client, interaction, self.type_id)  # type: ignore[arg-type]


class PanelSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=template(PANEL_SELECT)):
    """A panel's select menu: one option per ticket type, the value is the type's id."""

    def __init__(self, panel_id: int, options: Sequence[discord.SelectOption]) -> None:
        super().__init__(discord.ui.Select(custom_id=PANEL_SELECT.format(panel_id=panel_id),
                                           placeholder="Choose the kind of help you need",
                                           min_values=1, max_values=1, options=list(options)))
        self.panel_id = panel_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> PanelSelect:
        options = item.options if isinstance(item, discord.ui.Select) else []
        return cls(int(match["panel_id"]), options)

    async def callback(self, interaction: discord.Interaction) -> None:
        from frontdesk.discord.opening import start_opening
        from frontdesk.discord.replies import say

        values = self.item.values
        if not values or not values[0].isdigit():
            await say(interaction, "Pick a ticket type from the list.")
            return
        await start_opening(interaction.client, interaction, int(values[0]))  # type: ignore[arg-type]


class RequestHumanButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=template(REQUEST_HUMAN)):
    """The welcome message's "Request human" button: escalates the ticket."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(discord.ui.Button(label="Request human", emoji="🙋", style=discord.ButtonStyle.secondary,
                                           custom_id=REQUEST_HUMAN.format(ticket_id=ticket_id)))
        self.ticket_id = ticket_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item[Any],
                             match: re.Match[str], /) -> RequestHumanButton:
        return cls(int(match["ticket_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        from frontdesk.discord.opening import request_human

        await request_human(interaction.client, interaction, self.ticket_id)  # type: ignore[arg-type]


DYNAMIC_ITEMS = (PanelButton, PanelSelect, RequestHumanButton)


def panel_embed(title: str, description: str | None) -> discord.Embed:
    return discord.Embed(title=clip(title, 256), description=description, colour=PANEL_COLOUR)


def panel_view(panel_id: int, types: Sequence[TicketType]) -> discord.ui.View:
    """A button per type for up to four types, else one select menu listing them."""
    view = discord.ui.View(timeout=None)
    if len(types) <= BUTTONS_MAX:
        for kind in types:
            view.add_item(PanelButton(kind.id, label=kind.name, emoji=kind.emoji))
        return view
    options = [discord.SelectOption(label=clip(kind.name, OPTION_LABEL_MAX), value=str(kind.id),
                                    description=clip(kind.description, OPTION_DESCRIPTION_MAX)
                                    if kind.description else None, emoji=_emoji(kind.emoji))
               for kind in types]
    view.add_item(PanelSelect(panel_id, options))
    return view


def welcome_view(ticket_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(RequestHumanButton(ticket_id))
    return view


class IntakeModal(discord.ui.Modal):
    """A type's intake questions as text inputs (at most five, Discord's limit and the
    type's). The submit is handled by the panels cog's listener."""

    def __init__(self, type_id: int, type_name: str, questions: Sequence[IntakeQuestion]) -> None:
        super().__init__(title=clip(type_name, MODAL_TITLE_MAX), custom_id=INTAKE_MODAL.format(type_id=type_id),
                         timeout=None)
        for question in questions:
            style = discord.TextStyle.paragraph if question.long else discord.TextStyle.short
            self.add_item(discord.ui.TextInput(label=question.label, custom_id=question.id, style=style,
                                               required=question.required,
                                               max_length=min(question.max_length, TEXT_INPUT_MAX)))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        return None  # the panels cog's listener answers every intake submit


def submitted_values(data: Any) -> dict[str, str]:
    """The text inputs of a modal submit (``interaction.data``) by custom id, in action rows
    or labels alike."""
    values: dict[str, str] = {}

    def walk(components: Any) -> None:
        for component in components or []:
            if component.get("type") == 1:
                walk(component.get("components"))
            elif component.get("type") == 18:
                walk([component.get("component") or {}])
            elif "custom_id" in component and isinstance(component.get("value"), str):
                values[component["custom_id"]] = component["value"]

    walk((data or {}).get("components"))
    return values
