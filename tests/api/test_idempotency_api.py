"""Idempotency-Key on creating POSTs: a retry gets the first answer and changes nothing."""

from __future__ import annotations

import asyncio

from tests.api.helpers import TICKETS, ok, problem, row_counts


async def test_repeating_a_create_with_a_key_replays_the_first_answer(api, world):
    body = {"type_id": world.type_ids["General"], "title": "Refund", "description": "twice charged"}
    headers = {"Idempotency-Key": "order-7-refund"}
    first = await api("alice").post(TICKETS, json=body, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    counts = await row_counts(world)
    again = await api("alice").post(TICKETS, json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await row_counts(world) == counts
    assert [t["number"] for t in ok(await api("staff").get(TICKETS))["items"]] == [first.json()["number"]]


async def test_the_same_key_with_a_different_body_is_409(api, world):
    headers = {"Idempotency-Key": "k1"}
    ok(await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"], "title": "A"}, headers=headers),
       201)
    counts = await row_counts(world)
    body = problem(await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"], "title": "B"},
                                           headers=headers), 409)
    assert body["code"] == "idempotency_conflict"
    assert await row_counts(world) == counts


async def test_keys_belong_to_the_caller(api, world):
    headers = {"Idempotency-Key": "shared-key"}
    a = ok(await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"]}, headers=headers), 201)
    b = ok(await api("bob").post(TICKETS, json={"type_id": world.type_ids["General"]}, headers=headers), 201)
    assert a["number"] != b["number"]


async def test_a_failed_create_does_not_use_up_the_key(api, world):
    headers = {"Idempotency-Key": "retry-me"}
    body = {"type_id": world.type_ids["General"], "custom_fields": {"plan": "gold"}}
    problem(await api("alice").post(TICKETS, json=body, headers=headers), 422, "custom_fields.plan")
    body["custom_fields"] = {"plan": "plus"}
    created = await api("alice").post(TICKETS, json=body, headers=headers)
    assert created.status_code == 201
    assert "idempotent-replayed" not in created.headers


async def test_concurrent_requests_with_one_key_create_one_ticket(api, world):
    body = {"type_id": world.type_ids["General"], "title": "Once", "description": "only once"}
    headers = {"Idempotency-Key": "burst"}
    answers = await asyncio.gather(*(api("alice").post(TICKETS, json=body, headers=headers) for _ in range(5)))
    assert [r.status_code for r in answers] == [201] * 5, [r.text for r in answers]
    assert len({r.json()["number"] for r in answers}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 4
    counts = await row_counts(world)
    assert (counts["tickets"], counts["conversations"], counts["messages"]) == (1, 1, 1)


async def test_concurrent_requests_with_one_key_on_an_unlimited_type(api, world):
    body = {"type_id": world.type_ids["VIP"], "title": "Once"}
    headers = {"Idempotency-Key": "burst-vip"}
    answers = await asyncio.gather(*(api("vip").post(TICKETS, json=body, headers=headers) for _ in range(5)))
    assert [r.status_code for r in answers] == [201] * 5, [r.text for r in answers]
    assert len({r.json()["number"] for r in answers}) == 1
    assert (await row_counts(world))["tickets"] == 1


async def test_other_creating_posts_honour_the_key(api, world):
    ticket = ok(await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"]}), 201)
    url = f"{TICKETS}/{ticket['number']}/messages"
    headers = {"Idempotency-Key": "msg-1"}
    first = ok(await api("alice").post(url, json={"body": "hello"}, headers=headers), 201)
    again = await api("alice").post(url, json={"body": "hello"}, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first
    assert len(ok(await api("alice").get(url))["items"]) == 1
    member = {"display_name": "Cleo", "email": "cleo@example.com"}
    m1 = ok(await api("staff").post("/api/v1/members", json=member, headers={"Idempotency-Key": "m"}), 201)
    m2 = ok(await api("staff").post("/api/v1/members", json=member, headers={"Idempotency-Key": "m"}), 201)
    assert m1 == m2


async def test_an_overlong_key_is_422(api, world):
    r = await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"]},
                                headers={"Idempotency-Key": "k" * 256})
    problem(r, 422, "Idempotency-Key")
