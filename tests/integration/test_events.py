"""The event log: every action appends its event (actor, ticket, before/after), and an action
that fails leaves no row behind: no ticket, no conversation, no event."""

from __future__ import annotations

from typing import Any

import pytest

from frontdesk.actions import bulk, lifecycle, members, merge, messages, tickets
from frontdesk.actions import conversations as conv
from frontdesk.db.models import Conversation, Event, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import DomainError
from frontdesk.queries.tickets import ticket_events
from tests.integration.helpers import assert_event, count, events, table_counts

# (actor, action, args, kwargs, event type, before, after) run in order on ticket 1, opened by alice.
# ``before``/``after`` of None means the event carries none (it records a fact, not a change).
STEPS: list[tuple[str, Any, tuple[Any, ...], dict[str, Any], str, Any, Any]] = [
    ("staff", tickets.claim_ticket, (1,), {}, ev.TICKET_CLAIMED, {"claimer_id": None}, {"claimer_id": "staff"}),
    ("staff", tickets.unclaim_ticket, (1,), {}, ev.TICKET_UNCLAIMED, {"claimer_id": "staff"}, {"claimer_id": None}),
    ("manager", tickets.assign_ticket, (1, "staff2"), {}, ev.TICKET_ASSIGNED, {"assignee_id": None},
     {"assignee_id": "staff2"}),
    ("manager", tickets.assign_ticket, (1, None), {}, ev.TICKET_UNASSIGNED, {"assignee_id": "staff2"},
     {"assignee_id": None}),
    ("staff", tickets.set_status, (1, "waiting"), {}, ev.TICKET_STATUS_CHANGED, {"status": "open"},
     {"status": "waiting"}),
    ("staff", tickets.set_priority, (1, "high"), {}, ev.TICKET_PRIORITY_CHANGED, {"priority": "normal"},
     {"priority": "high"}),
    ("staff", tickets.add_tag, (1, "Refund"), {}, ev.TICKET_TAG_ADDED, {"tags": []}, {"tags": ["refund"]}),
    ("staff", tickets.remove_tag, (1, "refund"), {}, ev.TICKET_TAG_REMOVED, {"tags": ["refund"]}, {"tags": []}),
    ("staff", tickets.set_custom_field, (1, "plan", "plus"), {}, ev.TICKET_FIELD_SET, {"plan": None},
     {"plan": "plus"}),
    ("staff", tickets.rename_ticket, (1, "Renamed"), {}, ev.TICKET_RENAMED,
     {"title": "General request", "channel_name": "alice-customer"}, {"title": "Renamed", "channel_name": "renamed"}),
    ("staff", tickets.move_ticket, (1, "Billing"), {}, ev.TICKET_MOVED, {"type_id": "General"},
     {"type_id": "Billing"}),
    ("staff", tickets.set_team, (1, "Tier 2"), {}, ev.TICKET_TEAM_CHANGED, {"team_id": None},
     {"team_id": "Tier 2"}),
    ("staff", tickets.add_participant, (1, "bob"), {}, ev.TICKET_PARTICIPANT_ADDED, {"participant_ids": []},
     {"participant_ids": ["bob"]}),
    ("staff", tickets.remove_participant, (1, "bob"), {}, ev.TICKET_PARTICIPANT_REMOVED,
     {"participant_ids": ["bob"]}, {"participant_ids": []}),
    ("staff", tickets.add_participant, (1, "vip"), {"kind": "contact"}, ev.TICKET_CONTACT_ADDED,
     {"contact_ids": []}, {"contact_ids": ["vip"]}),
    ("staff", tickets.remove_participant, (1, "vip"), {"kind": "contact"}, ev.TICKET_CONTACT_REMOVED,
     {"contact_ids": ["vip"]}, {"contact_ids": []}),
    ("staff", tickets.pin_ticket, (1,), {}, ev.TICKET_PINNED, {"pinned": False}, {"pinned": True}),
    ("staff", tickets.unpin_ticket, (1,), {}, ev.TICKET_UNPINNED, {"pinned": True}, {"pinned": False}),
    ("alice", tickets.escalate_ticket, (1,), {"reason": "user_requested"}, ev.TICKET_ESCALATED,
     {"escalated": False}, {"escalated": True}),
    ("manager", tickets.lockdown_ticket, (1,), {}, ev.TICKET_LOCKED, {"lockdown": False}, {"lockdown": True}),
    ("manager", tickets.unlock_ticket, (1,), {}, ev.TICKET_UNLOCKED, {"lockdown": True}, {"lockdown": False}),
    ("staff", messages.post_message, (1, "public reply"), {}, ev.MESSAGE_CREATED, None, None),
    ("staff", messages.add_note, (1, "internal"), {}, ev.NOTE_CREATED, None, None),
    ("staff", lifecycle.close_ticket, (1,), {"reason": "resolved"}, ev.TICKET_CLOSED, {"status": "waiting"},
     {"status": "closed"}),
    ("alice", lifecycle.rate_ticket, (1, "not_helpful"), {}, ev.CSAT_SUBMITTED, {"csat": None},
     {"csat": "not_helpful"}),
    ("staff", lifecycle.reopen_ticket, (1,), {}, ev.TICKET_REOPENED, None, {"status": "open"}),
]


