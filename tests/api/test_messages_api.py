"""Messages and internal notes on tickets, attachments, and edits."""

from __future__ import annotations

import base64

from tests.api.helpers import TICKETS, event_types, ok, open_ticket, problem

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _ticket(api, world, who="alice") -> int:  # type: ignore[no-untyped-def]
    return int((await open_ticket(api, world, who, description="first message"))["number"])


async def test_posting_a_message_answers_201_with_it(api, world):
    n = await _ticket(api, world)
    message = ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": "Looking into it"}), 201)
    assert message["body"] == "Looking into it"
    assert (message["visibility"], message["author_kind"]) == ("public", "staff")
    assert message["author"]["id"] == world.member_ids["staff"]
    assert message["ticket_number"] == n
    ticket = ok(await api("alice").get(f"{TICKETS}/{n}"))
    assert message["conversation_id"] == ticket["conversation_ids"][0]
    assert ticket["first_response_at"] is not None
    reply = ok(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "thanks",
                                                                         "reply_to_id": message["id"]}), 201)
    assert (reply["author_kind"], reply["reply_to_id"]) == ("customer", message["id"])
    bodies = [m["body"] for m in ok(await api("alice").get(f"{TICKETS}/{n}/messages"))["items"]]
    assert bodies == ["first message", "Looking into it", "thanks"]
    assert (await event_types(api, n)).count("message.created") == 3


async def test_a_message_needs_text_or_an_attachment(api, world):
    n = await _ticket(api, world)
    problem(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "   "}), 422, "body")
    problem(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": 12}), 422, "body")
    problem(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "x", "reply_to_id": 999999}), 422,
            "reply_to_id")


async def test_writing_in_a_closed_ticket_is_409(api, world):
    n = await _ticket(api, world)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    problem(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "hello?"}), 409)


async def test_an_attachment_sent_as_base64_downloads_with_the_same_bytes(api, world):
    n = await _ticket(api, world)
    message = ok(await api("alice").post(f"{TICKETS}/{n}/messages", json={
        "body": "screenshot", "attachments": [{"filename": "shot.png", "content_type": "image/png",
                                               "content_base64": _b64(PNG)}]}), 201)
    [attachment] = message["attachments"]
    assert (attachment["filename"], attachment["content_type"], attachment["size"]) == ("shot.png", "image/png",
                                                                                         len(PNG))
    for who in ("alice", "staff"):
        r = await api(who).get(attachment["url"])
        assert r.status_code == 200
        assert r.content == PNG
        assert r.headers["content-type"] == "image/png"
        assert r.headers["content-disposition"] == 'attachment; filename="shot.png"'
        assert r.headers["x-content-type-options"] == "nosniff"
    problem(await api("bob").get(attachment["url"]), 404)
    problem(await api(None).get(attachment["url"]), 401)


async def test_an_attachment_by_url_redirects(api, world):
    n = await _ticket(api, world)
    message = ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={
        "body": "see", "attachments": [{"filename": "log.txt", "url": "https://files.example.com/log.txt",
                                        "size": 10}]}), 201)
    assert message["attachments"][0]["url"] == "https://files.example.com/log.txt"
    assert message["attachments"][0]["size"] == 10


async def test_attachment_input_errors_name_the_attachment(api, world):
    n = await _ticket(api, world)
    url = f"{TICKETS}/{n}/messages"
    problem(await api("alice").post(url, json={"body": "x", "attachments": [
        {"filename": "a.bin", "content_base64": "***not base64***"}]}), 422, "attachments[0].content_base64")
    problem(await api("alice").post(url, json={"body": "x", "attachments": [
        {"filename": "big.bin", "content_base64": _b64(b"\0" * (1024 * 1024 + 1))}]}), 422,
        "attachments[0].content_base64")
    problem(await api("alice").post(url, json={"body": "x", "attachments": [
        {"filename": "../etc/passwd", "content_base64": _b64(b"x")}]}), 422, "attachments[0].filename")
    problem(await api("alice").post(url, json={"body": "x", "attachments": [{"filename": "none.bin"}]}), 422,
            "attachments[0]")
    assert len(ok(await api("alice").get(url))["items"]) == 1


