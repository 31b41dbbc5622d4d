"""The bot run as its commands run it: connected over the gateway (the stand-in's websocket),
alone (`frontdesk discord`) or beside the API (`frontdesk serve`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from typer.testing import CliRunner

from frontdesk.actions.base import Desk
from frontdesk.cli import app
from frontdesk.db.models import Workspace
from frontdesk.discord.bot import bot_intents
from frontdesk.discord.runner import parse_shards, run_bot, serve_with_bot
from frontdesk.domain.errors import ValidationFailed
from tests.discord.conftest import GUILD_READY_TIMEOUT
from tests.discord.harness import FAKE_TOKEN, HANG_GUARD, DiscordHarness, DiscordStandIn, payloads, snowflake


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Wait until ``check`` holds (what another task is doing); gives up after HANG_GUARD.
    What it waits for (rows in the database, uvicorn starting) signals no event to wait on."""
    async with asyncio.timeout(HANG_GUARD):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def _has_workspace_for(desk: Desk, guild_id: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with desk.db.reading() as session:
            return await session.scalar(select(Workspace.id).where(Workspace.discord_guild_id == guild_id)) is not None

    return check


async def test_the_bot_identifies_with_its_token_and_intents_and_handles_the_servers_it_is_sent(
        desk: Desk, stand_in: DiscordStandIn) -> None:
    guild = payloads.guild(name="Over the gateway")
    stand_in.gateway_guilds.append(guild)
    bot = asyncio.create_task(run_bot(desk, FAKE_TOKEN, guild_ready_timeout=GUILD_READY_TIMEOUT))
    try:
        [identify] = await stand_in.wait_for_identify()
        assert identify["token"] == FAKE_TOKEN
        assert identify["intents"] == bot_intents().value
        await stand_in.wait_for("PUT", f"/applications/{stand_in.application_id}/commands")
        await eventually(_has_workspace_for(desk, guild["id"]))
    finally:
        bot.cancel()
        await asyncio.gather(bot, return_exceptions=True)


async def test_serve_runs_the_bot_beside_the_api_and_stops_it_with_the_server(desk: Desk,
                                                                              stand_in: DiscordStandIn) -> None:
    from frontdesk.api.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(desk), host="127.0.0.1", port=0, log_config=None))
    serving = asyncio.create_task(serve_with_bot(server, desk, FAKE_TOKEN))
    await stand_in.wait_for_identify()
    await eventually(lambda: _true(server.started))
    server.should_exit = True
    async with asyncio.timeout(HANG_GUARD):
        await serving
    await eventually(lambda: _true(not stand_in._sockets))  # the bot closed its gateway connection


