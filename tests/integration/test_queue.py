"""The staff queue: which tickets each view holds, the counts, the order, pages, and who may see what."""

from __future__ import annotations

import pytest
from sqlalchemy import event, update

from frontdesk.actions import lifecycle, members, merge, messages, tickets
from frontdesk.db.models import Member, Ticket
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.queries.queue import VIEWS, QueuePage, staff_queue
from frontdesk.queries.tickets import TicketFilters, encode_cursor, list_tickets

ALL = 200


async def page(world, who="staff", view="all", limit=ALL, cursor=None) -> QueuePage:
    async with world.desk.read(world.actors[who], world.workspace_id) as tx:
        return await staff_queue(tx, view=view, limit=limit, cursor=cursor)


async def numbers(world, who="staff", view="all") -> list[int]:
    return [i["number"] for i in (await page(world, who, view)).items]


async def vip(world, **kwargs) -> int:
    """A VIP ticket (no open limit) from the VIP customer; staff, modder, teamer and management staff it."""
    return (await world.open("vip", "VIP", **kwargs)).number


async def record_breach(world, number: int) -> None:
    """What the breach sweep does when a first-response target runs out: it records the time."""
    async with world.desk.db.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.workspace_id == world.workspace_id,
                                                   Ticket.number == number)
                              .values(first_response_breached_at=world.desk.clock.now()))


async def a_mixed_queue(world) -> dict[str, int]:
    """Tickets in every situation the views tell apart (some in none, some gone from the queue)."""
    clock = world.desk.clock
    t: dict[str, int] = {}
    t["customer_wrote"] = (await world.open("alice", "General", title="Printer", description="It jams")).number
    t["claimed"] = (await world.open("bob", "General", title="Login")).number
    await world.run("staff", tickets.claim_ticket, t["claimed"])
    t["assigned"] = await vip(world, title="Lounge")
    await world.run("staff", tickets.assign_ticket, t["assigned"], world.member_ids["staff2"])
    t["staff_answered"] = await vip(world, title="Refund", description="Where is my refund?")
    clock.advance(minutes=1)
    await world.run("staff", messages.post_message, t["staff_answered"], "On its way")
    await world.run("staff", tickets.escalate_ticket, t["staff_answered"])
    t["customer_answered_back"] = await vip(world, title="Upgrade", description="How do I upgrade?")
    clock.advance(minutes=1)
    await world.run("staff", messages.post_message, t["customer_answered_back"], "Settings, then Plan")
    clock.advance(minutes=1)
    await world.run("vip", messages.post_message, t["customer_answered_back"], "There is no Plan there")
    t["waiting"] = await vip(world, title="Invoice copy")
    await world.run("staff", tickets.set_status, t["waiting"], "waiting")
    t["in_progress"] = await vip(world, title="Export")
    await world.run("staff", tickets.set_status, t["in_progress"], "in_progress")
    t["resolved"] = await vip(world, title="Solved")
    await world.run("staff", tickets.set_status, t["resolved"], "resolved")
    t["closed"] = await vip(world, title="Done")
    await world.run("staff", lifecycle.close_ticket, t["closed"], reason="resolved")
    t["merged"] = await vip(world, title="Duplicate")
    await world.run("staff", merge.merge_tickets, t["merged"], t["in_progress"])
    return t


async def test_each_view_holds_exactly_the_tickets_that_match_it(world):
    t = await a_mixed_queue(world)
    expected = {
        "all": ["customer_wrote", "claimed", "assigned", "staff_answered", "customer_answered_back", "waiting",
                "in_progress"],
        "unclaimed": ["customer_wrote", "staff_answered", "customer_answered_back", "waiting", "in_progress"],
        "mine": ["claimed"],
        "escalated": ["staff_answered"],
        "awaiting_staff": ["customer_wrote", "customer_answered_back"],
        "awaiting_customer": ["staff_answered"],
    }
    for view, names in expected.items():
        assert sorted(await numbers(world, "staff", view)) == sorted(t[n] for n in names), view
    # "mine" is the caller's: claimed by them or assigned to them.
    assert await numbers(world, "staff2", "mine") == [t["assigned"]]


async def test_counts_give_the_size_of_every_view_whatever_view_is_shown(world):
    await a_mixed_queue(world)
    sizes = {view: len(await numbers(world, "staff", view)) for view in VIEWS}
    assert sizes == {"all": 7, "unclaimed": 5, "mine": 1, "escalated": 1, "awaiting_staff": 2,
                     "awaiting_customer": 1}
    for view in VIEWS:
        assert (await page(world, "staff", view, limit=1)).counts == sizes, view
    assert (await page(world, "staff2")).counts["mine"] == 1


