"""Suggested macros over HTTP: listed for staff, accepted (creating the macro) or dismissed."""

from __future__ import annotations

from frontdesk.worker.macro_suggestions import mine_macro_suggestions
from tests.api.helpers import TICKETS, ok, open_ticket, problem

SUGGESTIONS = "/api/v1/macro-suggestions"
MACROS = "/api/v1/macros"
TEXT = "Thanks for waiting! Your refund is on its way and should arrive in five days."


async def replied(api, world, who: str, times: int, type_name: str = "General") -> int:  # type: ignore[no-untyped-def]
    n = (await open_ticket(api, world, who, type_name, description="refund?"))["number"]
    for _ in range(times):
        ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": TEXT}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    return int(n)


async def one_suggestion(api, world) -> dict:  # type: ignore[no-untyped-def,type-arg]
    a = await replied(api, world, "alice", 2)
    b = await replied(api, world, "vip", 1, "VIP")
    assert await mine_macro_suggestions(world.desk, limit=10) == 1
    [item] = ok(await api("staff").get(SUGGESTIONS))["items"]
    assert (item["message_count"], item["ticket_count"], item["example_ticket_numbers"]) == (3, 2, [a, b])
    return item  # type: ignore[no-any-return]


async def test_pending_suggestions_are_listed_for_staff(api, world):
    item = await one_suggestion(api, world)
    assert (item["content"], item["status"], item["suggested_shortcut"]) == (
        TEXT, "pending", "thanks-for-waiting-your")
    assert ok(await api("staff").get(SUGGESTIONS, params={"status": "dismissed"}))["items"] == []
    assert len(ok(await api("staff").get(SUGGESTIONS, params={"status": "all"}))["items"]) == 1
    problem(await api("staff").get(SUGGESTIONS, params={"status": "maybe"}), 422, "status")
    problem(await api("staff").get(SUGGESTIONS, params={"cursor": "x"}), 422, "cursor")
    problem(await api("alice").get(SUGGESTIONS), 403)


async def test_accepting_creates_the_macro_with_the_chosen_shortcut(api, world):
    item = await one_suggestion(api, world)
    done = ok(await api("manager").post(f"{SUGGESTIONS}/{item['id']}/accept",
                                        json={"shortcut": "refund-eta", "category": "Billing"}))
    assert (done["suggestion"]["status"], done["suggestion"]["macro_id"]) == ("accepted", done["macro"]["id"])
    assert (done["macro"]["shortcut"], done["macro"]["content"]) == ("refund-eta", TEXT)
    assert [m["shortcut"] for m in ok(await api("staff").get(MACROS))["items"]] == ["refund-eta"]
    assert ok(await api("staff").get(SUGGESTIONS))["items"] == []
    problem(await api("manager").post(f"{SUGGESTIONS}/{item['id']}/accept", json={"shortcut": "again"}), 409)
    problem(await api("manager").post(f"{SUGGESTIONS}/{item['id']}/dismiss"), 409)


async def test_accepting_with_bad_input_is_422_naming_the_field_and_changes_nothing(api, world):
    item = await one_suggestion(api, world)
    ok(await api("manager").post(MACROS, json={"shortcut": "taken", "content": "x"}), 201)
    for body, field in (({"shortcut": "taken"}, "shortcut"), ({"shortcut": "a b"}, "shortcut"), ({}, "shortcut"),
                        ({"shortcut": "ok", "content": "{nope}"}, "content"),
                        ({"shortcut": "ok", "colour": "red"}, "colour")):
        problem(await api("manager").post(f"{SUGGESTIONS}/{item['id']}/accept", json=body), 422, field)
    assert [m["shortcut"] for m in ok(await api("staff").get(MACROS))["items"]] == ["taken"]
    assert ok(await api("staff").get(SUGGESTIONS))["items"][0]["status"] == "pending"


async def test_dismissing_hides_the_suggestion_for_good(api, world):
    item = await one_suggestion(api, world)
    dismissed = ok(await api("manager").post(f"{SUGGESTIONS}/{item['id']}/dismiss"))
    assert (dismissed["status"], dismissed["decided_by_id"]) == ("dismissed", world.member_ids["manager"])
    assert ok(await api("staff").get(SUGGESTIONS))["items"] == []
    assert [i["id"] for i in ok(await api("staff").get(SUGGESTIONS, params={"status": "dismissed"}))["items"]] == \
        [item["id"]]


async def test_only_management_decides(api, world):
    item = await one_suggestion(api, world)
    for who in ("staff", "alice"):
        problem(await api(who).post(f"{SUGGESTIONS}/{item['id']}/accept", json={"shortcut": "mine"}), 403)
        problem(await api(who).post(f"{SUGGESTIONS}/{item['id']}/dismiss"), 403)
    problem(await api("manager").post(f"{SUGGESTIONS}/999999/dismiss"), 404)
    problem(await api("manager").post(f"{SUGGESTIONS}/999999/accept", json={"shortcut": "x"}), 404)


async def test_the_mining_setting_is_checked_when_saved(api, world):
    for value, field in (({"lookback": "soon"}, "lookback"), ({"enabled": 1}, "enabled"), ({"often": True}, "often")):
        problem(await api("owner").patch("/api/v1/workspace", json={"settings": {"macro_suggestions": value}}),
                422, f"settings.macro_suggestions.{field}")
    saved = ok(await api("owner").patch("/api/v1/workspace",
                                        json={"settings": {"macro_suggestions": {"lookback": "14d"}}}))
    assert saved["settings"]["macro_suggestions"] == {"lookback": "14d"}
