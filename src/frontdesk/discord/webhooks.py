"""The bot's own webhook in a channel or forum, which shows a message under a staff member's
name and avatar (macros sent as staff, ``/send`` replies shown in a DM-relay post)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

WEBHOOK_NAME = "frontdesk"
USERNAME_MAX = 80  # Discord's limit for a webhook message's user name


async def own_webhook(bot: FrontdeskBot, channel: discord.TextChannel | discord.ForumChannel, *,
                      reason: str) -> discord.Webhook:
    """The bot's ``frontdesk`` webhook in ``channel``: remembered for the process, else found
    among the channel's webhooks (one the bot made before a restart), else created."""
    cache: dict[int, discord.Webhook] = bot.__dict__.setdefault("_own_webhooks", {})
    cached = cache.get(channel.id)
    if cached is not None:
        return cached
    own = bot.user.id if bot.user is not None else None
    found = next((h for h in await channel.webhooks()
                  if h.token and h.name == WEBHOOK_NAME and h.user is not None and h.user.id == own), None)
    if found is None:
        found = await channel.create_webhook(name=WEBHOOK_NAME, reason=reason)
    cache[channel.id] = found
    return found


def forget_webhook(bot: FrontdeskBot, channel_id: int) -> None:
    """Drop a remembered webhook that Discord refused (deleted by someone): the next use looks again."""
    bot.__dict__.get("_own_webhooks", {}).pop(channel_id, None)