async def test_all_the_counts_come_from_one_query(world):
    await a_mixed_queue(world)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        statements.append(statement.lower())

    engine = world.desk.db.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        current = await page(world, "staff", "mine")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert current.counts["all"] == 7
    assert len([s for s in statements if "count(" in s]) == 1


async def test_each_item_says_whose_turn_it_is_by_who_wrote_last(world):
    clock = world.desk.clock
    number = (await world.open("alice", "General", title="Printer", description="It jams")).number

    async def turn():
        [item] = (await page(world)).items
        return item["awaiting"], await numbers(world, "staff", "awaiting_staff"), \
            await numbers(world, "staff", "awaiting_customer")

    assert await turn() == ("staff", [number], [])
    clock.advance(minutes=5)
    await world.run("staff", messages.post_message, number, "Which model?")
    assert await turn() == ("customer", [], [number])
    clock.advance(minutes=5)
    await world.run("staff", messages.add_note, number, "Probably the old one")  # internal: nobody's turn changes
    assert await turn() == ("customer", [], [number])
    clock.advance(minutes=5)
    await world.run("alice", messages.post_message, number, "The LX-200")
    assert await turn() == ("staff", [number], [])


async def test_a_ticket_nobody_has_written_in_awaits_no_one(world):
    number = await vip(world, title="Quiet")
    [item] = (await page(world)).items
    assert item["number"] == number and item["awaiting"] is None
    counts = (await page(world)).counts
    assert counts["awaiting_staff"] == counts["awaiting_customer"] == 0


async def test_order_is_due_time_then_priority_then_number_with_no_due_time_last(world):
    clock = world.desk.clock
    high = await vip(world, title="high", priority="high")  # first response due at +60
    normal = await vip(world, title="normal")  # due at +240
    no_due_normal = await vip(world, title="waiting normal")
    await world.run("staff", tickets.set_status, no_due_normal, "waiting")
    no_due_urgent = await vip(world, title="waiting urgent", priority="urgent")
    await world.run("staff", tickets.set_status, no_due_urgent, "waiting")
    clock.advance(minutes=45)
    urgent = await vip(world, title="urgent", priority="urgent")  # due at 45 + 15 = +60, as "high"
    urgent_later_number = await vip(world, title="urgent too", priority="urgent")  # the same due time
    low = await vip(world, title="low", priority="low")  # due at 45 + 1440
    items = (await page(world)).items
    assert [i["number"] for i in items] == [urgent, urgent_later_number, high, normal, low,
                                            no_due_urgent, no_due_normal]
    due = {i["number"]: i["sla_due_at"] for i in items}
    assert due[urgent] == due[urgent_later_number] == due[high] is not None
    assert due[no_due_urgent] is None and due[no_due_normal] is None


async def test_raising_the_priority_moves_a_ticket_up_by_its_new_due_time(world):
    first = await vip(world, title="first")
    second = await vip(world, title="second")
    assert await numbers(world) == [first, second]
    await world.run("staff", tickets.set_priority, second, "urgent")
    assert await numbers(world) == [second, first]


async def test_a_breached_ticket_keeps_its_past_due_time_and_comes_first(world):
    clock = world.desk.clock
    late = await vip(world, title="late", description="Hello?")  # normal: first response due at +240
    clock.advance(minutes=300)
    await record_breach(world, late)
    fresh_urgent = await vip(world, title="fresh", priority="urgent")  # due at +315
    items = (await page(world)).items
    assert [i["number"] for i in items] == [late, fresh_urgent]
    assert [i["breached"] for i in items] == [True, False]
    assert items[0]["sla_due_at"] < clock.now().isoformat() < items[1]["sla_due_at"]
    # Answering ends the first-response target; the recorded breach still marks the ticket.
    await world.run("staff", messages.post_message, late, "Sorry for the wait")
    items = (await page(world)).items
    assert [(i["number"], i["breached"]) for i in items] == [(fresh_urgent, False), (late, True)]


async def a_long_queue(world) -> list[int]:
    """Fourteen tickets with ties on due time, on priority within a due time, and no due time."""
    clock = world.desk.clock
    opened = []
    for step in range(7):
        for priority in ("low", "urgent"):
            opened.append(await vip(world, title=f"{priority} {step}", priority=priority))
        if step % 3 == 0:
            await world.run("staff", tickets.set_status, opened[-1], "waiting")
        clock.advance(minutes=step % 2)  # pairs of steps share an opening time
    return opened


