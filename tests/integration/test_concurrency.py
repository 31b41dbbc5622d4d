"""Concurrent transactions on one ticket or one workspace, on both databases: row locks (and
SQLite's single writer) must make the rules hold when requests race."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from frontdesk.actions import merge, tickets
from frontdesk.db.models import Ticket
from frontdesk.domain.errors import AlreadyClaimed, MergeRefused, OpenLimitReached
from tests.integration.helpers import add_customers, fetch, ticket


async def _in_tx(world, who, action, *args, **kwargs):
    async with world.tx(who) as tx:
        return await action(tx, *args, **kwargs)


def _split(results):
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    return ok, failed


async def test_two_concurrent_claims_one_wins_the_other_gets_conflict(world):
    t = await world.open("alice")
    results = await asyncio.gather(_in_tx(world, "staff", tickets.claim_ticket, t.number),
                                   _in_tx(world, "staff2", tickets.claim_ticket, t.number),
                                   return_exceptions=True)
    ok, failed = _split(results)
    assert len(ok) == 1 and len(failed) == 1
    assert isinstance(failed[0], AlreadyClaimed)
    winner = ok[0].claimer_id
    assert winner in (world.member_ids["staff"], world.member_ids["staff2"])
    assert (await ticket(world, t.number)).claimer_id == winner


async def test_two_concurrent_opens_by_one_user_against_a_limit_of_one_create_one_ticket(world):
    general = world.type_ids["General"]
    results = await asyncio.gather(_in_tx(world, "alice", tickets.open_ticket, type_id=general, title="first"),
                                   _in_tx(world, "alice", tickets.open_ticket, type_id=general, title="second"),
                                   return_exceptions=True)
    ok, failed = _split(results)
    assert len(ok) == 1 and len(failed) == 1
    assert isinstance(failed[0], OpenLimitReached)
    rows = await fetch(world, select(Ticket).where(Ticket.opener_id == world.member_ids["alice"]))
    assert [r.title for r in rows] == [ok[0].title]


async def test_ticket_numbers_stay_sequential_and_unique_under_20_concurrent_opens(world):
    await add_customers(world, 20)
    general = world.type_ids["General"]
    results = await asyncio.gather(*(_in_tx(world, f"cust{i}", tickets.open_ticket, type_id=general)
                                     for i in range(20)), return_exceptions=True)
    ok, failed = _split(results)
    assert failed == []
    assert sorted(t.number for t in ok) == list(range(1, 21))
    rows = await fetch(world, select(Ticket.number).where(Ticket.workspace_id == world.workspace_id))
    assert sorted(rows) == list(range(1, 21))
    # the opener of each number is the one who got it back
    by_number = {t.number: t.opener_id for t in ok}
    for number in (1, 20):
        assert (await ticket(world, number)).opener_id == by_number[number]


async def test_two_crossing_merges_do_not_deadlock_and_only_one_happens(world):
    a = await world.open("alice")
    b = await world.open("bob")
    results = await asyncio.gather(_in_tx(world, "staff", merge.merge_tickets, a.number, b.number),
                                   _in_tx(world, "staff2", merge.merge_tickets, b.number, a.number),
                                   return_exceptions=True)
    ok, failed = _split(results)
    assert len(ok) == 1 and len(failed) == 1
    assert isinstance(failed[0], MergeRefused)
    statuses = sorted([(await ticket(world, a.number)).status, (await ticket(world, b.number)).status])
    assert statuses == ["closed", "open"]


async def test_concurrent_claim_and_unclaim_leave_a_consistent_claim(world):
    t = await world.open("alice")
    for _ in range(3):
        await asyncio.gather(_in_tx(world, "staff", tickets.claim_ticket, t.number),
                             _in_tx(world, "manager", tickets.unclaim_ticket, t.number),
                             return_exceptions=True)
        claimer = (await ticket(world, t.number)).claimer_id
        assert claimer in (None, world.member_ids["staff"])
        await _in_tx(world, "manager", tickets.unclaim_ticket, t.number)
