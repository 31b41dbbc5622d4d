"""Every trigger fires rules inside the triggering action's transaction (time triggers from the
worker's sweeps), and only for the events it names."""

from __future__ import annotations

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.domain import events as ev
from frontdesk.worker.sweeps import sla_breaches, stale_nudges
from tests.integration.helpers import events, tags
from tests.integration.rule_helpers import add_rule, leaf, runs
from tests.integration.time_helpers import add_type, clock, configure, open_ops

TAG = [{"type": "add_tag", "tag": "fired"}]


async def test_ticket_opened_runs_in_the_opening_transaction_as_the_desk_naming_the_rule(world):
    await add_type(world)
    rule_id = await add_rule(world, "ticket_opened", TAG)
    t = await open_ops(world)
    assert await tags(world, t.number) == ["fired"]
    added = (await events(world, ev.TICKET_TAG_ADDED, number=t.number))[0]
    assert added.actor_kind == "system" and added.actor_id is None
    assert added.payload["rule_id"] == rule_id
    opened = (await events(world, ev.TICKET_OPENED, number=t.number))[0]
    [run] = await runs(world, rule_id=rule_id)
    assert run.event_id == opened.id and run.depth == 0 and run.error is None
    assert run.changes == [{"action": "add_tag", "events": [
        {"type": "ticket.tag_added", "tag": "fired", "before": {"tags": []}, "after": {"tags": ["fired"]}}]}]


async def test_message_received_fires_on_public_customer_messages_only(world):
    await add_type(world)
    t = await open_ops(world, description=None)
    await add_rule(world, "message_received", TAG)
    await world.run("staff", messages.post_message, t.number, "staff reply")
    await world.run("staff", messages.add_note, t.number, "internal")
    assert await tags(world, t.number) == []
    await world.run("bob", messages.post_message, t.number, "customer writes")
    assert await tags(world, t.number) == ["fired"]


async def test_keyword_matches_whole_words_and_phrases_case_insensitively(world):
    await add_type(world)
    t = await open_ops(world, description=None)
    rule_id = await add_rule(world, "keyword", [{"type": "set_priority", "priority": "high"}],
                             keywords=["refund", "money back"])
    await world.run("bob", messages.post_message, t.number, "my refunds page is slow")
    assert (await tickets_row(world, t.number)).priority == "normal"
    await world.run("bob", messages.post_message, t.number, "I want my MONEY   back!")
    assert (await tickets_row(world, t.number)).priority == "high"
    assert len(await runs(world, rule_id=rule_id)) == 1


async def tickets_row(world, number):
    from tests.integration.helpers import ticket

    return await ticket(world, number)


async def test_status_changed_sees_before_and_after(world):
    await add_type(world)
    t = await open_ops(world)
    await add_rule(world, "status_changed", TAG, conditions={"all": [
        leaf("event.before.status", "equals", "open"), leaf("event.after.status", "equals", "waiting")]})
    await world.run("staff", tickets.set_status, t.number, "in_progress")
    assert await tags(world, t.number) == []
    await world.run("staff", tickets.set_status, t.number, "open")
    await world.run("staff", tickets.set_status, t.number, "waiting")
    assert await tags(world, t.number) == ["fired"]


async def test_priority_changed_escalates_urgent_tickets(world):
    await add_type(world)
    t = await open_ops(world)
    await add_rule(world, "priority_changed", [{"type": "escalate", "note": "urgent now"}],
                   conditions={"all": [leaf("ticket.priority", "greater_or_equal", "urgent")]})
    await world.run("staff", tickets.set_priority, t.number, "high")
    assert not (await tickets_row(world, t.number)).escalated
    await world.run("staff", tickets.set_priority, t.number, "urgent")
    assert (await tickets_row(world, t.number)).escalated
    escalated = (await events(world, ev.TICKET_ESCALATED, number=t.number))[0]
    assert escalated.payload["reason"] == "rule" and escalated.payload["note"] == "urgent now"


async def test_tag_added_and_escalated_chain_into_a_manager_notification(world):
    await add_type(world)
    t = await open_ops(world)
    await add_rule(world, "tag_added", [{"type": "escalate"}], conditions={"all": [leaf("event.tag", "equals", "vip")]})
    rule_id = await add_rule(world, "escalated", [{"type": "notify_managers",
                                                   "message": "Ticket {ticket.number} escalated"}])
    await world.run("staff", tickets.add_tag, t.number, "vip")
    alert = (await events(world, ev.ALERT_RAISED, number=t.number))[0]
    assert alert.payload["kind"] == "rule" and alert.payload["rule_id"] == rule_id
    assert alert.payload["message"] == f"Ticket {t.number} escalated"
    assert alert.payload["rule_name"] == "escalated rule"
    [run] = await runs(world, rule_id=rule_id)
    assert run.depth == 1


