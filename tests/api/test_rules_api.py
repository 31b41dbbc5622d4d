"""/api/v1/rules over HTTP: CRUD, order, dry runs, runs, permissions and 422s naming the field."""

from __future__ import annotations

import pytest

from tests.api.helpers import ok, open_ticket, problem, ticket_events
from tests.integration.helpers import table_counts

RULES = "/api/v1/rules"
TAGGING = {"name": "Tag billing", "trigger": "ticket_opened",
           "conditions": {"all": [{"field": "ticket.title", "op": "contains", "value": "invoice"}]},
           "actions": [{"type": "add_tag", "tag": "billing"}]}


async def test_a_manager_creates_reads_changes_and_deletes_a_rule(api, world):
    created = ok(await api("manager").post(RULES, json=TAGGING), 201)
    assert created["position"] == 1 and created["enabled"] and created["version"] == 1
    assert created["conditions"] == TAGGING["conditions"]
    rule_url = f"{RULES}/{created['id']}"
    assert ok(await api("staff").get(rule_url)) == created
    changed = ok(await api("manager").patch(rule_url, json={"enabled": False, "name": "Billing tag"}))
    assert (changed["enabled"], changed["name"], changed["version"]) == (False, "Billing tag", 2)
    assert changed["actions"] == TAGGING["actions"]
    assert [r["id"] for r in ok(await api("staff").get(RULES))["items"]] == [created["id"]]
    response = await api("manager").delete(rule_url)
    assert response.status_code == 204
    problem(await api("staff").get(rule_url), 404)


async def test_a_rule_created_over_the_api_runs_when_a_ticket_opens(api, world):
    ok(await api("admin").post(RULES, json=TAGGING), 201)
    t = await open_ticket(api, world, title="Question about my invoice")
    events = await ticket_events(api, t["number"])
    added = [e for e in events if e["type"] == "ticket.tag_added"]
    assert added and added[0]["payload"]["tag"] == "billing"
    runs = ok(await api("staff").get(f"{RULES}/runs", params={"ticket": t["number"]}))
    assert [(r["rule_name"], r["event_type"], r["depth"]) for r in runs["items"]] == [
        ("Tag billing", "ticket.opened", 0)]
    assert runs["items"][0]["changes"][0]["action"] == "add_tag"


async def test_the_answer_to_an_open_shows_what_the_rules_changed(api, world):
    ok(await api("admin").post(RULES, json={**TAGGING, "actions": [
        {"type": "add_tag", "tag": "billing"}, {"type": "set_priority", "priority": "urgent"}]}), 201)
    t = await open_ticket(api, world, title="Question about my invoice")
    assert (t["priority"], t["tags"]) == ("urgent", ["billing"])
    again = ok(await api("staff").get(f"/api/v1/tickets/{t['number']}"))
    assert (again["priority"], again["tags"]) == ("urgent", ["billing"])


