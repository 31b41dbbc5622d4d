"""The stand-in answers as Discord does, including its failures, and discord.py reacts to
them as it does in production (retrying a 429, raising Forbidden with Discord's code)."""

from __future__ import annotations

import logging

import discord
import pytest

from frontdesk.config import load_settings
from tests.discord.harness import (
    CANNOT_DM,
    FAKE_TOKEN,
    MISSING_PERMISSIONS,
    DiscordHarness,
    payloads,
)


async def _online(harness: DiscordHarness) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    user = payloads.user(username="casey")
    guild = payloads.guild(members=[payloads.member(user)])
    channel = payloads.text_channel(guild["id"], name="general")
    guild["channels"].append(channel)
    harness.stand_in.channels[channel["id"]] = channel
    await harness.connect([guild])
    return guild, channel, user


async def test_a_429_is_retried_after_retry_after(harness: DiscordHarness) -> None:
    guild, channel, _ = await _online(harness)
    path = f"/channels/{channel['id']}/messages"
    harness.stand_in.rate_limit("POST", path, retry_after=0.01)
    sent = await harness.bot.get_channel(int(channel["id"])).send("hello")  # type: ignore[union-attr]
    attempts = harness.stand_in.seen("POST", path)
    assert [a.status for a in attempts] == [429, 200]
    assert attempts[1].json["content"] == "hello"
    assert sent.content == "hello" and str(sent.id) in harness.stand_in.messages


async def test_missing_permissions_reach_the_bot_as_forbidden_with_discords_code(harness: DiscordHarness) -> None:
    guild, channel, _ = await _online(harness)
    harness.stand_in.script("PATCH", f"/channels/{channel['id']}", 403, MISSING_PERMISSIONS)
    target = harness.bot.get_channel(int(channel["id"]))
    with pytest.raises(discord.Forbidden) as failure:
        await target.edit(name="renamed")  # type: ignore[union-attr]
    assert failure.value.code == 50013
    # The script was used once: the next rename goes through.
    renamed = await target.edit(name="renamed")  # type: ignore[union-attr]
    assert renamed is not None and renamed.name == "renamed"


async def test_closed_dms_answer_50007(harness: DiscordHarness) -> None:
    _, _, user = await _online(harness)
    harness.stand_in.script("POST", r"/channels/\d+/messages", 403, CANNOT_DM)
    member = harness.bot.get_user(int(user["id"]))
    assert member is not None
    with pytest.raises(discord.Forbidden) as failure:
        await member.send("your ticket was answered")
    assert failure.value.code == 50007
    [opened] = harness.stand_in.seen("POST", "/users/@me/channels")
    assert str(opened.json["recipient_id"]) == user["id"]


async def test_unknown_routes_answer_404_and_are_recorded(harness: DiscordHarness) -> None:
    with pytest.raises(discord.NotFound):
        await harness.bot.http.request(discord.http.Route("GET", "/no/such/route"))
    [request] = harness.stand_in.seen("GET", "/no/such/route")
    assert request.status == 404


async def test_the_token_is_never_logged(harness: DiscordHarness, caplog: pytest.LogCaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG)
    await _online(harness)
    harness.feed("READY", payloads.ready(harness.stand_in.bot_user, application_id=harness.stand_in.application_id))
    await harness.drain()
    monkeypatch.setenv("FRONTDESK_DISCORD_TOKEN", FAKE_TOKEN)
    settings = load_settings()
    logging.getLogger("frontdesk.test").info("settings", extra={"settings": settings})
    logging.getLogger("frontdesk.test").info("%r %s", settings, settings.model_dump())
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == FAKE_TOKEN
    assert caplog.records  # discord.py and the bot did log, at every level
    assert FAKE_TOKEN not in caplog.text
    assert all(FAKE_TOKEN not in str(r.__dict__) for r in caplog.records)
