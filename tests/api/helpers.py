"""Small helpers the API tests share: problem+json checks and quick ticket setup."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from frontdesk.db.models import Conversation, Event, Message, Ticket

TICKETS = "/api/v1/tickets"


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is an RFC 9457 problem with ``status``; for 422 (or when ``field``
    is given) that ``errors`` names ``field``. Returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    for key in ("type", "title", "status", "detail"):
        assert body.get(key), f"problem body lacks {key}: {body}"
    assert body["status"] == status
    if status == 422:
        assert body.get("errors"), body
        assert all(e.get("field") for e in body["errors"]), body
    if field is not None:
        fields = [e["field"] for e in body.get("errors", [])]
        assert field in fields, f"{field!r} not named in {fields}"
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    return response.json()


async def open_ticket(api: Any, world: Any, who: str = "alice", type_name: str = "General",
                      **body: Any) -> dict[str, Any]:
    """Open a ticket over HTTP as ``who``; returns the ticket."""
    payload = {"type_id": world.type_ids[type_name], **body}
    return ok(await api(who).post(TICKETS, json=payload), 201)


async def event_types(api: Any, number: int, who: str = "staff") -> list[str]:
    items = ok(await api(who).get(f"{TICKETS}/{number}/events"))["items"]
    return [e["type"] for e in items]


async def ticket_events(api: Any, number: int, who: str = "staff") -> list[dict[str, Any]]:
    return list(ok(await api(who).get(f"{TICKETS}/{number}/events"))["items"])


async def row_counts(world: Any) -> dict[str, int]:
    """How many tickets, conversations, messages and events the database holds."""
    counts = {}
    async with world.desk.db.reading() as session:
        for name, model in (("tickets", Ticket), ("conversations", Conversation), ("messages", Message),
                            ("events", Event)):
            counts[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return counts