async def test_runs_come_in_cursor_pages_filtered_by_rule(api, world):
    first = ok(await api("owner").post(RULES, json=TAGGING), 201)
    ok(await api("owner").post(RULES, json={**TAGGING, "name": "Other"}), 201)
    for who in ("alice", "bob", "vip"):
        await open_ticket(api, world, who, title="invoice")
    page = ok(await api("staff").get(f"{RULES}/runs", params={"rule_id": first["id"], "limit": 2}))
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = ok(await api("staff").get(f"{RULES}/runs", params={"rule_id": first["id"], "limit": 2,
                                                              "cursor": page["next_cursor"]}))
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    ids = [r["id"] for r in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert {r["rule_id"] for r in page["items"] + rest["items"]} == {first["id"]}


async def test_reorder_sets_the_order_rules_run_in(api, world):
    a = ok(await api("owner").post(RULES, json={**TAGGING, "name": "a"}), 201)
    b = ok(await api("owner").post(RULES, json={**TAGGING, "name": "b"}), 201)
    reordered = ok(await api("owner").post(f"{RULES}/reorder", json={"ids": [b["id"], a["id"]]}))
    assert [(r["name"], r["position"]) for r in reordered["items"]] == [("b", 1), ("a", 2)]
    assert [r["name"] for r in ok(await api("staff").get(RULES))["items"]] == ["b", "a"]
    problem(await api("owner").post(f"{RULES}/reorder", json={"ids": [a["id"]]}), 422, "ids")
    problem(await api("owner").post(f"{RULES}/reorder", json={"ids": [a["id"], a["id"]]}), 422, "ids")


async def test_a_dry_run_answers_what_would_happen_and_changes_nothing(api, world):
    rule = ok(await api("owner").post(RULES, json={
        "name": "Escalate waiting", "trigger": "status_changed",
        "conditions": {"all": [{"field": "event.after.status", "op": "equals", "value": "waiting"},
                               {"field": "ticket.priority", "op": "in", "value": ["normal", "high"]}]},
        "actions": [{"type": "set_priority", "priority": "urgent"}, {"type": "escalate"}]}), 201)
    t = await open_ticket(api, world)
    before = await table_counts(world)
    result = ok(await api("manager").post(f"{RULES}/{rule['id']}/dry-run", json={
        "ticket": t["number"],
        "event": {"type": "ticket.status_changed", "payload": {"after": {"status": "waiting"}}}}))
    assert result["matched"] and [c["result"] for c in result["conditions"]] == [True, True]
    assert [c["action"] for c in result["changes"]] == ["set_priority", "escalate"]
    assert result["changes"][1]["events"][0]["type"] == "ticket.escalated"
    assert await table_counts(world) == before
    again = ok(await api("manager").post(f"{RULES}/{rule['id']}/dry-run", json={"ticket": t["number"]}))
    assert again["trigger_fired"] and not again["matched"] and again["changes"] == []
    assert again["conditions"][0]["actual"] is None


async def test_staff_may_read_but_only_management_may_change_or_dry_run(api, world):
    rule = ok(await api("owner").post(RULES, json=TAGGING), 201)
    t = await open_ticket(api, world)
    problem(await api("staff").post(RULES, json=TAGGING), 403)
    problem(await api("staff").patch(f"{RULES}/{rule['id']}", json={"enabled": False}), 403)
    problem(await api("staff").delete(f"{RULES}/{rule['id']}"), 403)
    problem(await api("staff").post(f"{RULES}/reorder", json={"ids": [rule["id"]]}), 403)
    problem(await api("staff").post(f"{RULES}/{rule['id']}/dry-run", json={"ticket": t["number"]}), 403)
    problem(await api("alice").get(RULES), 403)
    problem(await api("alice").get(f"{RULES}/runs"), 403)
    ok(await api("mgmtrole").post(RULES, json={**TAGGING, "name": "by role"}), 201)


@pytest.mark.parametrize(("body", "field"), [
    ({**TAGGING, "trigger": "ticket_reopened"}, "trigger"),
    ({**TAGGING, "name": ""}, "name"),
    ({**TAGGING, "actions": []}, "actions"),
    ({**TAGGING, "actions": [{"type": "add_tag", "tag": "x"}, {"type": "launch_rocket"}]}, "actions[1].type"),
    ({**TAGGING, "actions": [{"type": "assign_to"}]}, "actions[0].member_id"),
    ({**TAGGING, "actions": [{"type": "assign_to", "member_id": "me"}]}, "actions[0].member_id"),
    ({**TAGGING, "actions": [{"type": "send_message", "text": "Hi {nobody}"}]}, "actions[0].text"),
    ({**TAGGING, "actions": [{"type": "set_field", "key": "no_such_field", "value": 1}]}, "actions[0].key"),
    ({**TAGGING, "conditions": {"all": [{"field": "ticket.colour", "op": "equals", "value": "red"}]}},
     "conditions.all[0].field"),
    ({**TAGGING, "conditions": {"all": [{"field": "ticket.title", "op": "equals", "value": "a"},
                                        {"field": "ticket.title", "op": "resembles", "value": "b"}]}},
     "conditions.all[1].op"),
    ({**TAGGING, "conditions": {"all": [{"any": [{"field": "ticket.priority", "op": "equals", "value": "meh"}]}]}},
     "conditions.all[0].any[0].value"),
    ({**TAGGING, "conditions": {"all": [{"field": "ticket.title", "op": "matches", "value": "(a+)+$"}]}},
     "conditions.all[0].value"),
    ({**TAGGING, "conditions": {"all": [{"field": "ticket.custom.plan", "op": "equals", "value": "platinum"}]}},
     "conditions.all[0].value"),
    ({**TAGGING, "trigger": "keyword"}, "keywords"),
    ({**TAGGING, "colour": "red"}, "colour"),
    ({**TAGGING, "name": "bad\x00name"}, "name"),
])
async def test_a_malformed_rule_is_422_naming_the_field_and_changes_nothing(api, world, body, field):
    before = await table_counts(world)
    problem(await api("owner").post(RULES, json=body), 422, field)
    assert await table_counts(world) == before


async def test_a_patch_is_checked_whole_and_a_bad_one_changes_nothing(api, world):
    rule = ok(await api("owner").post(RULES, json=TAGGING), 201)
    problem(await api("owner").patch(f"{RULES}/{rule['id']}", json={"trigger": "keyword"}), 422, "keywords")
    problem(await api("owner").patch(f"{RULES}/{rule['id']}", json={"actions": [{"type": "close"}]}),
            422, "actions[0].reason")
    assert ok(await api("owner").get(f"{RULES}/{rule['id']}")) == rule


async def test_unknown_rules_and_tickets_are_404_and_a_bad_dry_run_event_is_422(api, world):
    rule = ok(await api("owner").post(RULES, json=TAGGING), 201)
    t = await open_ticket(api, world)
    problem(await api("owner").get(f"{RULES}/999999"), 404)
    problem(await api("owner").post(f"{RULES}/999999/dry-run", json={"ticket": t["number"]}), 404)
    problem(await api("owner").post(f"{RULES}/{rule['id']}/dry-run", json={"ticket": 99999}), 404)
    problem(await api("owner").post(f"{RULES}/{rule['id']}/dry-run",
                                    json={"ticket": t["number"], "event": {"type": "ticket.exploded"}}),
            422, "event.type")
    problem(await api("owner").get(f"{RULES}/runs", params={"cursor": "nonsense"}), 422, "cursor")


async def test_creating_a_rule_honours_the_idempotency_key(api, world):
    headers = {"Idempotency-Key": "rule-1"}
    first = ok(await api("owner").post(RULES, json=TAGGING, headers=headers), 201)
    again = await api("owner").post(RULES, json=TAGGING, headers=headers)
    assert again.status_code == 201 and again.json() == first
    assert len(ok(await api("owner").get(RULES))["items"]) == 1


async def test_a_keyword_dry_run_reads_the_tickets_latest_customer_message(api, world):
    rule = ok(await api("owner").post(RULES, json={"name": "Refunds", "trigger": "keyword",
                                                   "keywords": ["refund"],
                                                   "actions": [{"type": "add_tag", "tag": "billing"}]}), 201)
    t = await open_ticket(api, world, description="Hello there")
    quiet = ok(await api("owner").post(f"{RULES}/{rule['id']}/dry-run", json={"ticket": t["number"]}))
    assert not quiet["trigger_fired"] and quiet["keyword"] is None
    ok(await api("alice").post(f"/api/v1/tickets/{t['number']}/messages", json={"body": "I want a Refund"}), 201)
    loud = ok(await api("owner").post(f"{RULES}/{rule['id']}/dry-run", json={"ticket": t["number"]}))
    assert loud["trigger_fired"] and loud["keyword"] == "Refund" and loud["matched"]
    assert loud["event"]["type"] == "message.created"


async def test_runs_on_locked_tickets_are_listed_for_management_only(api, world):
    ok(await api("owner").post(RULES, json={**TAGGING, "conditions": None}), 201)
    t = await open_ticket(api, world)
    ok(await api("owner").post(f"/api/v1/tickets/{t['number']}/lockdown"))
    assert ok(await api("staff").get(f"{RULES}/runs"))["items"] == []
    assert len(ok(await api("manager").get(f"{RULES}/runs"))["items"]) == 1
