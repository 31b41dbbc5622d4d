"""Running the bot: alone (``frontdesk discord``) or beside the API (``frontdesk serve``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import discord

from frontdesk.actions.base import Desk
from frontdesk.discord.bot import build_bot
from frontdesk.domain.errors import ValidationFailed

log = logging.getLogger("frontdesk.discord")


class DiscordUnreachable(discord.ClientException):
    """Discord's API or gateway could not be reached at all (DNS, refused, TLS)."""


def parse_shards(shard_ids: str | None, shard_count: int | None) -> tuple[list[int] | None, int | None]:
    """``--shard-ids 0,1 --shard-count 4``: which shards this process runs, out of how many."""
    if shard_ids is None:
        return None, shard_count
    if shard_count is None:
        raise ValidationFailed("--shard-ids needs --shard-count (how many shards there are in all)",
                               field="shard_count")
    try:
        ids = sorted({int(part) for part in shard_ids.split(",") if part.strip()})
    except ValueError:
        raise ValidationFailed("--shard-ids is a comma-separated list of shard numbers, such as 0,1",
                               field="shard_ids") from None
    if not ids or any(not 0 <= i < shard_count for i in ids):
        raise ValidationFailed(f"shard numbers go from 0 to {shard_count - 1}", field="shard_ids")
    return ids, shard_count


async def run_bot(desk: Desk, token: str, *, shard_ids: list[int] | None = None, shard_count: int | None = None,
                  **options: Any) -> None:
    """Connect to Discord and handle events until cancelled or closed."""
    bot = build_bot(desk, shard_ids=shard_ids, shard_count=shard_count, **options)
    try:
        async with bot:
            await bot.start(token)
    except (aiohttp.ClientError, OSError) as exc:
        # Told apart from the database's errors, which the commands report on their own.
        raise DiscordUnreachable(f"cannot reach Discord: {exc}") from exc


async def serve_with_bot(server: Any, desk: Desk, token: str) -> None:
    """The API server (a ``uvicorn.Server``) and the bot in one event loop. The API keeps
    serving when the bot cannot connect (a refused token, intents not enabled): that is logged."""

    def report(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("the Discord bot stopped: %s", describe_failure(task.exception()))  # type: ignore[arg-type]

    bot_task = asyncio.create_task(run_bot(desk, token), name="frontdesk-discord")
    bot_task.add_done_callback(report)
    try:
        await server.serve()
    finally:
        bot_task.cancel()
        await asyncio.gather(bot_task, return_exceptions=True)


def describe_failure(exc: BaseException) -> str:
    if isinstance(exc, discord.LoginFailure):
        return "Discord refused the token; check FRONTDESK_DISCORD_TOKEN"
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return ("the Server Members and Message Content intents are not enabled for this application "
                "(Developer Portal, Bot, Privileged Gateway Intents)")
    if isinstance(exc, DiscordUnreachable):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
