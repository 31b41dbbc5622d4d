"""Forum posts carry a status tag and an activity tag that follow the ticket."""

from __future__ import annotations

from datetime import timedelta

from frontdesk.actions.close_requests import create_close_request
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.actions.messages import post_message
from frontdesk.domain.discord import (
    TAG_AWAITING_RESPONSE,
    TAG_CLOSE_REQUESTED,
    TAG_CLOSED,
    TAG_OPEN,
    TAG_UNANSWERED,
    TAG_USER_RESPONDED,
)
from tests.discord import mirror_support as support
from tests.discord.harness import payloads
from tests.discord.mirror_support import MirrorWorld

mw, mirror_env, rest_client = support.mw, support.mirror_env, support.rest_client  # fixtures


def _tags(mw: MirrorWorld, channel_id: str) -> set[str]:
    names = {t["id"]: t["name"] for t in mw.channel(mw.forum)["available_tags"]}
    return {names[i] for i in mw.channel(channel_id)["applied_tags"]}


async def test_forum_tags_follow_the_ticket_from_open_to_closed(mw: MirrorWorld, clock) -> None:  # type: ignore[no-untyped-def]
    placed = await mw.ticket("forum")
    await mw.run("casey", post_message, placed.number, "Hello?")
    await mw.deliver()
    assert _tags(mw, placed.channel_id) == {TAG_OPEN, TAG_UNANSWERED}
    clock.advance(timedelta(minutes=1))
    await mw.run("sam", post_message, placed.number, "Looking into it")
    await mw.deliver()
    assert _tags(mw, placed.channel_id) == {TAG_OPEN, TAG_AWAITING_RESPONSE}
    clock.advance(timedelta(minutes=1))
    await mw.run("casey", post_message, placed.number, "Thanks, any news?")
    await mw.deliver()
    assert _tags(mw, placed.channel_id) == {TAG_OPEN, TAG_USER_RESPONDED}
    await mw.run("sam", create_close_request, placed.number)
    await mw.deliver()
    assert TAG_CLOSE_REQUESTED in _tags(mw, placed.channel_id)
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    assert TAG_CLOSED in _tags(mw, placed.channel_id)
    assert not {TAG_OPEN, TAG_CLOSE_REQUESTED} & _tags(mw, placed.channel_id)


async def test_tags_that_are_not_frontdesks_stay_on_the_post(mw: MirrorWorld) -> None:
    placed = await mw.ticket("forum")
    forum = mw.channel(mw.forum)
    forum["available_tags"].append({"id": "1400000000000000001", "name": "Billing", "moderated": False,
                                    "emoji_id": None, "emoji_name": None})
    mw.channel(placed.channel_id)["applied_tags"] = ["1400000000000000001"]
    await mw.run("casey", post_message, placed.number, "Hello?")
    await mw.deliver()
    assert _tags(mw, placed.channel_id) == {"Billing", TAG_OPEN, TAG_UNANSWERED}


async def test_a_forum_missing_the_tags_gets_them_added(mw: MirrorWorld) -> None:
    mw.stand_in.channels[mw.forum] = payloads.forum_channel(mw.guild_id, id=mw.forum, tags=["Billing"])
    placed = await mw.ticket("forum")
    await mw.run("casey", post_message, placed.number, "Hello?")
    await mw.deliver()
    [edit] = [r.json for r in mw.stand_in.seen("PATCH", f"/channels/{mw.forum}")]
    assert {t["name"] for t in edit["available_tags"]} >= {"Billing", TAG_OPEN, TAG_CLOSED, TAG_UNANSWERED}


async def test_user_messages_that_keep_the_activity_tag_make_no_more_syncs(mw: MirrorWorld, clock) -> None:  # type: ignore[no-untyped-def]
    placed = await mw.ticket("forum")
    await mw.run("casey", post_message, placed.number, "Hello?")
    await mw.deliver()
    clock.advance(timedelta(minutes=1))
    await mw.run("sam", post_message, placed.number, "Looking into it")
    await mw.deliver()
    syncs_before = len(await mw.outbox("discord.sync"))
    for n in range(5):
        clock.advance(timedelta(seconds=10))
        await mw.run("casey", post_message, placed.number, f"more detail {n}")
        await mw.deliver()  # the worker keeps up
    # The first user message turns the tag to User Responded; the others leave it so.
    assert len(await mw.outbox("discord.sync")) == syncs_before + 1
    assert _tags(mw, placed.channel_id) == {TAG_OPEN, TAG_USER_RESPONDED}


async def test_whether_a_posts_activity_tag_changes_is_read_off_that_ticket(mw: MirrorWorld, clock) -> None:  # type: ignore[no-untyped-def]
    # A transaction's locked tickets are kept by number: another ticket whose number is this
    # ticket's id (tickets of several workspaces, or a batch writing into many) must not answer.
    from frontdesk.actions.base import get_ticket
    from frontdesk.actions.discord_mirror import _activity_tag_unchanged

    answered = await mw.ticket("forum", opener="casey")
    waiting = await mw.ticket("forum", title="Another question", opener="pat")
    await mw.run("casey", post_message, answered.number, "Hello?")
    await mw.run("pat", post_message, waiting.number, "Me too?")
    await mw.deliver()
    clock.advance(timedelta(minutes=1))
    await mw.run("sam", post_message, answered.number, "Looking into it")
    await mw.deliver()  # answered: Awaiting Response; waiting: Unanswered
    async with mw.tx() as tx:
        place = await mw.place(waiting.ticket_id)
        tx.locked_tickets[waiting.ticket_id] = await get_ticket(tx, answered.number)
        assert await _activity_tag_unchanged(tx, place) is True
