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
