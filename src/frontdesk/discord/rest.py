"""Discord's REST API for code that has no gateway connection: the worker's outbox handlers
(the mirror, panels made through the API, DMs after a close). One client per process and
event loop, logged in with the bot's token on first use.

The process that runs the bot shares the bot's own client (``share_client``), so its rate
limits are counted once. Other processes call ``configure`` with the token at start-up
(``frontdesk serve`` and ``frontdesk worker`` do when ``FRONTDESK_DISCORD_TOKEN`` is set).
"""

from __future__ import annotations

import asyncio
import os

from discord.http import HTTPClient

TOKEN_ENV = "FRONTDESK_DISCORD_TOKEN"


class DiscordNotConfigured(RuntimeError):
    """This process has no bot token, so it cannot talk to Discord."""


_token: str | None = None
_shared: HTTPClient | None = None
_own: dict[int, HTTPClient] = {}  # by id of the event loop it was made on


def configure(token: str | None) -> None:
    """Use ``token`` for this process's REST client (None: read ``FRONTDESK_DISCORD_TOKEN``)."""
    global _token
    _token = token


def share_client(http: HTTPClient | None) -> None:
    """Use the running bot's client (None when the bot stops)."""
    global _shared
    _shared = http


def configured() -> bool:
    return _shared is not None or bool(_token or os.environ.get(TOKEN_ENV))


async def client() -> HTTPClient:
    """The logged-in REST client of this process."""
    if _shared is not None and _shared.token is not None:
        return _shared
    loop = asyncio.get_running_loop()
    found = _own.get(id(loop))
    if found is not None and found.token is not None:
        return found
    token = _token or os.environ.get(TOKEN_ENV)
    if not token:
        raise DiscordNotConfigured(f"this process has no Discord bot token ({TOKEN_ENV} is not set)")
    http = HTTPClient(loop)
    await http.static_login(token)
    _own[id(loop)] = http
    return http


async def close() -> None:
    """Close the clients this process made (not the bot's)."""
    global _own
    own, _own = _own, {}
    for http in own.values():
        await http.close()
