"""The worker's ticket sweeps: inactivity warning and auto-close, stale nudges, post-close
follow-ups, and what a negative rating sets off. Time moves by hand; nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.db.models import Message, QualityFlag
from frontdesk.domain import events as ev
from frontdesk.worker.runner import Worker
from frontdesk.worker.sweeps import follow_ups, inactivity, stale_nudges
from tests.integration.helpers import events, fetch, ticket
from tests.integration.time_helpers import add_type, clock, configure, now, open_ops


async def bot_messages(world, number):
    t = await ticket(world, number)
    from frontdesk.db.models import Conversation

    return await fetch(world, select(Message.body).join(Conversation, Conversation.id == Message.conversation_id)
                       .where(Conversation.ticket_id == t.id, Message.author_kind == "bot").order_by(Message.id))


# --- inactivity -----------------------------------------------------------------------------------------------


async def test_inactivity_auto_close_after_n_days_without_messages(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d"})
    t = await open_ops(world)
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff"])
    clock(world).advance(days=2, hours=23)
    assert await inactivity(world.desk) == 0
    clock(world).advance(hours=1)
    assert await inactivity(world.desk) == 1
    row = await ticket(world, t.number)
    assert row.status == "closed" and row.close_reason == "user_unresponsive"
    closed = (await events(world, ev.TICKET_CLOSED, number=t.number))[-1]
    assert closed.payload["cause"] == "inactivity"
    assert closed.payload["notify_member_ids"] == [world.member_ids["staff"]]
    assert await inactivity(world.desk) == 0


async def test_inactivity_is_off_unless_enabled(world):
    await add_type(world)
    t = await open_ops(world)
    clock(world).advance(days=60)
    assert await inactivity(world.desk) == 0
    assert (await ticket(world, t.number)).status == "open"


async def test_any_message_resets_the_inactivity_timer(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d"})
    t = await open_ops(world)
    clock(world).advance(days=2)
    await world.run("staff", messages.post_message, t.number, "Still looking")
    clock(world).advance(days=2)
    assert await inactivity(world.desk) == 0
    clock(world).advance(days=1)
    assert await inactivity(world.desk) == 1


async def test_customer_messages_only_mode_staff_replies_restart_but_do_not_extend(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d", "activity": "customer"})
    t = await open_ops(world)
    clock(world).advance(days=2)
    await world.run("staff", messages.post_message, t.number, "Can you send the log?")  # restarts: closes day 5
    clock(world).advance(days=2)
    await world.run("staff", messages.post_message, t.number, "Any news?")  # does not extend
    clock(world).advance(days=1)
    assert await inactivity(world.desk) == 1
    assert (await ticket(world, t.number)).status == "closed"


async def test_customer_messages_only_mode_customer_messages_count(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d", "activity": "customer"})
    t = await open_ops(world)
    await world.run("staff", messages.post_message, t.number, "Can you send the log?")
    clock(world).advance(days=2)
    await world.run("bob", messages.post_message, t.number, "Here it is")
    clock(world).advance(days=2)
    assert await inactivity(world.desk) == 0


async def test_escalated_tickets_get_the_longer_timeout(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "2d", "escalated_after": "5d"})
    plain = await open_ops(world)
    escalated = await open_ops(world)
    await world.run("staff", tickets.escalate_ticket, escalated.number)
    clock(world).advance(days=3)
    assert await inactivity(world.desk) == 1
    assert (await ticket(world, escalated.number)).status != "closed"
    assert (await ticket(world, plain.number)).status == "closed"
    clock(world).advance(days=2)
    assert await inactivity(world.desk) == 1


async def test_pinned_tickets_are_exempt_from_auto_close(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "1d", "warn_before": "12h"})
    t = await open_ops(world)
    await world.run("staff", tickets.pin_ticket, t.number)
    clock(world).advance(days=30)
    assert await inactivity(world.desk) == 0
    assert (await ticket(world, t.number)).status == "open"


async def test_the_inactivity_warning_is_posted_once_before_the_close(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d", "warn_before": "1d"})
    t = await open_ops(world)
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff2"])
    clock(world).advance(days=1, hours=23)
    assert await inactivity(world.desk) == 0
    clock(world).advance(hours=1)
    assert await inactivity(world.desk) == 1
    assert await inactivity(world.desk) == 0
    warnings = await events(world, ev.TICKET_INACTIVITY_WARNING, number=t.number)
    assert len(warnings) == 1
    assert warnings[0].payload["notify_member_ids"] == [world.member_ids["staff2"]]
    assert warnings[0].payload["close_at"] == (now(world) + timedelta(days=1)).isoformat()
    [text] = await bot_messages(world, t.number)
    assert "will close" in text
    # The warning itself is not activity: the ticket still closes on time.
    clock(world).advance(days=1)
    assert await inactivity(world.desk) == 1
    assert (await ticket(world, t.number)).status == "closed"


async def test_new_activity_after_a_warning_earns_a_new_warning_later(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "3d", "warn_before": "1d"})
    t = await open_ops(world)
    clock(world).advance(days=2)
    await inactivity(world.desk)
    clock(world).advance(minutes=5)
    await world.run("bob", messages.post_message, t.number, "I am still here")
    clock(world).advance(days=2)
    assert await inactivity(world.desk) == 1
    assert len(await events(world, ev.TICKET_INACTIVITY_WARNING, number=t.number)) == 2
    assert (await ticket(world, t.number)).status == "open"


async def test_concurrent_inactivity_sweeps_close_each_ticket_once(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "1d"})
    numbers = [(await open_ops(world)).number for _ in range(6)]
    clock(world).advance(days=2)
    done = await asyncio.gather(inactivity(world.desk), inactivity(world.desk), inactivity(world.desk))
    assert sum(done) == 6
    closes = await events(world, ev.TICKET_CLOSED)
    assert sorted(e.payload["ticket_number"] for e in closes) == sorted(numbers)


# --- stale nudges ---------------------------------------------------------------------------------------------


async def test_a_stale_ticket_gets_one_nudge_with_the_custom_message(world):
    await add_type(world)
    await configure(world, stale_nudge={"enabled": True, "after": "24h", "message": "Still need help?"})
    t = await open_ops(world)
    clock(world).advance(hours=23)
    assert await stale_nudges(world.desk) == 0
    clock(world).advance(hours=1)
    assert await stale_nudges(world.desk) == 1
    clock(world).advance(hours=48)
    assert await stale_nudges(world.desk) == 0
    assert await bot_messages(world, t.number) == ["Still need help?"]
    assert len(await events(world, ev.TICKET_NUDGED, number=t.number)) == 1


async def test_a_nudge_comes_again_only_after_new_activity_and_another_quiet_spell(world):
    await add_type(world)
    await configure(world, stale_nudge={"enabled": True, "after": "24h"})
    t = await open_ops(world)
    clock(world).advance(hours=25)
    await stale_nudges(world.desk)
    clock(world).advance(minutes=5)
    await world.run("bob", messages.post_message, t.number, "yes please")
    clock(world).advance(hours=25)
    assert await stale_nudges(world.desk) == 1
    assert len(await bot_messages(world, t.number)) == 2


async def test_resolved_and_closed_tickets_are_not_nudged(world):
    await add_type(world)
    await configure(world, stale_nudge={"enabled": True, "after": "1h"})
    a = await open_ops(world)
    b = await open_ops(world)
    await world.run("staff", tickets.set_status, a.number, "resolved")
    await world.run("staff", lifecycle.close_ticket, b.number, reason="resolved")
    clock(world).advance(hours=5)
    assert await stale_nudges(world.desk) == 0


# --- post-close follow-up --------------------------------------------------------------------------------------


async def test_a_follow_up_asks_after_a_close_whether_the_issue_was_solved(world):
    await add_type(world)
    await configure(world, follow_up={"enabled": True, "after": "1d", "message": "Solved for good?"})
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    clock(world).advance(hours=23)
    assert await follow_ups(world.desk) == 0
    clock(world).advance(hours=1)
    assert await follow_ups(world.desk) == 1
    assert await follow_ups(world.desk) == 0
    [sent] = await events(world, ev.TICKET_FOLLOW_UP, number=t.number)
    assert sent.payload == {"ticket_number": t.number, "kind": "post_close", "message": "Solved for good?",
                            "recipient_id": world.member_ids["bob"]}
    assert (await ticket(world, t.number)).follow_up_sent_at == now(world)


async def test_no_follow_up_after_inactivity_or_lockdown_closes(world):
    await add_type(world)
    await configure(world, follow_up={"enabled": True, "after": "1h"}, inactivity={"enabled": True, "after": "1d"})
    idle = await open_ops(world)
    locked = await open_ops(world)
    await world.run("manager", tickets.lockdown_ticket, locked.number)
    await world.run("manager", lifecycle.close_ticket, locked.number, reason="resolved")
    clock(world).advance(days=2)
    await inactivity(world.desk)
    assert (await ticket(world, idle.number)).status == "closed"
    clock(world).advance(days=2)
    assert await follow_ups(world.desk) == 0
    assert await events(world, ev.TICKET_FOLLOW_UP) == []


async def test_a_reopened_ticket_gets_no_follow_up(world):
    await add_type(world)
    await configure(world, follow_up={"enabled": True, "after": "1h"})
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("staff", lifecycle.reopen_ticket, t.number)
    clock(world).advance(hours=2)
    assert await follow_ups(world.desk) == 0


# --- negative CSAT ---------------------------------------------------------------------------------------------


async def test_negative_csat_after_close_creates_a_quality_flag_and_an_event(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("bob", lifecycle.rate_ticket, t.number, "not_helpful", comment="slow")
    flags = await fetch(world, select(QualityFlag))
    assert [(f.kind, f.detail, f.resolved_at) for f in flags] == [("negative_csat", {"comment": "slow"}, None)]
    assert len(await events(world, ev.CSAT_NEGATIVE, number=t.number)) == 1
    assert len(await events(world, ev.QUALITY_FLAG_CREATED, number=t.number)) == 1
    assert await events(world, ev.TICKET_FOLLOW_UP) == []


async def test_negative_csat_follow_up_sends_the_custom_message_when_enabled(world):
    await add_type(world)
    await configure(world, negative_csat={"follow_up": True, "message": "We will look again."})
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("bob", lifecycle.rate_ticket, t.number, "not_helpful")
    [sent] = await events(world, ev.TICKET_FOLLOW_UP, number=t.number)
    assert (sent.payload["kind"], sent.payload["message"]) == ("negative_csat", "We will look again.")


async def test_a_helpful_rating_raises_no_flag(world):
    await add_type(world)
    t = await open_ops(world)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("bob", lifecycle.rate_ticket, t.number, "helpful")
    assert await fetch(world, select(QualityFlag)) == []


# --- the worker as a whole --------------------------------------------------------------------------------------


async def test_run_once_runs_every_sweep_and_reports_what_each_did(world):
    await add_type(world)
    await configure(world, inactivity={"enabled": True, "after": "1d"}, stale_nudge={"enabled": True, "after": "1h"})
    await open_ops(world, priority="urgent")
    clock(world).advance(hours=1)
    first = await Worker(world.desk).run_once()
    assert first["sla_breaches"] == 1 and first["stale_nudges"] == 1 and first["inactivity"] == 0
    clock(world).advance(days=2)
    second = await Worker(world.desk).run_once()
    assert second["inactivity"] == 1 and second["sla_breaches"] == 1  # the resolution target, two hours in
    third = await Worker(world.desk).run_once()
    assert set(third.values()) == {0}
