"""Macros over HTTP: create, read, search, edit, delete, preview for a ticket, send into one."""

from __future__ import annotations

from tests.api.helpers import TICKETS, event_types, ok, open_ticket, problem

MACROS = "/api/v1/macros"
REFUND = "Hi {user}, ticket {ticket.number} is refunded. {staff}"


async def create(api, who="manager", **body):  # type: ignore[no-untyped-def]
    payload = {"shortcut": "refund", "content": REFUND, **body}
    return ok(await api(who).post(MACROS, json=payload), 201)


async def shortcuts(api, **params):  # type: ignore[no-untyped-def]
    return [m["shortcut"] for m in ok(await api("staff").get(MACROS, params=params))["items"]]


async def test_a_created_macro_reads_back_as_it_was_answered(api, world):
    made = await create(api, shortcut=" Refund-Policy ", category="Billing", send_as_staff=False)
    assert (made["shortcut"], made["category"], made["send_as_staff"], made["usage_count"]) == (
        "refund-policy", "Billing", False, 0)
    assert made["variables"] == ["user", "ticket.number", "staff"]
    assert made["created_by_id"] == world.member_ids["manager"]
    assert ok(await api("staff").get(f"{MACROS}/{made['id']}")) == made
    assert [m["id"] for m in ok(await api("staff").get(MACROS))["items"]] == [made["id"]]


async def test_macros_are_searched_filtered_and_paged(api, world):
    await create(api, shortcut="refund", content="Your refund is on its way", category="Billing")
    await create(api, shortcut="reset", content="Use the reset link", category="Accounts")
    await create(api, shortcut="hello", content="Hello {user}", category="Billing")
    assert await shortcuts(api, q="LINK") == ["reset"]
    assert await shortcuts(api, q="billing") == ["hello", "refund"]
    assert await shortcuts(api, category="Billing") == ["hello", "refund"]
    page = ok(await api("staff").get(MACROS, params={"limit": 2}))
    rest = ok(await api("staff").get(MACROS, params={"limit": 2, "cursor": page["next_cursor"]}))
    assert [m["shortcut"] for m in page["items"] + rest["items"]] == ["hello", "refund", "reset"]
    assert rest["next_cursor"] is None
    problem(await api("staff").get(MACROS, params={"cursor": "not-a-cursor"}), 422, "cursor")
    problem(await api("staff").get(MACROS, params={"limit": 0}), 422, "limit")
    problem(await api("staff").get(MACROS, params={"q": "a\x00b"}), 422, "q")


async def test_a_taken_shortcut_is_422_naming_it_and_changes_nothing(api, world):
    await create(api)
    problem(await api("manager").post(MACROS, json={"shortcut": "REFUND", "content": "other"}), 422, "shortcut")
    assert await shortcuts(api) == ["refund"]


async def test_bad_macros_are_422_naming_the_field(api, world):
    for body, field in (
        ({"shortcut": "ok", "content": "Hi {customer}"}, "content"),
        ({"shortcut": "ok", "content": "x" * 2001}, "content"),
        ({"shortcut": "two words", "content": "x"}, "shortcut"),
        ({"shortcut": 5, "content": "x"}, "shortcut"),
        ({"shortcut": "ok", "content": "x", "category": "c" * 51}, "category"),
        ({"shortcut": "ok", "content": "x", "send_as_staff": "yes"}, "send_as_staff"),
        ({"shortcut": "ok", "content": "x", "usage_count": 3}, "usage_count"),
        ({"content": "x"}, "shortcut"),
    ):
        problem(await api("manager").post(MACROS, json=body), 422, field)
    assert await shortcuts(api) == []


async def test_creating_honours_the_idempotency_key(api, world):
    headers = {"Idempotency-Key": "macro-1"}
    body = {"shortcut": "refund", "content": REFUND}
    first = ok(await api("manager").post(MACROS, json=body, headers=headers), 201)
    again = await api("manager").post(MACROS, json=body, headers=headers)
    assert again.status_code == 201 and again.json() == first
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await shortcuts(api) == ["refund"]


async def test_editing_and_deleting_a_macro(api, world):
    made = await create(api)
    edited = ok(await api("manager").patch(f"{MACROS}/{made['id']}", json={"shortcut": "Refund-2", "category": "B"}))
    assert (edited["shortcut"], edited["category"], edited["content"]) == ("refund-2", "B", REFUND)
    for body, field in (({"content": "{x}"}, "content"), ({"shortcut": "a b"}, "shortcut"),
                        ({"send_as_staff": None}, "send_as_staff"), ({"created_by_id": 1}, "created_by_id")):
        problem(await api("manager").patch(f"{MACROS}/{made['id']}", json=body), 422, field)
    assert ok(await api("staff").get(f"{MACROS}/{made['id']}")) == edited
    problem(await api("manager").patch(f"{MACROS}/999999", json={"category": "x"}), 404)
    response = await api("manager").delete(f"{MACROS}/{made['id']}")
    assert response.status_code == 204
    problem(await api("staff").get(f"{MACROS}/{made['id']}"), 404)
    problem(await api("manager").delete(f"{MACROS}/{made['id']}"), 404)


