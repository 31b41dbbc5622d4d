"""Business hours seen by customers: the away message, and tickets outside hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from frontdesk.actions import messages
from frontdesk.db.models import Conversation, Message
from frontdesk.domain import events as ev
from frontdesk.domain.errors import DeskClosed
from tests.integration.helpers import events, fetch, table_counts, ticket
from tests.integration.time_helpers import add_type, clock, configure, open_ops

WEEKDAYS = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
MONDAY_EVENING = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)   # 20:00 in Berlin
TUESDAY_NOON = datetime(2026, 1, 6, 11, 0, tzinfo=UTC)     # 12:00 in Berlin
TUESDAY_EVENING = datetime(2026, 1, 6, 19, 0, tzinfo=UTC)


async def bot_texts(world, number):
    t = await ticket(world, number)
    return await fetch(world, select(Message.body).join(Conversation, Conversation.id == Message.conversation_id)
                       .where(Conversation.ticket_id == t.id, Message.author_kind == "bot").order_by(Message.id))


async def test_an_away_message_answers_a_customer_writing_outside_hours(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS}, away_message={"enabled": True})
    clock(world).set(MONDAY_EVENING)
    t = await open_ops(world, priority="high")
    [text] = await bot_texts(world, t.number)
    assert "Tuesday 06 January at 09:00 CET" in text
    assert "within 1h" in text
    sent = await events(world, ev.AWAY_MESSAGE_SENT, number=t.number)
    assert sent[0].payload["next_open"] == "2026-01-06T08:00:00+00:00"


async def test_the_away_message_is_sent_once_per_closed_spell(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS}, away_message={"enabled": True,
                                                                            "template": "Away until {next_open}"})
    clock(world).set(MONDAY_EVENING)
    t = await open_ops(world)
    clock(world).advance(hours=1)
    await world.run("bob", messages.post_message, t.number, "hello?")
    assert len(await bot_texts(world, t.number)) == 1
    clock(world).set(TUESDAY_NOON)
    await world.run("bob", messages.post_message, t.number, "anyone?")
    assert len(await bot_texts(world, t.number)) == 1
    clock(world).set(TUESDAY_EVENING)
    await world.run("bob", messages.post_message, t.number, "again")
    assert len(await bot_texts(world, t.number)) == 2


async def test_no_away_message_during_hours_or_when_not_enabled(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS})
    clock(world).set(MONDAY_EVENING)
    quiet = await open_ops(world)
    await configure(world, away_message={"enabled": True})
    clock(world).set(TUESDAY_NOON)
    open_hours = await open_ops(world)
    assert await bot_texts(world, quiet.number) == []
    assert await bot_texts(world, open_hours.number) == []


async def test_staff_writing_outside_hours_gets_no_away_message(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS}, away_message={"enabled": True})
    clock(world).set(TUESDAY_NOON)
    t = await open_ops(world)
    clock(world).set(TUESDAY_EVENING)
    await world.run("staff", messages.post_message, t.number, "Working late")
    assert await bot_texts(world, t.number) == []


async def test_the_away_message_does_not_count_as_activity_or_a_first_response(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS}, away_message={"enabled": True})
    clock(world).set(MONDAY_EVENING)
    t = await open_ops(world)
    row = await ticket(world, t.number)
    assert row.first_response_at is None and row.last_staff_message_at is None
    assert row.activity_at == MONDAY_EVENING


async def test_tickets_outside_hours_are_allowed_by_default(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS})
    clock(world).set(MONDAY_EVENING)
    t = await open_ops(world)
    assert (await ticket(world, t.number)).status == "open"


async def test_new_tickets_can_be_limited_to_business_hours(world):
    await add_type(world)
    await configure(world, business_hours={"weekly": WEEKDAYS}, allow_tickets_outside_hours=False)
    clock(world).set(MONDAY_EVENING)
    before = await table_counts(world)
    with pytest.raises(DeskClosed) as caught:
        await open_ops(world)
    assert caught.value.extra["next_open"] == "2026-01-06T08:00:00+00:00"
    assert await table_counts(world) == before
    # Staff may still open one on a customer's behalf.
    await world.open("staff", "Ops", opener_id=world.member_ids["bob"], description="phoned in")
    clock(world).set(TUESDAY_NOON)
    await open_ops(world)
