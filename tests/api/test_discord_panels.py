"""Panels over HTTP: created for the worker to post (202, outbox ``discord.panel``), listed and
deleted; the worker posts them in the workspace's server and stores the message id."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from frontdesk.db.models import DiscordPanel, OutboxItem, Workspace
from frontdesk.worker import outbox as ob
from tests.api.helpers import ok, problem
from tests.discord.conftest import stand_in  # noqa: F401 - the Discord stand-in, a fixture
from tests.discord.harness import MISSING_PERMISSIONS, DiscordStandIn, payloads, snowflake
from tests.discord.panels_support import worker_rest_fixture  # noqa: F401 - the fixture worker_rest

PANELS = "/api/v1/discord/panels"


@pytest.fixture
async def guild(world: Any) -> dict[str, Any]:
    """The world's workspace linked to a Discord server, and a channel of it."""
    guild_id = snowflake()
    async with world.desk.db.transaction() as session:
        await session.execute(update(Workspace).where(Workspace.id == world.workspace_id)
                              .values(discord_guild_id=guild_id))
    return {"id": guild_id, "channel": payloads.text_channel(guild_id, name="support")}


async def _rows(world: Any, model: Any) -> list[Any]:
    async with world.desk.db.reading() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def _create(api: Any, world: Any, channel_id: str, who: str = "admin", **body: Any) -> dict[str, Any]:
    payload = {"channel_id": channel_id, "title": "Need help?", "type_ids": [world.type_ids["General"],
                                                                             world.type_ids["Billing"]], **body}
    return ok(await api(who).post(PANELS, json=payload), 202)  # type: ignore[no-any-return]


async def test_a_panel_made_through_the_api_is_posted_by_the_worker(api: Any, world: Any, guild: dict[str, Any],
                                                                    worker_rest: DiscordStandIn) -> None:
    worker_rest.channels[guild["channel"]["id"]] = guild["channel"]
    made = await _create(api, world, guild["channel"]["id"], description="Pick one")
    assert (made["posted"], made["message_id"], made["type_ids"]) == (
        False, None, [world.type_ids["General"], world.type_ids["Billing"]])
    [item] = await _rows(world, OutboxItem)
    assert (item.kind, item.key, item.lane, item.payload) == (
        "discord.panel", f"discord-panel:{made['id']}", "discord", {"panel_id": made["id"]})

    assert await ob.deliver_due(world.desk, limit=10) == 1

    [posted] = worker_rest.seen("POST", f"/channels/{guild['channel']['id']}/messages")
    assert posted.json["embeds"][0]["title"] == "Need help?"
    assert posted.json["embeds"][0]["description"] == "Pick one"
    assert [b["custom_id"] for b in posted.json["components"][0]["components"]] == [
        f"fd:open:{world.type_ids['General']}", f"fd:open:{world.type_ids['Billing']}"]
    assert posted.json["nonce"] == f"fdpanel{made['id']}" and posted.json["enforce_nonce"] is True
    [panel] = await _rows(world, DiscordPanel)
    message_id = [m["id"] for m in worker_rest.messages.values() if m["channel_id"] == guild["channel"]["id"]][0]
    assert panel.message_id == message_id
    [item] = await _rows(world, OutboxItem)
    assert item.status == "done"
    listed = ok(await api("modder").get(PANELS))
    assert [(p["id"], p["posted"], p["message_id"]) for p in listed["items"]] == [(made["id"], True, message_id)]


async def test_a_posted_panel_is_not_posted_again(api: Any, world: Any, guild: dict[str, Any],
                                                  worker_rest: DiscordStandIn) -> None:
    from frontdesk.discord.panel_delivery import post_panel

    worker_rest.channels[guild["channel"]["id"]] = guild["channel"]
    await _create(api, world, guild["channel"]["id"])
    await ob.deliver_due(world.desk, limit=10)
    [item] = await _rows(world, OutboxItem)
    outcome = await post_panel(world.desk, item)  # the same row again, as after a lost lease
    assert outcome.status == "done"
    assert len(worker_rest.seen("POST", r"/channels/\d+/messages")) == 1


async def test_a_channel_of_another_server_is_dead_and_nothing_is_posted(api: Any, world: Any, guild: dict[str, Any],
                                                                         worker_rest: DiscordStandIn) -> None:
    elsewhere = payloads.text_channel(snowflake(), name="not-ours")
    worker_rest.channels[elsewhere["id"]] = elsewhere
    await _create(api, world, elsewhere["id"])
    await ob.deliver_due(world.desk, limit=10)
    [item] = await _rows(world, OutboxItem)
    assert item.status == "dead" and "not in this workspace's Discord server" in (item.last_error or "")
    assert worker_rest.seen("POST", r"/channels/\d+/messages") == []
    assert (await _rows(world, DiscordPanel))[0].message_id is None


@pytest.mark.parametrize("status, body, words", [(403, MISSING_PERMISSIONS, "lacks a permission"),
                                                 (404, {"message": "Unknown Channel", "code": 10003},
                                                  "does not know it")])
async def test_missing_permission_or_channel_is_dead_with_the_reason(api: Any, world: Any, guild: dict[str, Any],
                                                                     worker_rest: DiscordStandIn, status: int,
                                                                     body: dict[str, Any], words: str) -> None:
    worker_rest.channels[guild["channel"]["id"]] = guild["channel"]
    worker_rest.script("POST", r"/channels/\d+/messages", status, body)
    await _create(api, world, guild["channel"]["id"])
    await ob.deliver_due(world.desk, limit=10)
    [item] = await _rows(world, OutboxItem)
    assert item.status == "dead" and words in (item.last_error or "")


