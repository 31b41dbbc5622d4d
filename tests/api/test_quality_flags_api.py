"""Quality flags over HTTP: a negative rating raises one; staff list and resolve it."""

from __future__ import annotations

from tests.api.helpers import TICKETS, ok, open_ticket, problem

FLAGS = "/api/v1/quality-flags"


async def rated_badly(api, world) -> int:  # type: ignore[no-untyped-def]
    n = (await open_ticket(api, world, "vip", "VIP", description="broken"))["number"]
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    ok(await api("vip").post(f"{TICKETS}/{n}/rate", json={"rating": "not_helpful", "comment": "did not work"}))
    return int(n)


async def test_a_negative_rating_shows_in_the_quality_flags_list(api, world):
    n = await rated_badly(api, world)
    [flag] = ok(await api("staff").get(FLAGS))["items"]
    assert (flag["kind"], flag["ticket_number"], flag["detail"]) == ("negative_csat", n, {"comment": "did not work"})
    assert flag["resolved_at"] is None


async def test_staff_resolve_a_flag_once(api, world):
    await rated_badly(api, world)
    [flag] = ok(await api("staff").get(FLAGS))["items"]
    done = ok(await api("staff").post(f"{FLAGS}/{flag['id']}/resolve", json={"note": "called the customer"}))
    assert done["resolution_note"] == "called the customer"
    assert done["resolved_by_id"] == world.member_ids["staff"]
    problem(await api("staff").post(f"{FLAGS}/{flag['id']}/resolve"), 409)
    assert ok(await api("staff").get(FLAGS))["items"] == []
    assert [f["id"] for f in ok(await api("staff").get(FLAGS, params={"state": "resolved"}))["items"]] == [flag["id"]]


async def test_customers_may_not_read_or_resolve_flags(api, world):
    await rated_badly(api, world)
    problem(await api("vip").get(FLAGS), 403)
    [flag] = ok(await api("staff").get(FLAGS))["items"]
    problem(await api("vip").post(f"{FLAGS}/{flag['id']}/resolve"), 403)


async def test_bad_flag_requests_are_refused(api, world):
    problem(await api("staff").get(FLAGS, params={"state": "maybe"}), 422, "state")
    problem(await api("staff").post(f"{FLAGS}/999999/resolve"), 404)
    await rated_badly(api, world)
    [flag] = ok(await api("staff").get(FLAGS))["items"]
    problem(await api("staff").post(f"{FLAGS}/{flag['id']}/resolve", json={"note": "x" * 501}), 422, "note")
    assert ok(await api("staff").get(FLAGS))["items"][0]["resolved_at"] is None


async def test_an_escalation_shows_in_the_list_linked_to_its_ticket(api, world):
    n = (await open_ticket(api, world, "alice", description="help", title="Cannot log in"))["number"]
    ok(await api("alice").post(f"{TICKETS}/{n}/escalate", json={"reason": "user_requested"}))
    [flag] = ok(await api("staff").get(FLAGS))["items"]
    assert (flag["kind"], flag["status"], flag["detail"]) == ("escalated", "open", {"reason": "user_requested"})
    assert flag["ticket"] == {"number": n, "path": f"{TICKETS}/{n}", "title": "Cannot log in", "status": "open"}
    assert ok(await api("staff").get(flag["ticket"]["path"]))["number"] == n


async def test_flags_are_filtered_and_paged(api, world):
    n = await rated_badly(api, world)
    m = (await open_ticket(api, world, "alice", description="help"))["number"]
    ok(await api("staff").post(f"{TICKETS}/{m}/escalate"))
    assert [f["kind"] for f in ok(await api("staff").get(FLAGS, params={"kind": "escalated"}))["items"]] == \
        ["escalated"]
    assert [f["ticket_number"] for f in ok(await api("staff").get(FLAGS, params={"ticket": n}))["items"]] == [n]
    assert len(ok(await api("staff").get(FLAGS, params={"created_since": "2000-01-01"}))["items"]) == 2
    assert ok(await api("staff").get(FLAGS, params={"created_until": "2000-01-01"}))["items"] == []
    page = ok(await api("staff").get(FLAGS, params={"limit": 1}))
    rest = ok(await api("staff").get(FLAGS, params={"limit": 1, "cursor": page["next_cursor"]}))
    assert [f["ticket_number"] for f in page["items"] + rest["items"]] == [m, n]
    assert rest["next_cursor"] is None
    for params, field in (({"kind": "odd"}, "kind"), ({"status": "maybe"}, "status"), ({"ticket": 0}, "ticket"),
                          ({"created_since": "yesterday"}, "created_since"),
                          ({"created_until": "2026-13-01"}, "created_until"),
                          ({"created_since": "2026-02-01", "created_until": "2026-01-01"}, "created_until"),
                          ({"cursor": "nope"}, "cursor"), ({"limit": 500}, "limit")):
        problem(await api("staff").get(FLAGS, params=params), 422, field)
    resolved = ok(await api("staff").get(FLAGS, params={"status": "resolved"}))["items"]
    assert resolved == []
