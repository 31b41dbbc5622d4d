"""Changing a ticket: status, priority, tags, custom fields, title, type, team, people, pin,
escalation and lockdown."""

from __future__ import annotations

import pytest

from frontdesk.actions import lifecycle, members, messages, tickets
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.queries.tickets import TicketFilters, get_ticket_view, list_tickets, ticket_timeline
from tests.integration.helpers import assert_event, events, last_event, tags, ticket


async def view(world, who, number):
    async with world.tx(who) as tx:
        return await get_ticket_view(tx, number)


# --- status and priority ------------------------------------------------------------------------------------


async def test_staff_set_any_status_but_closed(world):
    t = await world.open("alice")
    previous = "open"
    for status in ("in_progress", "waiting", "resolved", "open"):
        await world.run("staff", tickets.set_status, t.number, status)
        assert (await ticket(world, t.number)).status == status
        changed = await last_event(world, ev.TICKET_STATUS_CHANGED)
        assert_event(changed, world, "staff", number=t.number, before={"status": previous}, after={"status": status})
        previous = status


async def test_closed_cannot_be_set_directly(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.set_status, t.number, "closed")
    assert caught.value.field == "status"
    with pytest.raises(ValidationFailed):
        await world.run("staff", tickets.set_status, t.number, "snoozed")
    assert (await ticket(world, t.number)).status == "open"


async def test_a_closed_ticket_leaves_closed_only_by_reopening(world):
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("staff", tickets.set_status, t.number, "open")


async def test_setting_the_same_status_records_nothing(world):
    t = await world.open("alice")
    await world.run("staff", tickets.set_status, t.number, "open")
    assert await events(world, ev.TICKET_STATUS_CHANGED) == []


async def test_customers_cannot_change_status(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.set_status, t.number, "resolved")


async def test_priority_changes_are_recorded(world):
    t = await world.open("alice")
    await world.run("staff", tickets.set_priority, t.number, "urgent")
    assert (await ticket(world, t.number)).priority == "urgent"
    assert_event(await last_event(world, ev.TICKET_PRIORITY_CHANGED), world, "staff", number=t.number,
                 before={"priority": "normal"}, after={"priority": "urgent"})
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.set_priority, t.number, "critical")
    assert caught.value.field == "priority"
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.set_priority, t.number, "low")


# --- tags ---------------------------------------------------------------------------------------------------


async def test_tags_are_normalised_when_added_and_removed(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_tag, t.number, "  Refund Request ")
    await world.run("staff", tickets.add_tag, t.number, "VIP")
    assert await tags(world, t.number) == ["refund-request", "vip"]
    added = await last_event(world, ev.TICKET_TAG_ADDED)
    assert_event(added, world, "staff", number=t.number, before={"tags": ["refund-request"]},
                 after={"tags": ["refund-request", "vip"]})
    assert added.payload["tag"] == "vip"
    await world.run("staff", tickets.remove_tag, t.number, "REFUND request")
    assert await tags(world, t.number) == ["vip"]
    removed = await last_event(world, ev.TICKET_TAG_REMOVED)
    assert_event(removed, world, "staff", number=t.number, before={"tags": ["refund-request", "vip"]},
                 after={"tags": ["vip"]})


async def test_adding_a_tag_twice_or_removing_a_missing_tag_records_nothing(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_tag, t.number, "refund")
    await world.run("staff", tickets.add_tag, t.number, "Refund")
    await world.run("staff", tickets.remove_tag, t.number, "never-there")
    assert len(await events(world, ev.TICKET_TAG_ADDED)) == 1
    assert await events(world, ev.TICKET_TAG_REMOVED) == []


async def test_empty_or_long_tags_are_refused(world):
    t = await world.open("alice")
    for bad in ("", "   ", "x" * 51):
        with pytest.raises(ValidationFailed) as caught:
            await world.run("staff", tickets.add_tag, t.number, bad)
        assert caught.value.field == "tag"
    await world.run("staff", tickets.add_tag, t.number, "x" * 50)
    assert await tags(world, t.number) == ["x" * 50]


