"""Every rule action goes through the usual action functions; rules run in order, may stop
processing, chain up to a fixed depth, and a failing action undoes only its own rule."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions import tickets
from frontdesk.actions.automation import MAX_DEPTH, preview_rule
from frontdesk.db.models import Ticket
from frontdesk.domain import events as ev
from tests.integration.helpers import events, fetch, table_counts, tags, ticket
from tests.integration.rule_helpers import add_rule, bodies, leaf, runs
from tests.integration.time_helpers import add_type, open_ops

WORKSPACE_STAFF = ("owner", "admin", "manager", "staff", "staff2")


async def _opened_with(world, actions, **rule):
    await add_type(world)
    rule_id = await add_rule(world, "ticket_opened", actions, **rule)
    t = await open_ops(world)
    return rule_id, await ticket(world, t.number)


async def test_assign_round_robin_rotates_and_assign_load_balanced_picks_the_least_loaded(world):
    await add_type(world)
    await add_rule(world, "ticket_opened", [{"type": "assign_round_robin"}])
    numbers = [(await open_ops(world)).number for _ in range(3)]
    ids = sorted(world.member_ids[k] for k in WORKSPACE_STAFF)
    assert [(await ticket(world, n)).assignee_id for n in numbers] == ids[:3]
    assigned = (await events(world, ev.TICKET_ASSIGNED, number=numbers[0]))[0]
    assert assigned.payload["cause"] == "rule" and assigned.payload["mode"] == "round_robin"


async def test_assign_load_balanced_picks_the_member_with_fewest_open_tickets(world):
    await add_type(world)
    first = await open_ops(world)
    await world.run("staff", tickets.assign_ticket, first.number, world.member_ids["owner"])
    await add_rule(world, "ticket_opened", [{"type": "assign_load_balanced"}])
    t = await open_ops(world)
    assert (await ticket(world, t.number)).assignee_id == world.member_ids["admin"]


async def test_assign_to_set_priority_set_status_set_team_tags_and_fields(world):
    async with world.tx("owner") as tx:
        await m.define_custom_field(tx, key="rule_plan", label="Plan", field_type="text")
    _, row = await _opened_with(world, [
        {"type": "assign_to", "member_id": world.member_ids["staff2"]},
        {"type": "set_priority", "priority": "urgent"},
        {"type": "set_status", "status": "in_progress"},
        {"type": "set_team", "team_id": world.team_ids["Tier 2"]},
        {"type": "add_tag", "tag": "Needs Review"},
        {"type": "add_tag", "tag": "temp"},
        {"type": "remove_tag", "tag": "temp"},
        {"type": "set_field", "key": "rule_plan", "value": "gold"},
    ])
    assert row.assignee_id == world.member_ids["staff2"]
    assert (row.priority, row.status, row.team_id) == ("urgent", "in_progress", world.team_ids["Tier 2"])
    assert row.custom_fields == {"rule_plan": "gold"}
    assert await tags(world, row.number) == ["needs-review"]


async def test_send_message_and_add_note_render_variables(world):
    _, row = await _opened_with(world, [
        {"type": "send_message", "text": "Hi {user}, ticket {ticket.number} is in."},
        {"type": "add_note", "text": "opened as {ticket.priority}"}])
    assert await bodies(world, row.number, author_kind="bot") == [f"Hi Bob Customer, ticket {row.number} is in."]
    assert await bodies(world, row.number, visibility="internal") == ["opened as normal"]
    assert row.first_response_at is None  # the desk's message is no staff reply


async def test_close_closes_with_the_reason_and_note(world):
    _, row = await _opened_with(world, [{"type": "close", "reason": "spam", "note": "auto"}])
    assert (row.status, row.close_reason, row.close_note) == ("closed", "spam", "auto")
    closed = (await events(world, ev.TICKET_CLOSED, number=row.number))[0]
    assert closed.payload["cause"] == "rule"


async def test_send_message_with_a_macro_posts_the_macro_rendered_for_the_ticket(world):
    from frontdesk.actions import macros

    async with world.tx("owner") as tx:
        await macros.create_macro(tx, shortcut="welcome", content="Hello {user}, this is ticket {ticket.number}.")
    _, row = await _opened_with(world, [{"type": "send_message", "macro": "welcome"}])
    assert await bodies(world, row.number, author_kind="bot") == [
        f"Hello Bob Customer, this is ticket {row.number}."]
    used = await events(world, "macro.used", number=row.number)
    assert len(used) == 1 and used[0].payload["rule_id"] is not None


async def test_an_unknown_macro_or_webhook_endpoint_is_an_error_in_the_run(world):
    await add_type(world)
    macro_rule = await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "a"},
                                                        {"type": "send_message", "macro": "refund-policy"}])
    hook_rule = await add_rule(world, "ticket_opened", [{"type": "send_webhook", "endpoint_id": 7}])
    t = await open_ops(world)
    [macro_run] = await runs(world, rule_id=macro_rule)
    [hook_run] = await runs(world, rule_id=hook_rule)
    assert "actions[1] (send_message)" in macro_run.error and "refund-policy" in macro_run.error
    assert macro_run.changes[0]["undone"] is True
    assert "send_webhook" in hook_run.error
    assert await tags(world, t.number) == []  # the failing rule's first action was undone too


async def test_a_failing_action_undoes_its_rule_only(world):
    await add_type(world)
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "first"}], name="first")
    bad = await add_rule(world, "ticket_opened", [
        {"type": "set_priority", "priority": "high"},
        {"type": "assign_to", "member_id": world.member_ids["alice"]}], name="bad")  # a customer: refused
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "third"}], name="third")
    t = await open_ops(world)
    row = await ticket(world, t.number)
    assert row.priority == "normal" and row.assignee_id is None
    assert await tags(world, t.number) == ["first", "third"]
    [run] = await runs(world, rule_id=bad)
    assert run.error.startswith("actions[1] (assign_to):") and "not staff" in run.error
    assert await events(world, ev.TICKET_PRIORITY_CHANGED, number=t.number) == []


async def test_rules_run_in_position_order_and_later_ones_see_earlier_changes(world):
    await add_type(world)
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "second"}], name="b", position=2,
                   conditions={"all": [leaf("ticket.priority", "equals", "high")]})
    await add_rule(world, "ticket_opened", [{"type": "set_priority", "priority": "high"}], name="a", position=1)
    t = await open_ops(world)
    assert await tags(world, t.number) == ["second"]
    assert [r.rule_name for r in await runs(world, number=t.number) if r.depth == 0] == ["a", "b"]


async def test_stop_processing_keeps_later_rules_from_running_for_that_event(world):
    await add_type(world)
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "one"}], stop_processing=True,
                   conditions={"all": [leaf("ticket.title", "contains", "urgent")]})
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "two"}])
    a = await open_ops(world, title="Urgent: down")
    b = await open_ops(world, title="Question")
    assert await tags(world, a.number) == ["one"]
    assert await tags(world, b.number) == ["two"]


async def test_two_rules_toggling_priority_stop_at_the_depth_limit(world):
    await add_type(world)
    down = await add_rule(world, "priority_changed", [{"type": "set_priority", "priority": "low"}],
                          conditions={"all": [leaf("event.after.priority", "equals", "high")]})
    up = await add_rule(world, "priority_changed", [{"type": "set_priority", "priority": "high"}],
                        conditions={"all": [leaf("event.after.priority", "equals", "low")]})
    t = await open_ops(world)
    await world.run("staff", tickets.set_priority, t.number, "high")
    matched = await runs(world, number=t.number)
    assert [(r.rule_id, r.depth) for r in matched] == [(down, 0), (up, 1), (down, 2), (up, 3)]
    assert matched[-1].stopped == f"depth limit {MAX_DEPTH} reached" and matched[-1].changes == []
    assert all(r.stopped is None for r in matched[:-1])
    # The staff member's change and three by rules; the fourth rule run was stopped.
    assert (await ticket(world, t.number)).priority == "low"
    assert len(await events(world, ev.TICKET_PRIORITY_CHANGED, number=t.number)) == 4


async def test_every_rule_that_matched_is_recorded_and_no_other(world):
    await add_type(world)
    yes = await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "x"}])
    no = await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "y"}],
                        conditions={"any": [leaf("ticket.priority", "equals", "urgent")]})
    other = await add_rule(world, "ticket_closed", [{"type": "add_tag", "tag": "z"}])
    await open_ops(world)
    assert [r.rule_id for r in await runs(world)] == [yes]
    assert await runs(world, rule_id=no) == []
    assert await runs(world, rule_id=other) == []


async def test_a_dry_run_shows_conditions_and_changes_and_changes_nothing(world):
    await add_type(world)
    t = await open_ops(world)
    rule_id = await add_rule(world, "ticket_opened", [{"type": "set_priority", "priority": "urgent"},
                                                     {"type": "add_tag", "tag": "dry"}],
                             conditions={"all": [leaf("ticket.priority", "equals", "normal"),
                                                 leaf("ticket.tags", "not_contains", "dry")]})
    before = await table_counts(world)
    result = await preview_rule(world.desk, world.actors["manager"], world.workspace_id, rule_id, number=t.number)
    assert result["matched"] and result["trigger_fired"]
    assert [c["result"] for c in result["conditions"]] == [True, True]
    assert result["conditions"][0]["actual"] == "normal"
    assert [c["action"] for c in result["changes"]] == ["set_priority", "add_tag"]
    assert result["changes"][0]["events"][0]["after"] == {"priority": "urgent"}
    assert await table_counts(world) == before
    assert (await ticket(world, t.number)).priority == "normal"
    rows = await fetch(world, select(Ticket.priority).where(Ticket.number == t.number))
    assert rows == ["normal"]


async def test_a_dry_run_with_an_event_that_does_not_fire_the_trigger_runs_nothing(world):
    await add_type(world)
    t = await open_ops(world, description=None)
    rule_id = await add_rule(world, "keyword", [{"type": "add_tag", "tag": "k"}], keywords=["refund"])
    result = await preview_rule(world.desk, world.actors["owner"], world.workspace_id, rule_id, number=t.number,
                                event_type="ticket.status_changed")
    assert not result["trigger_fired"] and not result["matched"] and result["changes"] == []


class _Statements:
    """The statements a database runs that read automation rules or their set's version."""

    def __init__(self, world):  # type: ignore[no-untyped-def]
        from sqlalchemy import event

        self.seen: list[str] = []
        self.engine = world.desk.db.write_engine.sync_engine
        self._listen = lambda conn, cursor, statement, *rest: self.seen.append(statement)
        event.listen(self.engine, "before_cursor_execute", self._listen)

    def close(self) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._listen)

    def count(self, table: str) -> int:
        return sum(1 for s in self.seen if f"FROM {table} " in s + " " and s.lstrip().upper().startswith("SELECT"))


