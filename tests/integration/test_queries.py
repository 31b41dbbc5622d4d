"""The read side: which tickets a list shows to whom, filters, search, pages, timelines, events."""

from __future__ import annotations

import pytest

from frontdesk.actions import messages, tickets
from frontdesk.domain import events as ev
from frontdesk.domain.errors import ValidationFailed
from frontdesk.queries.tickets import TicketFilters, list_tickets, ticket_timeline, workspace_events


async def numbers(world, who, filters=None, **kwargs):
    async with world.tx(who) as tx:
        items, _ = await list_tickets(tx, filters or TicketFilters(), **kwargs)
    return [i["number"] for i in items]


async def three_types(world):
    """Ticket 1: alice, General. Ticket 2: bob, Billing. Ticket 3: vip, VIP."""
    g = await world.open("alice", "General", title="Printer jam")
    b = await world.open("bob", "Billing", title="Invoice 100% wrong", description="charged for gold_plan")
    v = await world.open("vip", "VIP", title="VIP lounge")
    return g.number, b.number, v.number


async def test_each_person_lists_exactly_the_tickets_they_may_see(world):
    g, b, v = await three_types(world)
    await world.run("staff", tickets.add_participant, g, world.member_ids["bob"])
    expected = {
        "alice": [g], "bob": [g, b], "vip": [v],
        "roled": [g, b],  # staff of General and Billing by Discord role, not of VIP
        "staff": [g, b, v], "modder": [g, b, v], "teamer": [g, b, v], "owner": [g, b, v], "mgmtrole": [g, b, v],
    }
    for who, visible in expected.items():
        assert sorted(await numbers(world, who)) == visible, who


async def test_a_locked_ticket_leaves_regular_staff_lists_but_not_managements(world):
    g, b, v = await three_types(world)
    await world.run("manager", tickets.lockdown_ticket, g)
    assert sorted(await numbers(world, "staff")) == [b, v]
    assert sorted(await numbers(world, "admin")) == [g, b, v]
    assert await numbers(world, "alice") == [g]


async def test_filters_narrow_the_list(world):
    g, b, v = await three_types(world)
    await world.run("staff", tickets.set_status, b, "waiting")
    await world.run("staff", tickets.set_priority, v, "urgent")
    await world.run("staff", tickets.claim_ticket, g)
    await world.run("staff", tickets.assign_ticket, v, world.member_ids["staff2"])
    await world.run("alice", tickets.escalate_ticket, g, reason="user_requested")
    cases = [
        (TicketFilters(status=["waiting"]), [b]),
        (TicketFilters(status=["open", "waiting"]), [v, b, g]),
        (TicketFilters(priority=["urgent"]), [v]),
        (TicketFilters(claimer_id=world.member_ids["staff"]), [g]),
        (TicketFilters(unclaimed=True), [v, b]),
        (TicketFilters(assignee_id=world.member_ids["staff2"]), [v]),
        (TicketFilters(unassigned=True), [b, g]),
        (TicketFilters(type_id=world.type_ids["Billing"]), [b]),
        (TicketFilters(opener_id=world.member_ids["vip"]), [v]),
        (TicketFilters(escalated=True), [g]),
        (TicketFilters(escalated=False), [v, b]),
    ]
    for filters, expected in cases:
        assert await numbers(world, "staff", filters) == expected, filters


async def test_search_matches_title_public_messages_and_number(world):
    g, b, v = await three_types(world)
    await world.run("staff", messages.add_note, v, "printer secret in a note")
    cases = [("printer", [g]), ("PRINTER JAM", [g]), (f"#{b}", [b]), (str(v), [v]), ("gold_plan", [b]),
             ("100%", [b]), ("_", [b]), ("%", [b]), ("nothing like this", [])]
    for q, expected in cases:
        assert await numbers(world, "staff", TicketFilters(q=q)) == expected, q


async def test_bad_filters_name_the_field(world):
    cases = [(TicketFilters(status=["snoozed"]), {}, "status"), (TicketFilters(priority=["p1"]), {}, "priority"),
             (TicketFilters(q="x" * 201), {}, "q"), (TicketFilters(), {"limit": 0}, "limit"),
             (TicketFilters(), {"limit": 201}, "limit"), (TicketFilters(), {"order": "random"}, "order"),
             (TicketFilters(), {"cursor": "not a cursor"}, "cursor")]
    for filters, kwargs, field in cases:
        with pytest.raises(ValidationFailed) as caught:
            await numbers(world, "staff", filters, **kwargs)
        assert caught.value.field == field


async def test_pages_follow_the_cursor_newest_or_oldest_first(world):
    for who in ("alice", "bob", "vip"):
        await world.open(who, "VIP" if who == "vip" else "General")
    await world.open("staff", "Billing")
    await world.open("staff", "Billing")
    for order, expected in (("newest", [5, 4, 3, 2, 1]), ("oldest", [1, 2, 3, 4, 5])):
        seen, cursor = [], None
        while True:
            async with world.tx("staff") as tx:
                items, cursor = await list_tickets(tx, TicketFilters(), cursor=cursor, limit=2, order=order)
            seen += [i["number"] for i in items]
            if cursor is None:
                break
        assert seen == expected
    async with world.tx("staff") as tx:
        _, newest_cursor = await list_tickets(tx, TicketFilters(), limit=2)
    with pytest.raises(ValidationFailed) as caught:
        await numbers(world, "staff", cursor=newest_cursor, order="oldest")
    assert caught.value.field == "cursor"


async def test_staff_may_hide_notes_from_a_timeline_but_customers_cannot_show_them(world):
    t = await world.open("alice", description="question")
    await world.run("staff", messages.add_note, t.number, "internal")
    async with world.tx("staff") as tx:
        assert [m["body"] for m in await ticket_timeline(tx, t.number, include_internal=False)] == ["question"]
    async with world.tx("alice") as tx:
        assert [m["body"] for m in await ticket_timeline(tx, t.number, include_internal=True)] == ["question"]


async def test_the_workspace_event_feed_leaves_out_tickets_the_reader_may_not_see(world):
    g, b, v = await three_types(world)
    await world.run("manager", tickets.lockdown_ticket, g)
    async with world.tx("staff") as tx:
        feed, _ = await workspace_events(tx, types=[ev.TICKET_OPENED])
    assert [e["ticket_number"] for e in feed] == [b, v]
    async with world.tx("owner") as tx:
        feed, _ = await workspace_events(tx, types=[ev.TICKET_OPENED])
        assert [e["ticket_number"] for e in feed] == [g, b, v]
        later, _ = await workspace_events(tx, after_id=feed[0]["id"], types=[ev.TICKET_OPENED])
    assert [e["ticket_number"] for e in later] == [b, v]
