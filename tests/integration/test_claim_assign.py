"""Claim ("I'm working this") and assign ("you'll handle this")."""

from __future__ import annotations

import pytest

from frontdesk.actions import lifecycle, tickets
from frontdesk.domain import events as ev
from frontdesk.domain.errors import AlreadyClaimed, NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.queries.tickets import get_ticket_view
from tests.integration.helpers import assert_event, events, last_event, ticket


async def test_staff_claim_a_ticket(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    assert (await ticket(world, t.number)).claimer_id == world.member_ids["staff"]
    assert_event(await last_event(world, ev.TICKET_CLAIMED), world, "staff", number=t.number,
                 before={"claimer_id": None}, after={"claimer_id": world.member_ids["staff"]})


async def test_staff_by_any_path_may_claim(world):
    t = await world.open("alice")
    for who in ("roled", "modder", "teamer", "manager", "mgmtrole"):
        await world.run(who, tickets.claim_ticket, t.number)
        assert (await ticket(world, t.number)).claimer_id == world.member_ids[who]
        await world.run(who, tickets.unclaim_ticket, t.number)


async def test_claiming_your_own_claim_again_changes_nothing(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    await world.run("staff", tickets.claim_ticket, t.number)
    assert len(await events(world, ev.TICKET_CLAIMED)) == 1


async def test_a_ticket_claimed_by_someone_else_cannot_be_claimed(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    with pytest.raises(AlreadyClaimed) as caught:
        await world.run("staff2", tickets.claim_ticket, t.number)
    assert caught.value.extra["claimer_id"] == world.member_ids["staff"]
    assert (await ticket(world, t.number)).claimer_id == world.member_ids["staff"]


async def test_customers_cannot_claim(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.claim_ticket, t.number)
    with pytest.raises(NotFound):
        await world.run("bob", tickets.claim_ticket, t.number)


async def test_a_closed_ticket_cannot_be_claimed(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("staff", tickets.claim_ticket, t.number)


async def test_the_claimer_unclaims(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    await world.run("staff", tickets.unclaim_ticket, t.number)
    assert (await ticket(world, t.number)).claimer_id is None
    assert_event(await last_event(world, ev.TICKET_UNCLAIMED), world, "staff", number=t.number,
                 before={"claimer_id": world.member_ids["staff"]}, after={"claimer_id": None})


async def test_other_staff_may_release_someone_elses_claim(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    await world.run("staff2", tickets.unclaim_ticket, t.number)
    assert (await ticket(world, t.number)).claimer_id is None
    await world.run("staff2", tickets.claim_ticket, t.number)
    assert (await ticket(world, t.number)).claimer_id == world.member_ids["staff2"]


async def test_a_customer_cannot_release_a_claim(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.unclaim_ticket, t.number)
    assert (await ticket(world, t.number)).claimer_id == world.member_ids["staff"]


async def test_unclaiming_an_unclaimed_ticket_records_nothing(world):
    t = await world.open("alice")
    await world.run("staff", tickets.unclaim_ticket, t.number)
    assert await events(world, ev.TICKET_UNCLAIMED) == []


async def test_assigning_to_staff_of_the_type(world):
    t = await world.open("alice")
    await world.run("manager", tickets.assign_ticket, t.number, world.member_ids["roled"])
    assert (await ticket(world, t.number)).assignee_id == world.member_ids["roled"]
    assert_event(await last_event(world, ev.TICKET_ASSIGNED), world, "manager", number=t.number,
                 before={"assignee_id": None}, after={"assignee_id": world.member_ids["roled"]})


async def test_the_assignee_must_be_staff_for_the_type(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["bob"])
    assert caught.value.field == "assignee_id"
    # the Discord staff role of General does not make staff on VIP
    vip = await world.open("vip", "VIP")
    with pytest.raises(ValidationFailed):
        await world.run("staff", tickets.assign_ticket, vip.number, world.member_ids["roled"])


async def test_an_unknown_assignee_is_refused_naming_the_field(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.assign_ticket, t.number, 999_999)
    assert caught.value.field == "assignee_id"


async def test_unassigning(world):
    t = await world.open("alice")
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff2"])
    await world.run("staff", tickets.assign_ticket, t.number, None)
    assert (await ticket(world, t.number)).assignee_id is None
    assert_event(await last_event(world, ev.TICKET_UNASSIGNED), world, "staff", number=t.number,
                 before={"assignee_id": world.member_ids["staff2"]}, after={"assignee_id": None})


async def test_customers_cannot_assign(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.assign_ticket, t.number, world.member_ids["staff"])


async def test_a_closed_ticket_cannot_be_assigned(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff"])


async def test_claim_and_assignment_can_differ_on_one_ticket(world):
    t = await world.open("alice")
    await world.run("staff", tickets.claim_ticket, t.number)
    await world.run("manager", tickets.assign_ticket, t.number, world.member_ids["staff2"])
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
    assert view["claimer"]["id"] == world.member_ids["staff"]
    assert view["assignee"]["id"] == world.member_ids["staff2"]


async def test_a_locked_ticket_is_assigned_to_management_only(world):
    t = await world.open("alice")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    with pytest.raises(ValidationFailed) as caught:
        await world.run("manager", tickets.assign_ticket, t.number, world.member_ids["staff"])
    assert caught.value.field == "assignee_id"
    await world.run("manager", tickets.assign_ticket, t.number, world.member_ids["admin"])
    assert (await ticket(world, t.number)).assignee_id == world.member_ids["admin"]


async def test_a_member_of_the_team_a_ticket_is_routed_to_may_be_assigned(world):
    t = await world.open("vip", "VIP")
    with pytest.raises(ValidationFailed):
        await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["bob"])
    from frontdesk.actions import members

    team = await world.run("admin", members.create_team, name="Concierge", member_ids=[world.member_ids["bob"]])
    await world.run("staff", tickets.set_team, t.number, team.id)
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["bob"])
    assert (await ticket(world, t.number)).assignee_id == world.member_ids["bob"]