async def test_customers_cannot_tag(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.add_tag, t.number, "urgent")


async def test_tags_filter_the_ticket_list(world):
    a = await world.open("alice")
    await world.open("bob")
    await world.run("staff", tickets.add_tag, a.number, "Refund")
    async with world.tx("staff") as tx:
        items, _ = await list_tickets(tx, TicketFilters(tag=["REFUND"]))
    assert [i["number"] for i in items] == [a.number]


# --- custom fields ------------------------------------------------------------------------------------------


async def test_custom_fields_are_set_validated_and_cleared(world):
    t = await world.open("alice")
    await world.run("staff", tickets.set_custom_field, t.number, "vendor_ticket_id", "JIRA-12")
    assert_event(await last_event(world, ev.TICKET_FIELD_SET), world, "staff", number=t.number,
                 before={"vendor_ticket_id": None}, after={"vendor_ticket_id": "JIRA-12"})
    await world.run("staff", tickets.set_custom_field, t.number, "plan", "enterprise")
    assert (await ticket(world, t.number)).custom_fields == {"vendor_ticket_id": "JIRA-12", "plan": "enterprise"}
    await world.run("staff", tickets.set_custom_field, t.number, "vendor_ticket_id", None)
    assert (await ticket(world, t.number)).custom_fields == {"plan": "enterprise"}
    assert_event(await last_event(world, ev.TICKET_FIELD_SET), world, "staff", number=t.number,
                 before={"vendor_ticket_id": "JIRA-12"}, after={"vendor_ticket_id": None})


async def test_a_bad_or_unknown_custom_field_names_the_field(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.set_custom_field, t.number, "plan", "platinum")
    assert caught.value.field == "custom_fields.plan"
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.set_custom_field, t.number, "shoe_size", 44)
    assert caught.value.field == "custom_fields.shoe_size"
    assert (await ticket(world, t.number)).custom_fields == {}


async def test_setting_a_custom_field_to_its_value_records_nothing(world):
    t = await world.open("alice", custom_fields={"plan": "free"})
    await world.run("staff", tickets.set_custom_field, t.number, "plan", "free")
    assert await events(world, ev.TICKET_FIELD_SET) == []


async def test_customers_cannot_set_custom_fields(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.set_custom_field, t.number, "plan", "plus")


# --- rename, move, team -------------------------------------------------------------------------------------


async def test_rename_keeps_the_title_exactly_and_slugifies_the_channel_name(world):
    t = await world.open("alice")
    await world.run("staff", tickets.rename_ticket, t.number, "Refund for Order #42 (URGENT!)")
    row = await ticket(world, t.number)
    assert row.title == "Refund for Order #42 (URGENT!)"
    assert row.channel_name == "refund-for-order-42-urgent"
    assert_event(await last_event(world, ev.TICKET_RENAMED), world, "staff", number=t.number,
                 before={"title": "General request", "channel_name": "alice-customer"},
                 after={"title": row.title, "channel_name": row.channel_name})


async def test_rename_refuses_an_empty_or_long_title_and_customers(world):
    t = await world.open("alice")
    for bad in ("  ", "x" * 201):
        with pytest.raises(ValidationFailed) as caught:
            await world.run("staff", tickets.rename_ticket, t.number, bad)
        assert caught.value.field == "title"
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.rename_ticket, t.number, "Mine now")


async def test_moving_a_ticket_to_another_type(world):
    t = await world.open("alice", "General")
    await world.run("staff", tickets.move_ticket, t.number, world.type_ids["Billing"])
    assert (await ticket(world, t.number)).type_id == world.type_ids["Billing"]
    moved = await last_event(world, ev.TICKET_MOVED)
    assert_event(moved, world, "staff", number=t.number, before={"type_id": world.type_ids["General"]},
                 after={"type_id": world.type_ids["Billing"]})
    assert moved.payload["type_name"] == "Billing"


