"""Closing (with its transcript), reopening and rating tickets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, members, messages, tickets
from frontdesk.actions.messages import NewAttachment
from frontdesk.db.models import Transcript
from frontdesk.domain import events as ev
from frontdesk.domain.errors import (
    Conflict,
    NotFound,
    NotPermitted,
    TicketClosed,
    TicketNotClosed,
    ValidationFailed,
)
from tests.integration.helpers import assert_event, count, events, fetch, last_event, table_counts, ticket


async def transcripts_of(world, number):
    t = await ticket(world, number)
    return await fetch(world, select(Transcript).where(Transcript.ticket_id == t.id).order_by(Transcript.id))


async def test_closing_records_reason_note_time_and_who(world, clock):
    t = await world.open("alice")
    clock.advance(hours=2)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved", note="  Fixed in 2.1  ")
    row = await ticket(world, t.number)
    assert (row.status, row.close_reason, row.close_note, row.closed_at, row.closed_by_id) == (
        "closed", "resolved", "Fixed in 2.1", clock.now(), world.member_ids["staff"])
    closed = await last_event(world, ev.TICKET_CLOSED)
    assert_event(closed, world, "staff", number=t.number, before={"status": "open"}, after={"status": "closed"})
    assert (closed.payload["reason"], closed.payload["note"], closed.payload["lockdown"]) == (
        "resolved", "Fixed in 2.1", False)


async def test_every_close_reason_is_accepted(world):
    for reason in ("resolved", "duplicate", "user_unresponsive", "out_of_scope", "spam", "other"):
        t = await world.open("alice")
        await world.run("staff", lifecycle.close_ticket, t.number, reason=reason)
        assert (await ticket(world, t.number)).close_reason == reason


async def test_closing_needs_a_known_reason_and_a_short_note(world):
    t = await world.open("alice")
    for kwargs, field in [
        ({"reason": ""}, "reason"),
        ({"reason": "bored"}, "reason"),
        ({"reason": "resolved", "note": "x" * 501}, "note"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            await world.run("staff", lifecycle.close_ticket, t.number, **kwargs)
        assert caught.value.field == field
    assert (await ticket(world, t.number)).status == "open"


async def test_a_note_of_exactly_500_characters_is_accepted(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="other", note="n" * 500)
    assert len((await ticket(world, t.number)).close_note) == 500


async def test_the_opener_may_close_when_the_type_lets_them(world):
    t = await world.open("alice", "General")
    await world.run("alice", lifecycle.close_ticket, t.number, reason="resolved")
    assert (await ticket(world, t.number)).closed_by_id == world.member_ids["alice"]


async def test_the_opener_may_not_close_when_the_type_does_not_let_them(world):
    t = await world.open("alice", "Billing")
    with pytest.raises(NotPermitted):
        await world.run("alice", lifecycle.close_ticket, t.number, reason="resolved")
    assert (await ticket(world, t.number)).status == "open"
    await world.run("roled", lifecycle.close_ticket, t.number, reason="resolved")
    assert (await ticket(world, t.number)).status == "closed"


async def test_participants_and_strangers_cannot_close(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    with pytest.raises(NotPermitted):
        await world.run("bob", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(NotFound):
        await world.run("vip", lifecycle.close_ticket, t.number, reason="resolved")


async def test_closing_a_closed_ticket_is_refused_and_changes_nothing(world, clock):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    before = await table_counts(world)
    clock.advance(minutes=1)
    with pytest.raises(TicketClosed):
        await world.run("staff2", lifecycle.close_ticket, t.number, reason="spam")
    assert await table_counts(world) == before
    assert (await ticket(world, t.number)).close_reason == "resolved"


async def test_the_transcript_holds_public_messages_only(world):
    t = await world.open("alice", title="Broken <login>", description="I cannot log in <script>x()</script>")
    await world.run("staff", messages.add_note, t.number, "INTERNAL: customer owes us money")
    first = await world.run("staff", messages.post_message, t.number, "Please reset your password")
    await world.run("alice", messages.post_message, t.number, "That worked", reply_to_id=first.id,
                    attachments=[NewAttachment("proof.png", "image/png", data=b"png-bytes")])
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved", note="Password reset")
    [transcript] = await transcripts_of(world, t.number)
    assert transcript.message_count == 3
    for text in (transcript.html, transcript.text):
        assert "INTERNAL" not in text and "owes us money" not in text
    assert "<script>" not in transcript.html
    assert "&lt;script&gt;" in transcript.html
    assert "I cannot log in <script>x()</script>" in transcript.text
    assert "Please reset your password" in transcript.text and "That worked" in transcript.text
    assert "  > Please reset your password" in transcript.text
    assert "[attachment] proof.png" in transcript.text
    assert "Alice Customer (customer)" in transcript.text and "Sam Staff (staff)" in transcript.text
    assert "Close note: Password reset" in transcript.text
    created = await last_event(world, ev.TRANSCRIPT_CREATED)
    assert_event(created, world, "staff", number=t.number)
    assert created.payload["transcript_id"] == transcript.id


async def test_the_transcript_of_an_anonymous_ticket_does_not_name_the_opener(world):
    t = await world.open("alice", anonymous=True, description="secret issue")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    [transcript] = await transcripts_of(world, t.number)
    assert "Alice" not in transcript.text and "Alice" not in transcript.html
    assert "secret issue" in transcript.text


async def test_a_transcript_expires_after_the_workspaces_retention(world, clock):
    t = await world.open("alice")
    await world.run("admin", members.update_workspace, settings={"transcript_retention_days": 30})
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    [transcript] = await transcripts_of(world, t.number)
    assert transcript.expires_at == clock.now() + timedelta(days=30)


async def test_closing_without_a_transcript_when_asked(world):
    t = await world.open("alice")
    await world.run("system", lifecycle.close_ticket, t.number, reason="user_unresponsive", transcript=False)
    assert await transcripts_of(world, t.number) == []
    assert await events(world, ev.TRANSCRIPT_CREATED) == []


async def test_staff_reopen_a_closed_ticket_clearing_close_and_rating(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved", note="done")
    await world.run("alice", lifecycle.rate_ticket, t.number, "not_helpful", comment="not fixed")
    await world.run("staff", lifecycle.reopen_ticket, t.number)
    row = await ticket(world, t.number)
    assert (row.status, row.close_reason, row.close_note, row.closed_at, row.closed_by_id, row.csat,
            row.csat_comment, row.rated_at) == ("open", None, None, None, None, None, None, None)
    reopened = await last_event(world, ev.TICKET_REOPENED)
    assert_event(reopened, world, "staff", number=t.number, after={"status": "open"})
    assert reopened.payload["before"]["close_reason"] == "resolved"
    assert reopened.payload["before"]["csat"] == "not_helpful"
    # it can be written in again
    await world.run("alice", messages.post_message, t.number, "thanks for reopening")


async def test_reopening_an_open_ticket_is_refused(world):
    t = await world.open("alice")
    with pytest.raises(TicketNotClosed):
        await world.run("staff", lifecycle.reopen_ticket, t.number)


async def test_customers_cannot_reopen(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(NotPermitted):
        await world.run("alice", lifecycle.reopen_ticket, t.number)


async def test_closing_again_after_reopening_makes_a_second_transcript(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("staff", lifecycle.reopen_ticket, t.number)
    await world.run("staff", messages.post_message, t.number, "after reopen")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    first, second = await transcripts_of(world, t.number)
    assert "after reopen" not in first.text and "after reopen" in second.text


async def test_the_opener_rates_a_closed_ticket(world, clock):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("alice", lifecycle.rate_ticket, t.number, "helpful", comment="  great  ")
    row = await ticket(world, t.number)
    assert (row.csat, row.csat_comment, row.rated_at) == ("helpful", "great", clock.now())
    submitted = await last_event(world, ev.CSAT_SUBMITTED)
    assert_event(submitted, world, "alice", number=t.number, before={"csat": None}, after={"csat": "helpful"})
    assert await events(world, ev.CSAT_NEGATIVE) == []


async def test_a_not_helpful_rating_emits_csat_negative(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("alice", lifecycle.rate_ticket, t.number, "not_helpful", comment="still broken")
    negative = await last_event(world, ev.CSAT_NEGATIVE)
    assert_event(negative, world, "alice", number=t.number)
    assert negative.payload["comment"] == "still broken"


async def test_only_the_opener_rates(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    for who in ("staff", "bob", "owner"):
        with pytest.raises(NotPermitted):
            await world.run(who, lifecycle.rate_ticket, t.number, "helpful")


async def test_a_ticket_is_rated_only_after_close(world):
    t = await world.open("alice")
    with pytest.raises(TicketNotClosed):
        await world.run("alice", lifecycle.rate_ticket, t.number, "helpful")


async def test_a_rating_is_given_once_but_a_skip_may_be_replaced(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("alice", lifecycle.rate_ticket, t.number, "skipped")
    await world.run("alice", lifecycle.rate_ticket, t.number, "helpful")
    with pytest.raises(Conflict):
        await world.run("alice", lifecycle.rate_ticket, t.number, "not_helpful")
    assert (await ticket(world, t.number)).csat == "helpful"
    assert len(await events(world, ev.CSAT_SUBMITTED)) == 2


async def test_bad_ratings_name_the_field(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", lifecycle.rate_ticket, t.number, "meh")
    assert caught.value.field == "rating"
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", lifecycle.rate_ticket, t.number, "helpful", comment="x" * 1001)
    assert caught.value.field == "comment"
    assert await count(world, Transcript) == 1


async def test_an_anonymous_opener_who_closes_their_ticket_stays_anonymous_to_staff(world):
    from frontdesk.queries.tickets import get_ticket_view

    t = await world.open("alice", anonymous=True)
    await world.run("alice", lifecycle.close_ticket, t.number, reason="resolved")
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
    assert view["closed_by"] == view["opener"]
    assert view["closed_by"]["id"] is None and "Alice" not in view["closed_by"]["display_name"]
    async with world.tx("alice") as tx:
        assert (await get_ticket_view(tx, t.number))["closed_by"]["id"] == world.member_ids["alice"]
