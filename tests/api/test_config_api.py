"""Workspace configuration: the workspace, members, teams, ticket types and custom fields."""

from __future__ import annotations

from tests.api.helpers import TICKETS, ok, problem
from tests.support import MANAGEMENT_ROLE

V1 = "/api/v1"


# --- workspace ------------------------------------------------------------------------------------------------


async def test_reading_the_workspace(api, world):
    workspace = ok(await api("staff").get(f"{V1}/workspace"))
    assert (workspace["id"], workspace["name"], workspace["timezone"]) == (world.workspace_id, "Acme Support",
                                                                          "Europe/Berlin")
    assert workspace["settings"]["management_role_ids"] == [MANAGEMENT_ROLE]


async def test_patching_the_workspace_merges_settings(api):
    patched = ok(await api("admin").patch(f"{V1}/workspace", json={
        "name": "Acme Help", "timezone": "America/New_York", "settings": {"transcript_retention_days": 30}}))
    assert (patched["name"], patched["timezone"]) == ("Acme Help", "America/New_York")
    assert patched["settings"]["transcript_retention_days"] == 30
    assert patched["settings"]["management_role_ids"] == [MANAGEMENT_ROLE]
    assert ok(await api("staff").get(f"{V1}/workspace")) == patched
    events = ok(await api("admin").get(f"{V1}/events", params={"type": "workspace.updated"}))["items"]
    assert events[-1]["payload"]["after"]["timezone"] == "America/New_York"


async def test_a_bad_timezone_is_422_and_changes_nothing(api):
    before = ok(await api("admin").get(f"{V1}/workspace"))
    problem(await api("admin").patch(f"{V1}/workspace", json={"name": "Renamed", "timezone": "Mars/Olympus"}), 422,
            "timezone")
    assert ok(await api("admin").get(f"{V1}/workspace")) == before


async def test_bad_settings_are_422_naming_the_setting(api):
    problem(await api("admin").patch(f"{V1}/workspace", json={"settings": {"transcript_retention_days": 0}}), 422,
            "settings.transcript_retention_days")
    problem(await api("admin").patch(f"{V1}/workspace", json={"settings": {"transcript_retention_days": 10**12}}),
            422, "settings.transcript_retention_days")
    problem(await api("admin").patch(f"{V1}/workspace", json={"settings": {"management_role_ids": ["abc"]}}), 422,
            "settings.management_role_ids")
    problem(await api("admin").patch(f"{V1}/workspace", json={"settings": []}), 422, "settings")


async def test_only_admins_change_the_workspace(api):
    problem(await api("manager").patch(f"{V1}/workspace", json={"name": "Mine"}), 403)
    problem(await api("alice").patch(f"{V1}/workspace", json={"name": "Mine"}), 403)
    assert ok(await api("alice").get(f"{V1}/workspace"))["name"] == "Acme Support"


# --- members --------------------------------------------------------------------------------------------------


async def test_listing_members_is_for_staff(api, world):
    members = ok(await api("staff").get(f"{V1}/members"))["items"]
    assert len(members) == len(world.member_ids)
    customers = ok(await api("staff").get(f"{V1}/members", params={"role": "customer"}))["items"]
    assert {m["role"] for m in customers} == {"customer"}
    found = ok(await api("staff").get(f"{V1}/members", params={"q": "alice"}))["items"]
    assert [m["id"] for m in found] == [world.member_ids["alice"]]
    first = ok(await api("staff").get(f"{V1}/members", params={"limit": 5}))
    rest = ok(await api("staff").get(f"{V1}/members", params={"limit": 100, "cursor": first["next_cursor"]}))
    assert [m["id"] for m in first["items"] + rest["items"]] == [m["id"] for m in members]
    problem(await api("alice").get(f"{V1}/members"), 403)
    problem(await api("staff").get(f"{V1}/members", params={"role": "wizard"}), 422, "role")


async def test_reading_a_member(api, world):
    alice = world.member_ids["alice"]
    member = ok(await api("staff").get(f"{V1}/members/{alice}"))
    assert (member["display_name"], member["email"], member["role"]) == ("Alice Customer", "alice@example.com",
                                                                          "customer")
    assert ok(await api("alice").get(f"{V1}/members/{alice}"))["id"] == alice
    problem(await api("alice").get(f"{V1}/members/{world.member_ids['bob']}"), 403)
    teamer = ok(await api("staff").get(f"{V1}/members/{world.member_ids['teamer']}"))
    assert teamer["team_ids"] == [world.team_ids["Tier 2"]]


