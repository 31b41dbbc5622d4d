"""Fixtures for Discord tests: a REST stand-in with discord.py pointed at it, and bots over a
desk logged in against it (see tests/README.md, "The Discord harness")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from frontdesk.actions.base import Desk
from frontdesk.discord.bot import FrontdeskBot, build_bot
from tests.discord.harness import DiscordHarness, DiscordStandIn, HarnessFactory, point_discord_at

# READY is dispatched this long after the last GUILD_CREATE (discord.py waits 2 s by default).
GUILD_READY_TIMEOUT = 0.01


@pytest.fixture
async def stand_in() -> AsyncIterator[DiscordStandIn]:
    server = DiscordStandIn()
    await server.start()
    old = point_discord_at(server.base_url, server.gateway_url)
    try:
        yield server
    finally:
        point_discord_at(*old)
        await server.close()


@pytest.fixture
async def harnesses(stand_in: DiscordStandIn) -> AsyncIterator[HarnessFactory]:
    factory = HarnessFactory(stand_in)
    try:
        yield factory
    finally:
        for harness in factory.started:
            await harness.close()


@pytest.fixture
def make_bot() -> Callable[..., FrontdeskBot]:
    def make(desk: Desk, **options: Any) -> FrontdeskBot:
        options.setdefault("guild_ready_timeout", GUILD_READY_TIMEOUT)
        return build_bot(desk, **options)

    return make


@pytest.fixture
async def harness(desk: Desk, harnesses: HarnessFactory, make_bot: Callable[..., FrontdeskBot]) -> DiscordHarness:
    """One bot over the test's desk, logged in against the stand-in."""
    return await harnesses.start(make_bot(desk))