async def test_moving_to_a_type_routed_to_a_team_routes_the_ticket_there(world):
    await world.run("admin", members.update_ticket_type, world.type_ids["Billing"],
                    {"team_id": world.team_ids["Tier 2"]})
    t = await world.open("alice", "General")
    await world.run("staff", tickets.move_ticket, t.number, world.type_ids["Billing"])
    assert (await ticket(world, t.number)).team_id == world.team_ids["Tier 2"]


async def test_moving_to_an_archived_or_unknown_type_is_refused(world):
    t = await world.open("alice")
    await world.run("admin", members.update_ticket_type, world.type_ids["Billing"], {"archived": True})
    for type_id in (world.type_ids["Billing"], 999_999):
        with pytest.raises(ValidationFailed) as caught:
            await world.run("staff", tickets.move_ticket, t.number, type_id)
        assert caught.value.field == "type_id"


async def test_customers_cannot_move_tickets(world):
    t = await world.open("alice")
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.move_ticket, t.number, world.type_ids["Billing"])


async def test_routing_to_a_team_gives_its_members_the_ticket(world):
    await world.run("admin", members.create_team, name="Billing desk", member_ids=[world.member_ids["bob"]])
    team_id = (await world.run("admin", members.create_team, name="Escalations")).id
    t = await world.open("vip", "VIP")
    await world.run("staff", tickets.set_team, t.number, team_id)
    assert_event(await last_event(world, ev.TICKET_TEAM_CHANGED), world, "staff", number=t.number,
                 before={"team_id": None}, after={"team_id": team_id})
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.set_team, t.number, 999_999)
    assert caught.value.field == "team_id"


async def test_a_member_of_the_team_a_ticket_is_routed_to_sees_it_in_the_list_and_by_number(world):
    team = await world.run("admin", members.create_team, name="Escalations", member_ids=[world.member_ids["bob"]])
    # A type that routes to Tier 2; the ticket is then routed to Escalations by hand.
    await world.run("admin", members.update_ticket_type, world.type_ids["VIP"], {"team_id": world.team_ids["Tier 2"]})
    t = await world.open("vip", "VIP")
    await world.run("staff", tickets.set_team, t.number, team.id)
    from frontdesk.actions.members import actor_for_member
    from frontdesk.db.models import Member

    async with world.tx("system") as tx:
        bob = await actor_for_member(tx, await tx.session.get(Member, world.member_ids["bob"]))
    async with world.tx(bob) as tx:
        listed = [i["number"] for i in (await list_tickets(tx, TicketFilters()))[0]]
    async with world.tx(bob) as tx:
        shown = (await get_ticket_view(tx, t.number))["number"]
    assert listed == [t.number] and shown == t.number


# --- people -------------------------------------------------------------------------------------------------


async def test_an_added_participant_then_sees_and_writes_in_the_ticket(world):
    t = await world.open("alice", description="hello")
    with pytest.raises(NotFound):
        await view(world, "bob", t.number)
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    assert_event(await last_event(world, ev.TICKET_PARTICIPANT_ADDED), world, "staff", number=t.number,
                 before={"participant_ids": []}, after={"participant_ids": [world.member_ids["bob"]]})
    shown = await view(world, "bob", t.number)
    assert [p["id"] for p in shown["participants"]] == [world.member_ids["bob"]]
    async with world.tx("bob") as tx:
        items, _ = await list_tickets(tx, TicketFilters())
    assert [i["number"] for i in items] == [t.number]
    await world.run("bob", messages.post_message, t.number, "me too")
    await world.run("staff", tickets.remove_participant, t.number, world.member_ids["bob"])
    assert_event(await last_event(world, ev.TICKET_PARTICIPANT_REMOVED), world, "staff", number=t.number,
                 before={"participant_ids": [world.member_ids["bob"]]}, after={"participant_ids": []})
    with pytest.raises(NotFound):
        await view(world, "bob", t.number)