async def test_csat_submitted_and_csat_negative_see_the_rating(world):
    await add_type(world)
    t = await open_ops(world)
    await add_rule(world, "csat_submitted", [{"type": "add_note", "text": "rated"}],
                   conditions={"all": [leaf("csat.rating", "in", ["helpful", "not_helpful"])]})
    await add_rule(world, "csat_negative", [{"type": "add_note", "text": "unhappy {user}"}])
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("bob", lifecycle.rate_ticket, t.number, "not_helpful")
    from tests.integration.rule_helpers import bodies

    assert await bodies(world, t.number, visibility="internal") == ["rated", "unhappy Bob Customer"]


async def test_sla_breach_reaches_rules_through_the_breach_pass(world):
    await add_type(world)
    t = await open_ops(world, priority="urgent")
    rule_id = await add_rule(world, "sla_breach", [{"type": "add_tag", "tag": "breached"}],
                             conditions={"all": [leaf("event.target", "equals", "first_response")]})
    clock(world).advance(minutes=16)
    assert await sla_breaches(world.desk) == 1
    assert await tags(world, t.number) == ["breached"]
    breach = (await events(world, ev.SLA_BREACH, number=t.number))[0]
    [run] = await runs(world, rule_id=rule_id)
    assert run.event_id == breach.id


async def test_ticket_stale_fires_from_the_stale_nudge_sweep(world):
    await add_type(world)
    await configure(world, stale_nudge={"enabled": True, "after": "24h"})
    t = await open_ops(world)
    await add_rule(world, "ticket_stale", [{"type": "set_status", "status": "waiting"}])
    clock(world).advance(hours=25)
    assert await stale_nudges(world.desk) == 1
    assert (await tickets_row(world, t.number)).status == "waiting"


async def test_ticket_stale_fires_without_a_nudge_when_the_nudge_message_is_null(world):
    from tests.integration.rule_helpers import bodies

    await add_type(world)
    await configure(world, stale_nudge={"enabled": True, "after": "24h", "message": None})
    t = await open_ops(world)
    await add_rule(world, "ticket_stale", [{"type": "add_tag", "tag": "stale"}])
    clock(world).advance(hours=25)
    assert await stale_nudges(world.desk) == 1
    assert await stale_nudges(world.desk) == 0  # once per quiet spell
    assert await tags(world, t.number) == ["stale"]
    assert await bodies(world, t.number, author_kind="bot") == []
    assert [e.type for e in await events(world, number=t.number) if e.type in (ev.TICKET_STALE, ev.TICKET_NUDGED)] \
        == [ev.TICKET_STALE]


async def test_ticket_closed_sees_the_close_reason(world):
    await add_type(world)
    a, b = await open_ops(world), await open_ops(world)
    await add_rule(world, "ticket_closed", [{"type": "add_note", "text": "closed {ticket.number}"}],
                   conditions={"all": [leaf("event.reason", "equals", "spam")]})
    await world.run("staff", lifecycle.close_ticket, a.number, reason="resolved")
    await world.run("staff", lifecycle.close_ticket, b.number, reason="spam")
    from tests.integration.rule_helpers import bodies

    assert await bodies(world, a.number, visibility="internal") == []
    assert await bodies(world, b.number, visibility="internal") == [f"closed {b.number}"]


async def test_a_disabled_rule_does_not_run_and_is_not_recorded(world):
    await add_type(world)
    await add_rule(world, "ticket_opened", TAG, enabled=False)
    t = await open_ops(world)
    assert await tags(world, t.number) == []
    assert await runs(world) == []


async def test_conditions_read_the_customer_the_message_and_the_clock(world):
    await add_type(world)
    await add_rule(world, "message_received", TAG, conditions={"all": [
        leaf("customer.email_domain", "equals", "EXAMPLE.com"), leaf("customer.role", "equals", "customer"),
        leaf("message.text", "matches", r"order #\d+"), leaf("time.hour", "greater_or_equal", 0),
        leaf("time.weekday", "in", ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        leaf("time.business_hours", "equals", True), leaf("ticket.type", "equals", "ops")]})
    t = await open_ops(world, description="about order #42")
    u = await open_ops(world, description="about my order")
    assert await tags(world, t.number) == ["fired"]
    assert await tags(world, u.number) == []