async def test_without_rules_a_transaction_costs_one_rule_query_at_most(world):
    await add_type(world)
    t = await open_ops(world)
    statements = _Statements(world)
    try:
        await world.run("staff", tickets.claim_ticket, t.number)  # no triggering event
        assert statements.count("automation_rule_sets") == 0
        await world.run("staff", tickets.set_priority, t.number, "high")
        assert statements.count("automation_rule_sets") == 1
        assert statements.count("automation_rules") == 0
    finally:
        statements.close()


async def test_rules_are_read_again_only_when_the_rule_set_changed(world):
    await add_type(world)
    rule_id = await add_rule(world, "priority_changed", [{"type": "add_tag", "tag": "p"}])
    t = await open_ops(world)
    statements = _Statements(world)
    try:
        async with world.tx("staff") as tx:
            await tickets.set_priority(tx, t.number, "high")
            await tickets.set_status(tx, t.number, "in_progress")
            await tickets.set_priority(tx, t.number, "urgent")
        assert statements.count("automation_rule_sets") == 1  # once per transaction
        loaded = statements.count("automation_rules")
        await world.run("staff", tickets.set_priority, t.number, "low")
        assert statements.count("automation_rules") == loaded  # the rule set is held
        assert statements.count("automation_rule_sets") == 2
        await world.run("owner", update_rule_, rule_id, {"actions": [{"type": "add_tag", "tag": "q"}]})
        await world.run("staff", tickets.set_priority, t.number, "normal")
        assert statements.count("automation_rules") > loaded  # changed: read again
    finally:
        statements.close()
    assert await tags(world, t.number) == ["p", "q"]


async def test_a_rule_changed_elsewhere_is_seen_by_another_desk_on_the_same_database(world):
    from frontdesk.actions.base import Desk
    from frontdesk.actions.rules import update_rule

    await add_type(world)
    rule_id = await add_rule(world, "priority_changed", [{"type": "add_tag", "tag": "one"}])
    t = await open_ops(world)
    await world.run("staff", tickets.set_priority, t.number, "high")  # this desk now holds the rule set
    other = Desk(type(world.desk.db)(world.desk.db.url), clock=world.desk.clock)
    try:
        async with other.tx(world.actors["owner"], world.workspace_id) as tx:
            await update_rule(tx, rule_id, {"actions": [{"type": "add_tag", "tag": "two"}]})
    finally:
        await other.db.dispose()
    await world.run("staff", tickets.set_priority, t.number, "low")
    assert await tags(world, t.number) == ["one", "two"]


async def update_rule_(tx, rule_id, changes):  # type: ignore[no-untyped-def]
    from frontdesk.actions.rules import update_rule

    return await update_rule(tx, rule_id, changes)