async def test_adding_members(api):
    customer = ok(await api("staff").post(f"{V1}/members", json={"display_name": "Cleo", "email": "CLEO@example.com"}),
                  201)
    assert (customer["role"], customer["email"]) == ("customer", "cleo@example.com")
    problem(await api("staff").post(f"{V1}/members", json={"display_name": "Eve", "role": "staff"}), 403)
    hired = ok(await api("admin").post(f"{V1}/members", json={"display_name": "Hal", "role": "staff",
                                                              "discord_user_id": "700000000000000001"}), 201)
    assert hired["role"] == "staff"
    problem(await api("admin").post(f"{V1}/members", json={"display_name": "Cleo 2", "email": "cleo@example.com"}),
            409)
    problem(await api("admin").post(f"{V1}/members", json={"display_name": "X", "email": "not-an-email"}), 422,
            "email")
    problem(await api("admin").post(f"{V1}/members", json={"display_name": "X", "role": "king"}), 422, "role")
    problem(await api("admin").post(f"{V1}/members", json={"display_name": ""}), 422, "display_name")
    problem(await api("alice").post(f"{V1}/members", json={"display_name": "Friend"}), 403)


async def test_changing_members(api, world):
    staff = world.member_ids["staff"]
    assert ok(await api("staff").patch(f"{V1}/members/{staff}", json={"available": False}))["available"] is False
    problem(await api("staff").patch(f"{V1}/members/{staff}", json={"role": "owner"}), 403)
    bob = world.member_ids["bob"]
    promoted = ok(await api("admin").patch(f"{V1}/members/{bob}", json={"role": "staff"}))
    assert promoted["role"] == "staff"
    # The promotion takes effect for bob's token at once.
    assert ok(await api("bob").get("/api/v1/me"))["is_staff"] is True
    problem(await api("admin").patch(f"{V1}/members/999999", json={"role": "staff"}), 404)


# --- teams ----------------------------------------------------------------------------------------------------


async def test_teams(api, world):
    teams = ok(await api("staff").get(f"{V1}/teams"))["items"]
    assert [(t["name"], t["permissions"]) for t in teams] == [("Tier 2", ["tickets.edit"])]
    team = ok(await api("admin").post(f"{V1}/teams", json={"name": "Billing desk", "permissions": ["tickets.close"],
                                                            "member_ids": [world.member_ids["staff"]]}), 201)
    assert team["member_ids"] == [world.member_ids["staff"]]
    assert ok(await api("staff").get(f"{V1}/teams/{team['id']}")) == team
    changed = ok(await api("admin").put(f"{V1}/teams/{team['id']}/members",
                                        json={"member_ids": [world.member_ids["staff2"], world.member_ids["bob"]]}))
    assert changed["member_ids"] == sorted([world.member_ids["staff2"], world.member_ids["bob"]])
    problem(await api("admin").post(f"{V1}/teams", json={"name": "Billing desk"}), 409)
    problem(await api("admin").post(f"{V1}/teams", json={"name": "X", "permissions": ["fly"]}), 422, "permissions")
    problem(await api("admin").post(f"{V1}/teams", json={"name": "Y", "member_ids": [999999]}), 422, "member_ids")
    problem(await api("staff").post(f"{V1}/teams", json={"name": "Z"}), 403)
    problem(await api("alice").get(f"{V1}/teams"), 403)
    problem(await api("admin").put(f"{V1}/teams/999999/members", json={"member_ids": []}), 404)


# --- ticket types ---------------------------------------------------------------------------------------------


