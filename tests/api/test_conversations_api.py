"""Conversations that are not tickets (yet): start, write, solve, convert, list."""

from __future__ import annotations

from tests.api.helpers import TICKETS, event_types, ok, problem

CONVERSATIONS = "/api/v1/conversations"


async def _start(api, world, who="staff", **body):  # type: ignore[no-untyped-def]
    payload = {"channel": "email", "customer_id": world.member_ids["alice"], "subject": "Question",
               "body": "Hi, how do refunds work?", **body}
    return ok(await api(who).post(CONVERSATIONS, json=payload), 201)


async def test_starting_a_conversation_answers_it_with_its_first_message(api, world):
    conversation = await _start(api, world)
    assert conversation["channel"] == "email"
    assert conversation["customer"]["id"] == world.member_ids["alice"]
    assert (conversation["status"], conversation["ticket_number"]) == ("open", None)
    assert [m["body"] for m in conversation["messages"]] == ["Hi, how do refunds work?"]
    assert ok(await api("staff").get(f"{CONVERSATIONS}/{conversation['id']}")) == conversation


async def test_a_customer_starts_their_own_conversation_only(api, world):
    own = ok(await api("bob").post(CONVERSATIONS, json={"subject": "hello", "body": "hi"}), 201)
    assert own["customer"]["id"] == world.member_ids["bob"]
    problem(await api("bob").post(CONVERSATIONS, json={"customer_id": world.member_ids["alice"]}), 403)
    problem(await api("bob").post(CONVERSATIONS, json={"channel": "pigeon"}), 422, "channel")


async def test_writing_in_a_conversation(api, world):
    conversation = await _start(api, world)
    cid = conversation["id"]
    reply = ok(await api("staff").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "Within 14 days."}), 201)
    assert (reply["author_kind"], reply["visibility"]) == ("staff", "public")
    note = ok(await api("staff").post(f"{CONVERSATIONS}/{cid}/messages",
                                      json={"body": "she asked before", "internal": True}), 201)
    assert note["visibility"] == "internal"
    customer = ok(await api("alice").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "thanks"}), 201)
    assert customer["author_kind"] == "customer"
    problem(await api("alice").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "x", "internal": True}), 403)
    alice_view = ok(await api("alice").get(f"{CONVERSATIONS}/{cid}"))
    assert [m["body"] for m in alice_view["messages"]] == ["Hi, how do refunds work?", "Within 14 days.", "thanks"]
    staff_view = ok(await api("staff").get(f"{CONVERSATIONS}/{cid}"))
    assert "she asked before" in [m["body"] for m in staff_view["messages"]]
    problem(await api("bob").get(f"{CONVERSATIONS}/{cid}"), 404)
    problem(await api("bob").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "hi"}), 404)
    problem(await api("staff").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": ""}), 422, "body")


async def test_solving_a_conversation(api, world):
    conversation = await _start(api, world)
    cid = conversation["id"]
    problem(await api("alice").post(f"{CONVERSATIONS}/{cid}/solve"), 403)
    solved = ok(await api("staff").post(f"{CONVERSATIONS}/{cid}/solve"))
    assert solved["status"] == "solved"
    assert solved["solved_at"] is not None
    problem(await api("staff").post(f"{CONVERSATIONS}/{cid}/solve"), 409)
    # The customer writing again opens it again.
    ok(await api("alice").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "one more thing"}), 201)
    assert ok(await api("staff").get(f"{CONVERSATIONS}/{cid}"))["status"] == "open"


async def test_converting_to_a_ticket_keeps_the_conversation_linked(api, world):
    conversation = await _start(api, world)
    cid = conversation["id"]
    problem(await api("alice").post(f"{CONVERSATIONS}/{cid}/convert", json={"type_id": world.type_ids["General"]}),
            403)
    ticket = ok(await api("staff").post(f"{CONVERSATIONS}/{cid}/convert", json={
        "type_id": world.type_ids["General"], "priority": "high", "tags": ["refund"]}), 201)
    assert ticket["conversation_ids"] == [cid]
    assert ticket["title"] == "Question"
    assert ticket["opener"]["id"] == world.member_ids["alice"]
    assert (ticket["priority"], ticket["tags"]) == ("high", ["refund"])
    assert ok(await api("staff").get(f"{CONVERSATIONS}/{cid}"))["ticket_number"] == ticket["number"]
    # The conversation's messages are the ticket's; a reply goes out through the same conversation.
    n = ticket["number"]
    assert [m["body"] for m in ok(await api("alice").get(f"{TICKETS}/{n}/messages"))["items"]] == [
        "Hi, how do refunds work?"]
    reply = ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": "Refund issued"}), 201)
    assert reply["conversation_id"] == cid
    assert (await event_types(api, n))[:2] == ["ticket.opened", "conversation.converted"]
    # Writing in it directly now goes through the ticket; converting twice is refused.
    problem(await api("staff").post(f"{CONVERSATIONS}/{cid}/messages", json={"body": "x"}), 409)
    problem(await api("staff").post(f"{CONVERSATIONS}/{cid}/convert", json={"type_id": world.type_ids["General"]}),
            409)
    problem(await api("staff").post(f"{CONVERSATIONS}/{cid}/solve"), 409)


async def test_converting_names_bad_input(api, world):
    conversation = await _start(api, world)
    problem(await api("staff").post(f"{CONVERSATIONS}/{conversation['id']}/convert", json={"type_id": 999999}), 422,
            "type_id")
    problem(await api("staff").post(f"{CONVERSATIONS}/{conversation['id']}/convert", json={}), 422, "type_id")
    assert ok(await api("staff").get(f"{CONVERSATIONS}/{conversation['id']}"))["ticket_number"] is None


async def test_listing_conversations_with_filters(api, world):
    a = (await _start(api, world, subject="a"))["id"]
    b = (await _start(api, world, subject="b", customer_id=world.member_ids["bob"]))["id"]
    c = (await _start(api, world, subject="c"))["id"]
    ok(await api("staff").post(f"{CONVERSATIONS}/{b}/solve"))
    ticket = ok(await api("staff").post(f"{CONVERSATIONS}/{c}/convert", json={"type_id": world.type_ids["General"]}),
                201)
    ticket_conversation = ticket["conversation_ids"][0]

    async def ids(who="staff", **params):  # type: ignore[no-untyped-def]
        return [x["id"] for x in ok(await api(who).get(CONVERSATIONS, params=params))["items"]]

    assert await ids() == [c, b, a]
    assert await ids(status="solved") == [b]
    assert await ids(status="open") == [c, a]
    assert await ids(linked="true") == [ticket_conversation]
    assert await ids(linked="false") == [b, a]
    assert await ids("alice") == [c, a]
    assert await ids("bob") == [b]
    first = ok(await api("staff").get(CONVERSATIONS, params={"limit": 2}))
    rest = ok(await api("staff").get(CONVERSATIONS, params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [x["id"] for x in first["items"] + rest["items"]] == [c, b, a]
    assert rest["next_cursor"] is None
    problem(await api("staff").get(CONVERSATIONS, params={"status": "sleeping"}), 422, "status")