def _resolve(world, value: Any) -> Any:
    """Names in the table stand for ids of the world: people, types and teams."""
    if isinstance(value, str):
        for ids in (world.member_ids, world.type_ids, world.team_ids):
            if value in ids:
                return ids[value]
    if isinstance(value, dict):
        return {k: _resolve(world, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(world, v) for v in value]
    return value


async def test_every_ticket_action_appends_its_event_with_actor_ticket_and_before_after(world):
    t = await world.open("alice")
    seen = {e.id for e in await events(world)}
    for who, action, args, kwargs, event_type, before, after in STEPS:
        resolved = tuple(_resolve(world, a) if i else a for i, a in enumerate(args))
        await world.run(who, action, *resolved, **kwargs)
        new = [e for e in await events(world) if e.id not in seen]
        seen |= {e.id for e in new}
        mine = [e for e in new if e.type == event_type]
        assert len(mine) == 1, f"{action.__name__} wrote {[e.type for e in new]}"
        assert_event(mine[0], world, who, number=t.number, before=_resolve(world, before),
                     after=_resolve(world, after))
        if before is None:
            assert "before" not in mine[0].payload or action is lifecycle.reopen_ticket
        assert mine[0].occurred_at == world.desk.clock.now()


async def test_the_audit_log_of_a_ticket_lists_its_events_in_order_for_staff_only(world):
    t = await world.open("alice", description="hi")
    await world.run("staff", tickets.claim_ticket, t.number)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    async with world.tx("staff2") as tx:
        log, cursor = await ticket_events(tx, t.number)
    assert [e["type"] for e in log] == [ev.TICKET_OPENED, ev.MESSAGE_CREATED, ev.TICKET_CLAIMED, ev.TICKET_CLOSED,
                                        ev.TRANSCRIPT_CREATED]
    assert cursor is None and all(e["ticket_number"] == t.number for e in log)
    from frontdesk.domain.errors import NotPermitted

    with pytest.raises(NotPermitted):
        async with world.tx("alice") as tx:
            await ticket_events(tx, t.number)


async def test_merge_and_conversation_actions_name_their_actor_and_ticket(world):
    a = await world.open("alice")
    b = await world.open("bob")
    c = await world.run("staff", conv.start_conversation, channel="email", customer_id=world.member_ids["bob"])
    await world.run("staff", conv.link_conversation, b.number, c.id)
    await world.run("staff", conv.unlink_conversation, b.number, c.id)
    await world.run("staff", merge.merge_tickets, a.number, b.number)
    await world.run("manager", merge.unmerge_ticket, a.number)
    for event_type, who, number in [(ev.CONVERSATION_LINKED, "staff", b.number),
                                    (ev.CONVERSATION_UNLINKED, "staff", b.number),
                                    (ev.TICKET_MERGED, "staff", a.number), (ev.TICKET_MERGED, "staff", b.number),
                                    (ev.TICKET_UNMERGED, "manager", a.number),
                                    (ev.TICKET_UNMERGED, "manager", b.number)]:
        [event] = await events(world, event_type, number=number)
        assert_event(event, world, who, number=number)


# --- failed actions leave nothing behind --------------------------------------------------------------------


async def _open_then_fail(tx, world):
    alice = world.member_ids["alice"]
    t = await tickets.open_ticket(tx, type_id=world.type_ids["General"], opener_id=alice, description="first")
    await tickets.add_tag(tx, t.number, "fine")
    await tickets.open_ticket(tx, type_id=world.type_ids["Billing"], opener_id=alice,
                              custom_fields={"no_such_field": 1})


async def _convert_over_the_limit(tx, world):
    # the conversation is created and flushed, then opening its ticket hits the limit
    c = await conv.start_conversation(tx, channel="email", customer_id=world.member_ids["bob"], body="hello")
    await conv.convert_to_ticket(tx, c.id, type_id=world.type_ids["General"])


async def _team_with_unknown_member(tx, world):
    await members.create_team(tx, name="New team", member_ids=[world.member_ids["bob"], 999_999])


async def _member_with_taken_email(tx, world):
    await members.add_member(tx, display_name="Fresh", email="fresh@example.com")
    await members.update_member(tx, world.member_ids["bob"], {"email": "fresh@example.com"})


async def _bulk_close_without_reason(tx, world):
    await bulk.bulk_status(tx, [1], "closed")


async def _close_then_post(tx, world):
    await lifecycle.close_ticket(tx, 1, reason="resolved")
    await messages.post_message(tx, 1, "after close")


async def _merge_into_itself(tx, world):
    await messages.add_note(tx, 1, "a note first")
    await merge.merge_tickets(tx, 1, 1)


FAILURES = [
    ("staff", _open_then_fail, "validation_failed"),
    ("staff", _convert_over_the_limit, "open_limit_reached"),
    ("admin", _team_with_unknown_member, "validation_failed"),
    ("admin", _member_with_taken_email, "conflict"),
    ("staff", _bulk_close_without_reason, "validation_failed"),
    ("staff", _close_then_post, "ticket_closed"),
    ("staff", _merge_into_itself, "merge_refused"),
]


async def test_a_failed_action_leaves_no_rows_behind(world):
    await world.open("bob", description="existing ticket 1")
    for who, failing, code in FAILURES:
        before = await table_counts(world)
        with pytest.raises(DomainError) as caught:
            async with world.tx(who) as tx:
                await failing(tx, world)
        assert caught.value.code == code, failing.__name__
        assert await table_counts(world) == before, failing.__name__
    assert await count(world, Ticket) == 1
    assert await count(world, Conversation) == 1
    assert await count(world, Event, Event.type == ev.TICKET_CLOSED) == 0


async def test_rows_inserted_together_in_one_flush_each_get_their_own_id(world):
    # A flush inserts many rows of a table in one statement (the relay's group commit writes
    # a batch's messages and events so); each object must come back with its own row's id.
    from sqlalchemy import select

    async with world.tx("staff") as tx:
        recorded = [await tx.record("test.batch", order=i) for i in range(40)]
        await tx.session.flush()
        ids = [e.id for e in recorded]
        rows = dict((await tx.session.execute(select(Event.id, Event.payload).where(Event.id.in_(ids)))).all())
    assert len(set(ids)) == 40
    assert [rows[i]["order"] for i in ids] == list(range(40))
