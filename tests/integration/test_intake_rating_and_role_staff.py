"""A title given directly answers a required subject question; the opener can rate a
ticket after a lockdown close; a Discord role that staffs a type counts as staff for listings."""

from frontdesk.actions import lifecycle, members, tickets
from frontdesk.queries.tickets import get_ticket_view


async def test_a_title_given_directly_answers_a_required_subject_question(world):
    async with world.tx("admin") as tx:
        await members.update_ticket_type(tx, world.type_ids["General"], {"intake_questions": [
            {"kind": "subject", "label": "Subject", "required": True}]})
    ticket = await world.open("alice", title="Cannot log in")
    assert ticket.title == "Cannot log in"
    assert ticket.intake_answers == [{"id": "subject", "label": "Subject", "kind": "subject",
                                      "value": "Cannot log in"}]


async def test_the_opener_rates_a_ticket_closed_under_lockdown(world):
    await world.open("alice", title="Sensitive")
    await world.run("manager", tickets.lockdown_ticket, 1)
    await world.run("manager", lifecycle.close_ticket, 1, reason="resolved")
    rated = await world.run("alice", lifecycle.rate_ticket, 1, "helpful")
    assert rated.csat == "helpful"
    async with world.tx("manager") as tx:
        assert (await get_ticket_view(tx, 1))["csat"] == "helpful"


async def test_a_member_staffing_a_type_by_discord_role_counts_as_staff_for_listings(world):
    from frontdesk.queries.workspace import list_conversations

    assert world.roled.staffs_a_type and world.roled.is_staff_anywhere
    assert not world.alice.staffs_a_type
    await world.open("alice", title="Visible to role staff")
    async with world.tx("roled") as tx:
        items, _ = await list_conversations(tx)
    assert [c["subject"] for c in items] == ["Visible to role staff"]
