"""Answering an interaction: what went wrong is said to the user alone (ephemeral), in the
words of the domain error, and the action that raised it changed nothing (its transaction
rolled back)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord

from frontdesk.domain.discord import clip
from frontdesk.domain.errors import DomainError

log = logging.getLogger("frontdesk.discord")


async def say(interaction: discord.Interaction, text: str, *, ephemeral: bool = True,
              embed: discord.Embed | None = None, view: discord.ui.View | None = None) -> None:
    """Answer ``interaction`` (or follow up when it was already answered or deferred)."""
    kwargs: dict[str, object] = {"ephemeral": ephemeral}
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    if interaction.response.is_done():
        await interaction.followup.send(clip(text), **kwargs)  # type: ignore[arg-type]
    else:
        await interaction.response.send_message(clip(text), **kwargs)  # type: ignore[arg-type]


@asynccontextmanager
async def reporting(interaction: discord.Interaction) -> AsyncIterator[None]:
    """Run the block; a domain error it raises is answered to the user alone and goes no
    further. Wrap the whole transaction in it, so the error leaves after the rollback."""
    try:
        yield
    except DomainError as exc:
        await say(interaction, exc.message)
