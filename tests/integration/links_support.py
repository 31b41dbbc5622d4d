"""Setup shared by the engineering-link tests: settings, connections to the local stand-ins,
a ticket to link, and running the worker's outbox pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from frontdesk.actions.integrations import create_connection
from frontdesk.worker import outbox as ob
from tests.integration.engineering_fakes import (
    JIRA_EMAIL,
    JIRA_TOKEN,
    LINEAR_KEY,
    SLACK_TOKEN,
    Engineering,
    serve_engineering,
)

JIRA_SECRET = "jira-webhook-secret"
LINEAR_SECRET = "linear-webhook-secret"
SLACK_SECRET = "slack-signing-secret"
CHANNEL = "C0123456789"


@pytest.fixture(autouse=True)
def link_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", "a key for the engineering link tests")
    monkeypatch.setenv("FRONTDESK_INTEGRATIONS_ALLOW_HTTP", "true")
    monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "https://desk.example.com")


@pytest.fixture
async def fake() -> AsyncIterator[Engineering]:
    async with serve_engineering() as engineering:
        yield engineering


def jira_config(fake: Engineering, **over: Any) -> dict[str, Any]:
    return {"base_url": fake.base_url, "email": JIRA_EMAIL, "project_key": "ENG",
            "status_map": {"open": "To Do", "in_progress": "In Progress", "resolved": "Done", "closed": "Done"},
            **over}


def linear_config(fake: Engineering, **over: Any) -> dict[str, Any]:
    return {"api_url": f"{fake.base_url}/graphql", "team_id": "team-1",
            "state_map": {"open": "state-todo", "in_progress": "state-doing", "resolved": "state-done",
                          "closed": "state-done"}, **over}


def slack_config(fake: Engineering, **over: Any) -> dict[str, Any]:
    return {"api_base": f"{fake.base_url}/api", "channel_id": CHANNEL, **over}


CREDENTIALS = {
    "jira": {"api_token": JIRA_TOKEN, "webhook_secret": JIRA_SECRET},
    "linear": {"api_key": LINEAR_KEY, "webhook_secret": LINEAR_SECRET},
    "slack": {"bot_token": SLACK_TOKEN, "signing_secret": SLACK_SECRET},
}


async def connect(world: Any, fake: Engineering, kind: str, *, credentials: dict[str, str] | None = None,
                  **config: Any) -> int:
    build = {"jira": jira_config, "linear": linear_config, "slack": slack_config}[kind]
    async with world.tx("manager") as tx:
        connection = await create_connection(tx, kind=kind, name=f"{kind} test", config=build(fake, **config),
                                             credentials=credentials or CREDENTIALS[kind])
        return int(connection.id)


async def opened(world: Any, title: str = "Checkout fails with a 500", description: str = "Paying fails.",
                 who: str = "alice") -> int:
    ticket = await world.open(who, title=title, description=description)
    return int(ticket.number)


async def deliver(world: Any) -> int:
    return await ob.deliver_due(world.desk, limit=50)
