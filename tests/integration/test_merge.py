"""Merging duplicate tickets and undoing a merge within 30 days."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import conversations as conv
from frontdesk.actions import lifecycle, merge, messages, tickets
from frontdesk.db.models import Conversation, Message
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, MergeRefused, NotFound, NotPermitted, UnmergeRefused, ValidationFailed
from frontdesk.queries.tickets import get_ticket_view, ticket_timeline
from tests.integration.helpers import assert_event, fetch, last_event, tags, ticket


async def conversations_of(world, number):
    t = await ticket(world, number)
    return await fetch(world, select(Conversation.id).where(Conversation.ticket_id == t.id).order_by(Conversation.id))


async def notes_of(world, number):
    t = await ticket(world, number)
    return await fetch(world, select(Message.body).where(Message.ticket_id == t.id).order_by(Message.id))


async def two_tickets(world):
    """Alice's ticket 1 (tags refund, shared; one note) and Bob's ticket 2 (tag shared; one note)."""
    source = await world.open("alice", title="Refund?", description="Charged twice", tags=["refund", "shared"])
    dest = await world.open("bob", title="Double charge", description="Me too", tags=["shared"])
    await world.run("staff", messages.add_note, source.number, "source note")
    await world.run("staff", messages.add_note, dest.number, "destination note")
    return source, dest


async def test_the_destination_inherits_conversations_notes_and_tags(world):
    source, dest = await two_tickets(world)
    source_conversations = await conversations_of(world, source.number)
    dest_conversations = await conversations_of(world, dest.number)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    assert await conversations_of(world, dest.number) == sorted(dest_conversations + source_conversations)
    assert await conversations_of(world, source.number) == []
    assert await notes_of(world, dest.number) == ["source note", "destination note"]
    assert await tags(world, dest.number) == ["refund", "shared"]
    async with world.tx("staff") as tx:
        timeline = await ticket_timeline(tx, dest.number)
    assert {"Charged twice", "Me too", "source note", "destination note"} <= {m["body"] for m in timeline}


async def test_the_source_is_closed_as_a_duplicate_pointing_at_the_destination(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    row = await ticket(world, source.number)
    assert (row.status, row.close_reason, row.merged_into_id) == ("closed", "duplicate", dest.id)
    async with world.tx("staff") as tx:
        assert (await get_ticket_view(tx, source.number))["merged_into"] == dest.number


async def test_merging_writes_an_event_on_both_tickets(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    on_dest = await last_event(world, ev.TICKET_MERGED, number=dest.number)
    assert_event(on_dest, world, "staff", number=dest.number)
    assert on_dest.payload["role"] == "destination" and on_dest.payload["added_tags"] == ["refund"]
    on_source = await last_event(world, ev.TICKET_MERGED, number=source.number)
    assert_event(on_source, world, "staff", number=source.number, before={
        "status": "open", "close_reason": None, "close_note": None},
        after={"status": "closed", "close_reason": "duplicate"})


async def test_the_source_opener_keeps_access_through_the_destination(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    async with world.tx("alice") as tx:
        view = await get_ticket_view(tx, dest.number)
        timeline = await ticket_timeline(tx, dest.number)
    assert world.member_ids["alice"] in [p["id"] for p in view["participants"]]
    assert "source note" not in [m["body"] for m in timeline]
    await world.run("alice", messages.post_message, dest.number, "following along")


async def test_a_ticket_cannot_be_merged_into_itself(world):
    t = await world.open("alice")
    with pytest.raises(MergeRefused):
        await world.run("staff", merge.merge_tickets, t.number, t.number)


async def test_a_ticket_cannot_be_merged_into_a_closed_ticket(world):
    source, dest = await two_tickets(world)
    await world.run("staff", lifecycle.close_ticket, dest.number, reason="resolved")
    with pytest.raises(MergeRefused):
        await world.run("staff", merge.merge_tickets, source.number, dest.number)
    assert (await ticket(world, source.number)).status == "open"


async def test_a_ticket_cannot_be_merged_into_a_merged_ticket(world):
    source, dest = await two_tickets(world)
    third = await world.open("vip", "VIP")
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    with pytest.raises(MergeRefused):
        await world.run("staff", merge.merge_tickets, third.number, source.number)


async def test_a_merged_or_closed_ticket_is_not_merged_again(world):
    source, dest = await two_tickets(world)
    third = await world.open("vip", "VIP")
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    with pytest.raises(MergeRefused):
        await world.run("staff", merge.merge_tickets, source.number, third.number)
    await world.run("staff", lifecycle.close_ticket, third.number, reason="resolved")
    with pytest.raises(MergeRefused):
        await world.run("staff", merge.merge_tickets, third.number, dest.number)


async def test_customers_cannot_merge_and_unknown_tickets_are_not_found(world):
    source, dest = await two_tickets(world)
    with pytest.raises(NotPermitted):
        await world.run("alice", merge.merge_tickets, source.number, dest.number)
    with pytest.raises(NotFound):
        await world.run("staff", merge.merge_tickets, source.number, 999)


async def test_a_merged_ticket_is_reopened_by_unmerging_not_reopening(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    with pytest.raises(Conflict):
        await world.run("staff", lifecycle.reopen_ticket, source.number)


async def test_unmerge_restores_exactly_what_moved(world, clock):
    source, dest = await two_tickets(world)
    source_conversations = await conversations_of(world, source.number)
    dest_conversations = await conversations_of(world, dest.number)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    clock.advance(days=3)
    await world.run("staff", messages.add_note, dest.number, "note after the merge")
    await world.run("staff", tickets.add_tag, dest.number, "after-merge")
    await world.run("staff", merge.unmerge_ticket, source.number)

    assert await conversations_of(world, source.number) == source_conversations
    assert await conversations_of(world, dest.number) == dest_conversations
    assert await notes_of(world, source.number) == ["source note"]
    assert await notes_of(world, dest.number) == ["destination note", "note after the merge"]
    assert await tags(world, source.number) == ["refund", "shared"]
    assert await tags(world, dest.number) == ["after-merge", "shared"]
    row = await ticket(world, source.number)
    assert (row.status, row.close_reason, row.close_note, row.closed_at, row.merged_into_id) == (
        "open", None, None, None, None)
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, dest.number)
    assert view["participants"] == []


async def test_unmerging_writes_an_event_on_both_tickets(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff2", merge.unmerge_ticket, source.number)
    on_dest = await last_event(world, ev.TICKET_UNMERGED, number=dest.number)
    assert_event(on_dest, world, "staff2", number=dest.number)
    on_source = await last_event(world, ev.TICKET_UNMERGED, number=source.number)
    assert_event(on_source, world, "staff2", number=source.number, after={"status": "open"})
    assert on_source.payload["merge_event_id"] == (await last_event(world, ev.TICKET_MERGED, number=dest.number)).id


async def test_unmerge_restores_the_status_the_source_had(world):
    source, dest = await two_tickets(world)
    await world.run("staff", tickets.set_status, source.number, "waiting")
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff", merge.unmerge_ticket, source.number)
    assert (await ticket(world, source.number)).status == "waiting"


async def test_unmerge_is_refused_after_30_days(world, clock):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    clock.advance(days=31)
    with pytest.raises(UnmergeRefused):
        await world.run("staff", merge.unmerge_ticket, source.number)
    assert (await ticket(world, source.number)).merged_into_id == dest.id


async def test_unmerge_still_works_on_day_30(world, clock):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    clock.advance(days=30)
    await world.run("staff", merge.unmerge_ticket, source.number)
    assert (await ticket(world, source.number)).merged_into_id is None


async def test_a_ticket_that_is_not_merged_cannot_be_unmerged(world):
    source, dest = await two_tickets(world)
    with pytest.raises(UnmergeRefused):
        await world.run("staff", merge.unmerge_ticket, source.number)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff", merge.unmerge_ticket, source.number)
    with pytest.raises(UnmergeRefused):
        await world.run("staff", merge.unmerge_ticket, source.number)


async def test_a_ticket_merged_twice_is_unmerged_from_its_latest_merge(world):
    source, dest = await two_tickets(world)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff", merge.unmerge_ticket, source.number)
    await world.run("staff", tickets.add_tag, source.number, "second-time")
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    assert "second-time" in await tags(world, dest.number)
    await world.run("staff", merge.unmerge_ticket, source.number)
    assert await tags(world, dest.number) == ["shared"]
    assert await conversations_of(world, source.number) != []


async def test_unmerge_is_refused_while_the_destination_is_itself_merged(world):
    source, dest = await two_tickets(world)
    third = await world.open("vip", "VIP")
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff", merge.merge_tickets, dest.number, third.number)
    with pytest.raises(UnmergeRefused):
        await world.run("staff", merge.unmerge_ticket, source.number)
    # undoing the later merge first makes the earlier one undoable again
    await world.run("staff", merge.unmerge_ticket, dest.number)
    await world.run("staff", merge.unmerge_ticket, source.number)
    assert await notes_of(world, source.number) == ["source note"]
    assert await conversations_of(world, source.number) != []


async def test_a_conversation_unlinked_after_the_merge_stays_where_it_is(world):
    source, dest = await two_tickets(world)
    [moved] = await conversations_of(world, source.number)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    await world.run("staff", conv.unlink_conversation, dest.number, moved)
    await world.run("staff", merge.unmerge_ticket, source.number)
    rows = await fetch(world, select(Conversation.ticket_id).where(Conversation.id == moved))
    assert rows == [None]


async def test_after_a_merge_each_customer_writes_in_their_own_conversation_by_default(world):
    source, dest = await two_tickets(world)
    [alices] = await conversations_of(world, source.number)
    [bobs] = await conversations_of(world, dest.number)
    await world.run("staff", merge.merge_tickets, source.number, dest.number)
    from_alice = await world.run("alice", messages.post_message, dest.number, "any news?")
    from_bob = await world.run("bob", messages.post_message, dest.number, "and for me?")
    from_staff = await world.run("staff", messages.post_message, dest.number, "replying to the opener")
    assert (from_alice.conversation_id, from_bob.conversation_id) == (alices, bobs)
    # staff reply, by default, through the destination opener's own conversation
    assert from_staff.conversation_id == bobs


async def test_a_locked_down_ticket_is_not_merged_into_an_open_one(world):
    await world.open("alice", title="Secret")
    await world.open("bob", title="Public")
    await world.run("manager", tickets.lockdown_ticket, 1)
    with pytest.raises(MergeRefused, match="lockdown"):
        await world.run("manager", merge.merge_tickets, 1, 2)
    await world.run("manager", tickets.lockdown_ticket, 2)
    merged_into = await world.run("manager", merge.merge_tickets, 1, 2)
    assert merged_into.number == 2


async def test_customers_of_a_merged_ticket_see_and_write_only_in_their_own_conversation(world):
    await world.open("alice", title="Login broken", description="Alice: I cannot log in")
    await world.open("bob", title="Login broken too", description="Bob: same here, my email is bob@x")
    await world.run("staff", merge.merge_tickets, 2, 1)
    async with world.tx("alice") as tx:
        bodies = [m["body"] for m in await ticket_timeline(tx, 1)]
    assert bodies == ["Alice: I cannot log in"]
    async with world.tx("staff") as tx:
        assert len(await ticket_timeline(tx, 1)) == 2
    bob_conversation = (await fetch(world, select(Conversation.id).where(
        Conversation.customer_id == world.member_ids["bob"])))[0]
    with pytest.raises(ValidationFailed, match="not linked") as refused:
        await world.run("alice", messages.post_message, 1, "peek", conversation_id=bob_conversation)
    assert refused.value.field == "conversation_id"