async def test_internal_notes_are_invisible_to_the_customer(api, world):
    n = await _ticket(api, world)
    note = ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={"body": "customer is on the old plan"}), 201)
    assert (note["visibility"], note["author_kind"]) == ("internal", "staff")
    ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": "public reply"}), 201)
    staff_view = [m["body"] for m in ok(await api("staff").get(f"{TICKETS}/{n}/messages"))["items"]]
    assert staff_view == ["first message", "customer is on the old plan", "public reply"]
    customer_view = ok(await api("alice").get(f"{TICKETS}/{n}/messages"))
    assert [m["body"] for m in customer_view["items"]] == ["first message", "public reply"]
    assert "old plan" not in str(customer_view)
    problem(await api("alice").post(f"{TICKETS}/{n}/notes", json={"body": "me too"}), 403)
    assert (await event_types(api, n))[-2:] == ["note.created", "message.created"]


async def test_a_customer_cannot_download_an_attachment_on_a_note(api, world):
    n = await _ticket(api, world)
    note = ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={
        "body": "internal log", "attachments": [{"filename": "log.txt", "content_type": "text/plain",
                                                 "content_base64": _b64(b"secret")}]}), 201)
    url = note["attachments"][0]["url"]
    assert (await api("staff").get(url)).content == b"secret"
    problem(await api("alice").get(url), 404)


async def test_editing_a_message_keeps_the_previous_text(api, world):
    n = await _ticket(api, world)
    message = ok(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "my order is 123"}), 201)
    edited = ok(await api("alice").patch(f"/api/v1/messages/{message['id']}", json={"body": "my order is 124"}))
    assert edited["body"] == "my order is 124"
    assert edited["edited_at"] is not None
    assert [e["previous_body"] for e in edited["edits"]] == ["my order is 123"]
    staff_view = ok(await api("staff").get(f"{TICKETS}/{n}/messages"))["items"]
    shown = next(m for m in staff_view if m["id"] == message["id"])
    assert shown["body"] == "my order is 124"
    assert [e["previous_body"] for e in shown["edits"]] == ["my order is 123"]
    event = next(e for e in ok(await api("staff").get(f"{TICKETS}/{n}/events"))["items"]
                 if e["type"] == "message.edited")
    assert event["payload"]["before"] == {"body": "my order is 123"}
    assert event["payload"]["after"] == {"body": "my order is 124"}


async def test_only_the_author_may_edit_a_message(api, world):
    n = await _ticket(api, world)
    message = ok(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "original"}), 201)
    problem(await api("staff").patch(f"/api/v1/messages/{message['id']}", json={"body": "changed"}), 403)
    problem(await api("bob").patch(f"/api/v1/messages/{message['id']}", json={"body": "changed"}), 404)
    note = ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={"body": "note"}), 201)
    problem(await api("staff2").patch(f"/api/v1/messages/{note['id']}", json={"body": "mine"}), 403)
    ok(await api("staff").patch(f"/api/v1/messages/{note['id']}", json={"body": "note, amended"}))
    bodies = [m["body"] for m in ok(await api("alice").get(f"{TICKETS}/{n}/messages"))["items"]]
    assert bodies == ["first message", "original"]


async def test_a_customer_cannot_edit_a_note_they_cannot_see(api, world):
    n = await _ticket(api, world)
    note = ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={"body": "note"}), 201)
    problem(await api("alice").patch(f"/api/v1/messages/{note['id']}", json={"body": "hacked"}), 404)


async def test_posting_into_a_second_linked_conversation(api, world):
    n = await _ticket(api, world)
    conversation = ok(await api("staff").post("/api/v1/conversations", json={
        "customer_id": world.member_ids["alice"], "channel": "email", "subject": "mail"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/conversations", json={"conversation_id": conversation["id"]}))
    message = ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={
        "body": "by email", "conversation_id": conversation["id"]}), 201)
    assert message["conversation_id"] == conversation["id"]
    other = await _ticket(api, world, "bob")
    problem(await api("staff").post(f"{TICKETS}/{other}/messages", json={
        "body": "wrong", "conversation_id": conversation["id"]}), 422, "conversation_id")
