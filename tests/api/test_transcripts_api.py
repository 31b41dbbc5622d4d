"""Transcripts: rendered at close, listed on the ticket, downloadable as HTML and text."""

from __future__ import annotations

from tests.api.helpers import TICKETS, ok, open_ticket, problem


async def _closed_ticket(api, world) -> int:  # type: ignore[no-untyped-def]
    n = (await open_ticket(api, world, title="Broken <b>page</b>", description="<script>alert(1)</script> & more"))[
        "number"]
    ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": "Fixed, try again"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={"body": "INTERNAL-ONLY-REMARK"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved", "note": "cache <cleared>"}))
    return int(n)


async def test_closing_renders_one_transcript(api, world):
    n = (await open_ticket(api, world))["number"]
    assert ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"] == []
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    [transcript] = ok(await api("alice").get(f"{TICKETS}/{n}/transcripts"))["items"]
    assert transcript["ticket_number"] == n
    assert transcript["html_url"] == f"/api/v1/transcripts/{transcript['id']}/html"
    assert ok(await api("alice").get(f"/api/v1/transcripts/{transcript['id']}")) == transcript
    # Each close renders another.
    ok(await api("staff").post(f"{TICKETS}/{n}/reopen"))
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "other"}))
    assert len(ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]) == 2


async def test_the_html_transcript_is_a_standalone_escaped_page(api, world):
    n = await _closed_ticket(api, world)
    [transcript] = ok(await api("alice").get(f"{TICKETS}/{n}/transcripts"))["items"]
    assert transcript["message_count"] == 2
    r = await api("alice").get(transcript["html_url"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "content-disposition" not in r.headers
    page = r.text
    assert page.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert "<script" not in page
    assert "Broken &lt;b&gt;page&lt;/b&gt;" in page
    assert "cache &lt;cleared&gt;" in page
    assert "Fixed, try again" in page
    assert "INTERNAL-ONLY-REMARK" not in page
    # Nothing is loaded from elsewhere.
    assert "<link" not in page and "src=" not in page
    assert "default-src 'none'" in r.headers["content-security-policy"]


async def test_the_text_transcript_is_plain_text(api, world):
    n = await _closed_ticket(api, world)
    [transcript] = ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]
    r = await api("staff").get(transcript["text_url"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "<script>alert(1)</script> & more" in r.text
    assert "Fixed, try again" in r.text
    assert "INTERNAL-ONLY-REMARK" not in r.text
    assert "<html" not in r.text


async def test_download_true_sends_an_attachment_disposition(api, world):
    n = await _closed_ticket(api, world)
    [transcript] = ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]
    html = await api("staff").get(transcript["html_url"], params={"download": "true"})
    assert html.headers["content-disposition"] == f'attachment; filename="ticket-{n}-transcript.html"'
    text = await api("staff").get(transcript["text_url"], params={"download": "true"})
    assert text.headers["content-disposition"] == f'attachment; filename="ticket-{n}-transcript.txt"'
    assert text.text == (await api("staff").get(transcript["text_url"])).text


async def test_transcripts_follow_the_tickets_visibility(api, world):
    n = await _closed_ticket(api, world)
    [transcript] = ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]
    problem(await api("bob").get(f"{TICKETS}/{n}/transcripts"), 404)
    problem(await api("bob").get(transcript["html_url"]), 404)
    problem(await api("bob").get(transcript["text_url"]), 404)
    problem(await api("bob").get(f"/api/v1/transcripts/{transcript['id']}"), 404)
    problem(await api(None).get(transcript["html_url"]), 401)


async def test_purging_expired_transcripts(api, world, clock):
    ok(await api("admin").patch("/api/v1/workspace", json={"settings": {"transcript_retention_days": 7}}))
    n = await _closed_ticket(api, world)
    [transcript] = ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"]
    assert transcript["expires_at"] is not None
    problem(await api("staff").post("/api/v1/transcripts/purge"), 403)
    assert ok(await api("admin").post("/api/v1/transcripts/purge")) == {"purged": 0}
    clock.advance(days=8)
    assert ok(await api("admin").post("/api/v1/transcripts/purge")) == {"purged": 1}
    assert ok(await api("staff").get(f"{TICKETS}/{n}/transcripts"))["items"] == []
    problem(await api("staff").get(transcript["html_url"]), 404)


async def test_a_customer_reads_only_their_own_conversations_in_a_merged_tickets_transcript(api, world):
    kept = await open_ticket(api, world, "alice", description="Alice: my invoice is wrong")
    merged = await open_ticket(api, world, "bob", type_name="Billing", description="Bob: card 4242 declined")
    ok(await api("staff").post(f"{TICKETS}/{merged['number']}/merge", json={"into": kept["number"]}))
    ok(await api("staff").post(f"{TICKETS}/{kept['number']}/close", json={"reason": "resolved"}))
    listing = ok(await api("alice").get(f"{TICKETS}/{kept['number']}/transcripts"))["items"]
    alice_text = (await api("alice").get(listing[0]["text_url"])).text
    alice_html = (await api("alice").get(listing[0]["html_url"])).text
    staff_text = (await api("staff").get(listing[0]["text_url"])).text
    assert "Alice: my invoice is wrong" in alice_text and "Alice: my invoice is wrong" in alice_html
    assert "card 4242" not in alice_text and "card 4242" not in alice_html
    assert "card 4242" in staff_text