async def test_the_api_keeps_serving_when_discord_refuses_the_bot(desk: Desk, stand_in: DiscordStandIn,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    from frontdesk.api.app import create_app

    stand_in.refuse_identify = 4014  # privileged intents not enabled in the developer portal
    server = uvicorn.Server(uvicorn.Config(create_app(desk), host="127.0.0.1", port=0, log_config=None))
    serving = asyncio.create_task(serve_with_bot(server, desk, FAKE_TOKEN))
    try:
        await eventually(lambda: _true("the Discord bot stopped" in caplog.text))
        assert "Privileged Gateway Intents" in caplog.text
        assert server.started and not serving.done()
    finally:
        server.should_exit = True
        async with asyncio.timeout(HANG_GUARD):
            await serving


async def _true(value: bool) -> bool:
    return value


def test_shard_options_name_what_is_wrong() -> None:
    assert parse_shards(None, None) == (None, None)
    assert parse_shards("1,0", 4) == ([0, 1], 4)
    for ids, count, field in [("0", None, "shard_count"), ("0,x", 2, "shard_ids"), ("0,2", 2, "shard_ids"),
                              (",", 2, "shard_ids")]:
        with pytest.raises(ValidationFailed) as failure:
            parse_shards(ids, count)
        assert failure.value.field == field


# --- the command ---------------------------------------------------------------------------------------------


def _invoke(env: dict[str, Any], *args: str) -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        return CliRunner().invoke(app, ["discord", *args], env=env)
    finally:  # the command configures logging for the process; give pytest's handlers back
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.fixture
def env(db_url: str, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"FRONTDESK_DATABASE_URL": db_url, "FRONTDESK_DATA_DIR": str(tmp_path / "data"),
            "FRONTDESK_CONFIG": str(tmp_path / "none.toml"), "FRONTDESK_LOG_FORMAT": "text",
            "FRONTDESK_DISCORD_TOKEN": None}


def test_frontdesk_discord_needs_a_token(env: dict[str, Any]) -> None:
    result = _invoke(env)
    assert result.exit_code == 2
    assert "FRONTDESK_DISCORD_TOKEN" in result.output


def test_frontdesk_discord_refuses_shards_out_of_range(env: dict[str, Any]) -> None:
    result = _invoke({**env, "FRONTDESK_DISCORD_TOKEN": FAKE_TOKEN}, "--shard-ids", "0,2", "--shard-count", "2")
    assert result.exit_code == 2
    assert "shard_ids" in result.output


async def test_frontdesk_discord_runs_its_shards_and_says_why_discord_refused_it(
        env: dict[str, Any], stand_in: DiscordStandIn) -> None:
    stand_in.refuse_identify = 4014
    result = await asyncio.to_thread(_invoke, {**env, "FRONTDESK_DISCORD_TOKEN": FAKE_TOKEN},
                                     "--shard-ids", "1", "--shard-count", "2")
    assert result.exit_code == 1, result.output
    assert "intents are not enabled" in result.output
    assert [i["shard"] for i in stand_in.identifies] == [[1, 2]]
    assert FAKE_TOKEN not in result.output


async def test_frontdesk_discord_says_when_the_token_is_refused(env: dict[str, Any], stand_in: DiscordStandIn) -> None:
    result = await asyncio.to_thread(_invoke, {**env, "FRONTDESK_DISCORD_TOKEN": "not-the-token"})
    assert result.exit_code == 1, result.output
    assert "Discord refused the token" in result.output
    assert stand_in.seen("GET", "/users/@me")[0].status == 401


def test_frontdesk_discord_prints_the_invite_url_of_the_token(env: dict[str, Any]) -> None:
    import base64

    from frontdesk.discord.bot import bot_permissions

    token = base64.b64encode(b"123456789012345678").decode().rstrip("=") + ".GhXyZ.signature-part"
    result = _invoke({**env, "FRONTDESK_DISCORD_TOKEN": token}, "--invite")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("https://discord.com/oauth2/authorize?client_id=123456789012345678"
                                     f"&scope=bot+applications.commands&permissions={bot_permissions().value}")
    assert _invoke({**env, "FRONTDESK_DISCORD_TOKEN": "nonsense"}, "--invite").exit_code == 2


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    """What `frontdesk serve` ran, recorded instead of run: uvicorn alone, or with the bot."""
    calls: list[tuple[str, Any]] = []

    async def with_bot(server: Any, desk: Desk, token: str) -> None:
        calls.append(("with bot", token))

    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append(("api only", None)))
    monkeypatch.setattr("frontdesk.discord.runner.serve_with_bot", with_bot)
    monkeypatch.setattr("frontdesk.cli.configure_logging", lambda settings: None)
    return calls


def test_serve_runs_the_bot_only_when_a_token_is_set(env: dict[str, Any], served: list[tuple[str, Any]]) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["serve"], env=env).exit_code == 0
    assert runner.invoke(app, ["serve"], env={**env, "FRONTDESK_DISCORD_TOKEN": FAKE_TOKEN}).exit_code == 0
    assert runner.invoke(app, ["serve", "--no-discord"], env={**env, "FRONTDESK_DISCORD_TOKEN": FAKE_TOKEN}
                         ).exit_code == 0
    assert served == [("api only", None), ("with bot", FAKE_TOKEN), ("api only", None)]


async def test_frontdesk_discord_says_when_discord_cannot_be_reached(env: dict[str, Any],
                                                                     stand_in: DiscordStandIn) -> None:
    await stand_in.close()  # nothing listens on its port any more
    result = await asyncio.to_thread(_invoke, {**env, "FRONTDESK_DISCORD_TOKEN": FAKE_TOKEN})
    assert result.exit_code == 1, result.output
    assert "cannot reach Discord" in result.output
    assert "database" not in result.output


async def test_only_the_process_running_shard_0_syncs_the_commands(desk: Desk, stand_in: DiscordStandIn,
                                                                   make_bot: Callable[..., Any]) -> None:
    # A server id whose shard (id >> 22 modulo the shard count) is 1 of 2: ids made in the same
    # millisecond share their timestamp bits, so the id is built rather than searched for.
    millis = int(snowflake()) >> 22
    guild = payloads.guild(id=str((millis | 1) << 22))
    assert (int(guild["id"]) >> 22) % 2 == 1
    stand_in.gateway_guilds.append(guild)
    commands_path = f"/applications/{stand_in.application_id}/commands"
    for shard_ids, syncs in (([1], 0), ([0], 1)):
        bot = make_bot(desk, shard_ids=shard_ids, shard_count=2)
        await bot.__aenter__()  # what `async with bot` does in run_bot, so wait_until_ready can wait
        running = asyncio.create_task(bot.start(FAKE_TOKEN))
        try:
            async with asyncio.timeout(HANG_GUARD):
                await bot.wait_until_ready()
            await DiscordHarness(stand_in, bot).drain()  # on_ready has run
            assert [i["shard"] for i in stand_in.identifies[-1:]] == [[shard_ids[0], 2]]
            assert len(stand_in.seen("PUT", commands_path)) == syncs
        finally:
            await bot.close()
            await asyncio.gather(running, return_exceptions=True)
    await eventually(_has_workspace_for(desk, guild["id"]))  # from shard 1, the one Discord routes it to
