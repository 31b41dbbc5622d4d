"""/api/v1/tickets/{number}/close-request over HTTP: ask, read, accept, deny, cancel."""

from __future__ import annotations

from sqlalchemy import func, select

from frontdesk.db.models import CloseRequest
from frontdesk.worker.close_requests import expire_close_requests
from tests.api.helpers import TICKETS, event_types, ok, open_ticket, problem, row_counts


def url(number: int, tail: str = "") -> str:
    return f"{TICKETS}/{number}/close-request{tail}"


async def close_request_rows(world) -> int:
    async with world.desk.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(CloseRequest)) or 0)


async def test_ask_read_and_accept_closes_the_ticket(api, world):
    t = await open_ticket(api, world)
    created = ok(await api("staff").post(url(t["number"]), json={"comment": "Fixed?", "close_after": "2d"}), 201)
    assert (created["status"], created["comment"], created["share_comment"], created["ticket_number"]) == (
        "pending", "Fixed?", True, t["number"])
    assert created["requested_by_id"] == world.member_ids["staff"]
    assert created["close_at"] is not None and created["answered_at"] is None
    assert ok(await api("staff").get(url(t["number"]))) == created
    assert ok(await api("alice").get(url(t["number"])))["comment"] == "Fixed?"
    accepted = ok(await api("alice").post(url(t["number"], "/accept")))
    assert (accepted["id"], accepted["status"], accepted["answered_by_id"]) == (
        created["id"], "accepted", world.member_ids["alice"])
    ticket = ok(await api("staff").get(f"{TICKETS}/{t['number']}"))
    assert (ticket["status"], ticket["close_reason"]) == ("closed", "resolved")
    problem(await api("staff").get(url(t["number"])), 404)
    types = await event_types(api, t["number"])
    assert types.index("close_request.created") < types.index("close_request.accepted") < types.index(
        "ticket.closed")


async def test_the_opener_denies_and_the_ticket_stays_open(api, world):
    t = await open_ticket(api, world)
    ok(await api("staff").post(url(t["number"])), 201)
    denied = ok(await api("alice").post(url(t["number"], "/deny")))
    assert denied["status"] == "denied"
    assert ok(await api("staff").get(f"{TICKETS}/{t['number']}"))["status"] == "open"
    assert "close_request.denied" in await event_types(api, t["number"])


async def test_staff_cancel_with_delete(api, world):
    t = await open_ticket(api, world)
    ok(await api("staff").post(url(t["number"]), json={"close_after": "30m"}), 201)
    cancelled = ok(await api("staff2").delete(url(t["number"])))
    assert (cancelled["status"], cancelled["answered_by_id"]) == ("cancelled", world.member_ids["staff2"])
    problem(await api("staff").get(url(t["number"])), 404)
    problem(await api("staff").delete(url(t["number"])), 409)


async def test_a_second_pending_request_answers_409(api, world):
    t = await open_ticket(api, world)
    first = ok(await api("staff").post(url(t["number"]), json={"comment": "one"}), 201)
    body = problem(await api("staff2").post(url(t["number"]), json={"comment": "two"}), 409)
    assert body["close_request_id"] == first["id"]
    assert await close_request_rows(world) == 1


async def test_answering_nothing_pending_answers_409(api, world):
    t = await open_ticket(api, world)
    problem(await api("alice").post(url(t["number"], "/accept")), 409)
    problem(await api("alice").post(url(t["number"], "/deny")), 409)
    problem(await api("staff").delete(url(t["number"])), 409)
    problem(await api("staff").get(url(t["number"])), 404)


async def test_only_staff_ask_and_only_the_opener_answers(api, world):
    t = await open_ticket(api, world)
    problem(await api("alice").post(url(t["number"])), 403)
    problem(await api("bob").post(url(t["number"])), 404)
    assert await close_request_rows(world) == 0
    ok(await api("staff").post(url(t["number"])), 201)
    problem(await api("staff").post(url(t["number"], "/accept")), 403)
    problem(await api("staff").post(url(t["number"], "/deny")), 403)
    problem(await api("bob").post(url(t["number"], "/accept")), 404)
    problem(await api("bob").get(url(t["number"])), 404)
    problem(await api("alice").delete(url(t["number"])), 403)
    assert ok(await api("staff").get(url(t["number"])))["status"] == "pending"


async def test_bad_input_answers_422_naming_the_field_and_saves_nothing(api, world):
    t = await open_ticket(api, world)
    before = await row_counts(world)
    for body, field in [
        ({"close_after": "soon"}, "close_after"),
        ({"close_after": "1h30x"}, "close_after"),
        ({"close_after": ""}, "close_after"),
        ({"close_after": 30}, "close_after"),
        ({"comment": "x" * 1001}, "comment"),
        ({"share_comment": "yes"}, "share_comment"),
        ({"share_comment": 1}, "share_comment"),
        ({"share_comment": None}, "share_comment"),
        ({"comment": "a\x00b"}, "comment"),
        ({"colour": "red"}, "colour"),
    ]:
        problem(await api("staff").post(url(t["number"]), json=body), 422, field)
    problem(await api("staff").post(url(t["number"]), json={"close_after": "soon"},
                                    headers={"Idempotency-Key": "bad-1"}), 422, "close_after")
    assert await row_counts(world) == before
    assert await close_request_rows(world) == 0


async def test_an_unshared_comment_is_hidden_from_the_opener(api, world):
    t = await open_ticket(api, world)
    ok(await api("staff").post(url(t["number"]), json={"comment": "never answers", "share_comment": False}), 201)
    mine = ok(await api("alice").get(url(t["number"])))
    assert (mine["comment"], mine["share_comment"]) == (None, False)
    assert ok(await api("staff").get(url(t["number"])))["comment"] == "never answers"


async def test_idempotency_key_replays_the_created_request(api, world):
    t = await open_ticket(api, world)
    headers = {"Idempotency-Key": "ask-1"}
    first = await api("staff").post(url(t["number"]), json={"comment": "done?"}, headers=headers)
    again = await api("staff").post(url(t["number"]), json={"comment": "done?"}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await close_request_rows(world) == 1
    problem(await api("staff").post(url(t["number"]), json={"comment": "other"}, headers=headers), 409)


async def test_an_expired_request_shows_the_ticket_closed(api, world):
    t = await open_ticket(api, world)
    ok(await api("staff").post(url(t["number"]), json={"close_after": "1h"}), 201)
    world.desk.clock.advance(hours=1)
    assert await expire_close_requests(world.desk) == 1
    ticket = ok(await api("alice").get(f"{TICKETS}/{t['number']}"))
    assert (ticket["status"], ticket["close_reason"], ticket["closed_by"]) == ("closed", "resolved", None)
    problem(await api("alice").post(url(t["number"], "/accept")), 409)
    assert "close_request.expired" in await event_types(api, t["number"])
