"""The relay's group commit: messages arriving together are stored many to a transaction, in
the order they arrived, with their copies posted in that order; one refused message fails
alone; a DM whose author has no open ticket (or whose ticket closed meanwhile) comes back as
"no ticket" and goes through intake, and none of the author's later DMs overtakes it."""

from __future__ import annotations

import asyncio

import discord
import pytest

from frontdesk.actions.base import Desk
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.actions.messages import MESSAGE_MAX
from frontdesk.discord.group_commit import group_commit_of
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.modmail import TicketPlace, open_modmail_ticket
from tests.discord.harness import DiscordHarness, payloads, snowflake
from tests.discord.modmail_support import (
    SYSTEM,
    connect,
    dm,
    embed_of,
    links,
    messages,
    open_by_dm,
    placed,
    server,
)


def _copies(harness: DiscordHarness, post_id: str) -> list[str]:
    return [embed_of(r)["description"] for r in harness.stand_in.seen("POST", f"/channels/{post_id}/messages")]


async def _place(desk: Desk, user_id: str) -> TicketPlace:
    async with desk.read(SYSTEM, 0) as tx:
        place = await open_modmail_ticket(tx, user_id)
    assert place is not None
    return place


async def test_dms_arriving_together_are_stored_in_one_transaction_in_arrival_order(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    writer = group_commit_of(harness.bot)
    batches_before = writer.batches
    texts = [f"part {i}" for i in range(8)]
    for text in texts:  # no pause between them: they queue while the first transaction runs
        dm(harness, opened.user, text, channel_id=opened.dm_channel["id"])
    await harness.drain()

    stored = [m.body for m in await messages(desk)]
    assert stored[-8:] == texts
    assert _copies(harness, opened.post_id)[-8:] == texts
    # Eight DMs and eight copy links, in fewer transactions than one each.
    assert writer.batches - batches_before < 8
    for message in (await messages(desk))[-8:]:
        assert {kind for kind, _, _ in await links(desk, message.id)} == {"origin", "copy"}


async def test_dms_of_several_users_are_stored_each_as_their_author(desk: Desk, harness: DiscordHarness) -> None:
    users = [payloads.user(username=f"user{i}", global_name=f"User {i}") for i in range(3)]
    s = server("Acme", members=[payloads.member(u) for u in users])
    await connect(harness, desk, [s])
    channels = [payloads.dm_channel(u) for u in users]
    for user, channel in zip(users, channels, strict=True):
        harness.stand_in.channels[channel["id"]] = channel
        dm(harness, user, f"I am {user['username']}", channel_id=channel["id"])
        await harness.drain()
    assert len(await placed(desk)) == 3

    for round_ in range(2):
        for user, channel in zip(users, channels, strict=True):
            dm(harness, user, f"{user['username']} again {round_}", channel_id=channel["id"])
    await harness.drain()

    async with desk.db.reading() as session:
        from sqlalchemy import select

        from frontdesk.db.models import Member, Message

        rows = (await session.execute(select(Message.body, Member.discord_user_id, Message.author_kind)
                                      .join(Member, Member.id == Message.author_id)
                                      .where(Message.body.like("% again %")).order_by(Message.id))).all()
    assert [(body, user_id) for body, user_id, _ in rows] == [
        (f"{u['username']} again {r}", u["id"]) for r in range(2) for u in users]
    assert {kind for _, _, kind in rows} == {"customer"}


async def test_a_refused_message_in_a_batch_fails_alone(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    place = await _place(desk, opened.user["id"])
    writer = group_commit_of(harness.bot)
    author = harness.bot._connection.store_user(opened.user)  # type: ignore[arg-type]
    before = len(await messages(desk))

    def store(body: str) -> asyncio.Future[object]:
        message_id = int(snowflake())
        return asyncio.ensure_future(writer.store(author, body, external_id=f"discord:{message_id}", place=place,
                                                  origin=(int(opened.dm_channel["id"]), message_id)))

    good_first, bad, good_last = store("first"), store("x" * (MESSAGE_MAX + 1)), store("last")
    results = await asyncio.gather(good_first, bad, good_last, return_exceptions=True)

    assert isinstance(results[1], ValidationFailed)
    assert "at most" in results[1].message
    assert [m.body for m in (await messages(desk))[before:]] == ["first", "last"]
    assert all(isinstance(r, tuple) for r in (results[0], results[2]))


async def test_a_dm_without_an_open_ticket_comes_back_as_none_and_holds_the_authors_later_dms(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    writer = group_commit_of(harness.bot)
    author = harness.bot._connection.store_user(opened.user)  # type: ignore[arg-type]
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        await close_ticket(tx, opened.number, reason="resolved")
    dm_id = int(opened.dm_channel["id"])
    ids = [int(snowflake()) for _ in range(3)]

    first = await writer.store(author, "hello?", external_id=f"discord:{ids[0]}", place=None, origin=(dm_id, ids[0]))
    assert first is None
    # The author's ticket is back, but a DM still on its way through intake holds the later ones.
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        from frontdesk.actions.lifecycle import reopen_ticket

        await reopen_ticket(tx, opened.number)
    held = await writer.store(author, "still there?", external_id=f"discord:{ids[1]}", place=None,
                              origin=(dm_id, ids[1]))
    assert held is None
    writer.release(author.id)
    writer.release(author.id)
    found = await writer.store(author, "now stored", external_id=f"discord:{ids[2]}", place=None,
                               origin=(dm_id, ids[2]))
    assert found is not None
    place, stored = found
    assert place.number == opened.number
    assert (await messages(desk))[-1].body == "now stored"
    assert stored.author_kind == "customer"


async def test_a_dm_to_a_ticket_closed_since_it_was_found_starts_a_new_ticket(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    stale = await _place(desk, opened.user["id"])
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        await close_ticket(tx, opened.number, reason="resolved")
    writer = group_commit_of(harness.bot)
    author = harness.bot._connection.store_user(opened.user)  # type: ignore[arg-type]
    before = len(await messages(desk))

    # A DM looked up as open, the ticket closing before the write: "no ticket", nothing stored.
    late = int(snowflake())
    request = writer.store(author, "late", external_id=f"discord:{late}", place=None,
                           origin=(int(opened.dm_channel["id"]), late))
    original = writer._write_batch

    async def with_stale_lookup(batch: list) -> None:  # type: ignore[type-arg]
        for r in batch:
            r.place, r.other_channel_id = stale, stale.channel_id
        await original(batch)

    writer._write_batch = with_stale_lookup  # type: ignore[method-assign]
    try:
        assert await request is None
    finally:
        writer._write_batch = original  # type: ignore[method-assign]
        writer.release(author.id)
    assert len(await messages(desk)) == before

    # Through the gateway, the same DM now starts intake for a new ticket.
    dm(harness, opened.user, "A new problem", channel_id=opened.dm_channel["id"])
    await harness.drain()
    assert len(await placed(desk)) == 2


async def test_drain_waits_until_every_queued_message_is_stored(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    place = await _place(desk, opened.user["id"])
    author = harness.bot._connection.store_user(opened.user)  # type: ignore[arg-type]
    writer = group_commit_of(harness.bot)
    ids = [int(snowflake()) for _ in range(3)]
    pending = [asyncio.ensure_future(writer.store(author, f"queued {i}", external_id=f"discord:{ids[i]}",
                                                  place=place, origin=(int(opened.dm_channel["id"]), ids[i])))
               for i in range(3)]
    await asyncio.sleep(0)
    await writer.drain()
    assert all(p.done() for p in pending)
    assert [m.body for m in await messages(desk)][-3:] == ["queued 0", "queued 1", "queued 2"]


@pytest.mark.parametrize("copies", [0, 2])
async def test_copy_links_of_a_batch_are_written_together(desk: Desk, harness: DiscordHarness, copies: int) -> None:
    opened = await open_by_dm(harness, desk)
    message_id = (await messages(desk))[-1].id
    before = await links(desk, message_id)
    post = harness.bot.get_partial_messageable(int(opened.post_id))
    ids = [int(snowflake()) for _ in range(copies)]
    sent = [discord.PartialMessage(channel=post, id=i) for i in ids]
    await group_commit_of(harness.bot).link_copies(opened.server.workspace_id, message_id,
                                                   *sent)  # type: ignore[arg-type]
    added = [link for link in await links(desk, message_id) if link not in before]
    assert added == [("copy", opened.post_id, str(i)) for i in ids]


async def test_a_remembered_ticket_closed_since_takes_no_more_dms_and_a_new_one_opens(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    dm(harness, opened.user, "One more detail", channel_id=opened.dm_channel["id"])
    await harness.drain()  # the relay now remembers the user's ticket
    assert (await messages(desk))[-1].body == "One more detail"
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        await close_ticket(tx, opened.number, reason="resolved")
    copies_before = _copies(harness, opened.post_id)

    dm(harness, opened.user, "A different problem", channel_id=opened.dm_channel["id"])
    await harness.drain()

    assert len(await placed(desk)) == 2
    assert _copies(harness, opened.post_id) == copies_before  # nothing went into the old post
    async with desk.db.reading() as session:
        from sqlalchemy import select

        from frontdesk.db.models import Conversation, Message, Ticket

        rows = (await session.execute(select(Ticket.number).join(Conversation, Conversation.ticket_id == Ticket.id)
                                      .join(Message, Message.conversation_id == Conversation.id)
                                      .where(Message.body == "A different problem"))).scalars().all()
    assert rows and opened.number not in rows


async def test_a_dm_replying_to_one_stored_in_the_same_batch_is_stored_as_its_reply(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    place = await _place(desk, opened.user["id"])
    writer = group_commit_of(harness.bot)
    author = harness.bot._connection.store_user(opened.user)  # type: ignore[arg-type]
    dm_id = int(opened.dm_channel["id"])
    question, follow_up = int(snowflake()), int(snowflake())
    first = asyncio.ensure_future(writer.store(author, "Which invoice?", external_id=f"discord:{question}",
                                               place=place, origin=(dm_id, question)))
    second = asyncio.ensure_future(writer.store(author, "The March one", external_id=f"discord:{follow_up}",
                                                place=place, origin=(dm_id, follow_up), reply_to=question,
                                                other_channel_id=place.channel_id))
    batches = writer.batches
    await asyncio.gather(first, second)
    assert writer.batches == batches + 1  # both in one transaction
    stored = await messages(desk)
    assert [m.body for m in stored[-2:]] == ["Which invoice?", "The March one"]
    assert stored[-1].reply_to_id == stored[-2].id
