"""Public messages, internal notes, replies, attachments and edits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.actions.messages import NewAttachment
from frontdesk.db.models import Attachment, MessageEdit
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.queries.tickets import ticket_timeline
from tests.integration.helpers import assert_event, fetch, last_event, table_counts, ticket


async def timeline(world, who, number):
    async with world.tx(who) as tx:
        return await ticket_timeline(tx, number)


async def test_staff_post_a_public_message_the_customer_sees(world):
    t = await world.open("alice")
    m = await world.run("staff", messages.post_message, t.number, "How can we help?")
    assert (m.author_kind, m.visibility, m.author_id) == ("staff", "public", world.member_ids["staff"])
    assert [x["body"] for x in await timeline(world, "alice", t.number)] == ["How can we help?"]
    created = await last_event(world, ev.MESSAGE_CREATED)
    assert_event(created, world, "staff", number=t.number)
    assert created.payload["message_id"] == m.id and created.payload["author_kind"] == "staff"


async def test_the_first_public_staff_message_sets_first_response_at(world, clock):
    t = await world.open("alice", description="help")
    clock.advance(minutes=5)
    await world.run("alice", messages.post_message, t.number, "anyone?")
    assert (await ticket(world, t.number)).first_response_at is None
    clock.advance(minutes=7)
    first = clock.now()
    await world.run("staff", messages.post_message, t.number, "Here")
    clock.advance(minutes=3)
    await world.run("staff2", messages.post_message, t.number, "Me too")
    row = await ticket(world, t.number)
    assert row.first_response_at == first
    assert row.last_staff_message_at == clock.now() and row.last_message_at == clock.now()


async def test_an_internal_note_does_not_count_as_first_response(world):
    t = await world.open("alice")
    await world.run("staff", messages.add_note, t.number, "checking logs")
    assert (await ticket(world, t.number)).first_response_at is None


async def test_a_bot_message_does_not_count_as_first_response(world):
    t = await world.open("alice")
    m = await world.run("system", messages.post_message, t.number, "Here is an article", author_kind="bot")
    assert m.author_kind == "bot"
    await world.run("system", messages.post_message, t.number, "Automatic reply")
    assert (await ticket(world, t.number)).first_response_at is None


async def test_only_the_desk_chooses_an_author_kind(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", messages.post_message, t.number, "hi", author_kind="bot")
    assert caught.value.field == "author_kind"
    with pytest.raises(ValidationFailed) as caught:
        await world.run("system", messages.post_message, t.number, "hi", author_kind="robot")
    assert caught.value.field == "author_kind"


@pytest.mark.parametrize("status", ["waiting", "resolved"])
async def test_a_customer_reply_on_a_waiting_ticket_returns_it_to_open(world, status):
    t = await world.open("alice")
    await world.run("staff", tickets.set_status, t.number, status)
    await world.run("alice", messages.post_message, t.number, "Still broken")
    assert (await ticket(world, t.number)).status == "open"
    changed = await last_event(world, ev.TICKET_STATUS_CHANGED)
    assert_event(changed, world, "alice", number=t.number, before={"status": status}, after={"status": "open"})
    assert changed.payload["cause"] == "customer_replied"


async def test_a_staff_reply_on_a_waiting_ticket_keeps_it_waiting(world):
    t = await world.open("alice")
    await world.run("staff", tickets.set_status, t.number, "waiting")
    await world.run("staff", messages.post_message, t.number, "Any news?")
    assert (await ticket(world, t.number)).status == "waiting"


async def test_a_participant_writes_as_a_customer(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    m = await world.run("bob", messages.post_message, t.number, "I have this too")
    assert m.author_kind == "customer"


async def test_a_stranger_cannot_post_in_a_ticket(world):
    t = await world.open("alice")
    with pytest.raises(NotFound):
        await world.run("bob", messages.post_message, t.number, "hi")


async def test_notes_are_internal_and_hidden_from_the_customer(world):
    t = await world.open("alice", description="Public question")
    note = await world.run("staff", messages.add_note, t.number, "Customer is on the legacy plan")
    await world.run("staff", messages.post_message, t.number, "Public answer")
    assert (note.visibility, note.ticket_id, note.conversation_id) == ("internal", t.id, None)
    assert_event(await last_event(world, ev.NOTE_CREATED), world, "staff", number=t.number)
    assert [m["body"] for m in await timeline(world, "alice", t.number)] == ["Public question", "Public answer"]
    staff_view = await timeline(world, "staff", t.number)
    assert [(m["body"], m["visibility"]) for m in staff_view] == [
        ("Public question", "public"), ("Customer is on the legacy plan", "internal"), ("Public answer", "public")]


async def test_customers_cannot_add_notes(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", messages.add_note, t.number, "note to self")


async def test_a_reply_may_point_at_a_message_of_the_same_ticket(world):
    t = await world.open("alice", description="Question")
    first = (await timeline(world, "staff", t.number))[0]
    reply = await world.run("staff", messages.post_message, t.number, "Answer", reply_to_id=first["id"])
    assert reply.reply_to_id == first["id"]


async def test_a_reply_to_a_message_of_another_ticket_is_refused(world):
    a = await world.open("alice", description="A's question")
    b = await world.open("bob", description="B's question")
    other = (await timeline(world, "staff", b.number))[0]
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", messages.post_message, a.number, "Answer", reply_to_id=other["id"])
    assert caught.value.field == "reply_to_id"
    with pytest.raises(ValidationFailed):
        await world.run("staff", messages.post_message, a.number, "Answer", reply_to_id=987_654)


async def test_a_public_reply_cannot_quote_an_internal_note(world):
    t = await world.open("alice")
    note = await world.run("staff", messages.add_note, t.number, "refund was a mistake")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", messages.post_message, t.number, "Update", reply_to_id=note.id)
    assert caught.value.field == "reply_to_id"


async def test_attachments_are_stored_in_the_file_store_and_listed(world, files):
    t = await world.open("alice")
    data = b"\x89PNG fake image bytes"
    m = await world.run("alice", messages.post_message, t.number, "", attachments=[
        NewAttachment("screen.png", "image/png", data=data),
        NewAttachment("log.txt", "text/plain", url="https://cdn.example.com/log.txt", size=42),
    ])
    rows = await fetch(world, select(Attachment).where(Attachment.message_id == m.id).order_by(Attachment.id))
    assert [(a.filename, a.size, a.url) for a in rows] == [
        ("screen.png", len(data), None), ("log.txt", 42, "https://cdn.example.com/log.txt")]
    assert files.get(rows[0].storage_key) == data
    listed = (await timeline(world, "alice", t.number))[-1]["attachments"]
    assert [a["filename"] for a in listed] == ["screen.png", "log.txt"]
    assert listed[0]["url"] == f"/api/v1/attachments/{rows[0].id}"
    assert (await last_event(world, ev.MESSAGE_CREATED)).payload["attachments"] == 2


async def test_bad_attachments_are_refused_naming_the_field(world):
    t = await world.open("alice")
    before = await table_counts(world)
    for attachment, field in [
        (NewAttachment("../etc/passwd", "text/plain", data=b"x"), "attachments[0].filename"),
        (NewAttachment("", "text/plain", data=b"x"), "attachments[0].filename"),
        (NewAttachment("a.txt", "text/plain"), "attachments[0]"),
        (NewAttachment("a.txt", "text/plain", data=b"x", url="https://x.example"), "attachments[0]"),
        (NewAttachment("a.txt", "text/plain", url="file:///etc/passwd"), "attachments[0].url"),
        (NewAttachment("a.txt", "text/plain", url="https://x.example/a.txt", size=-5), "attachments[0].size"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            await world.run("alice", messages.post_message, t.number, "see file", attachments=[attachment])
        assert caught.value.field == field
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", messages.post_message, t.number, "many", attachments=[
            NewAttachment(f"{i}.txt", "text/plain", data=b"x") for i in range(11)])
    assert caught.value.field == "attachments"
    assert await table_counts(world) == before


async def test_a_message_needs_text_or_an_attachment(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", messages.post_message, t.number, "   ")
    assert caught.value.field == "body"
    with pytest.raises(ValidationFailed):
        await world.run("alice", messages.post_message, t.number, "x" * 16_001)


async def test_posting_on_a_closed_ticket_is_refused(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    before = await table_counts(world)
    with pytest.raises(TicketClosed):
        await world.run("alice", messages.post_message, t.number, "one more thing")
    with pytest.raises(TicketClosed):
        await world.run("staff", messages.post_message, t.number, "one more thing")
    assert await table_counts(world) == before


async def test_a_customer_writes_anonymously_only_in_an_anonymous_ticket(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", messages.post_message, t.number, "hi", anonymous=True)
    assert caught.value.field == "anonymous"
    anon = await world.open("alice", "Billing", anonymous=True)
    m = await world.run("alice", messages.post_message, anon.number, "hi")
    assert m.anonymous is True


async def test_an_anonymous_staff_reply_shows_as_staff_to_the_customer(world):
    t = await world.open("alice")
    await world.run("staff", messages.post_message, t.number, "We are on it", anonymous=True)
    seen = (await timeline(world, "alice", t.number))[-1]["author"]
    assert seen == {"id": None, "display_name": "Staff", "anonymous": True}
    assert (await timeline(world, "staff2", t.number))[-1]["author"]["id"] == world.member_ids["staff"]


async def test_editing_keeps_the_previous_body(world, clock):
    t = await world.open("alice")
    m = await world.run("staff", messages.post_message, t.number, "Teh answer")
    clock.advance(minutes=1)
    edited = await world.run("staff", messages.edit_message, m.id, "The answer")
    assert (edited.body, edited.edited_at) == ("The answer", clock.now())
    kept = await fetch(world, select(MessageEdit).where(MessageEdit.message_id == m.id))
    assert [(e.previous_body, e.editor_id) for e in kept] == [("Teh answer", world.member_ids["staff"])]
    event = await last_event(world, ev.MESSAGE_EDITED)
    assert_event(event, world, "staff", number=t.number, before={"body": "Teh answer"}, after={"body": "The answer"})
    staff_view = (await timeline(world, "staff2", t.number))[-1]
    assert staff_view["edits"][0]["previous_body"] == "Teh answer"
    assert (await timeline(world, "alice", t.number))[-1]["edits"] == []


async def test_only_the_author_may_edit_a_message(world):
    t = await world.open("alice")
    m = await world.run("staff", messages.post_message, t.number, "Answer")
    for who in ("staff2", "admin", "alice"):
        with pytest.raises(NotPermitted):
            await world.run(who, messages.edit_message, m.id, "Hijacked")
    assert await fetch(world, select(MessageEdit)) == []


async def test_an_edit_to_the_same_text_records_nothing(world):
    t = await world.open("alice")
    m = await world.run("alice", messages.post_message, t.number, "Same")
    await world.run("alice", messages.edit_message, m.id, "Same")
    assert await fetch(world, select(MessageEdit)) == []


async def test_a_public_message_is_not_edited_once_its_ticket_is_closed(world):
    t = await world.open("alice")
    m = await world.run("staff", messages.post_message, t.number, "Final answer")
    note = await world.run("staff", messages.add_note, t.number, "internal")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("staff", messages.edit_message, m.id, "Rewritten history")
    await world.run("staff", messages.edit_message, note.id, "internal, corrected")
    assert [e.previous_body for e in await fetch(world, select(MessageEdit))] == ["internal"]


async def test_a_note_is_edited_by_its_author_only_while_they_are_staff(world):
    t = await world.open("alice")
    note = await world.run("staff", messages.add_note, t.number, "first thought")
    await world.run("staff", messages.edit_message, note.id, "second thought")
    with pytest.raises(NotFound):
        await world.run("bob", messages.edit_message, note.id, "peek")


async def test_editing_an_unknown_message_is_not_found(world):
    with pytest.raises(NotFound):
        await world.run("staff", messages.edit_message, 123_456, "text")


async def test_a_customer_participant_of_an_anonymous_ticket_is_never_shown_as_staff(world):
    from frontdesk.domain.tickets import anonymous_nickname

    t = await world.open("alice", "Billing", anonymous=True)
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    m = await world.run("bob", messages.post_message, t.number, "same problem here")
    assert (m.author_kind, m.anonymous) == ("customer", True)
    expected = anonymous_nickname(t.id, world.member_ids["bob"])
    for who in ("alice", "staff"):
        author = (await timeline(world, who, t.number))[-1]["author"]
        assert author == {"id": None, "display_name": expected, "anonymous": True}, who
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    from frontdesk.db.models import Transcript

    [transcript] = await fetch(world, select(Transcript.text))
    assert f"{expected} (customer)" in transcript and "Staff (customer)" not in transcript
    assert "Bob" not in transcript


async def test_a_conversation_linked_earlier_in_a_transaction_takes_its_customers_reply_in_it(world):
    # A transaction keeps the participants and conversations it read (a batch of relayed
    # messages reads them once); linking a conversation must make it see the new ones.
    from frontdesk.actions import conversations as conv

    ticket = await world.open("alice")
    bobs = await world.run("staff", conv.start_conversation, customer_id=world.member_ids["bob"], channel="email",
                           body="Bob by email")
    async with world.tx("staff") as tx:
        await messages.post_message(tx, ticket.number, "Looking into it")
        await conv.link_conversation(tx, ticket.number, bobs.id)
        tx.actor = world.actors["bob"]
        reply = await messages.post_message(tx, ticket.number, "Thanks, same for me")
    assert reply.conversation_id == bobs.id


async def test_preloaded_tickets_take_messages_and_see_participants_added_later(world):
    from frontdesk.actions.base import preload_tickets
    from frontdesk.actions.tickets import add_participant

    first, second = await world.open("alice"), await world.open("teamer")
    async with world.tx("staff") as tx:
        await preload_tickets(tx, [first.number, second.number, 999_999])
        assert set(tx.locked_tickets) == {first.number, second.number}
        for ticket in (first, second):
            await messages.post_message(tx, ticket.number, f"Reply on {ticket.number}")
        await add_participant(tx, second.number, world.member_ids["bob"])
        tx.actor = world.actors["bob"]
        bobs = await messages.post_message(tx, second.number, "Bob joins in")
    assert bobs.author_kind == "customer"
    with pytest.raises(NotFound):  # a customer is not told of tickets they may not see
        async with world.tx("bob") as tx:
            await messages.post_message(tx, first.number, "Not my ticket")


async def test_a_message_prepared_before_its_ticket_closed_is_refused_when_finished(world):
    # The relay's group commit checks and adds a batch's messages before it flushes and
    # finishes them; a ticket closed in between (by what an earlier message set off) takes none.
    t = await world.open("alice")
    async with world.tx("alice") as tx:
        prepared = await messages.prepare_message(tx, t.number, "Are you there?")
        tx.actor = world.actors["staff"]
        await lifecycle.close_ticket(tx, t.number, reason="resolved")
        await tx.session.flush()
        tx.actor = world.actors["alice"]
        with pytest.raises(TicketClosed):
            await messages.finish_message(tx, prepared)
