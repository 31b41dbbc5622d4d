"""Macros: created and edited by management, found by shortcut, searched, previewed and sent
into tickets as staff or as the bot."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle
from frontdesk.actions import macros as mc
from frontdesk.actions import members as m
from frontdesk.db.models import Macro, Member, Message
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, TicketClosed, ValidationFailed
from frontdesk.queries.macros import list_macros
from tests.integration.helpers import count, events, fetch, last_event, table_counts, ticket

REFUND = "Hi {user}, ticket {ticket.number} is refunded. {staff}"


async def make(world, shortcut="refund", content=REFUND, who="manager", **kwargs):
    return await world.run(who, mc.create_macro, shortcut=shortcut, content=content, **kwargs)


async def macro_row(world, macro_id):
    [row] = await fetch(world, select(Macro).where(Macro.id == macro_id))
    return row


# --- creating and editing --------------------------------------------------------------------------------------


async def test_creating_a_macro_normalises_its_shortcut_and_records_it(world):
    macro = await make(world, shortcut="  Refund-Policy ", category=" Billing ", send_as_staff=False)
    row = await macro_row(world, macro.id)
    assert (row.shortcut, row.category, row.send_as_staff, row.usage_count) == ("refund-policy", "Billing", False, 0)
    assert row.created_by_id == world.member_ids["manager"]
    event = await last_event(world, ev.MACRO_CREATED)
    assert event.payload == {"macro_id": macro.id, "shortcut": "refund-policy", "category": "Billing",
                             "send_as_staff": False}
    assert event.actor_id == world.member_ids["manager"]


async def test_a_taken_shortcut_is_refused_naming_the_field_and_changes_nothing(world):
    await make(world, shortcut="refund")
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await make(world, shortcut="REFUND ")
    assert caught.value.field == "shortcut"
    assert await table_counts(world) == before


async def test_the_unique_constraint_itself_answers_as_a_taken_shortcut(world):
    await make(world, shortcut="refund")
    # As a concurrent transaction that passed the check before the other committed would.
    async with world.tx("manager") as tx:
        tx.session.add(Macro(workspace_id=world.workspace_id, shortcut="refund", content="x", send_as_staff=True,
                             usage_count=0, created_at=tx.now, updated_at=tx.now))
        with pytest.raises(ValidationFailed) as caught:
            await mc._flush_unique(tx, "refund")
    assert caught.value.field == "shortcut"
    assert await count(world, Macro) == 1


async def test_two_concurrent_creates_of_one_shortcut_make_one_macro(world):
    async def create(who):
        async with world.tx(who) as tx:
            return await mc.create_macro(tx, shortcut="same", content="Hello {user}")

    results = await asyncio.gather(create("manager"), create("admin"), return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(failed) == 1 and isinstance(failed[0], ValidationFailed) and failed[0].field == "shortcut"
    assert await count(world, Macro) == 1


@pytest.mark.parametrize(("values", "field"), [
    ({"content": "Hi {customer}"}, "content"),
    ({"content": ""}, "content"),
    ({"content": "x" * 2001}, "content"),
    ({"shortcut": "two words"}, "shortcut"),
    ({"shortcut": "x" * 65}, "shortcut"),
    ({"category": "c" * 51}, "category"),
    ({"send_as_staff": "yes"}, "send_as_staff"),
])
async def test_bad_macros_are_refused_naming_the_field(world, values, field):
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await make(world, **{"shortcut": "ok", "content": "fine", **values})
    assert caught.value.field == field
    assert await table_counts(world) == before


async def test_only_management_or_macros_manage_may_change_macros(world):
    for who in ("staff", "alice", "teamer"):
        with pytest.raises(NotPermitted):
            await make(world, who=who)
    async with world.tx("owner") as tx:
        await m.create_team(tx, name="Content", permissions=["macros.manage"],
                            member_ids=[world.member_ids["staff"]])
    async with world.tx("system") as tx:
        world.actors["staff"] = await m.actor_for_member(tx, await tx.session.get(Member, world.member_ids["staff"]))
    macro = await make(world, who="staff")
    for who in ("owner", "admin", "manager", "mgmtrole"):
        await world.run(who, mc.update_macro, macro.id, {"category": who})
    with pytest.raises(NotPermitted):
        await world.run("staff2", mc.delete_macro, macro.id)


async def test_updating_records_what_changed_and_an_unchanged_edit_writes_nothing(world):
    macro = await make(world)
    await world.run("manager", mc.update_macro, macro.id, {"shortcut": "Refund-2", "content": REFUND})
    row = await macro_row(world, macro.id)
    assert row.shortcut == "refund-2"
    event = await last_event(world, ev.MACRO_UPDATED)
    assert (event.payload["before"], event.payload["after"]) == ({"shortcut": "refund"}, {"shortcut": "refund-2"})
    await world.run("manager", mc.update_macro, macro.id, {"shortcut": "refund-2", "send_as_staff": True})
    assert len(await events(world, ev.MACRO_UPDATED)) == 1


async def test_bad_edits_are_refused_naming_the_field(world):
    macro = await make(world)
    await make(world, shortcut="other")
    before = await table_counts(world)
    for changes, field in (({"shortcut": "other"}, "shortcut"), ({"content": "{nope}"}, "content"),
                           ({"usage_count": 5}, "usage_count"), ({"send_as_staff": None}, "send_as_staff")):
        with pytest.raises(ValidationFailed) as caught:
            await world.run("manager", mc.update_macro, macro.id, changes)
        assert caught.value.field == field
    assert await table_counts(world) == before
    with pytest.raises(NotFound):
        await world.run("manager", mc.update_macro, 999_999, {"category": "x"})


async def test_deleting_a_macro_records_it_and_its_shortcut_is_free_again(world):
    macro = await make(world)
    await world.run("manager", mc.delete_macro, macro.id)
    assert (await last_event(world, ev.MACRO_DELETED)).payload == {"macro_id": macro.id, "shortcut": "refund"}
    with pytest.raises(NotFound) as caught:
        await world.run("system", mc.get_macro_by_shortcut, "refund")
    assert "refund" in caught.value.message
    await make(world)


async def test_a_macro_is_found_by_its_shortcut_written_any_way(world):
    macro = await make(world)
    found = await world.run("system", mc.get_macro_by_shortcut, "  REFUND ")
    assert found.id == macro.id
    with pytest.raises(NotFound):
        await world.run("system", mc.get_macro_by_shortcut, "refunds")


# --- searching ---------------------------------------------------------------------------------------------


async def test_macros_are_searched_by_text_and_filtered_by_category(world):
    await make(world, shortcut="refund", content="Your refund is on its way", category="Billing")
    await make(world, shortcut="reset", content="Use the reset link", category="Accounts")
    await make(world, shortcut="hello", content="Hello {user}", category="Billing questions")

    async def shortcuts(**kwargs):
        async with world.desk.read(world.staff, world.workspace_id) as tx:
            items, _ = await list_macros(tx, **kwargs)
        return [i["shortcut"] for i in items]

    assert await shortcuts() == ["hello", "refund", "reset"]
    assert await shortcuts(q="REFUND") == ["refund"]
    assert await shortcuts(q="link") == ["reset"]
    assert await shortcuts(q="billing") == ["hello", "refund"]
    assert await shortcuts(q="100%") == []
    assert await shortcuts(category="billing") == ["refund"]
    assert await shortcuts(category="billing", q="hello") == []


async def test_macro_lists_come_in_pages(world):
    for name in ("a1", "a2", "a3"):
        await make(world, shortcut=name, content="text")
    async with world.desk.read(world.staff, world.workspace_id) as tx:
        first, cursor = await list_macros(tx, limit=2)
        second, end = await list_macros(tx, limit=2, cursor=cursor)
    assert [i["shortcut"] for i in first + second] == ["a1", "a2", "a3"]
    assert end is None


async def test_customers_may_not_list_macros(world):
    async with world.desk.read(world.alice, world.workspace_id) as tx:
        with pytest.raises(NotPermitted):
            await list_macros(tx)


# --- preview and send ---------------------------------------------------------------------------------------


async def test_a_preview_renders_the_macro_for_the_ticket_and_changes_nothing(world):
    macro = await make(world)
    t = await world.open("alice", description="refund please")
    before = await table_counts(world)
    async with world.desk.read(world.staff, world.workspace_id) as tx:
        text = await mc.preview_macro(tx, macro.id, t.number)
    assert text == f"Hi Alice Customer, ticket {t.number} is refunded. Sam Staff"
    assert await table_counts(world) == before


async def test_sending_as_staff_posts_a_staff_reply_and_counts_a_use(world):
    macro = await make(world)
    t = await world.open("alice", description="refund please")
    clock = world.desk.clock
    _, message = await world.run("staff", mc.send_macro, t.number, "Refund")
    [row] = await fetch(world, select(Message).where(Message.id == message.id))
    assert (row.author_kind, row.author_id, row.visibility) == ("staff", world.member_ids["staff"], "public")
    assert row.body == f"Hi Alice Customer, ticket {t.number} is refunded. Sam Staff"
    assert (await ticket(world, t.number)).first_response_at == clock.now()
    stored = await macro_row(world, macro.id)
    assert (stored.usage_count, stored.last_used_at) == (1, clock.now())
    used = await last_event(world, ev.MACRO_USED, number=t.number)
    assert used.payload["message_id"] == message.id and used.payload["shortcut"] == "refund"
    assert used.actor_id == world.member_ids["staff"]
    assert (await last_event(world, ev.MESSAGE_CREATED, number=t.number)).payload["message_id"] == message.id


async def test_a_macro_not_sent_as_staff_is_posted_by_the_bot(world):
    await make(world, send_as_staff=False)
    t = await world.open("alice", description="refund please")
    _, message = await world.run("staff", mc.send_macro, t.number, "refund")
    [row] = await fetch(world, select(Message).where(Message.id == message.id))
    assert (row.author_kind, row.author_id) == ("bot", None)
    assert row.body.endswith("Sam Staff")
    created = await last_event(world, ev.MESSAGE_CREATED, number=t.number)
    assert (created.actor_kind, created.payload["author_kind"]) == ("system", "bot")
    used = await last_event(world, ev.MACRO_USED, number=t.number)
    assert (used.actor_id, used.payload["message_id"]) == (world.member_ids["staff"], message.id)
    assert [e.type for e in (await events(world, number=t.number))[-2:]] == [ev.MESSAGE_CREATED, ev.MACRO_USED]
    # The bot's voice is not a staff reply: the first-response clock keeps running.
    assert (await ticket(world, t.number)).first_response_at is None


async def test_the_desk_itself_sends_macros_as_the_bot(world):
    macro = await make(world)
    t = await world.open("alice", description="refund please")
    _, message = await world.run("system", mc.send_macro, t.number, "refund")
    assert message.author_kind == "bot"
    assert (await macro_row(world, macro.id)).usage_count == 1


async def test_only_staff_on_the_ticket_send_macros(world):
    macro = await make(world)
    t = await world.open("alice", description="refund please")
    vip = await world.open("vip", "VIP", description="vip help")
    before = await table_counts(world)
    with pytest.raises(NotPermitted):
        await world.run("alice", mc.send_macro, t.number, "refund")
    with pytest.raises(NotFound):
        await world.run("roled", mc.send_macro, vip.number, "refund")
    with pytest.raises(NotFound):
        async with world.desk.read(world.roled, world.workspace_id) as tx:
            await mc.preview_macro(tx, macro.id, vip.number)
    assert await table_counts(world) == before


async def test_sending_an_unknown_macro_or_into_a_closed_ticket_changes_nothing(world):
    await make(world)
    t = await world.open("alice", description="refund please")
    with pytest.raises(NotFound) as caught:
        await world.run("staff", mc.send_macro, t.number, "nope")
    assert "nope" in caught.value.message
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    before = await table_counts(world)
    with pytest.raises(TicketClosed):
        await world.run("staff", mc.send_macro, t.number, "refund")
    assert await table_counts(world) == before
