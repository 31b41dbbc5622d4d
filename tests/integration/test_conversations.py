"""Conversations on their own, converted to tickets, and linked to / unlinked from tickets."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import conversations as conv
from frontdesk.actions import lifecycle, messages
from frontdesk.db.models import Conversation, Message, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from frontdesk.queries.tickets import get_ticket_view, ticket_timeline
from tests.integration.helpers import assert_event, count, fetch, last_event, table_counts


async def start(world, who="staff", customer="alice", **kwargs):
    kwargs.setdefault("channel", "email")
    return await world.run(who, conv.start_conversation, customer_id=world.member_ids[customer], **kwargs)


async def test_staff_start_a_conversation_with_a_customer_and_its_first_message(world):
    c = await start(world, subject="Invoice question", body="Hello Alice")
    assert (c.channel, c.customer_id, c.status, c.ticket_id) == ("email", world.member_ids["alice"], "open", None)
    rows = await fetch(world, select(Message).where(Message.conversation_id == c.id))
    assert [(m.body, m.author_kind) for m in rows] == [("Hello Alice", "staff")]
    created = await last_event(world, ev.CONVERSATION_CREATED)
    assert_event(created, world, "staff")
    assert created.conversation_id == c.id


async def test_a_customer_starts_their_own_conversation(world):
    c = await world.run("alice", conv.start_conversation, channel="web", body="Hi there")
    assert c.customer_id == world.member_ids["alice"]
    rows = await fetch(world, select(Message.author_kind).where(Message.conversation_id == c.id))
    assert rows == ["customer"]


async def test_a_customer_cannot_start_a_conversation_for_someone_else(world):
    with pytest.raises(NotPermitted):
        await start(world, "alice", "bob")


async def test_an_unknown_channel_is_refused_naming_the_field(world):
    with pytest.raises(ValidationFailed) as caught:
        await start(world, channel="carrier-pigeon")
    assert caught.value.field == "channel"


async def test_a_conversation_whose_first_message_is_invalid_leaves_no_rows(world):
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await start(world, body="x" * 16_001)
    assert caught.value.field == "body"
    assert await table_counts(world) == before


async def test_the_customer_and_staff_post_in_a_conversation_and_staff_add_internal_notes(world):
    c = await start(world)
    await world.run("alice", conv.post_in_conversation, c.id, "My question")
    await world.run("staff", conv.post_in_conversation, c.id, "My answer")
    await world.run("staff", conv.post_in_conversation, c.id, "Looks like a bug", internal=True)
    rows = await fetch(world, select(Message).where(Message.conversation_id == c.id).order_by(Message.id))
    assert [(m.author_kind, m.visibility) for m in rows] == [
        ("customer", "public"), ("staff", "public"), ("staff", "internal")]
    note = await last_event(world, ev.NOTE_CREATED)
    assert_event(note, world, "staff")


async def test_a_customer_cannot_add_internal_notes_to_their_conversation(world):
    c = await start(world)
    with pytest.raises(NotPermitted):
        await world.run("alice", conv.post_in_conversation, c.id, "secret", internal=True)


async def test_another_customer_cannot_see_or_post_in_a_conversation(world):
    c = await start(world)
    with pytest.raises(NotFound):
        await world.run("bob", conv.post_in_conversation, c.id, "hi")


async def test_a_conversation_is_solved_on_its_own_and_a_customer_reply_reopens_it(world):
    c = await start(world)
    solved = await world.run("staff", conv.solve_conversation, c.id)
    assert (solved.status, solved.solved_at) == ("solved", world.desk.clock.now())
    assert_event(await last_event(world, ev.CONVERSATION_SOLVED), world, "staff")
    with pytest.raises(Conflict):
        await world.run("staff", conv.solve_conversation, c.id)
    await world.run("alice", conv.post_in_conversation, c.id, "Actually, one more thing")
    rows = await fetch(world, select(Conversation).where(Conversation.id == c.id))
    assert (rows[0].status, rows[0].solved_at) == ("open", None)


async def test_a_customer_cannot_solve_a_conversation(world):
    c = await start(world)
    with pytest.raises(NotPermitted):
        await world.run("alice", conv.solve_conversation, c.id)


async def test_converting_to_a_ticket_keeps_the_conversation_linked(world):
    c = await start(world, subject="Refund please", body="We can help")
    await world.run("alice", conv.post_in_conversation, c.id, "Thanks, it was order 12")
    t = await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"], tags=["Refund"])
    assert (t.title, t.opener_id) == ("Refund please", world.member_ids["alice"])
    linked = await fetch(world, select(Conversation).where(Conversation.ticket_id == t.id))
    assert [x.id for x in linked] == [c.id]
    assert await count(world, Conversation) == 1  # no second conversation was made
    converted = await last_event(world, ev.CONVERSATION_CONVERTED)
    assert_event(converted, world, "staff", number=t.number)
    assert converted.conversation_id == c.id
    # the earlier messages are the ticket's timeline, and replies go out through the same conversation
    await world.run("staff", messages.post_message, t.number, "Refund issued")
    async with world.tx("alice") as tx:
        timeline = await ticket_timeline(tx, t.number)
    assert [m["body"] for m in timeline] == ["We can help", "Thanks, it was order 12", "Refund issued"]
    assert {m["conversation_id"] for m in timeline} == {c.id}


async def test_a_conversation_linked_to_a_ticket_is_written_in_through_the_ticket(world):
    c = await start(world)
    await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"])
    with pytest.raises(Conflict):
        await world.run("staff", conv.post_in_conversation, c.id, "hello")
    with pytest.raises(Conflict):
        await world.run("staff", conv.solve_conversation, c.id)


async def test_a_conversation_cannot_be_converted_twice(world):
    c = await start(world)
    await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"])
    with pytest.raises(Conflict):
        await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["Billing"])
    assert await count(world, Ticket) == 1


async def test_a_customer_cannot_convert_their_conversation(world):
    c = await world.run("alice", conv.start_conversation, channel="web")
    with pytest.raises(NotPermitted):
        await world.run("alice", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"])


async def test_converting_respects_the_customers_open_limit(world):
    await world.open("alice")
    c = await start(world)
    with pytest.raises(Conflict):
        await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"])
    rows = await fetch(world, select(Conversation).where(Conversation.id == c.id))
    assert rows[0].ticket_id is None


async def test_linking_a_second_conversation_shows_it_on_the_ticket(world):
    t = await world.open("alice")
    c = await start(world, body="Same problem by email")
    await world.run("staff", conv.link_conversation, t.number, c.id)
    linked = await last_event(world, ev.CONVERSATION_LINKED)
    assert_event(linked, world, "staff", number=t.number)
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
        timeline = await ticket_timeline(tx, t.number)
    assert c.id in view["conversation_ids"] and len(view["conversation_ids"]) == 2
    assert "Same problem by email" in [m["body"] for m in timeline]
    # replying in the linked conversation goes out through it
    reply = await world.run("staff", messages.post_message, t.number, "Answered by email", conversation_id=c.id)
    assert reply.conversation_id == c.id


async def test_linking_an_already_linked_conversation_again_changes_nothing(world):
    t = await world.open("alice")
    c = await start(world)
    await world.run("staff", conv.link_conversation, t.number, c.id)
    await world.run("staff", conv.link_conversation, t.number, c.id)
    assert len(await fetch(world, select(Conversation.id).where(Conversation.ticket_id == t.id))) == 2


async def test_a_conversation_linked_to_another_ticket_cannot_be_linked(world):
    first = await world.open("alice")
    second = await world.open("bob")
    c = await start(world)
    await world.run("staff", conv.link_conversation, first.number, c.id)
    with pytest.raises(Conflict):
        await world.run("staff", conv.link_conversation, second.number, c.id)


async def test_unlinking_a_conversation_leaves_it_on_its_own(world):
    t = await world.open("alice")
    c = await start(world)
    await world.run("staff", conv.link_conversation, t.number, c.id)
    await world.run("staff", conv.unlink_conversation, t.number, c.id)
    rows = await fetch(world, select(Conversation).where(Conversation.id == c.id))
    assert rows[0].ticket_id is None
    assert_event(await last_event(world, ev.CONVERSATION_UNLINKED), world, "staff", number=t.number)
    # it can be written in on its own again
    await world.run("alice", conv.post_in_conversation, c.id, "still here")


async def test_the_last_conversation_of_a_ticket_cannot_be_unlinked(world):
    t = await world.open("alice")
    only = (await fetch(world, select(Conversation.id).where(Conversation.ticket_id == t.id)))[0]
    with pytest.raises(Conflict):
        await world.run("staff", conv.unlink_conversation, t.number, only)


async def test_unlinking_a_conversation_that_is_not_on_the_ticket_names_the_field(world):
    t = await world.open("alice")
    c = await start(world)
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", conv.unlink_conversation, t.number, c.id)
    assert caught.value.field == "conversation_id"


async def test_customers_cannot_link_conversations(world):
    t = await world.open("alice")
    c = await world.run("alice", conv.start_conversation, channel="web")
    with pytest.raises(NotPermitted):
        await world.run("alice", conv.link_conversation, t.number, c.id)


async def test_posting_in_a_conversation_linked_to_a_closed_ticket_is_refused(world):
    t = await world.open("alice")
    c = await start(world)
    await world.run("staff", conv.link_conversation, t.number, c.id)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(Conflict):
        await world.run("alice", conv.post_in_conversation, c.id, "hello?")


async def test_linking_a_conversation_makes_its_customer_a_contact_who_can_write_in_it(world):
    t = await world.open("alice")
    c = await start(world, customer="bob", body="Same here")
    await world.run("staff", conv.link_conversation, t.number, c.id)
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
    assert [p["id"] for p in view["contacts"]] == [world.member_ids["bob"]]
    reply = await world.run("bob", messages.post_message, t.number, "Any update?")
    assert reply.conversation_id == c.id


async def test_linking_the_openers_own_second_conversation_adds_no_contact(world):
    t = await world.open("alice")
    c = await start(world, customer="alice")
    await world.run("staff", conv.link_conversation, t.number, c.id)
    async with world.tx("staff") as tx:
        assert (await get_ticket_view(tx, t.number))["contacts"] == []


async def test_a_staff_reply_before_converting_is_the_tickets_first_response(world, clock):
    c = await start(world, subject="Refund please", body="We can help")
    replied_at = clock.now()
    clock.advance(minutes=5)
    await world.run("alice", conv.post_in_conversation, c.id, "Thanks, it was order 12")
    asked_at = clock.now()
    clock.advance(minutes=5)
    t = await world.run("staff", conv.convert_to_ticket, c.id, type_id=world.type_ids["General"])
    assert (t.first_response_at, t.last_staff_message_at) == (replied_at, replied_at)
    assert (t.last_customer_message_at, t.last_message_at) == (asked_at, asked_at)