@pytest.mark.parametrize("limit", [1, 3, 5])
async def test_pages_cover_the_queue_in_order_without_duplicates_or_gaps(world, limit):
    opened = await a_long_queue(world)
    whole = await numbers(world)
    assert sorted(whole) == sorted(opened)
    seen, cursor = [], None
    for _ in range(-(-len(whole) // limit)):  # exactly as many pages as it takes
        current = await page(world, limit=limit, cursor=cursor)
        assert len(current.items) <= limit
        seen += [i["number"] for i in current.items]
        cursor = current.next_cursor
    assert cursor is None
    assert seen == whole


async def test_a_page_continues_after_the_last_ticket_shown_when_the_queue_changes_between_pages(world):
    opened = [await vip(world, title=f"t{i}") for i in range(5)]
    first = await page(world, view="unclaimed", limit=2)
    assert [i["number"] for i in first.items] == opened[:2]
    for item in first.items:  # the first page's tickets leave the view; an offset would now skip two
        await world.run("staff", tickets.claim_ticket, item["number"])
    second = await page(world, view="unclaimed", limit=2, cursor=first.next_cursor)
    assert [i["number"] for i in second.items] == opened[2:4]
    assert second.counts["unclaimed"] == 3


async def test_a_locked_ticket_is_in_managements_queue_only(world):
    shown = await vip(world, title="ordinary")
    locked = await vip(world, title="sensitive", description="Please keep this private")
    await world.run("manager", tickets.lockdown_ticket, locked)
    for who in ("staff", "modder", "teamer"):
        current = await page(world, who)
        assert [i["number"] for i in current.items] == [shown], who
        assert current.counts["all"] == 1 and current.counts["awaiting_staff"] == 0, who
    for who in ("manager", "owner", "mgmtrole"):
        current = await page(world, who)
        assert sorted(i["number"] for i in current.items) == [shown, locked], who
        assert current.counts["all"] == 2 and current.counts["awaiting_staff"] == 1, who


async def test_the_queue_holds_the_tickets_of_the_types_the_caller_staffs(world):
    general = (await world.open("alice", "General", title="General one")).number
    billing = (await world.open("bob", "Billing", title="Billing one")).number
    vip_ticket = await vip(world, title="VIP one")
    # Opened for roled as a customer: theirs to read, not their work.
    roled_own = (await world.run("staff", tickets.open_ticket, type_id=world.type_ids["VIP"],
                                 opener_id=world.member_ids["roled"], title="Roled's own")).number
    assert sorted(await numbers(world, "roled")) == [general, billing]  # staff of General and Billing by role
    async with world.tx("roled") as tx:
        listed, _ = await list_tickets(tx, TicketFilters())
    assert roled_own in [i["number"] for i in listed]
    everything = sorted([general, billing, vip_ticket, roled_own])
    for who in ("staff", "modder", "teamer", "admin"):
        assert sorted(await numbers(world, who)) == everything, who


async def test_a_team_member_sees_the_tickets_routed_to_their_team(world):
    async with world.tx("owner") as tx:
        member = await members.add_member(tx, display_name="Rita Routed", email="rita@example.com")
        team = await members.create_team(tx, name="Payments", member_ids=[member.id])
    async with world.tx("owner") as tx:
        world.actors["rita"] = await members.actor_for_member(tx, await tx.session.get(Member, member.id))
    routed = await vip(world, title="Card declined", team_id=team.id)
    await vip(world, title="Somebody else's")
    assert await numbers(world, "rita") == [routed]


async def test_customers_may_not_read_the_queue(world):
    await world.open("alice", "General", title="Mine")
    for who in ("alice", "vip"):
        with pytest.raises(NotPermitted):
            await page(world, who)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"view": "everything"}, "view"),
    ({"limit": 0}, "limit"),
    ({"limit": 201}, "limit"),
    ({"cursor": "not a cursor"}, "cursor"),
    ({"cursor": encode_cursor(["a", "list"])}, "cursor"),
    ({"cursor": encode_cursor({"v": "all", "d": None, "p": 2, "n": 2**40})}, "cursor"),
    ({"cursor": encode_cursor({"v": "all", "d": "yesterday", "p": 2, "n": 3})}, "cursor"),
    ({"cursor": encode_cursor({"v": "all", "d": "2026-01-05T09:00:00", "p": 2, "n": 3})}, "cursor"),
    ({"cursor": encode_cursor({"v": "all", "d": None, "p": True, "n": 3})}, "cursor"),
    ({"view": "mine", "cursor": encode_cursor({"v": "all", "d": None, "p": 2, "n": 3})}, "cursor"),
])
async def test_bad_input_is_refused_naming_the_parameter(world, kwargs, field):
    with pytest.raises(ValidationFailed) as raised:
        await page(world, **kwargs)
    assert raised.value.field == field


async def test_a_staff_reply_in_the_same_instant_as_the_customers_message_answers_it(world):
    number = (await world.open("alice", "General", title="Printer", description="It jams")).number
    await world.run("staff", messages.post_message, number, "Try turning it off and on")  # the clock stands still
    assert [i["awaiting"] for i in (await page(world)).items] == ["customer"]
    assert await numbers(world, "staff", "awaiting_customer") == [number]
    assert await numbers(world, "staff", "awaiting_staff") == []
