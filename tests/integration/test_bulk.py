"""Bulk assign, tag and status change: each ticket's result is reported, one refusal undoes nothing else."""

from __future__ import annotations

import pytest

from frontdesk.actions import bulk, lifecycle, tickets
from frontdesk.domain import events as ev
from frontdesk.domain.errors import ValidationFailed
from tests.integration.helpers import assert_event, events, table_counts, tags, ticket


async def three_tickets(world):
    return [(await world.open(who)).number for who in ("alice", "bob", "vip")]


def outcome(results):
    return [(r.ticket_number, r.ok, r.error_code) for r in results]


async def test_bulk_assign_assigns_every_ticket_and_reports_each(world):
    numbers = await three_tickets(world)
    results = await world.run("manager", bulk.bulk_assign, numbers, world.member_ids["staff"])
    assert outcome(results) == [(n, True, None) for n in numbers]
    for n in numbers:
        assert (await ticket(world, n)).assignee_id == world.member_ids["staff"]
    assigned = await events(world, ev.TICKET_ASSIGNED)
    assert len(assigned) == 3
    for e in assigned:
        assert_event(e, world, "manager", after={"assignee_id": world.member_ids["staff"]})


async def test_one_refused_ticket_does_not_undo_the_others(world):
    first, second, third = await three_tickets(world)
    await world.run("staff", lifecycle.close_ticket, second, reason="resolved")
    results = await world.run("manager", bulk.bulk_assign, [first, second, 404, third], world.member_ids["staff"])
    assert outcome(results) == [(first, True, None), (second, False, "ticket_closed"), (404, False, "not_found"),
                                (third, True, None)]
    assert results[1].message
    assert (await ticket(world, first)).assignee_id == world.member_ids["staff"]
    assert (await ticket(world, second)).assignee_id is None
    assert (await ticket(world, third)).assignee_id == world.member_ids["staff"]
    assert sorted(e.payload["ticket_number"] for e in await events(world, ev.TICKET_ASSIGNED)) == [first, third]


async def test_a_ticket_the_actor_may_not_change_is_reported_not_permitted(world):
    # roled is staff on General and Billing (by Discord role) but not on VIP.
    general = (await world.open("alice", "General")).number
    vip = (await world.open("vip", "VIP")).number
    results = await world.run("roled", bulk.bulk_tag, [general, vip], add=["triaged"])
    assert outcome(results) == [(general, True, None), (vip, False, "not_found")]
    assert await tags(world, general) == ["triaged"]
    assert await tags(world, vip) == []


async def test_bulk_tag_adds_and_removes_normalised_tags(world):
    numbers = await three_tickets(world)
    await world.run("staff", tickets.add_tag, numbers[0], "stale")
    results = await world.run("staff", bulk.bulk_tag, numbers, add=["After Weekend"], remove=["STALE"])
    assert all(r.ok for r in results)
    for n in numbers:
        assert await tags(world, n) == ["after-weekend"]
    assert len(await events(world, ev.TICKET_TAG_ADDED)) == 4
    assert len(await events(world, ev.TICKET_TAG_REMOVED)) == 1


async def test_a_bad_tag_fails_every_ticket_and_changes_nothing(world):
    numbers = await three_tickets(world)
    results = await world.run("staff", bulk.bulk_tag, numbers, add=["fine", "x" * 51])
    assert outcome(results) == [(n, False, "validation_failed") for n in numbers]
    for n in numbers:
        assert await tags(world, n) == []
    assert await events(world, ev.TICKET_TAG_ADDED) == []


async def test_bulk_status_changes_each_ticket(world):
    numbers = await three_tickets(world)
    results = await world.run("staff", bulk.bulk_status, numbers, "waiting")
    assert all(r.ok for r in results)
    for n in numbers:
        assert (await ticket(world, n)).status == "waiting"
    assert len(await events(world, ev.TICKET_STATUS_CHANGED)) == 3


async def test_bulk_close_needs_a_reason(world):
    numbers = await three_tickets(world)
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", bulk.bulk_status, numbers, "closed")
    assert caught.value.field == "reason"
    assert await table_counts(world) == before


async def test_bulk_close_closes_each_ticket_with_its_transcript(world):
    first, second, third = await three_tickets(world)
    await world.run("staff", lifecycle.close_ticket, second, reason="resolved")
    results = await world.run("staff", bulk.bulk_status, [first, second, third], "closed", reason="spam",
                              note="bot wave")
    assert outcome(results) == [(first, True, None), (second, False, "ticket_closed"), (third, True, None)]
    for n in (first, third):
        row = await ticket(world, n)
        assert (row.status, row.close_reason, row.close_note) == ("closed", "spam", "bot wave")
    assert len(await events(world, ev.TICKET_CLOSED)) == 3
    assert len(await events(world, ev.TRANSCRIPT_CREATED)) == 3


async def test_bulk_input_is_validated(world):
    for numbers, status, field in [([], "waiting", "numbers"), (list(range(1, 502)), "waiting", "numbers"),
                                   ([1], "snoozed", "status")]:
        with pytest.raises(ValidationFailed) as caught:
            await world.run("staff", bulk.bulk_status, numbers, status)
        assert caught.value.field == field


async def test_bulk_tag_needs_something_to_do(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", bulk.bulk_tag, [1])
    assert caught.value.field == "add"


async def test_a_ticket_listed_twice_is_changed_once(world):
    numbers = await three_tickets(world)
    results = await world.run("staff", bulk.bulk_tag, [numbers[0], numbers[0]], add=["once"])
    assert outcome(results) == [(numbers[0], True, None)]
