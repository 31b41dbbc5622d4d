"""The transcript page a close DM links to: a signed link for one member, valid 30 days."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from frontdesk.transcript_links import LINK_SECONDS, sign, transcript_link
from tests.api.helpers import TICKETS, ok, open_ticket


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", "a key for the transcript page tests, long enough")
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path / "data"))


async def _transcript(api, world) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    n = (await open_ticket(api, world, title="Parcel lost"))["number"]
    ok(await api("staff").post(f"{TICKETS}/{n}/messages", json={"body": "We found your parcel"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/notes", json={"body": "INTERNAL-ONLY-REMARK"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    [transcript] = ok(await api("alice").get(f"{TICKETS}/{n}/transcripts"))["items"]
    return n, transcript["id"]


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def test_the_link_shows_the_transcript_to_the_opener_without_a_token(api, world) -> None:  # type: ignore[no-untyped-def]
    _, transcript_id = await _transcript(api, world)
    url = transcript_link(transcript_id, world.member_ids["alice"], base_url="https://desk.example.com")
    assert url is not None and url.startswith(f"https://desk.example.com/transcripts/{transcript_id}/page?")
    r = await api(None).get(_path(url))
    assert r.status_code == 200
    assert "We found your parcel" in r.text
    assert "INTERNAL-ONLY-REMARK" not in r.text
    assert r.headers["cache-control"] == "private, no-store"


async def test_a_tampered_link_is_refused(api, world) -> None:  # type: ignore[no-untyped-def]
    _, transcript_id = await _transcript(api, world)
    url = transcript_link(transcript_id, world.member_ids["alice"], base_url="https://desk.example.com")
    assert url is not None
    tampered = _path(url).replace(f"member={world.member_ids['alice']}", f"member={world.member_ids['bob']}")
    r = await api(None).get(tampered)
    assert r.status_code == 403 and "not valid" in r.text
    r = await api(None).get(_path(url)[:-2] + "00")
    assert r.status_code == 403


async def test_an_expired_link_is_refused(api, world) -> None:  # type: ignore[no-untyped-def]
    _, transcript_id = await _transcript(api, world)
    member = world.member_ids["alice"]
    expires, signature = sign(transcript_id, member, now=time.time() - LINK_SECONDS - 60)
    r = await api(None).get(f"/transcripts/{transcript_id}/page", params={
        "member": member, "expires": expires, "sig": signature})
    assert r.status_code == 403 and "expired" in r.text


async def test_a_link_for_someone_who_may_not_see_the_ticket_finds_nothing(api, world) -> None:  # type: ignore[no-untyped-def]
    _, transcript_id = await _transcript(api, world)
    url = transcript_link(transcript_id, world.member_ids["bob"], base_url="https://desk.example.com")
    assert url is not None
    r = await api(None).get(_path(url))
    assert r.status_code == 404 and "Transcript not found" in r.text


async def test_without_a_public_address_there_is_no_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRONTDESK_PUBLIC_URL", raising=False)
    assert transcript_link(1, 1) is None
