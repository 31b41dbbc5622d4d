"""Simultaneous requests over HTTP: exactly one wins where only one may."""

from __future__ import annotations

import asyncio

from tests.api.helpers import TICKETS, event_types, ok, open_ticket, problem, row_counts


async def test_simultaneous_opens_stop_at_the_open_ticket_limit(api, world):
    body = {"type_id": world.type_ids["General"], "description": "help"}
    answers = await asyncio.gather(*(api("alice").post(TICKETS, json=body) for _ in range(4)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert problem(r, 409)["code"] == "open_limit_reached"
    counts = await row_counts(world)
    assert (counts["tickets"], counts["conversations"], counts["messages"]) == (1, 1, 1)


async def test_simultaneous_opens_by_many_customers_get_distinct_numbers(api, world):
    answers = await asyncio.gather(*(api(who).post(TICKETS, json={"type_id": world.type_ids["General"]})
                                     for who in ("alice", "bob", "vip", "roled", "modder")))
    assert [r.status_code for r in answers] == [201] * 5, [r.text for r in answers]
    numbers = sorted(r.json()["number"] for r in answers)
    assert len(set(numbers)) == 5
    assert [t["number"] for t in ok(await api("staff").get(TICKETS, params={"order": "oldest"}))["items"]] == numbers


async def test_simultaneous_closes_close_once(api, world):
    n = (await open_ticket(api, world))["number"]
    answers = await asyncio.gather(api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}),
                                   api("staff2").post(f"{TICKETS}/{n}/close", json={"reason": "duplicate"}))
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert (await event_types(api, n)).count("ticket.closed") == 1
    assert len(ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]) == 1


async def test_crossing_merges_do_not_deadlock(api, world):
    a = (await open_ticket(api, world, "alice"))["number"]
    b = (await open_ticket(api, world, "bob"))["number"]
    answers = await asyncio.gather(api("staff").post(f"{TICKETS}/{a}/merge", json={"into": b}),
                                   api("staff2").post(f"{TICKETS}/{b}/merge", json={"into": a}))
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    merged = [ok(await api("staff").get(f"{TICKETS}/{n}"))["merged_into"] for n in (a, b)]
    assert sorted(merged, key=lambda m: m is None) in ([b, None], [a, None])