async def test_a_linked_contact_is_listed_and_sees_the_ticket(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"], kind="contact")
    assert_event(await last_event(world, ev.TICKET_CONTACT_ADDED), world, "staff", number=t.number)
    shown = await view(world, "bob", t.number)
    assert [c["id"] for c in shown["contacts"]] == [world.member_ids["bob"]] and shown["participants"] == []
    await world.run("staff", tickets.remove_participant, t.number, world.member_ids["bob"], kind="contact")
    assert_event(await last_event(world, ev.TICKET_CONTACT_REMOVED), world, "staff", number=t.number)


async def test_adding_people_is_validated_and_staff_only(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"], kind="friend")
    assert caught.value.field == "kind"
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.add_participant, t.number, 999_999)
    assert caught.value.field == "member_id"
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.add_participant, t.number, world.member_ids["bob"])


async def test_adding_a_participant_twice_records_once(world):
    t = await world.open("alice")
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    await world.run("staff", tickets.add_participant, t.number, world.member_ids["bob"])
    assert len(await events(world, ev.TICKET_PARTICIPANT_ADDED)) == 1


# --- pin, escalate ------------------------------------------------------------------------------------------


async def test_pin_and_unpin(world):
    t = await world.open("alice")
    await world.run("staff", tickets.pin_ticket, t.number)
    assert (await ticket(world, t.number)).pinned is True
    assert_event(await last_event(world, ev.TICKET_PINNED), world, "staff", number=t.number,
                 before={"pinned": False}, after={"pinned": True})
    await world.run("staff", tickets.pin_ticket, t.number)
    await world.run("staff", tickets.unpin_ticket, t.number)
    assert (await ticket(world, t.number)).pinned is False
    assert len(await events(world, ev.TICKET_PINNED)) == 1
    assert_event(await last_event(world, ev.TICKET_UNPINNED), world, "staff", number=t.number,
                 before={"pinned": True}, after={"pinned": False})
    with pytest.raises(NotPermitted):
        await world.run("alice", tickets.pin_ticket, t.number)


async def test_the_opener_may_request_a_human(world):
    t = await world.open("alice")
    await world.run("alice", tickets.escalate_ticket, t.number, reason="user_requested")
    assert (await ticket(world, t.number)).escalated is True
    escalated = await last_event(world, ev.TICKET_ESCALATED)
    assert_event(escalated, world, "alice", number=t.number, before={"escalated": False}, after={"escalated": True})
    assert escalated.payload["reason"] == "user_requested"
    # escalating again stays quiet
    await world.run("staff", tickets.escalate_ticket, t.number)
    assert len(await events(world, ev.TICKET_ESCALATED)) == 1


async def test_escalation_reasons_are_validated_and_closed_tickets_refused(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.escalate_ticket, t.number, reason="bored")
    assert caught.value.field == "reason"
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    with pytest.raises(TicketClosed):
        await world.run("alice", tickets.escalate_ticket, t.number, reason="user_requested")


async def test_strangers_cannot_escalate(world):
    t = await world.open("alice")
    with pytest.raises(NotFound):
        await world.run("bob", tickets.escalate_ticket, t.number, reason="user_requested")


# --- lockdown -----------------------------------------------------------------------------------------------


async def test_management_locks_and_unlocks_a_ticket(world):
    t = await world.open("alice")
    for who in ("owner", "admin", "manager", "mgmtrole"):
        await world.run(who, tickets.lockdown_ticket, t.number)
        assert (await ticket(world, t.number)).lockdown is True
        assert_event(await last_event(world, ev.TICKET_LOCKED), world, who, number=t.number,
                     before={"lockdown": False}, after={"lockdown": True})
        await world.run(who, tickets.unlock_ticket, t.number)
        assert (await ticket(world, t.number)).lockdown is False
        assert_event(await last_event(world, ev.TICKET_UNLOCKED), world, who, number=t.number,
                     before={"lockdown": True}, after={"lockdown": False})