async def test_ticket_types(api, world):
    names = [t["name"] for t in ok(await api("alice").get(f"{V1}/ticket-types"))["items"]]
    assert names == ["General", "Billing", "VIP"]
    created = ok(await api("admin").post(f"{V1}/ticket-types", json={
        "name": "Bug report", "emoji": "🐛", "open_limit_per_user": None, "opener_can_close": False,
        "intake_questions": [{"kind": "subject", "label": "Summary"},
                             {"kind": "custom", "id": "version", "label": "Version", "required": True}],
    }), 201)
    assert (created["open_limit_per_user"], created["opener_can_close"]) == (None, False)
    assert [q["id"] for q in created["intake_questions"]] == ["subject", "version"]
    assert ok(await api("alice").get(f"{V1}/ticket-types/{created['id']}")) == created
    # The type works for opening tickets, with its intake rules.
    problem(await api("alice").post(TICKETS, json={"type_id": created["id"]}), 422, "answers.version")
    ticket = ok(await api("alice").post(TICKETS, json={"type_id": created["id"],
                                                       "answers": {"subject": "Crash", "version": "2.1"}}), 201)
    assert ticket["title"] == "Crash"
    patched = ok(await api("admin").patch(f"{V1}/ticket-types/{created['id']}", json={"archived": True}))
    assert patched["archived"] is True
    assert "Bug report" not in [t["name"] for t in ok(await api("alice").get(f"{V1}/ticket-types"))["items"]]
    archived = ok(await api("admin").get(f"{V1}/ticket-types", params={"include_archived": "true"}))["items"]
    assert "Bug report" in [t["name"] for t in archived]
    problem(await api("alice").post(TICKETS, json={"type_id": created["id"]}), 422, "type_id")


async def test_more_than_five_intake_questions_is_422(api):
    questions = [{"id": f"q{i}", "label": f"Question {i}"} for i in range(6)]
    problem(await api("admin").post(f"{V1}/ticket-types", json={"name": "Long form", "intake_questions": questions}),
            422, "intake_questions")
    names = [t["name"] for t in ok(await api("admin").get(f"{V1}/ticket-types"))["items"]]
    assert "Long form" not in names
    problem(await api("admin").patch(f"{V1}/ticket-types/1", json={"intake_questions": questions}), 422,
            "intake_questions")


async def test_ticket_type_input_errors(api, world):
    problem(await api("admin").post(f"{V1}/ticket-types", json={"name": "General"}), 409)
    problem(await api("admin").post(f"{V1}/ticket-types", json={"name": "X", "open_limit_per_user": 0}), 422,
            "open_limit_per_user")
    problem(await api("admin").post(f"{V1}/ticket-types", json={"name": "X", "staff_role_ids": ["abc"]}), 422,
            "staff_role_ids")
    problem(await api("admin").post(f"{V1}/ticket-types", json={"name": "X", "intake_questions": [
        {"kind": "custom", "label": "no id"}]}), 422, "intake_questions[0].id")
    problem(await api("admin").patch(f"{V1}/ticket-types/{world.type_ids['Billing']}", json={"name": "General"}),
            409)
    problem(await api("staff").post(f"{V1}/ticket-types", json={"name": "Mine"}), 403)


# --- custom fields --------------------------------------------------------------------------------------------


async def test_custom_fields(api):
    fields = ok(await api("staff").get(f"{V1}/custom-fields"))["items"]
    assert [f["key"] for f in fields] == ["plan", "vendor_ticket_id"]
    created = ok(await api("admin").post(f"{V1}/custom-fields", json={"key": "seats", "label": "Seats",
                                                                      "field_type": "integer"}), 201)
    assert (created["key"], created["field_type"], created["required"]) == ("seats", "integer", False)
    assert "seats" in [f["key"] for f in ok(await api("staff").get(f"{V1}/custom-fields"))["items"]]


async def test_a_duplicate_custom_field_key_is_409(api):
    body = problem(await api("admin").post(f"{V1}/custom-fields", json={"key": "plan", "label": "Plan again",
                                                                        "field_type": "text"}), 409)
    assert "plan" in body["detail"]
    assert len([f for f in ok(await api("admin").get(f"{V1}/custom-fields"))["items"] if f["key"] == "plan"]) == 1


async def test_custom_field_definition_errors(api):
    problem(await api("admin").post(f"{V1}/custom-fields", json={"key": "Bad Key", "label": "x",
                                                                 "field_type": "text"}), 422, "key")
    problem(await api("admin").post(f"{V1}/custom-fields", json={"key": "tier", "label": "Tier",
                                                                 "field_type": "select"}), 422, "options")
    problem(await api("admin").post(f"{V1}/custom-fields", json={"key": "x", "label": "x",
                                                                 "field_type": "colour"}), 422, "field_type")
    problem(await api("staff").post(f"{V1}/custom-fields", json={"key": "x", "label": "x", "field_type": "text"}), 403)