async def test_who_may_read_and_who_may_change_macros(api, world):
    made = await create(api)
    problem(await api("staff").post(MACROS, json={"shortcut": "mine", "content": "x"}), 403)
    problem(await api("staff").patch(f"{MACROS}/{made['id']}", json={"category": "x"}), 403)
    problem(await api("staff").delete(f"{MACROS}/{made['id']}"), 403)
    for path in (MACROS, f"{MACROS}/{made['id']}"):
        problem(await api("alice").get(path), 403)
    problem(await api("alice").post(MACROS, json={"shortcut": "mine", "content": "x"}), 403)
    ok(await api("admin").patch(f"{MACROS}/{made['id']}", json={"category": "admin"}))


async def test_a_preview_fills_in_the_ticket_without_sending(api, world):
    made = await create(api)
    n = (await open_ticket(api, world, "alice", description="refund please"))["number"]
    preview = ok(await api("staff").post(f"{MACROS}/{made['id']}/preview", json={"ticket": n}))
    assert preview == {"macro_id": made["id"], "ticket_number": n,
                       "text": f"Hi Alice Customer, ticket {n} is refunded. Sam Staff"}
    assert "macro.used" not in await event_types(api, n)
    assert ok(await api("staff").get(f"{MACROS}/{made['id']}"))["usage_count"] == 0
    problem(await api("staff").post(f"{MACROS}/{made['id']}/preview", json={"ticket": 0}), 422, "ticket")
    problem(await api("staff").post(f"{MACROS}/{made['id']}/preview", json={}), 422, "ticket")
    problem(await api("staff").post(f"{MACROS}/{made['id']}/preview", json={"ticket": 99999}), 404)
    problem(await api("staff").post(f"{MACROS}/999999/preview", json={"ticket": n}), 404)
    problem(await api("alice").post(f"{MACROS}/{made['id']}/preview", json={"ticket": n}), 403)


async def test_sending_a_macro_posts_it_into_the_ticket(api, world):
    made = await create(api)
    n = (await open_ticket(api, world, "alice", description="refund please"))["number"]
    sent = ok(await api("staff").post(f"{TICKETS}/{n}/macros/REFUND"), 201)
    assert sent["macro"]["usage_count"] == 1 and sent["macro"]["id"] == made["id"]
    message = sent["message"]
    assert (message["author_kind"], message["visibility"], message["ticket_number"]) == ("staff", "public", n)
    assert message["body"] == f"Hi Alice Customer, ticket {n} is refunded. Sam Staff"
    types = await event_types(api, n)
    assert "macro.used" in types and "message.created" in types
    shown = ok(await api("alice").get(f"{TICKETS}/{n}/messages"))["items"]
    assert message["id"] in [m["id"] for m in shown]


async def test_a_macro_not_sent_as_staff_comes_from_the_bot(api, world):
    await create(api, send_as_staff=False)
    n = (await open_ticket(api, world, "alice", description="refund please"))["number"]
    sent = ok(await api("staff").post(f"{TICKETS}/{n}/macros/refund"), 201)
    assert sent["message"]["author_kind"] == "bot"


async def test_sending_honours_the_idempotency_key(api, world):
    await create(api)
    n = (await open_ticket(api, world, "alice", description="refund please"))["number"]
    headers = {"Idempotency-Key": "send-1"}
    first = ok(await api("staff").post(f"{TICKETS}/{n}/macros/refund", headers=headers), 201)
    again = ok(await api("staff").post(f"{TICKETS}/{n}/macros/refund", headers=headers), 201)
    assert again == first
    assert (await event_types(api, n)).count("macro.used") == 1


async def test_sending_is_refused_to_customers_and_for_unknown_macros(api, world):
    await create(api)
    n = (await open_ticket(api, world, "alice", description="refund please"))["number"]
    problem(await api("alice").post(f"{TICKETS}/{n}/macros/refund"), 403)
    # Macros are for staff, whatever the ticket; staff who may not see the ticket get 404.
    problem(await api("bob").post(f"{TICKETS}/{n}/macros/refund"), 403)
    vip = (await open_ticket(api, world, "vip", "VIP", description="vip help"))["number"]
    problem(await api("roled").post(f"{TICKETS}/{vip}/macros/refund"), 404)
    problem(await api("staff").post(f"{TICKETS}/{n}/macros/nope"), 404)
    problem(await api("staff").post(f"{TICKETS}/99999/macros/refund"), 404)
    problem(await api("staff").post(f"{TICKETS}/{n}/macros/{'x' * 65}"), 422, "shortcut")
    assert "macro.used" not in await event_types(api, n)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    problem(await api("staff").post(f"{TICKETS}/{n}/macros/refund"), 409)