REGULAR_STAFF = ["staff", "roled", "modder", "teamer"]


async def test_regular_staff_cannot_lock_a_ticket(world):
    t = await world.open("alice")
    for who in REGULAR_STAFF:
        with pytest.raises(NotPermitted):
            await world.run(who, tickets.lockdown_ticket, t.number)
    assert (await ticket(world, t.number)).lockdown is False


@pytest.mark.parametrize("who", REGULAR_STAFF)
async def test_regular_staff_lose_access_under_lockdown(world, who):
    t = await world.open("alice")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    with pytest.raises(NotFound):
        await view(world, who, t.number)
    with pytest.raises(NotFound):
        await world.run(who, messages.post_message, t.number, "hello?")
    with pytest.raises(NotFound):
        await world.run(who, tickets.claim_ticket, t.number)
    with pytest.raises(NotFound):
        await world.run(who, tickets.unlock_ticket, t.number)
    async with world.tx(who) as tx:
        items, _ = await list_tickets(tx, TicketFilters())
    assert items == []


async def test_the_opener_keeps_an_open_locked_ticket_and_management_keeps_working_it(world):
    t = await world.open("alice", description="sensitive")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    await world.run("alice", messages.post_message, t.number, "still here")
    await world.run("admin", messages.add_note, t.number, "handled by management")
    await world.run("manager", tickets.claim_ticket, t.number)
    async with world.tx("alice") as tx:
        assert [m["body"] for m in await ticket_timeline(tx, t.number)] == ["sensitive", "still here"]


async def test_a_closed_lockdown_ticket_is_visible_to_management_only(world):
    t = await world.open("alice")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    await world.run("manager", lifecycle.close_ticket, t.number, reason="resolved")
    assert (await view(world, "owner", t.number))["lockdown"] is True
    assert (await view(world, "mgmtrole", t.number))["status"] == "closed"
    for who in ("alice", "staff", "roled"):
        with pytest.raises(NotFound):
            await view(world, who, t.number)
        async with world.tx(who) as tx:
            assert (await list_tickets(tx, TicketFilters()))[0] == []


# --- update_ticket (PATCH) ----------------------------------------------------------------------------------


async def test_a_field_edit_writes_the_events_of_each_single_action(world):
    t = await world.open("alice")
    await world.run("staff", tickets.update_ticket, t.number, {
        "title": "New title", "priority": "high", "status": "in_progress", "tags": ["a", "B"],
        "custom_fields": {"plan": "plus"}, "assignee_id": world.member_ids["staff2"], "pinned": True})
    shown = await view(world, "staff", t.number)
    assert (shown["title"], shown["priority"], shown["status"], shown["tags"], shown["custom_fields"],
            shown["assignee"]["id"], shown["pinned"]) == (
        "New title", "high", "in_progress", ["a", "b"], {"plan": "plus"}, world.member_ids["staff2"], True)
    types = [e.type for e in await events(world, number=t.number)]
    for expected in (ev.TICKET_RENAMED, ev.TICKET_PRIORITY_CHANGED, ev.TICKET_STATUS_CHANGED, ev.TICKET_TAG_ADDED,
                     ev.TICKET_FIELD_SET, ev.TICKET_ASSIGNED, ev.TICKET_PINNED):
        assert expected in types
    await world.run("staff", tickets.update_ticket, t.number, {"tags": ["b"]})
    assert await tags(world, t.number) == ["b"]


async def test_a_field_edit_of_an_unknown_field_names_it_and_changes_nothing(world):
    t = await world.open("alice")
    with pytest.raises(ValidationFailed) as caught:
        await world.run("staff", tickets.update_ticket, t.number, {"priority": "high", "opener_id": 3})
    assert caught.value.field == "opener_id"
    assert (await ticket(world, t.number)).priority == "normal"
