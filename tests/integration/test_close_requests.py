"""Close requests: staff ask, the opener accepts or denies, staff cancel, and an unanswered
request with a close time closes its ticket once, however many sweeps run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, tickets
from frontdesk.actions.close_requests import (
    accept_close_request,
    cancel_close_request,
    close_request_json,
    create_close_request,
    deny_close_request,
    pending_close_request,
    settle_close_request_on_close,
)
from frontdesk.db.models import CloseRequest, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.domain.tickets import Status
from frontdesk.worker.close_requests import expire_close_requests
from tests.integration.helpers import (
    add_customers,
    assert_event,
    count,
    events,
    fetch,
    last_event,
    table_counts,
    ticket,
)


async def requests_of(world, number):
    t = await ticket(world, number)
    return await fetch(world, select(CloseRequest).where(CloseRequest.ticket_id == t.id).order_by(CloseRequest.id))


async def only_request(world, number):
    rows = await requests_of(world, number)
    assert len(rows) == 1, rows
    return rows[0]


async def in_tx(world, who, fn, *args, **kwargs):
    async with world.tx(who) as tx:
        return await fn(tx, *args, **kwargs)


def split(results):
    return [r for r in results if not isinstance(r, BaseException)], \
        [r for r in results if isinstance(r, BaseException)]


# --- creating ------------------------------------------------------------------------------------------------


async def test_staff_create_a_request_with_comment_and_close_time(world):
    clock = world.desk.clock
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, comment="  Fixed in 2.1?  ", close_after="1h30m")
    req = await only_request(world, t.number)
    assert (req.status, req.comment, req.share_comment, req.requested_by_id) == (
        "pending", "Fixed in 2.1?", True, world.member_ids["staff"])
    assert req.created_at == clock.now()
    assert req.close_at == clock.now() + timedelta(minutes=90)
    created = await last_event(world, ev.CLOSE_REQUEST_CREATED)
    assert_event(created, world, "staff", number=t.number)
    assert created.payload["close_request_id"] == req.id
    assert (created.payload["comment"], created.payload["share_comment"], created.payload["close_after"]) == (
        "Fixed in 2.1?", True, "1h30m")
    assert created.payload["close_at"] == req.close_at.isoformat()
    assert (await ticket(world, t.number)).status == "open"


async def test_a_request_without_close_time_or_comment_waits_for_an_answer(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, comment="   ")
    req = await only_request(world, t.number)
    assert (req.comment, req.close_at) == (None, None)


async def test_an_unshared_comment_is_kept_but_hidden_from_customers(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, comment="they never answer", share_comment=False)
    req = await only_request(world, t.number)
    assert req.share_comment is False
    assert (await last_event(world, ev.CLOSE_REQUEST_CREATED)).payload["share_comment"] is False
    assert close_request_json(req)["comment"] == "they never answer"
    assert close_request_json(req, staff=False)["comment"] is None


async def test_a_shared_comment_is_shown_to_customers(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, comment="Solved by the update?")
    req = await only_request(world, t.number)
    assert close_request_json(req, staff=False)["comment"] == "Solved by the update?"


async def test_the_json_leaves_out_a_hidden_member(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number)
    await world.run("alice", deny_close_request, t.number)
    req = await only_request(world, t.number)
    assert close_request_json(req)["answered_by_id"] == world.member_ids["alice"]
    assert close_request_json(req, hidden_member_id=world.member_ids["alice"])["answered_by_id"] is None


async def test_staff_by_any_path_may_create_a_request(world):
    t = await world.open("alice")
    for who in ("roled", "modder", "teamer", "manager"):
        await world.run(who, create_close_request, t.number)
        assert (await requests_of(world, t.number))[-1].requested_by_id == world.member_ids[who]
        await world.run(who, cancel_close_request, t.number)


async def test_customers_cannot_create_a_request(world):
    t = await world.open("alice")
    before = await table_counts(world)
    with pytest.raises(NotPermitted):
        await world.run("alice", create_close_request, t.number)
    with pytest.raises(NotFound):
        await world.run("bob", create_close_request, t.number)
    assert await table_counts(world) == before


@pytest.mark.parametrize("close_after", ["soon", "1h30x", "", "0m", "30m1h", "-5m"])
async def test_a_malformed_close_time_is_refused_naming_close_after_and_saves_nothing(world, close_after):
    t = await world.open("alice")
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", create_close_request, t.number, close_after=close_after)
    assert caught.value.field == "close_after"
    assert await table_counts(world) == before


async def test_a_comment_over_1000_characters_is_refused(world):
    t = await world.open("alice")
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", create_close_request, t.number, comment="x" * 1001)
    assert caught.value.field == "comment"
    assert await table_counts(world) == before
    await world.run("staff", create_close_request, t.number, comment="x" * 1000)
    assert len((await only_request(world, t.number)).comment) == 1000


async def test_share_comment_must_be_a_boolean(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", create_close_request, t.number, share_comment="no")
    assert caught.value.field == "share_comment"
    assert await requests_of(world, t.number) == []


async def test_a_second_pending_request_is_a_conflict(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, comment="first")
    before = await table_counts(world)
    with pytest.raises(Conflict) as caught:
        await world.run("staff2", create_close_request, t.number, comment="second")
    first = await only_request(world, t.number)
    assert caught.value.extra["close_request_id"] == first.id
    assert await table_counts(world) == before


async def test_a_new_request_may_follow_an_answered_one(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number)
    await world.run("alice", deny_close_request, t.number)
    await world.run("staff", create_close_request, t.number)
    assert [r.status for r in await requests_of(world, t.number)] == ["denied", "pending"]


async def test_two_concurrent_requests_on_one_ticket_make_one(world):
    t = await world.open("alice")
    results = await asyncio.gather(in_tx(world, "staff", create_close_request, t.number, comment="a"),
                                   in_tx(world, "staff2", create_close_request, t.number, comment="b"),
                                   return_exceptions=True)
    ok, failed = split(results)
    assert len(ok) == 1 and len(failed) == 1
    assert isinstance(failed[0], Conflict)
    assert [r.comment for r in await requests_of(world, t.number)] == [ok[0].comment]
    assert len(await events(world, ev.CLOSE_REQUEST_CREATED)) == 1


async def test_a_closed_ticket_cannot_get_a_request(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("staff", create_close_request, t.number)
    assert await requests_of(world, t.number) == []


# --- answering -----------------------------------------------------------------------------------------------


async def test_the_opener_accepting_closes_the_ticket_as_resolved(world):
    clock = world.desk.clock
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="2d")
    clock.advance(minutes=5)
    await world.run("alice", accept_close_request, t.number)
    req = await only_request(world, t.number)
    assert (req.status, req.answered_at, req.answered_by_id) == ("accepted", clock.now(), world.member_ids["alice"])
    row = await ticket(world, t.number)
    assert (row.status, row.close_reason, row.closed_by_id, row.closed_at) == (
        "closed", "resolved", world.member_ids["alice"], clock.now())
    accepted = await last_event(world, ev.CLOSE_REQUEST_ACCEPTED)
    assert_event(accepted, world, "alice", number=t.number)
    assert accepted.payload["close_request_id"] == req.id
    closed = await last_event(world, ev.TICKET_CLOSED)
    assert_event(closed, world, "alice", number=t.number, before={"status": "open"}, after={"status": "closed"})
    assert (closed.payload["reason"], closed.payload["cause"], closed.payload["close_request_id"]) == (
        "resolved", "close_request_accepted", req.id)
    assert accepted.id < closed.id
    assert len(await events(world, ev.TRANSCRIPT_CREATED, number=t.number)) == 1


async def test_the_opener_may_accept_even_where_openers_cannot_close(world):
    t = await world.open("alice", "Billing")
    with pytest.raises(NotPermitted):
        await world.run("alice", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("staff", create_close_request, t.number)
    await world.run("alice", accept_close_request, t.number)
    assert (await ticket(world, t.number)).status == "closed"


async def test_the_opener_accepting_closes_a_lockdown_ticket(world):
    t = await world.open("alice")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    await world.run("manager", create_close_request, t.number)
    await world.run("alice", accept_close_request, t.number)
    assert (await ticket(world, t.number)).status == "closed"


async def test_the_opener_denying_keeps_the_ticket_open(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    await world.run("alice", deny_close_request, t.number)
    req = await only_request(world, t.number)
    assert (req.status, req.answered_by_id) == ("denied", world.member_ids["alice"])
    assert (await ticket(world, t.number)).status == "open"
    assert_event(await last_event(world, ev.CLOSE_REQUEST_DENIED), world, "alice", number=t.number)
    assert await events(world, ev.TICKET_CLOSED) == []


async def test_staff_cancel_a_pending_request(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    await world.run("staff2", cancel_close_request, t.number)
    req = await only_request(world, t.number)
    assert (req.status, req.answered_by_id) == ("cancelled", world.member_ids["staff2"])
    cancelled = await last_event(world, ev.CLOSE_REQUEST_CANCELLED)
    assert_event(cancelled, world, "staff2", number=t.number)
    assert (cancelled.payload["close_request_id"], cancelled.payload["cause"]) == (req.id, "cancelled")
    assert (await ticket(world, t.number)).status == "open"


async def test_customers_cannot_cancel(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number)
    with pytest.raises(NotPermitted):
        await world.run("alice", cancel_close_request, t.number)
    with pytest.raises(NotFound):
        await world.run("bob", cancel_close_request, t.number)
    assert (await only_request(world, t.number)).status == "pending"


async def test_only_the_opener_may_accept_or_deny(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    await world.run("staff", create_close_request, t.number)
    before = await table_counts(world)
    for action in (accept_close_request, deny_close_request):
        for who in ("staff", "manager", "bob"):
            with pytest.raises(NotPermitted):
                await world.run(who, action, t.number)
        with pytest.raises(NotFound):
            await world.run("vip", action, t.number)
    assert await table_counts(world) == before
    assert (await only_request(world, t.number)).status == "pending"
    assert (await ticket(world, t.number)).status == "open"


@pytest.mark.parametrize(("who", "action"), [("alice", accept_close_request), ("alice", deny_close_request),
                                             ("staff", cancel_close_request)])
async def test_answering_without_a_pending_request_is_a_conflict(world, who, action):
    t = await world.open("alice")
    with pytest.raises(Conflict, match="no pending close request"):
        await world.run(who, action, t.number)
    await world.run("staff", create_close_request, t.number)
    await world.run("staff", cancel_close_request, t.number)
    with pytest.raises(Conflict, match="no pending close request"):
        await world.run(who, action, t.number)


async def test_a_request_is_answered_only_once(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number)
    await world.run("alice", deny_close_request, t.number)
    with pytest.raises(Conflict):
        await world.run("alice", accept_close_request, t.number)
    assert (await only_request(world, t.number)).status == "denied"
    assert (await ticket(world, t.number)).status == "open"


async def test_closing_the_ticket_otherwise_cancels_the_pending_request(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="1h")

    async def close_and_settle(tx, number):
        closed = await lifecycle.close_ticket(tx, number, reason="duplicate")
        await settle_close_request_on_close(tx, closed)

    await world.run("staff", close_and_settle, t.number)
    req = await only_request(world, t.number)
    assert (req.status, req.answered_by_id) == ("cancelled", world.member_ids["staff"])
    cancelled = await events(world, ev.CLOSE_REQUEST_CANCELLED)
    assert len(cancelled) == 1 and cancelled[0].payload["cause"] == "ticket_closed"
    world.desk.clock.advance(hours=2)
    assert await expire_close_requests(world.desk) == 0
    assert (await ticket(world, t.number)).close_reason == "duplicate"


async def test_the_close_hook_does_nothing_without_a_pending_request(world):
    t = await world.open("alice")
    async with world.tx("staff") as tx:
        row = await lifecycle.close_ticket(tx, t.number, reason="resolved")
        assert await settle_close_request_on_close(tx, row) is None
    assert await events(world, ev.CLOSE_REQUEST_CANCELLED) == []


async def test_the_pending_request_is_found_for_the_ticket_view(world):
    t = await world.open("alice")
    async with world.desk.db.reading() as session:
        assert await pending_close_request(session, t.id) is None
    await world.run("staff", create_close_request, t.number, comment="done?")
    async with world.desk.db.reading() as session:
        found = await pending_close_request(session, t.id)
    assert found is not None and found.comment == "done?"
    await world.run("alice", deny_close_request, t.number)
    async with world.desk.db.reading() as session:
        assert await pending_close_request(session, t.id) is None


# --- expiry --------------------------------------------------------------------------------------------------


async def test_an_unanswered_request_closes_the_ticket_at_its_close_time(world):
    clock = world.desk.clock
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="1h30m")
    clock.advance(minutes=89)
    assert await expire_close_requests(world.desk) == 0
    assert (await ticket(world, t.number)).status == "open"
    assert (await only_request(world, t.number)).status == "pending"
    clock.advance(minutes=1)
    assert await expire_close_requests(world.desk) == 1
    req = await only_request(world, t.number)
    assert (req.status, req.answered_at, req.answered_by_id) == ("expired", clock.now(), None)
    row = await ticket(world, t.number)
    assert (row.status, row.close_reason, row.closed_by_id, row.closed_at) == (
        "closed", "resolved", None, clock.now())
    assert "not answered" in row.close_note
    expired = await last_event(world, ev.CLOSE_REQUEST_EXPIRED)
    assert_event(expired, world, "system", number=t.number)
    assert expired.payload["close_request_id"] == req.id
    closed = await last_event(world, ev.TICKET_CLOSED)
    assert_event(closed, world, "system", number=t.number, before={"status": "open"}, after={"status": "closed"})
    assert (closed.payload["cause"], closed.payload["close_request_id"]) == ("close_request_expired", req.id)
    assert len(await events(world, ev.TRANSCRIPT_CREATED, number=t.number)) == 1


async def test_running_the_sweep_twice_expires_once(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    world.desk.clock.advance(hours=1)
    assert await expire_close_requests(world.desk) == 1
    assert await expire_close_requests(world.desk) == 0
    assert len(await events(world, ev.CLOSE_REQUEST_EXPIRED)) == 1
    assert len(await events(world, ev.TICKET_CLOSED)) == 1


async def test_concurrent_sweeps_expire_each_request_once(world):
    await add_customers(world, 6)
    numbers = []
    for i in range(6):
        t = await world.open(f"cust{i}")
        await world.run("staff", create_close_request, t.number, close_after="30m")
        numbers.append(t.number)
    world.desk.clock.advance(hours=1)
    done = await asyncio.gather(*(expire_close_requests(world.desk) for _ in range(3)))
    assert sum(done) == 6
    # A sweep that skipped a ticket another sweep held finds nothing left afterwards.
    assert await expire_close_requests(world.desk) == 0
    for number in numbers:
        assert (await ticket(world, number)).status == "closed"
        assert len(await events(world, ev.CLOSE_REQUEST_EXPIRED, number=number)) == 1
        assert len(await events(world, ev.TICKET_CLOSED, number=number)) == 1
        assert len(await events(world, ev.TRANSCRIPT_CREATED, number=number)) == 1


async def test_an_accept_racing_the_sweep_settles_the_request_once(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    world.desk.clock.advance(hours=1)
    results = await asyncio.gather(in_tx(world, "alice", accept_close_request, t.number),
                                   expire_close_requests(world.desk), return_exceptions=True)
    accepted, swept = results
    req = await only_request(world, t.number)
    if req.status == "accepted":
        assert swept == 0
    else:
        assert req.status == "expired" and swept == 1
        assert isinstance(accepted, Conflict)
    assert len(await events(world, ev.TICKET_CLOSED)) == 1
    assert (await ticket(world, t.number)).status == "closed"


@pytest.mark.parametrize("answer", ["accept", "deny", "cancel"])
async def test_an_answered_request_never_expires(world, answer):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    if answer == "accept":
        await world.run("alice", accept_close_request, t.number)
    elif answer == "deny":
        await world.run("alice", deny_close_request, t.number)
    else:
        await world.run("staff", cancel_close_request, t.number)
    status = (await only_request(world, t.number)).status
    closes = len(await events(world, ev.TICKET_CLOSED))
    world.desk.clock.advance(days=3)
    assert await expire_close_requests(world.desk) == 0
    assert (await only_request(world, t.number)).status == status
    assert await events(world, ev.CLOSE_REQUEST_EXPIRED) == []
    assert len(await events(world, ev.TICKET_CLOSED)) == closes


async def test_a_request_without_close_time_never_expires(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number)
    world.desk.clock.advance(days=400)
    assert await expire_close_requests(world.desk) == 0
    assert (await only_request(world, t.number)).status == "pending"
    assert (await ticket(world, t.number)).status == "open"


async def test_a_request_on_a_ticket_already_closed_expires_without_closing_it_again(world):
    t = await world.open("alice")
    await world.run("staff", create_close_request, t.number, close_after="30m")
    # A close that did not settle the request (as before the hook existed).
    async with world.tx("system") as tx:
        row = (await tx.session.execute(select(Ticket).where(Ticket.id == t.id))).scalar_one()
        row.status = Status.CLOSED
        row.close_reason = "spam"
    world.desk.clock.advance(hours=1)
    assert await expire_close_requests(world.desk) == 1
    assert (await only_request(world, t.number)).status == "expired"
    assert await events(world, ev.TICKET_CLOSED) == []
    assert (await ticket(world, t.number)).close_reason == "spam"


async def test_the_sweep_takes_the_oldest_due_first_and_at_most_its_limit(world):
    clock = world.desk.clock
    await add_customers(world, 3)
    numbers = []
    for i, after in enumerate(("3h", "1h", "2h")):
        t = await world.open(f"cust{i}")
        await world.run("staff", create_close_request, t.number, close_after=after)
        numbers.append(t.number)
    clock.advance(hours=4)
    assert await expire_close_requests(world.desk, limit=2) == 2
    assert [(await ticket(world, n)).status for n in numbers] == ["open", "closed", "closed"]
    assert await expire_close_requests(world.desk, limit=2) == 1
    assert await count(world, CloseRequest, CloseRequest.status == "pending") == 0


async def test_the_sweep_covers_every_workspace(world):
    from frontdesk.actions import members as m
    from frontdesk.domain.permissions import Actor

    async with world.desk.tx(Actor.system(), 0) as tx:
        other = await m.create_workspace(tx, name="Other desk", timezone="UTC")
        general = await m.create_ticket_type(tx, name="General")
        customer = await m.add_member(tx, display_name="Carl", email="carl@example.com")
        staff = await m.add_member(tx, display_name="Stu", email="stu@example.com", role="staff")
    async with world.desk.tx(Actor.system(), other.id) as tx:
        customer_actor = await m.actor_for_member(tx, customer)
        staff_actor = await m.actor_for_member(tx, staff)
    async with world.desk.tx(customer_actor, other.id) as tx:
        theirs = await tickets.open_ticket(tx, type_id=general.id)
    async with world.desk.tx(staff_actor, other.id) as tx:
        await create_close_request(tx, theirs.number, close_after="10m")
    ours = await world.open("alice")
    await world.run("staff", create_close_request, ours.number, close_after="10m")
    world.desk.clock.advance(minutes=10)
    assert await expire_close_requests(world.desk) == 2
    assert (await ticket(world, ours.number)).status == "closed"
    rows = await fetch(world, select(Ticket.status).where(Ticket.workspace_id == other.id))
    assert rows == ["closed"]
