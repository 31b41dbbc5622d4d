"""Rule changes are actions with events; a deleted rule's runs stay on record."""

from __future__ import annotations

import pytest

from frontdesk.actions import rules as r
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, ValidationFailed
from tests.integration.helpers import events, table_counts
from tests.integration.rule_helpers import add_rule, runs
from tests.integration.time_helpers import add_type, open_ops

TAG = [{"type": "add_tag", "tag": "x"}]


async def test_creating_changing_reordering_and_deleting_rules_write_events(world):
    a = await add_rule(world, "ticket_opened", TAG, name="a")
    b = await add_rule(world, "ticket_opened", TAG, name="b")
    created = await events(world, ev.RULE_CREATED)
    assert [e.payload["rule_id"] for e in created] == [a, b]
    assert created[0].actor_id == world.member_ids["owner"] and created[0].payload["after"]["position"] == 1
    await world.run("admin", r.update_rule, a, {"stop_processing": True})
    [updated] = await events(world, ev.RULE_UPDATED)
    assert updated.payload["before"]["stop_processing"] is False and updated.payload["after"]["stop_processing"]
    await world.run("admin", r.reorder_rules, [b, a])
    [reordered] = await events(world, ev.RULES_REORDERED)
    assert reordered.payload["after"] == {"ids": [b, a]}
    await world.run("manager", r.delete_rule, a)
    [deleted] = await events(world, ev.RULE_DELETED)
    assert deleted.payload["rule_id"] == a and deleted.payload["before"]["name"] == "a"


async def test_a_change_that_changes_nothing_writes_no_event_and_keeps_the_version(world):
    rule_id = await add_rule(world, "ticket_opened", TAG)
    same = await world.run("owner", r.update_rule, rule_id, {"actions": TAG, "enabled": True})
    assert same.version == 1
    assert await events(world, ev.RULE_UPDATED) == []


async def test_a_deleted_rules_runs_stay_without_the_rule(world):
    await add_type(world)
    rule_id = await add_rule(world, "ticket_opened", TAG, name="gone soon")
    t = await open_ops(world)
    await world.run("owner", r.delete_rule, rule_id)
    [run] = await runs(world, number=t.number)
    assert run.rule_id is None and run.rule_name == "gone soon"


async def test_only_management_changes_rules_and_refusals_change_nothing(world):
    rule_id = await add_rule(world, "ticket_opened", TAG)
    before = await table_counts(world)
    for who in ("staff", "alice"):
        with pytest.raises(NotPermitted):
            await world.run(who, r.create_rule, {"name": "n", "trigger": "ticket_opened", "actions": TAG})
        with pytest.raises(NotPermitted):
            await world.run(who, r.update_rule, rule_id, {"enabled": False})
        with pytest.raises(NotPermitted):
            await world.run(who, r.delete_rule, rule_id)
    with pytest.raises(ValidationFailed) as bad:
        await world.run("owner", r.update_rule, rule_id, {"conditions": {"all": [{"field": "ticket.status"}]}})
    assert bad.value.field == "conditions.all[0].op"
    with pytest.raises(NotFound):
        await world.run("owner", r.update_rule, rule_id + 100, {"enabled": False})
    assert await table_counts(world) == before


async def test_a_new_rule_without_a_position_goes_last(world):
    first = await add_rule(world, "ticket_opened", TAG, name="first", position=10)
    last = await add_rule(world, "ticket_opened", TAG, name="last")
    async with world.tx("staff") as tx:
        from frontdesk.queries.rules import list_rules

        listed = await list_rules(tx)
    assert [(x["id"], x["position"]) for x in listed] == [(first, 10), (last, 11)]


async def test_changing_the_trigger_away_from_keyword_drops_its_keywords(world):
    rule_id = await add_rule(world, "keyword", TAG, keywords=["refund"])
    changed = await world.run("owner", r.update_rule, rule_id, {"trigger": "ticket_opened"})
    assert changed.trigger == "ticket_opened" and changed.definition["keywords"] == []


async def test_a_stored_rule_that_no_longer_parses_is_skipped_and_actions_go_on(world):
    from sqlalchemy import update

    from frontdesk.db.models import AutomationRule
    from tests.integration.helpers import tags

    await add_type(world)
    broken = await add_rule(world, "ticket_opened", TAG, name="broken")
    await add_rule(world, "ticket_opened", [{"type": "add_tag", "tag": "fine"}], name="fine")
    async with world.desk.db.transaction() as session:
        await session.execute(update(AutomationRule).where(AutomationRule.id == broken).values(
            definition={"actions": [{"type": "teleport"}]}, version=AutomationRule.version + 1))
    t = await open_ops(world)
    assert await tags(world, t.number) == ["fine"]
