"""Suggested macros: the daily job over recent closed tickets, its thresholds, what it skips,
running once a day however many workers, and staff accepting or dismissing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.actions import macros as mc
from frontdesk.actions.macro_suggestions import accept_suggestion, dismiss_suggestion
from frontdesk.db.models import Macro, MacroSuggestion
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from frontdesk.queries.macros import list_suggestions
from frontdesk.worker.macro_suggestions import mine_macro_suggestions
from frontdesk.worker.runner import default_jobs
from tests.integration.helpers import count, events, fetch, table_counts
from tests.integration.time_helpers import add_type, clock, configure, open_ops

REPLY = "Thanks for waiting, {name}! Your refund for ticket #{number} is on its way."


async def ticket_with_replies(world, replies: int, *, text: str = REPLY, close: bool = True,
                              who: str = "bob") -> int:
    """A ticket of ``who`` in which staff wrote ``text`` ``replies`` times, then closed it."""
    if "Ops" not in world.type_ids:
        await add_type(world)
    t = await open_ops(world, who)
    name = "Bob" if who == "bob" else "Vic"
    for _ in range(replies):
        await world.run("staff", messages.post_message, t.number, text.format(name=name, number=t.number))
    if close:
        await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    return int(t.number)


async def suggestions(world) -> list[MacroSuggestion]:
    return await fetch(world, select(MacroSuggestion).where(MacroSuggestion.workspace_id == world.workspace_id)
                       .order_by(MacroSuggestion.id))


async def mine_now(world) -> int:
    return await mine_macro_suggestions(world.desk, limit=100)


# --- thresholds ----------------------------------------------------------------------------------------------


async def test_two_messages_in_two_tickets_are_not_proposed(world):
    await ticket_with_replies(world, 1)
    await ticket_with_replies(world, 1)
    assert await mine_now(world) == 1
    assert await suggestions(world) == []


async def test_three_messages_in_one_ticket_are_not_proposed(world):
    await ticket_with_replies(world, 3)
    await mine_now(world)
    assert await suggestions(world) == []


async def test_three_messages_across_two_tickets_are_proposed_with_placeholders(world):
    a = await ticket_with_replies(world, 2)
    b = await ticket_with_replies(world, 1, who="vip")
    await mine_now(world)
    [row] = await suggestions(world)
    assert row.content == "Thanks for waiting, {user}! Your refund for ticket #{ticket.number} is on its way."
    assert (row.message_count, row.ticket_count, row.example_ticket_numbers) == (3, 2, [a, b])
    assert (row.status, row.suggested_shortcut) == ("pending", "thanks-for-waiting-your")
    [event] = await events(world, ev.MACRO_SUGGESTION_CREATED)
    assert event.payload["suggestion_id"] == row.id and event.actor_id is None


# --- what is left out ------------------------------------------------------------------------------------------


async def test_open_lockdown_and_old_tickets_and_non_staff_messages_are_left_out(world):
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1, close=False)
    locked = await ticket_with_replies(world, 1, close=False)
    await world.run("manager", tickets.lockdown_ticket, locked)
    await world.run("manager", lifecycle.close_ticket, locked, reason="resolved")
    t = await open_ops(world, "bob")
    await world.run("staff", messages.add_note, t.number, REPLY.format(name="Bob", number=t.number))
    await world.run("bob", messages.post_message, t.number, REPLY.format(name="Bob", number=t.number))
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await mine_now(world)
    assert await suggestions(world) == []


async def test_only_tickets_closed_within_the_lookback_count_and_it_is_a_setting(world):
    await ticket_with_replies(world, 2)
    clock(world).advance(days=10)
    await ticket_with_replies(world, 1)
    clock(world).advance(days=1)
    await configure(world, macro_suggestions={"lookback": "7d"})
    await mine_now(world)
    assert await suggestions(world) == []
    clock(world).advance(days=1)
    await configure(world, macro_suggestions={"lookback": "30d"})
    await mine_now(world)
    assert len(await suggestions(world)) == 1


async def test_a_disabled_workspace_is_not_mined(world):
    await configure(world, macro_suggestions={"enabled": False})
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 2)
    assert await mine_now(world) == 1
    assert await suggestions(world) == []


async def test_a_text_that_already_is_a_macro_is_not_proposed(world):
    await world.run("manager", mc.create_macro, shortcut="refund-on-way",
                    content="THANKS for waiting, {user}! Your refund for ticket #{ticket.number} is on its way")
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    await mine_now(world)
    assert await suggestions(world) == []


async def test_the_suggested_shortcut_avoids_existing_macros(world):
    await world.run("manager", mc.create_macro, shortcut="thanks-for-waiting-your", content="Something else")
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    await mine_now(world)
    [row] = await suggestions(world)
    assert row.suggested_shortcut == "thanks-for-waiting-your-2"


# --- once a day ---------------------------------------------------------------------------------------------


async def test_each_workspace_is_mined_once_a_day(world):
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    assert await mine_now(world) == 1
    assert await mine_now(world) == 0
    clock(world).advance(hours=23, minutes=59)
    await ticket_with_replies(world, 3, text="Please send us a screenshot of the error you see.")
    await ticket_with_replies(world, 1, text="Please send us a screenshot of the error you see.")
    assert await mine_now(world) == 0
    clock(world).advance(minutes=1)
    assert await mine_now(world) == 1
    rows = await suggestions(world)
    # The first text is not proposed a second time; the new one is.
    assert [r.suggested_shortcut for r in rows] == ["thanks-for-waiting-your", "please-send-us-a"]


async def test_concurrent_workers_mine_a_workspace_once(world):
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    claimed = await asyncio.gather(*(mine_now(world) for _ in range(4)))
    assert sum(claimed) == 1
    assert len(await suggestions(world)) == 1
    assert len(await events(world, ev.MACRO_SUGGESTION_CREATED)) == 1


def test_the_job_runs_with_the_worker():
    assert "macro_suggestions" in {job.name for job in default_jobs()}


# --- accepting and dismissing -----------------------------------------------------------------------------------


async def pending(world) -> MacroSuggestion:
    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    await mine_now(world)
    [row] = await suggestions(world)
    return row


async def test_accepting_creates_the_macro_with_the_chosen_shortcut(world):
    row = await pending(world)
    assert await count(world, Macro) == 0
    suggestion, macro = await world.run("manager", accept_suggestion, row.id, shortcut="Refund-Eta",
                                        category="Billing")
    assert (macro.shortcut, macro.content, macro.category) == ("refund-eta", row.content, "Billing")
    [stored] = await suggestions(world)
    assert (stored.status, stored.macro_id, stored.decided_by_id) == (
        "accepted", macro.id, world.member_ids["manager"])
    assert stored.decided_at == clock(world).now()
    assert [e.type for e in (await events(world))[-2:]] == [ev.MACRO_CREATED, ev.MACRO_SUGGESTION_ACCEPTED]
    with pytest.raises(Conflict):
        await world.run("manager", accept_suggestion, row.id, shortcut="again")
    with pytest.raises(Conflict):
        await world.run("manager", dismiss_suggestion, row.id)


async def test_accepting_may_edit_the_content(world):
    row = await pending(world)
    _, macro = await world.run("manager", accept_suggestion, row.id, shortcut="eta", content="Refund soon, {user}.")
    assert macro.content == "Refund soon, {user}."


async def test_accepting_with_a_taken_shortcut_or_bad_content_changes_nothing(world):
    row = await pending(world)
    await world.run("manager", mc.create_macro, shortcut="taken", content="x")
    before = await table_counts(world)
    for kwargs, field in (({"shortcut": "taken"}, "shortcut"), ({"shortcut": "a b"}, "shortcut"),
                          ({"shortcut": "ok", "content": "{who}"}, "content"),
                          ({"shortcut": "ok", "category": "c" * 51}, "category")):
        with pytest.raises(ValidationFailed) as caught:
            await world.run("manager", accept_suggestion, row.id, **kwargs)
        assert caught.value.field == field
    assert await table_counts(world) == before
    assert (await suggestions(world))[0].status == "pending"


async def test_a_dismissed_text_is_never_proposed_again(world):
    row = await pending(world)
    dismissed = await world.run("manager", dismiss_suggestion, row.id)
    assert dismissed.status == "dismissed"
    assert (await events(world, ev.MACRO_SUGGESTION_DISMISSED))[0].payload == {"suggestion_id": row.id}
    clock(world).advance(days=1)
    await ticket_with_replies(world, 3)
    await mine_now(world)
    assert [r.id for r in await suggestions(world)] == [row.id]
    assert await count(world, Macro) == 0


async def test_only_management_or_macros_manage_decide_and_staff_read(world):
    row = await pending(world)
    for who in ("staff", "alice"):
        with pytest.raises(NotPermitted):
            await world.run(who, accept_suggestion, row.id, shortcut="mine")
        with pytest.raises(NotPermitted):
            await world.run(who, dismiss_suggestion, row.id)
    with pytest.raises(NotFound):
        await world.run("manager", dismiss_suggestion, 999_999)
    async with world.desk.read(world.staff, world.workspace_id) as tx:
        items, _ = await list_suggestions(tx, status="pending")
        assert [i["id"] for i in items] == [row.id]
        assert (await list_suggestions(tx, status="dismissed"))[0] == []
    async with world.desk.read(world.alice, world.workspace_id) as tx:
        with pytest.raises(NotPermitted):
            await list_suggestions(tx)


async def test_mining_never_creates_a_macro(world):
    await pending(world)
    clock(world).advance(days=2)
    await mine_now(world)
    assert await count(world, Macro) == 0


async def test_the_sweep_counts_the_workspaces_it_claimed(world):
    # What the runner drains on: fewer than the limit ends the drain.
    await ticket_with_replies(world, 1)
    assert await mine_macro_suggestions(world.desk, limit=5) == 1
    assert await mine_macro_suggestions(world.desk, limit=5) == 0
    clock(world).advance(timedelta(days=1))
    assert await mine_macro_suggestions(world.desk, limit=5) == 1


async def test_a_workspace_whose_setting_does_not_parse_waits_a_day_unmined(world):
    from frontdesk.db.models import Workspace

    await ticket_with_replies(world, 2)
    await ticket_with_replies(world, 1)
    async with world.desk.db.transaction() as session:
        workspace = await session.get(Workspace, world.workspace_id)
        workspace.settings = {**(workspace.settings or {}), "macro_suggestions": {"lookback": "never"}}
    assert await mine_now(world) == 1
    assert await mine_now(world) == 0
    assert await suggestions(world) == []


async def test_only_the_desk_records_suggestions(world):
    from frontdesk.actions.macro_suggestions import record_suggestions

    with pytest.raises(NotPermitted):
        await world.run("owner", record_suggestions, [])
