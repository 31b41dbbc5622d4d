"""Automatic assignment when a ticket opens: manual only, round robin, load balanced."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, tickets
from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.db.models import AssignmentCursor
from frontdesk.domain import events as ev
from frontdesk.domain.errors import ValidationFailed
from tests.integration.helpers import events, fetch, ticket
from tests.integration.time_helpers import add_type, configure, open_ops
from tests.support import STAFF_ROLE

# Ops has no staff roles and no team, so its eligible staff are the workspace's own staff.
WORKSPACE_STAFF = ("owner", "admin", "manager", "staff", "staff2")


async def assignees(world, numbers):
    return [(await ticket(world, n)).assignee_id for n in numbers]


async def test_manual_mode_assigns_nobody(world):
    await add_type(world)
    t = await open_ops(world)
    assert (await ticket(world, t.number)).assignee_id is None
    assert await events(world, ev.TICKET_ASSIGNED) == []


async def test_round_robin_rotates_through_eligible_staff_in_order(world):
    await add_type(world)
    await configure(world, assignment_mode="round_robin")
    numbers = [(await open_ops(world)).number for _ in range(7)]
    ids = sorted(world.member_ids[k] for k in WORKSPACE_STAFF)
    assert await assignees(world, numbers) == ids + ids[:2]
    event = (await events(world, ev.TICKET_ASSIGNED))[0]
    assert event.payload["cause"] == "auto" and event.payload["mode"] == "round_robin"
    assert event.actor_id == world.member_ids["bob"]


async def test_the_round_robin_position_is_stored_not_kept_in_memory(world):
    await add_type(world)
    await configure(world, assignment_mode="round_robin")
    first = await open_ops(world)
    # A new desk on the same database, as after a restart or in another process.
    other = Desk(world.desk.db, clock=world.desk.clock, files=world.desk.files)
    async with other.tx(world.actors["bob"], world.workspace_id) as tx:
        second = await tickets.open_ticket(tx, type_id=world.type_ids["Ops"], description="again")
    got = await assignees(world, [first.number, second.number])
    ids = sorted(world.member_ids[k] for k in WORKSPACE_STAFF)
    assert got == ids[:2]
    assert await fetch(world, select(AssignmentCursor.last_member_id)) == [ids[1]]


async def test_round_robin_skips_unavailable_members(world):
    await add_type(world)
    await configure(world, assignment_mode="round_robin")
    for key in ("owner", "admin", "manager"):
        await world.run("owner", m.update_member, world.member_ids[key], {"available": False})
    numbers = [(await open_ops(world)).number for _ in range(4)]
    a, b = sorted((world.member_ids["staff"], world.member_ids["staff2"]))
    assert await assignees(world, numbers) == [a, b, a, b]


async def test_eligible_staff_follow_the_types_staff_roles(world):
    await add_type(world, "Roled", staff_role_ids=[STAFF_ROLE])
    await configure(world, assignment_mode="round_robin")
    numbers = [(await open_ops(world, type_name="Roled")).number for _ in range(2)]
    assert await assignees(world, numbers) == [world.member_ids["roled"]] * 2


async def test_eligible_staff_follow_the_types_team(world):
    await add_type(world, "Tiered", team_id=world.team_ids["Tier 2"])
    await configure(world, assignment_mode="load_balanced")
    t = await open_ops(world, type_name="Tiered")
    assert (await ticket(world, t.number)).assignee_id == world.member_ids["teamer"]


async def test_load_balanced_picks_the_fewest_open_assigned_tickets(world):
    await add_type(world)
    await configure(world, assignment_mode="load_balanced")
    ids = sorted(world.member_ids[k] for k in WORKSPACE_STAFF)
    numbers = [(await open_ops(world)).number for _ in range(5)]
    assert sorted(await assignees(world, numbers)) == ids  # one each, ties by lowest id first
    assert await assignees(world, numbers) == ids
    # Closing one of the third person's tickets makes them the least loaded.
    await world.run("staff", lifecycle.close_ticket, numbers[2], reason="resolved")
    nxt = await open_ops(world)
    assert (await ticket(world, nxt.number)).assignee_id == ids[2]


async def test_load_balanced_counts_manual_assignments_too(world):
    await add_type(world)
    ids = sorted(world.member_ids[k] for k in WORKSPACE_STAFF)
    for _ in range(2):
        t = await open_ops(world)
        await world.run("staff", tickets.assign_ticket, t.number, ids[0])
    await configure(world, assignment_mode="load_balanced")
    t = await open_ops(world)
    assert (await ticket(world, t.number)).assignee_id == ids[1]


async def test_a_type_overrides_the_workspace_mode(world):
    await add_type(world, settings={"assignment_mode": "manual"})
    await add_type(world, "Auto", settings={"assignment_mode": "round_robin"})
    await configure(world, assignment_mode="load_balanced")
    manual = await open_ops(world)
    auto = await open_ops(world, type_name="Auto")
    assert (await ticket(world, manual.number)).assignee_id is None
    assert (await ticket(world, auto.number)).assignee_id is not None


async def test_nobody_eligible_leaves_the_ticket_unassigned(world):
    await add_type(world, "Nobody", staff_role_ids=["999999999999999999"])
    await configure(world, assignment_mode="round_robin")
    t = await open_ops(world, type_name="Nobody")
    assert (await ticket(world, t.number)).assignee_id is None


async def test_an_unknown_mode_is_refused_and_nothing_changes(world):
    with pytest.raises(ValidationFailed) as caught:
        await configure(world, assignment_mode="coin_flip")
    assert caught.value.field == "settings.assignment_mode"
    await add_type(world)
    assert (await ticket(world, (await open_ops(world)).number)).assignee_id is None


async def test_simultaneous_opens_spread_over_the_staff(world, db_kind):
    """Opened at the same moment (on PostgreSQL, on separate connections), tickets do not all
    land on the same person: the cursor row makes the choices take turns."""
    await add_type(world)
    await configure(world, assignment_mode="round_robin")
    customers = [f"c{i}" for i in range(10)]
    from tests.integration.helpers import add_customers

    await add_customers(world, len(customers), prefix="c")

    async def one(who):
        return (await open_ops(world, who)).number

    numbers = await asyncio.gather(*(one(c) for c in customers))
    counts = Counter(await assignees(world, numbers))
    assert set(counts) == {world.member_ids[k] for k in WORKSPACE_STAFF}
    assert sorted(counts.values()) == [2, 2, 2, 2, 2]


async def test_simultaneous_opens_balance_the_load(world):
    await add_type(world)
    await configure(world, assignment_mode="load_balanced")
    from tests.integration.helpers import add_customers

    await add_customers(world, 10, prefix="d")
    numbers = await asyncio.gather(*((open_ops(world, f"d{i}")) for i in range(10)))
    counts = Counter(await assignees(world, [t.number for t in numbers]))
    assert sorted(counts.values()) == [2, 2, 2, 2, 2]


async def test_the_permission_views_of_many_members_are_each_their_own(world):
    # What the Discord relay reads for a batch of authors at once: each member's own teams.
    from frontdesk.actions.members import actor_for_member, actors_for_members
    from frontdesk.db.models import Member

    keys = ["teamer", "alice", "staff", "roled"]
    async with world.tx("owner") as tx:
        members = [await tx.session.get(Member, world.member_ids[k]) for k in keys]
        together = await actors_for_members(tx, members)
        alone = [await actor_for_member(tx, m) for m in members]
    assert together == alone
    assert together[0].team_ids == {world.team_ids["Tier 2"]} and not together[1].team_ids


async def test_permission_views_are_read_for_one_workspace_at_a_time(world):
    from frontdesk.actions.members import actors_for_members
    from frontdesk.db.models import Member

    async with world.tx("owner") as tx:
        member = await tx.session.get(Member, world.member_ids["alice"])
        stranger = Member(id=-1, workspace_id=member.workspace_id + 1, display_name="Elsewhere", role="customer")
        with pytest.raises(ValidationFailed) as caught:
            await actors_for_members(tx, [member, stranger])
    assert "one workspace" in caught.value.message
