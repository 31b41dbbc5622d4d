"""Opening tickets: who may open which type, the per-user open limit, intake, custom fields."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, members, tickets
from frontdesk.db.models import Conversation, Event, Message, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotPermitted, OpenLimitReached, ValidationFailed
from frontdesk.queries.tickets import get_ticket_view, ticket_timeline
from tests.integration.helpers import assert_event, count, fetch, last_event, table_counts


async def test_opening_creates_the_ticket_its_conversation_and_first_message(world):
    t = await world.open("alice", title="Cannot log in", description="It says 403")
    assert (t.number, t.status, t.priority, t.opener_id) == (1, "open", "normal", world.member_ids["alice"])
    conversations = await fetch(world, select(Conversation).where(Conversation.ticket_id == t.id))
    assert [(c.channel, c.customer_id, c.subject) for c in conversations] == [
        ("api", world.member_ids["alice"], "Cannot log in")]
    messages = await fetch(world, select(Message).where(Message.conversation_id == conversations[0].id))
    assert [(m.body, m.author_kind, m.author_id, m.visibility) for m in messages] == [
        ("It says 403", "customer", world.member_ids["alice"], "public")]
    assert t.first_response_at is None and t.last_customer_message_at == world.desk.clock.now()


async def test_opening_writes_ticket_opened_and_message_created_events(world):
    t = await world.open("alice", title="Hello", description="Body", tags=["Billing Issue"])
    opened = await last_event(world, ev.TICKET_OPENED)
    assert_event(opened, world, "alice", number=t.number)
    assert opened.payload["title"] == "Hello" and opened.payload["tags"] == ["billing-issue"]
    assert opened.payload["opener_id"] == world.member_ids["alice"]
    assert opened.occurred_at == world.desk.clock.now()
    created = await last_event(world, ev.MESSAGE_CREATED)
    assert_event(created, world, "alice", number=t.number)


async def test_intake_answers_become_title_description_and_stored_answers(world):
    t = await world.open("alice", answers={"subject": "Printer on fire", "description": "Smoke everywhere",
                                           "order_id": "A-17"})
    assert t.title == "Printer on fire"
    assert [(a["id"], a["value"]) for a in t.intake_answers] == [
        ("subject", "Printer on fire"), ("description", "Smoke everywhere"), ("order_id", "A-17")]
    async with world.tx("alice") as tx:
        timeline = await ticket_timeline(tx, t.number)
    assert [m["body"] for m in timeline] == ["Smoke everywhere"]


async def test_an_explicit_title_wins_over_the_intake_subject(world):
    t = await world.open("alice", title="Mine", answers={"subject": "Theirs"})
    assert t.title == "Mine"


async def test_without_title_or_subject_the_title_names_the_type(world):
    t = await world.open("alice")
    assert t.title == "General request"


async def test_an_answer_to_an_unknown_intake_question_is_refused(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice", answers={"shoe_size": "44"})
    assert caught.value.field == "answers.shoe_size"


async def test_opener_cannot_open_a_second_ticket_of_the_same_type(world):
    await world.open("alice")
    with pytest.raises(OpenLimitReached) as caught:
        await world.open("alice")
    assert caught.value.extra["limit"] == 1
    assert await count(world, Ticket) == 1


async def test_the_open_limit_is_per_type(world):
    await world.open("alice", "General")
    await world.open("alice", "Billing")
    assert await count(world, Ticket) == 2


async def test_the_open_limit_is_per_opener(world):
    await world.open("alice")
    await world.open("bob")
    assert await count(world, Ticket) == 2


async def test_a_raised_limit_allows_that_many_open_tickets(world):
    await world.open("alice", "Billing")
    await world.open("alice", "Billing")
    with pytest.raises(OpenLimitReached):
        await world.open("alice", "Billing")


async def test_a_type_without_limit_allows_any_number_of_open_tickets(world):
    for _ in range(4):
        await world.open("vip", "VIP")
    assert await count(world, Ticket) == 4


async def test_the_limit_counts_only_tickets_that_are_not_closed(world):
    first = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, first.number, reason="resolved")
    second = await world.open("alice")
    assert second.number == 2


async def test_in_progress_waiting_and_resolved_tickets_still_count_toward_the_limit(world):
    first = await world.open("alice")
    for status in ("in_progress", "waiting", "resolved"):
        await world.run("staff", tickets.set_status, first.number, status)
        with pytest.raises(OpenLimitReached):
            await world.open("alice")


async def test_raising_the_limit_on_the_type_lets_the_opener_open_again(world):
    await world.open("alice")
    await world.run("admin", members.update_ticket_type, world.type_ids["General"], {"open_limit_per_user": 3})
    await world.open("alice")
    await world.run("admin", members.update_ticket_type, world.type_ids["General"], {"open_limit_per_user": None})
    await world.open("alice")
    assert await count(world, Ticket) == 3


async def test_a_type_restricted_to_roles_refuses_members_without_them(world):
    with pytest.raises(NotPermitted):
        await world.open("alice", "VIP")
    assert await count(world, Ticket) == 0


async def test_a_holder_of_an_allowed_role_opens_a_restricted_type(world):
    t = await world.open("vip", "VIP")
    assert t.opener_id == world.member_ids["vip"]


async def test_staff_may_open_a_restricted_type_for_themselves(world):
    t = await world.open("staff", "VIP")
    assert t.opener_id == world.member_ids["staff"]


async def test_staff_opening_on_behalf_of_a_customer_makes_the_customer_the_opener(world):
    t = await world.open("staff", opener_id=world.member_ids["bob"], title="Phoned in", description="Bob called")
    assert t.opener_id == world.member_ids["bob"]
    opened = await last_event(world, ev.TICKET_OPENED)
    assert_event(opened, world, "staff", number=t.number)
    assert opened.payload["opener_id"] == world.member_ids["bob"]
    # the customer sees their own ticket
    async with world.tx("bob") as tx:
        assert (await get_ticket_view(tx, t.number))["opener"]["id"] == world.member_ids["bob"]


async def test_staff_may_open_a_restricted_type_on_behalf_of_a_member_without_the_role(world):
    t = await world.open("staff", "VIP", opener_id=world.member_ids["alice"])
    assert t.opener_id == world.member_ids["alice"]


async def test_the_open_limit_applies_to_the_customer_when_staff_open_on_their_behalf(world):
    await world.open("alice")
    with pytest.raises(OpenLimitReached):
        await world.open("staff", opener_id=world.member_ids["alice"])


async def test_a_customer_cannot_open_a_ticket_on_behalf_of_someone_else(world):
    with pytest.raises(NotPermitted):
        await world.open("alice", opener_id=world.member_ids["bob"])


async def test_the_desk_must_name_the_opener(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.open("system")
    assert caught.value.field == "opener_id"
    t = await world.open("system", opener_id=world.member_ids["alice"])
    assert t.opener_id == world.member_ids["alice"]


async def test_an_unknown_opener_is_refused_naming_the_field(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.open("staff", opener_id=999_999)
    assert caught.value.field == "opener_id"


async def test_custom_fields_are_validated_and_stored(world):
    t = await world.open("alice", custom_fields={"plan": "plus", "vendor_ticket_id": "V-1"})
    assert t.custom_fields == {"plan": "plus", "vendor_ticket_id": "V-1"}


async def test_a_bad_custom_field_value_names_the_field(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice", custom_fields={"plan": "gold"})
    assert caught.value.field == "custom_fields.plan"


async def test_an_unknown_custom_field_is_refused_naming_the_field(world):
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice", custom_fields={"favourite_colour": "blue"})
    assert caught.value.field == "custom_fields.favourite_colour"
    assert await table_counts(world) == before


async def test_a_required_custom_field_must_be_given_when_opening(world):
    await world.run("admin", members.define_custom_field, key="severity", label="Severity", field_type="select",
                    options=["s1", "s2"], required=True)
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice")
    assert caught.value.field == "custom_fields.severity"
    t = await world.open("alice", custom_fields={"severity": "s2"})
    assert t.custom_fields == {"severity": "s2"}


async def test_an_archived_type_cannot_be_opened(world):
    await world.run("admin", members.update_ticket_type, world.type_ids["General"], {"archived": True})
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice")
    assert caught.value.field == "type_id"


async def test_an_unknown_type_is_refused_naming_the_field(world):
    with pytest.raises(ValidationFailed) as caught:
        await world.run("alice", tickets.open_ticket, type_id=987_654)
    assert caught.value.field == "type_id"


async def test_bad_input_when_opening_names_the_field(world):
    for kwargs, field in [
        ({"priority": "asap"}, "priority"),
        ({"title": "x" * 201}, "title"),
        ({"title": "   "}, "title"),
        ({"tags": ["ok", "   "]}, "tags"),
        ({"channel": "pigeon"}, "channel"),
        ({"team_id": 999_999}, "team_id"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            await world.open("alice", **kwargs)
        assert caught.value.field == field
    assert await count(world, Ticket) == 0


async def test_a_team_of_another_workspace_cannot_be_given(world):
    async with world.desk.tx(world.system, 0) as tx:
        await members.create_workspace(tx, name="Other")
        other_team = await members.create_team(tx, name="Elsewhere")
    with pytest.raises(ValidationFailed) as caught:
        await world.open("staff", opener_id=world.member_ids["alice"], team_id=other_team.id)
    assert caught.value.field == "team_id"


async def test_tags_given_when_opening_are_normalised_and_deduplicated(world):
    t = await world.open("alice", tags=["Refund", " refund ", "Needs Review"])
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
    assert view["tags"] == ["needs-review", "refund"]


async def test_channel_names_follow_the_opener_or_are_sequential_per_type(world):
    general = await world.open("alice", "General")
    billing = await world.open("alice", "Billing")
    assert general.channel_name == "alice-customer"
    assert billing.channel_name == f"ticket-{billing.number}"


async def test_ticket_numbers_count_up_per_workspace(world):
    numbers = [(await world.open(who)).number for who in ("alice", "bob", "vip")]
    async with world.desk.tx(world.system, 0) as tx:
        other = await members.create_workspace(tx, name="Other")
        customer = await members.add_member(tx, display_name="Zed")
        elsewhere = await members.create_ticket_type(tx, name="General")
        first_elsewhere = await tickets.open_ticket(tx, type_id=elsewhere.id, opener_id=customer.id)
    assert numbers == [1, 2, 3]
    assert first_elsewhere.number == 1 and first_elsewhere.workspace_id == other.id


async def test_a_type_routed_to_a_team_gives_new_tickets_that_team(world):
    await world.run("admin", members.update_ticket_type, world.type_ids["General"],
                    {"team_id": world.team_ids["Tier 2"]})
    t = await world.open("alice")
    assert t.team_id == world.team_ids["Tier 2"]


async def test_an_anonymous_ticket_hides_the_opener_from_staff(world):
    t = await world.open("alice", anonymous=True, description="secret")
    async with world.tx("staff") as tx:
        view = await get_ticket_view(tx, t.number)
        timeline = await ticket_timeline(tx, t.number)
    assert view["opener"]["id"] is None and view["opener"]["anonymous"] is True
    assert "Alice" not in view["opener"]["display_name"]
    assert view["channel_name"] == f"ticket-{t.number}"
    assert timeline[0]["author"]["id"] is None
    assert timeline[0]["author"]["display_name"] == view["opener"]["display_name"]
    async with world.tx("alice") as tx:
        assert (await get_ticket_view(tx, t.number))["opener"]["id"] == world.member_ids["alice"]


async def test_a_failed_open_after_earlier_changes_in_the_same_transaction_leaves_no_rows(world):
    before = await table_counts(world)
    with pytest.raises(ValidationFailed):
        async with world.tx("alice") as tx:
            await tickets.open_ticket(tx, type_id=world.type_ids["General"], title="first", description="d")
            await tickets.open_ticket(tx, type_id=world.type_ids["Billing"], custom_fields={"plan": "gold"})
    assert await table_counts(world) == before
    assert await count(world, Event, Event.type == ev.TICKET_OPENED) == 0


async def test_a_title_longer_than_the_subject_question_allows_is_a_title_problem(world):
    await world.run("admin", members.update_ticket_type, world.type_ids["General"], {"intake_questions": [
        {"kind": "subject", "label": "Subject", "max_length": 20}]})
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice", title="x" * 21)
    assert caught.value.field == "title"
    with pytest.raises(ValidationFailed) as caught:
        await world.open("alice", answers={"subject": "x" * 21})
    assert caught.value.field == "answers.subject"
    assert (await world.open("alice", title="x" * 20)).title == "x" * 20
