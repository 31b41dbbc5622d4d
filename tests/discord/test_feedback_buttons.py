"""Buttons in the opener's DMs: CSAT after a close and the answer to a close request. They
work after a restart (a second bot over the same desk takes the click)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from frontdesk.actions.close_requests import cancel_close_request, create_close_request
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.db.models import CloseRequest, Event
from tests.discord import mirror_support as support
from tests.discord.harness import DiscordHarness, HarnessFactory, payloads
from tests.discord.mirror_support import MirrorWorld, custom_ids, dm_posts

mw, mirror_env, rest_client = support.mw, support.mirror_env, support.rest_client  # fixtures
EPHEMERAL = 1 << 6


def _dm_message(mw: MirrorWorld, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last message the bot left in ``user``'s DMs, and that DM channel."""
    user_id = mw.users[user]["id"]
    channel = next(c for c in mw.stand_in.channels.values() if c.get("type") == 1
                   and c["recipients"][0]["id"] == user_id)
    message = [m for m in mw.stand_in.messages.values() if m["channel_id"] == channel["id"]][-1]
    return message, channel


async def _restarted(harness: DiscordHarness, harnesses: HarnessFactory, make_bot: Callable[..., Any],
                     mw: MirrorWorld) -> DiscordHarness:
    await harness.close()
    second = await harnesses.start(make_bot(mw.desk))
    await second.connect([])
    return second


def _click(bot: DiscordHarness, mw: MirrorWorld, custom_id: str, message: dict[str, Any], channel: dict[str, Any],
           user: str) -> dict[str, Any]:
    interaction = payloads.component(custom_id, message=message, application_id=mw.stand_in.application_id,
                                     guild_id=None, channel=channel, user=mw.users[user])
    bot.feed("INTERACTION_CREATE", interaction)
    return interaction


def _answer(mw: MirrorWorld, interaction: dict[str, Any]) -> dict[str, Any]:
    [callback] = mw.stand_in.seen("POST", f"/interactions/{interaction['id']}/.*/callback")
    return callback.json  # type: ignore[no-any-return]


async def test_a_csat_click_after_a_restart_rates_the_ticket(mw: MirrorWorld, harness: DiscordHarness,
                                                             harnesses: HarnessFactory, make_bot) -> None:  # type: ignore[no-untyped-def]
    await harness.connect([])
    placed = await mw.ticket()
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    message, channel = _dm_message(mw, "casey")
    assert len(custom_ids(message)) == 3
    second = await _restarted(harness, harnesses, make_bot, mw)
    interaction = _click(second, mw, f"fd:csat:{placed.ticket_id}:helpful", message, channel, "casey")
    await second.drain()
    assert (await mw.ticket_row(placed.ticket_id)).csat == "helpful"
    answer = _answer(mw, interaction)
    assert answer["type"] == 7 and answer["data"]["components"] == []  # the buttons are gone


async def test_skip_records_a_skipped_rating(mw: MirrorWorld, harness: DiscordHarness) -> None:
    await harness.connect([])
    placed = await mw.ticket()
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    message, channel = _dm_message(mw, "casey")
    _click(harness, mw, f"fd:csat:{placed.ticket_id}:skip", message, channel, "casey")
    await harness.drain()
    assert (await mw.ticket_row(placed.ticket_id)).csat == "skipped"


async def test_a_csat_click_by_someone_else_is_refused_and_changes_nothing(mw: MirrorWorld,
                                                                            harness: DiscordHarness) -> None:
    await harness.connect([])
    placed = await mw.ticket()
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    message, channel = _dm_message(mw, "casey")
    async with mw.desk.db.reading() as session:
        events = await session.scalar(select(func.count()).select_from(Event).where(Event.type == "csat.submitted"))
    interaction = _click(harness, mw, f"fd:csat:{placed.ticket_id}:not_helpful", message, channel, "pat")
    await harness.drain()
    answer = _answer(mw, interaction)
    assert answer["type"] == 4 and answer["data"]["flags"] & EPHEMERAL
    assert (await mw.ticket_row(placed.ticket_id)).csat is None
    async with mw.desk.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Event)
                                    .where(Event.type == "csat.submitted")) == events


async def test_a_close_request_dms_a_forum_user_and_accepting_after_a_restart_closes(
        mw: MirrorWorld, harness: DiscordHarness, harnesses: HarnessFactory, make_bot) -> None:  # type: ignore[no-untyped-def]
    await harness.connect([])
    placed = await mw.ticket("forum")
    await mw.run("sam", create_close_request, placed.number, comment="The refund went out today.")
    await mw.deliver()
    [prompt] = dm_posts(mw.stand_in, mw.users["casey"]["id"])
    assert "The refund went out today." in prompt["content"]
    assert custom_ids(prompt) == [f"fd:closereq:{placed.ticket_id}:accept", f"fd:closereq:{placed.ticket_id}:deny"]
    message, channel = _dm_message(mw, "casey")
    assert (await mw.place(placed.ticket_id)).close_request_message_id == message["id"]
    second = await _restarted(harness, harnesses, make_bot, mw)
    _click(second, mw, f"fd:closereq:{placed.ticket_id}:accept", message, channel, "casey")
    await second.drain()
    assert (await mw.ticket_row(placed.ticket_id)).status == "closed"


async def test_denying_a_close_request_keeps_the_ticket_open(mw: MirrorWorld, harness: DiscordHarness) -> None:
    await harness.connect([])
    placed = await mw.ticket("forum")
    await mw.run("sam", create_close_request, placed.number)
    await mw.deliver()
    message, channel = _dm_message(mw, "casey")
    _click(harness, mw, f"fd:closereq:{placed.ticket_id}:deny", message, channel, "casey")
    await harness.drain()
    assert (await mw.ticket_row(placed.ticket_id)).status != "closed"
    async with mw.desk.db.reading() as session:
        assert await session.scalar(select(CloseRequest.status)) == "denied"


async def test_withdrawing_a_close_request_deletes_the_dm(mw: MirrorWorld) -> None:
    placed = await mw.ticket("forum")
    await mw.run("sam", create_close_request, placed.number)
    await mw.deliver()
    message, channel = _dm_message(mw, "casey")
    await mw.run("sam", cancel_close_request, placed.number)
    await mw.deliver()
    assert mw.stand_in.seen("DELETE", f"/channels/{channel['id']}/messages/{message['id']}")
    assert message["id"] not in mw.stand_in.messages
    assert (await mw.place(placed.ticket_id)).close_request_message_id is None


async def test_a_close_request_on_a_channel_ticket_asks_in_the_channel_without_an_unshared_comment(
        mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", create_close_request, placed.number, comment="staff only", share_comment=False)
    await mw.deliver()
    [prompt] = [r.json for r in mw.stand_in.seen("POST", f"/channels/{placed.channel_id}/messages")]
    assert prompt["content"].startswith(f"<@{mw.users['casey']['id']}>")
    assert "staff only" not in prompt["content"]
    assert len(custom_ids(prompt)) == 2
    assert mw.stand_in.seen("POST", "/users/@me/channels") == []


async def test_a_close_request_withdrawn_before_it_was_sent_is_never_sent(mw: MirrorWorld) -> None:
    placed = await mw.ticket("forum")
    await mw.run("sam", create_close_request, placed.number)
    await mw.run("sam", cancel_close_request, placed.number)
    await mw.deliver()
    assert mw.stand_in.seen("POST", r"/channels/\d+/messages") == []
