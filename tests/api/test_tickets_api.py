"""Tickets: open, read, list with filters and cursors, and plain field edits through PATCH."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import TICKETS, ok, open_ticket, problem, ticket_events

TICKET_KEYS = {
    "number", "title", "channel_name", "status", "priority", "type", "opener", "assignee", "claimer", "team",
    "tags", "custom_fields", "intake_answers", "participants", "contacts", "conversation_ids", "escalated",
    "lockdown", "pinned", "anonymous", "merged_into", "close_reason", "close_note", "closed_at", "closed_by",
    "csat", "csat_comment", "first_response_at", "sla", "close_request_id", "last_message_at", "created_at",
    "updated_at",
}


async def test_opening_a_ticket_answers_201_with_the_ticket(api, world):
    r = await api("alice").post(TICKETS, json={
        "type_id": world.type_ids["General"], "title": "Refund for order 7", "description": "I was charged twice",
        "priority": "high", "tags": ["Refund", "billing"], "custom_fields": {"plan": "plus"},
        "answers": {"order_id": "A-7"},
    })
    ticket = ok(r, 201)
    assert set(ticket) == TICKET_KEYS
    assert ticket["number"] == 1
    assert ticket["title"] == "Refund for order 7"
    assert ticket["status"] == "open"
    assert ticket["priority"] == "high"
    assert ticket["type"] == {"id": world.type_ids["General"], "name": "General"}
    assert ticket["opener"]["id"] == world.member_ids["alice"]
    assert ticket["tags"] == ["billing", "refund"]
    assert ticket["custom_fields"] == {"plan": "plus"}
    assert [a["value"] for a in ticket["intake_answers"] if a["id"] == "order_id"] == ["A-7"]
    assert len(ticket["conversation_ids"]) == 1
    assert ticket["last_message_at"] is not None
    messages = ok(await api("alice").get(f"{TICKETS}/1/messages"))["items"]
    assert [m["body"] for m in messages] == ["I was charged twice"]


async def test_ticket_numbers_are_sequential_per_workspace(api, world):
    numbers = [(await open_ticket(api, world, who))["number"] for who in ("alice", "bob", "vip")]
    assert numbers == [1, 2, 3]


async def test_the_title_defaults_to_the_intake_subject_then_the_type_name(api, world):
    subject = await open_ticket(api, world, "alice", answers={"subject": "Login broken"})
    assert subject["title"] == "Login broken"
    plain = await open_ticket(api, world, "bob", "Billing")
    assert plain["title"] == "Billing request"
    assert plain["channel_name"] == f"ticket-{plain['number']}"


async def test_staff_may_open_a_ticket_on_behalf_of_a_customer(api, world):
    ticket = await open_ticket(api, world, "staff", opener_id=world.member_ids["bob"], title="Phoned in")
    assert ticket["opener"]["id"] == world.member_ids["bob"]
    assert ok(await api("bob").get(f"{TICKETS}/{ticket['number']}"))["title"] == "Phoned in"
    problem(await api("alice").post(TICKETS, json={"type_id": world.type_ids["General"],
                                                   "opener_id": world.member_ids["bob"]}), 403)


async def test_a_type_restricted_to_roles_is_refused_to_others(api, world):
    problem(await api("alice").post(TICKETS, json={"type_id": world.type_ids["VIP"]}), 403)
    assert (await open_ticket(api, world, "vip", "VIP"))["type"]["name"] == "VIP"


async def test_the_same_ticket_shape_comes_back_from_every_endpoint(api, world):
    created = await open_ticket(api, world)
    n = created["number"]
    shapes = [
        created,
        ok(await api("staff").get(f"{TICKETS}/{n}")),
        ok(await api("staff").get(TICKETS))["items"][0],
        ok(await api("staff").patch(f"{TICKETS}/{n}", json={"priority": "low"})),
        ok(await api("staff").post(f"{TICKETS}/{n}/claim")),
        ok(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": "x"})),
        ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"})),
        ok(await api("staff").post(f"{TICKETS}/{n}/reopen")),
    ]
    for shape in shapes:
        assert set(shape) == TICKET_KEYS
    # A read answers exactly what the last change answered.
    assert ok(await api("staff").get(f"{TICKETS}/{n}")) == shapes[-1]


async def test_get_one_ticket(api, world):
    created = await open_ticket(api, world, title="Printer on fire")
    got = ok(await api("alice").get(f"{TICKETS}/{created['number']}"))
    assert got == created


# --- lists --------------------------------------------------------------------------------------------------


async def _numbers(api: Any, who: str = "staff", **params: Any) -> list[int]:
    return [t["number"] for t in ok(await api(who).get(TICKETS, params=params))["items"]]


async def _seed(api: Any, world: Any) -> dict[str, int]:
    """Five tickets with different states, returned by name."""
    staff_id = world.member_ids["staff"]
    a = (await open_ticket(api, world, "alice", title="Refund please", tags=["refund"]))["number"]
    b = (await open_ticket(api, world, "bob", title="Cannot log in", priority="urgent",
                           description="the password reset mail never arrives"))["number"]
    c = (await open_ticket(api, world, "vip", "VIP", title="VIP question", tags=["refund", "vip"]))["number"]
    d = (await open_ticket(api, world, "alice", "Billing", title="Invoice copy"))["number"]
    e = (await open_ticket(api, world, "bob", "Billing", title="Plan change", priority="low"))["number"]
    ok(await api("staff").post(f"{TICKETS}/{a}/claim"))
    ok(await api("manager").post(f"{TICKETS}/{b}/assign", json={"assignee_id": staff_id}))
    ok(await api("staff2").post(f"{TICKETS}/{c}/claim"))
    ok(await api("staff").post(f"{TICKETS}/{d}/status", json={"status": "waiting"}))
    ok(await api("staff").post(f"{TICKETS}/{e}/escalate"))
    ok(await api("staff").post(f"{TICKETS}/{e}/close", json={"reason": "resolved"}))
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


async def test_listing_filters_by_each_field(api, world):
    t = await _seed(api, world)
    assert await _numbers(api) == [t["e"], t["d"], t["c"], t["b"], t["a"]]
    assert await _numbers(api, order="oldest") == [t["a"], t["b"], t["c"], t["d"], t["e"]]
    assert await _numbers(api, status="waiting") == [t["d"]]
    assert await _numbers(api, status=["open", "closed"]) == [t["e"], t["c"], t["b"], t["a"]]
    assert await _numbers(api, priority="urgent") == [t["b"]]
    assert await _numbers(api, priority=["low", "urgent"]) == [t["e"], t["b"]]
    assert await _numbers(api, assignee="me") == [t["b"]]
    assert await _numbers(api, assignee=str(world.member_ids["staff"])) == [t["b"]]
    assert await _numbers(api, assignee="none") == [t["e"], t["d"], t["c"], t["a"]]
    assert await _numbers(api, claimer="me") == [t["a"]]
    assert await _numbers(api, claimer=str(world.member_ids["staff2"])) == [t["c"]]
    assert await _numbers(api, claimer="none") == [t["e"], t["d"], t["b"]]
    assert await _numbers(api, type_id=world.type_ids["Billing"]) == [t["e"], t["d"]]
    assert await _numbers(api, tag="refund") == [t["c"], t["a"]]
    assert await _numbers(api, tag=["refund", "vip"]) == [t["c"]]
    assert await _numbers(api, tag="REFUND") == [t["c"], t["a"]]
    assert await _numbers(api, escalated="true") == [t["e"]]
    assert await _numbers(api, escalated="false") == [t["d"], t["c"], t["b"], t["a"]]
    assert await _numbers(api, opener_id=world.member_ids["alice"]) == [t["d"], t["a"]]
    assert await _numbers(api, status="open", type_id=world.type_ids["General"], claimer="none") == [t["b"]]


async def test_listing_searches_text_and_numbers(api, world):
    t = await _seed(api, world)
    assert await _numbers(api, q="refund") == [t["a"]]
    assert await _numbers(api, q="LOG IN") == [t["b"]]
    # Text in public messages counts too.
    assert await _numbers(api, q="password reset") == [t["b"]]
    assert await _numbers(api, q=str(t["d"])) == [t["d"]]
    assert await _numbers(api, q=f"#{t['c']}") == [t["c"]]
    assert await _numbers(api, q="nothing matches this") == []
    # A wildcard character is matched literally.
    assert await _numbers(api, q="%") == []


async def test_internal_notes_are_not_searched(api, world):
    ticket = await open_ticket(api, world, title="Plain")
    ok(await api("staff").post(f"{TICKETS}/{ticket['number']}/notes", json={"body": "secret-word"}), 201)
    assert await _numbers(api, q="secret-word") == []


async def test_a_customers_list_filters_stay_within_their_tickets(api, world):
    t = await _seed(api, world)
    assert await _numbers(api, "alice") == [t["d"], t["a"]]
    assert await _numbers(api, "alice", tag="refund") == [t["a"]]
    assert await _numbers(api, "alice", q=str(t["b"])) == []


async def test_cursor_pagination_walks_every_ticket_once(api, world):
    expected = []
    for _ in range(7):
        expected.append((await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"]))["number"])
    for order, want in (("newest", expected[::-1]), ("oldest", expected)):
        seen: list[int] = []
        pages = 0
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "order": order}
            if cursor:
                params["cursor"] = cursor
            page = ok(await api("staff").get(TICKETS, params=params))
            assert len(page["items"]) <= 2
            seen += [t["number"] for t in page["items"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == want
        assert pages == 4


async def test_a_cursor_keeps_the_filters_it_was_made_with(api, world):
    for _ in range(5):
        await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"], tags=["odd"])
        await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"])
    first = ok(await api("staff").get(TICKETS, params={"tag": "odd", "limit": 3}))
    second = ok(await api("staff").get(TICKETS, params={"tag": "odd", "limit": 3, "cursor": first["next_cursor"]}))
    numbers = [t["number"] for t in first["items"] + second["items"]]
    assert numbers == [9, 7, 5, 3, 1]
    assert second["next_cursor"] is None


async def test_a_cursor_from_the_other_order_is_refused(api, world):
    for _ in range(3):
        await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"])
    page = ok(await api("staff").get(TICKETS, params={"limit": 1}))
    problem(await api("staff").get(TICKETS, params={"cursor": page["next_cursor"], "order": "oldest"}), 422,
            "cursor")


# --- PATCH --------------------------------------------------------------------------------------------------


def _comparable(events: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    return [(e["type"], e["payload"].get("before"), e["payload"].get("after")) for e in events
            if e["type"] not in ("ticket.opened", "message.created")]


async def test_patch_writes_the_same_events_as_the_sub_resources(api, world):
    staff_id = world.member_ids["staff"]
    team_id = world.team_ids["Tier 2"]
    a = (await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"], tags=["old"]))["number"]
    b = (await open_ticket(api, world, "staff", "VIP", opener_id=world.member_ids["vip"], tags=["old"]))["number"]
    s = api("manager")
    ok(await s.post(f"{TICKETS}/{a}/rename", json={"title": "New title"}))
    ok(await s.post(f"{TICKETS}/{a}/status", json={"status": "in_progress"}))
    ok(await s.post(f"{TICKETS}/{a}/priority", json={"priority": "urgent"}))
    ok(await s.post(f"{TICKETS}/{a}/assign", json={"assignee_id": staff_id}))
    ok(await s.post(f"{TICKETS}/{a}/team", json={"team_id": team_id}))
    ok(await s.post(f"{TICKETS}/{a}/move", json={"type_id": world.type_ids["General"]}))
    ok(await s.post(f"{TICKETS}/{a}/pin"))
    ok(await s.delete(f"{TICKETS}/{a}/tags/old"))
    ok(await s.post(f"{TICKETS}/{a}/tags", json={"tag": "new"}))
    ok(await s.put(f"{TICKETS}/{a}/fields/plan", json={"value": "enterprise"}))
    patched = ok(await s.patch(f"{TICKETS}/{b}", json={
        "title": "New title", "status": "in_progress", "priority": "urgent", "assignee_id": staff_id,
        "team_id": team_id, "type_id": world.type_ids["General"], "pinned": True, "tags": ["new"],
        "custom_fields": {"plan": "enterprise"},
    }))
    via_sub = ok(await s.get(f"{TICKETS}/{a}"))
    for key in ("title", "status", "priority", "assignee", "team", "type", "pinned", "tags", "custom_fields"):
        assert patched[key] == via_sub[key], key
    assert _comparable(await ticket_events(api, a, "manager")) == _comparable(await ticket_events(api, b, "manager"))
    types = [e[0] for e in _comparable(await ticket_events(api, b, "manager"))]
    assert types == ["ticket.renamed", "ticket.status_changed", "ticket.priority_changed", "ticket.assigned",
                     "ticket.team_changed", "ticket.moved", "ticket.pinned", "ticket.tag_removed",
                     "ticket.tag_added", "ticket.field_set"]


async def test_patch_unassign_and_unpin_match_their_endpoints(api, world):
    staff_id = world.member_ids["staff"]
    a = (await open_ticket(api, world, "alice"))["number"]
    b = (await open_ticket(api, world, "bob"))["number"]
    for n in (a, b):
        ok(await api("staff").patch(f"{TICKETS}/{n}", json={"assignee_id": staff_id, "pinned": True}))
    ok(await api("staff").post(f"{TICKETS}/{a}/unassign"))
    ok(await api("staff").post(f"{TICKETS}/{a}/unpin"))
    patched = ok(await api("staff").patch(f"{TICKETS}/{b}", json={"assignee_id": None, "pinned": False}))
    assert patched["assignee"] is None and patched["pinned"] is False
    assert _comparable(await ticket_events(api, a)) == _comparable(await ticket_events(api, b))


async def test_an_empty_patch_changes_nothing(api, world):
    ticket = await open_ticket(api, world)
    events_before = await ticket_events(api, ticket["number"])
    assert ok(await api("staff").patch(f"{TICKETS}/{ticket['number']}", json={})) == ticket
    assert await ticket_events(api, ticket["number"]) == events_before


async def test_patching_status_to_closed_needs_the_close_action(api, world):
    ticket = await open_ticket(api, world)
    problem(await api("staff").patch(f"{TICKETS}/{ticket['number']}", json={"status": "closed"}), 422, "status")


async def test_a_patch_is_all_or_nothing(api, world):
    ticket = await open_ticket(api, world)
    n = ticket["number"]
    problem(await api("staff").patch(f"{TICKETS}/{n}", json={"priority": "urgent",
                                                             "custom_fields": {"plan": "gold"}}),
            422, "custom_fields.plan")
    assert ok(await api("staff").get(f"{TICKETS}/{n}"))["priority"] == "normal"
    assert [e["type"] for e in await ticket_events(api, n)] == ["ticket.opened"]


async def test_an_anonymous_ticket_hides_the_opener_from_staff(api, world):
    ticket = await open_ticket(api, world, "alice", anonymous=True, description="it is me")
    n = ticket["number"]
    assert ticket["opener"]["id"] == world.member_ids["alice"]
    seen = ok(await api("staff").get(f"{TICKETS}/{n}"))
    assert seen["anonymous"] is True
    assert seen["opener"]["id"] is None
    assert seen["opener"]["anonymous"] is True
    assert "Alice" not in seen["opener"]["display_name"]
    [message] = ok(await api("staff").get(f"{TICKETS}/{n}/messages"))["items"]
    assert message["author"]["id"] is None
    assert message["author"]["display_name"] == seen["opener"]["display_name"]
    assert "Alice" not in str(ok(await api("staff").get(TICKETS))["items"])