async def test_discord_out_of_reach_is_retried(api: Any, world: Any, guild: dict[str, Any],
                                              worker_rest: DiscordStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    from discord.http import Route

    from frontdesk.discord import rest

    await rest.client()  # logged in; then Discord goes away
    monkeypatch.setattr(Route, "BASE", "http://127.0.0.1:9/api/v10")
    await _create(api, world, guild["channel"]["id"])
    await ob.deliver_due(world.desk, limit=10)
    [item] = await _rows(world, OutboxItem)
    assert item.status == "pending" and item.attempts == 1 and "unreachable" in (item.last_error or "")
    assert (await _rows(world, DiscordPanel))[0].message_id is None


def test_discord_failing_is_retried_and_refusing_is_dead() -> None:
    from types import SimpleNamespace

    import discord

    from frontdesk.discord.panel_delivery import _failure

    failing = discord.DiscordServerError(SimpleNamespace(status=502, reason="Bad Gateway"), "")  # type: ignore[arg-type]
    refusing = discord.HTTPException(SimpleNamespace(status=400, reason="Bad Request"),  # type: ignore[arg-type]
                                     {"message": "Invalid Form Body", "code": 50035})
    assert _failure(failing, "channel 1").status == "retry"
    assert _failure(refusing, "channel 1").status == "dead"


@pytest.mark.parametrize("change, field", [
    ({"type_ids": [999999]}, "type_ids"),
    ({"type_ids": []}, "type_ids"),
    ({"channel_id": "general"}, "channel_id"),
    ({"channel_id": 123}, "channel_id"),
    ({"title": ""}, "title"),
    ({"type_ids": list(range(1, 27))}, "type_ids"),
    ({"colour": "red"}, "colour"),
])
async def test_bad_panels_are_422_naming_the_field_and_create_nothing(api: Any, world: Any, guild: dict[str, Any],
                                                                      change: dict[str, Any], field: str) -> None:
    body = {"channel_id": guild["channel"]["id"], "title": "Help", "type_ids": [world.type_ids["General"]], **change}
    problem(await api("admin").post(PANELS, json=body), 422, field)
    assert await _rows(world, DiscordPanel) == [] and await _rows(world, OutboxItem) == []


async def test_an_archived_type_is_refused(api: Any, world: Any, guild: dict[str, Any]) -> None:
    ok(await api("admin").patch(f"/api/v1/ticket-types/{world.type_ids['VIP']}", json={"archived": True}))
    body = {"channel_id": guild["channel"]["id"], "title": "Help", "type_ids": [world.type_ids["VIP"]]}
    problem(await api("admin").post(PANELS, json=body), 422, "type_ids")
    assert await _rows(world, DiscordPanel) == []


async def test_only_admins_and_manage_channels_manage_panels(api: Any, world: Any, guild: dict[str, Any]) -> None:
    body = {"channel_id": guild["channel"]["id"], "title": "Help", "type_ids": [world.type_ids["General"]]}
    for who in ("staff", "manager", "alice"):
        problem(await api(who).post(PANELS, json=body), 403)
        problem(await api(who).get(PANELS), 403)
    assert await _rows(world, DiscordPanel) == []
    made = await _create(api, world, guild["channel"]["id"], who="modder")
    problem(await api("staff").delete(f"{PANELS}/{made['id']}"), 403)
    assert len(await _rows(world, DiscordPanel)) == 1


async def test_a_workspace_without_a_discord_server_cannot_have_panels(api: Any, world: Any) -> None:
    body = {"channel_id": snowflake(), "title": "Help", "type_ids": [world.type_ids["General"]]}
    problem(await api("admin").post(PANELS, json=body), 409)
    assert await _rows(world, DiscordPanel) == []


async def test_deleting_a_posted_panel_deletes_its_message(api: Any, world: Any, guild: dict[str, Any],
                                                           worker_rest: DiscordStandIn) -> None:
    worker_rest.channels[guild["channel"]["id"]] = guild["channel"]
    made = await _create(api, world, guild["channel"]["id"])
    await ob.deliver_due(world.desk, limit=10)
    message_id = (await _rows(world, DiscordPanel))[0].message_id

    assert (await api("admin").delete(f"{PANELS}/{made['id']}")).status_code == 204
    assert await _rows(world, DiscordPanel) == []
    problem(await api("admin").delete(f"{PANELS}/{made['id']}"), 404)
    await ob.deliver_due(world.desk, limit=10)
    assert worker_rest.seen("DELETE", f"/channels/{guild['channel']['id']}/messages/{message_id}")
    assert ok(await api("admin").get(PANELS))["items"] == []


async def test_a_panel_deleted_before_the_worker_came_is_never_posted(api: Any, world: Any, guild: dict[str, Any],
                                                                      worker_rest: DiscordStandIn) -> None:
    made = await _create(api, world, guild["channel"]["id"])
    assert (await api("admin").delete(f"{PANELS}/{made['id']}")).status_code == 204
    await ob.deliver_due(world.desk, limit=10)
    assert worker_rest.seen("POST", r"/channels/\d+/messages") == []
    assert [i.status for i in await _rows(world, OutboxItem)] == ["done"]


async def test_an_idempotent_create_makes_one_panel(api: Any, world: Any, guild: dict[str, Any]) -> None:
    body = {"channel_id": guild["channel"]["id"], "title": "Help", "type_ids": [world.type_ids["General"]]}
    headers = {"Idempotency-Key": "panel-1"}
    first = ok(await api("admin").post(PANELS, json=body, headers=headers), 202)
    again = ok(await api("admin").post(PANELS, json=body, headers=headers), 202)
    assert first == again
    assert len(await _rows(world, DiscordPanel)) == 1 and len(await _rows(world, OutboxItem)) == 1
