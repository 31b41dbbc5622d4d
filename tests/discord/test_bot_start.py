"""The bot logs in, turns the servers it sees into workspaces and syncs its slash commands."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Event, Workspace
from frontdesk.discord.bot import bot_intents, bot_permissions, invite_url
from tests.discord.harness import FAKE_TOKEN, DiscordHarness, payloads


async def _workspaces(desk: Desk) -> list[Workspace]:
    async with desk.db.reading() as session:
        return list((await session.execute(select(Workspace).order_by(Workspace.id))).scalars())


async def test_login_asks_discord_who_the_bot_is_with_the_token(harness: DiscordHarness) -> None:
    me = harness.stand_in.seen("GET", "/users/@me")
    assert len(me) == 1
    assert me[0].headers["Authorization"] == f"Bot {FAKE_TOKEN}"
    assert harness.bot.user is not None and str(harness.bot.user.id) == harness.stand_in.bot_user["id"]
    assert harness.stand_in.seen("GET", "/oauth2/applications/@me")


async def test_a_server_seen_at_start_up_becomes_one_workspace(desk: Desk, harness: DiscordHarness) -> None:
    guild = payloads.guild(name="Acme Community")
    await harness.connect([guild])
    workspaces = await _workspaces(desk)
    assert [(w.name, w.discord_guild_id) for w in workspaces] == [("Acme Community", guild["id"])]
    async with desk.db.reading() as session:
        created = (await session.execute(select(Event.type).where(Event.workspace_id == workspaces[0].id))).scalars()
        assert list(created) == ["workspace.created"]


async def test_a_server_seen_twice_or_after_a_restart_stays_one_workspace(desk: Desk, harness: DiscordHarness,
                                                                           harnesses, make_bot) -> None:  # type: ignore[no-untyped-def]
    guild = payloads.guild()
    await harness.connect([guild])
    harness.feed("GUILD_CREATE", guild)  # seen again on the same connection
    await harness.drain()
    restarted = await harnesses.start(make_bot(desk))  # a new process: its cache is empty
    await restarted.connect([guild])
    assert len(await _workspaces(desk)) == 1


async def test_a_server_the_bot_joins_becomes_a_workspace(desk: Desk, harness: DiscordHarness) -> None:
    await harness.connect([])
    guild = payloads.guild(name="Newly Joined", unavailable=None)
    harness.feed("GUILD_CREATE", guild)
    await harness.drain()
    assert [w.discord_guild_id for w in await _workspaces(desk)] == [guild["id"]]


async def test_two_bots_seeing_a_new_server_at_once_create_one_workspace(desk: Desk, harnesses, make_bot,  # type: ignore[no-untyped-def]
                                                                         db_url: str) -> None:
    from frontdesk.db.session import Database

    other_db = Database(db_url)  # a second process has its own engine and pool
    try:
        first = await harnesses.start(make_bot(desk))
        second = await harnesses.start(make_bot(Desk(other_db, clock=desk.clock)))
        await asyncio.gather(first.connect([]), second.connect([]))
        for _ in range(3):
            guild = payloads.guild(unavailable=None)
            first.feed("GUILD_CREATE", guild)
            second.feed("GUILD_CREATE", guild)
            await asyncio.gather(first.drain(), second.drain())
            assert first.bot.workspace_ids[int(guild["id"])] == second.bot.workspace_ids[int(guild["id"])]
        assert len(await _workspaces(desk)) == 3
    finally:
        await other_db.dispose()


async def test_slash_commands_are_synced_once_on_ready(harness: DiscordHarness) -> None:
    await harness.connect([payloads.guild()])
    app_id = harness.stand_in.application_id
    synced = harness.stand_in.seen("PUT", f"/applications/{app_id}/commands")
    assert len(synced) == 1
    assert "claim" in {c["name"] for c in synced[0].json}
    harness.feed("READY", payloads.ready(harness.stand_in.bot_user, application_id=app_id))  # a reconnect
    await harness.drain()
    assert len(harness.stand_in.seen("PUT", f"/applications/{app_id}/commands")) == 1


def test_the_invite_url_asks_for_the_bot_and_its_commands_with_the_permissions() -> None:
    url = invite_url(1234)
    assert url == (f"https://discord.com/oauth2/authorize?client_id=1234&scope=bot+applications.commands"
                   f"&permissions={bot_permissions().value}")
    perms = bot_permissions()
    assert perms.manage_channels and perms.manage_threads and perms.manage_webhooks and not perms.administrator


def test_the_bot_asks_for_the_intents_the_desk_needs() -> None:
    intents = bot_intents()
    assert intents.guilds and intents.members and intents.guild_messages and intents.dm_messages
    assert intents.message_content
    assert not intents.presences and not intents.guild_typing


async def test_the_bot_settles_the_heap_when_ready(harness: DiscordHarness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import gc

    monkeypatch.setenv("FRONTDESK_GC_FREEZE", "true")
    gc.unfreeze()
    try:
        await harness.connect([payloads.guild(name="Acme")])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
