"""Jira Cloud: pushing a ticket creates an issue, our status moves it, theirs moves ours;
failures are retried or dead as the answer says. Against a local stand-in for Jira."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from frontdesk.actions import links
from frontdesk.actions.integrations import secrets_of
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.actions.tickets import set_status
from frontdesk.db.models import IntegrationConnection, OutboxItem, TicketLink
from frontdesk.domain.errors import Conflict, ValidationFailed
from tests.integration.engineering_fakes import JIRA_EMAIL, JIRA_TOKEN, Scripted
from tests.integration.helpers import count, events, fetch, last_event, ticket
from tests.integration.links_support import connect, deliver, fake, link_settings, opened  # noqa: F401

__all__ = ["fake", "link_settings"]


async def the_link(world, number):  # type: ignore[no-untyped-def]
    t = await ticket(world, number)
    [link] = await fetch(world, select(TicketLink).where(TicketLink.ticket_id == t.id))
    return link


async def pushed(world, fake, **config):  # type: ignore[no-untyped-def]
    connection_id = await connect(world, fake, "jira", **config)
    number = await opened(world)
    await world.run("staff", links.push_ticket, number, connection_id)
    return connection_id, number


async def test_credentials_are_stored_encrypted_and_never_as_plain_text(world, fake):
    connection_id = await connect(world, fake, "jira")
    async with world.desk.db.reading() as session:
        raw = (await session.execute(text("SELECT * FROM integration_connections WHERE id = :id"),
                                     {"id": connection_id})).mappings().one()
    row_text = " ".join(str(v) for v in raw.values())
    assert JIRA_TOKEN not in row_text and "jira-webhook-secret" not in row_text
    [connection] = await fetch(world, select(IntegrationConnection))
    assert secrets_of(connection)["api_token"] == JIRA_TOKEN
    created = await last_event(world, "integration.created")
    assert created.payload["credentials_set"] == ["api_token", "webhook_secret"]
    assert JIRA_TOKEN not in str(created.payload)


async def test_pushing_a_ticket_creates_the_issue_from_the_ticket_and_stores_its_key(world, fake):
    _, number = await pushed(world, fake)
    link = await the_link(world, number)
    assert (link.sync_state, link.external_id, link.key) == ("pending", None, None)
    assert not fake.requests, "nothing is sent inside the action's transaction"
    assert await deliver(world) == 1
    [request] = fake.seen("jira.create")
    auth = base64.b64decode(request["headers"]["authorization"].removeprefix("Basic ")).decode()
    assert auth == f"{JIRA_EMAIL}:{JIRA_TOKEN}"
    fields = request["json"]["fields"]
    assert fields["project"] == {"key": "ENG"} and fields["issuetype"] == {"name": "Task"}
    assert fields["summary"] == "Checkout fails with a 500"
    doc = fields["description"]
    assert doc["type"] == "doc" and doc["version"] == 1
    assert doc["content"][0] == {"type": "paragraph", "content": [{"type": "text", "text": "Paying fails."}]}
    back = doc["content"][-1]["content"][0]
    assert back["text"] == f"Support ticket #{number}"
    assert back["marks"] == [{"type": "link", "attrs": {"href": f"https://desk.example.com/tickets/{number}"}}]
    link = await the_link(world, number)
    assert (link.sync_state, link.key, link.url) == ("linked", "ENG-42", f"{fake.base_url}/browse/ENG-42")
    assert link.external_id == fake.jira_issues["ENG-42"]["id"]
    created = await last_event(world, "ticket.link_created", number=number)
    assert created.payload["key"] == "ENG-42"
    assert [e.type for e in await events(world, "ticket.linked", number=number)] == ["ticket.linked"]


async def test_a_retry_after_a_lost_answer_finds_the_issue_instead_of_creating_a_second(world, fake, clock):
    fake.fail_next("jira.create", Scripted(502, lose_answer=True))
    _, number = await pushed(world, fake)
    await deliver(world)
    assert len(fake.jira_issues) == 1, "Jira created it; the answer was lost"
    assert (await the_link(world, number)).sync_state == "pending"
    [item] = await fetch(world, select(OutboxItem))
    clock.set(item.next_attempt_at)
    await deliver(world)
    assert len(fake.jira_issues) == 1
    assert len(fake.seen("jira.search")) == 1 and len(fake.seen("jira.create")) == 1
    assert (await the_link(world, number)).key == "ENG-42"


async def test_a_500_is_retried_with_backoff_and_a_429_after_its_retry_after(world, fake, clock):
    fake.fail_next("jira.create", Scripted(500, {"errorMessages": ["boom"]}),
                   Scripted(429, {"errorMessages": ["slow down"]}, headers={"Retry-After": "120"}))
    _, number = await pushed(world, fake)
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "pending" and "HTTP 500" in item.last_error
    assert (await the_link(world, number)).last_error == item.last_error
    clock.set(item.next_attempt_at)
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.next_attempt_at == clock.now() + timedelta(seconds=120)
    clock.set(item.next_attempt_at)
    await deliver(world)
    link = await the_link(world, number)
    assert (link.sync_state, link.last_error) == ("linked", None)
    assert len(fake.jira_issues) == 1


async def test_refused_credentials_are_dead_and_the_link_says_why(world, fake):
    _, number = await pushed(world, fake, email="someone-else@example.com")
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "dead" and item.attempts == 1
    link = await the_link(world, number)
    assert link.sync_state == "failed" and "credentials were refused" in link.last_error
    failed = await last_event(world, "ticket.link_failed", number=number)
    assert failed.payload["operation"] == "create"


async def test_our_status_change_moves_the_issue_through_the_matching_transition(world, fake):
    _, number = await pushed(world, fake)
    await deliver(world)
    await world.run("staff", set_status, number, "in_progress")
    assert await count(world, OutboxItem, OutboxItem.kind == "jira.sync_status") == 1
    await deliver(world)
    [read] = fake.seen("jira.transitions")
    assert read["path"].endswith(f"/issue/{fake.jira_issues['ENG-42']['id']}/transitions")
    [moved] = fake.seen("jira.transition")
    assert moved["json"] == {"transition": {"id": "21"}}
    assert fake.jira_issues["ENG-42"]["status"] == "In Progress"
    assert (await the_link(world, number)).external_status == "In Progress"
    synced = await last_event(world, "ticket.link_synced", number=number)
    assert synced.payload["direction"] == "outbound"
    await world.run("staff", close_ticket, number, reason="resolved")
    await deliver(world)
    assert fake.jira_issues["ENG-42"]["status"] == "Done"


async def test_their_status_change_moves_ours_as_the_integration_and_is_not_sent_back(world, fake):
    connection_id, number = await pushed(world, fake)
    await deliver(world)
    link = await the_link(world, number)
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        result = await links.apply_external_status(tx, connection, issue_ids=(link.external_id, "ENG-42"),
                                                   status_id="3", status_name="In Progress")
    assert result == "applied"
    assert (await ticket(world, number)).status == "in_progress"
    changed = await last_event(world, "ticket.status_changed", number=number)
    [connection] = await fetch(world, select(IntegrationConnection))
    assert changed.actor_id == connection.member_id
    assert await count(world, OutboxItem, OutboxItem.kind == "jira.sync_status") == 0, "no ping-pong"
    synced = await last_event(world, "ticket.link_synced", number=number)
    assert synced.payload["direction"] == "inbound"
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        assert await links.apply_external_status(tx, connection, issue_ids=("ENG-42",), status_id="10001",
                                                 status_name="Done") == "applied"
        assert await links.apply_external_status(tx, connection, issue_ids=("ENG-42",), status_id=None,
                                                 status_name="Won't fix") == "unmapped"
        assert await links.apply_external_status(tx, connection, issue_ids=("ENG-999",), status_id=None,
                                                 status_name="Done") == "unknown_issue"
    assert (await ticket(world, number)).status == "resolved"
    assert await count(world, OutboxItem, OutboxItem.kind == "jira.sync_status") == 0


async def test_a_closed_ticket_is_reopened_when_its_issue_goes_back_to_do(world, fake):
    connection_id, number = await pushed(world, fake)
    await deliver(world)
    await world.run("staff", close_ticket, number, reason="resolved")
    await deliver(world)
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        await links.apply_external_status(tx, connection, issue_ids=("ENG-42",), status_id="1", status_name="To Do")
    assert (await ticket(world, number)).status == "open"
    assert (await last_event(world, "ticket.reopened", number=number)).actor_id is not None


async def test_a_missing_transition_is_dead_with_the_statuses_the_issue_can_go_to(world, fake):
    _, number = await pushed(world, fake, status_map={"waiting": "Blocked"})
    await deliver(world)
    await world.run("staff", set_status, number, "waiting")
    await deliver(world)
    link = await the_link(world, number)
    assert link.sync_state == "failed" and "no transition to 'Blocked'" in link.last_error
    assert "In Progress" in link.last_error


async def test_linking_an_existing_issue_by_key_or_address_and_unlinking(world, fake):
    connection_id = await connect(world, fake, "jira")
    number = await opened(world)
    other = await opened(world, title="Another", who="bob")
    link = await world.run("staff", links.link_existing, number, connection_id, key="eng-7")
    assert (link.key, link.external_id, link.url, link.sync_state) == (
        "ENG-7", "ENG-7", f"{fake.base_url}/browse/ENG-7", "linked")
    second = await world.run("staff", links.link_existing, other, connection_id,
                             url="https://acme.atlassian.net/browse/ENG-8")
    assert second.key == "ENG-8"
    with pytest.raises(Conflict):
        await world.run("staff", links.link_existing, other, connection_id, key="ENG-7")
    with pytest.raises(ValidationFailed) as bad:
        await world.run("staff", links.link_existing, other, connection_id, key="not a key")
    assert bad.value.field == "key"
    await world.run("staff", links.unlink, number, link.id)
    assert (await last_event(world, "ticket.unlinked", number=number)).payload["key"] == "ENG-7"
    assert await count(world, TicketLink) == 1


async def test_a_disabled_connection_sends_nothing(world, fake):
    from frontdesk.actions.integrations import update_connection

    connection_id, number = await pushed(world, fake)
    await world.run("manager", update_connection, connection_id, {"enabled": False})
    await deliver(world)
    assert fake.requests == []
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "done"


async def test_an_unreachable_site_is_retried_on_the_backoff_schedule(world, fake, clock):
    from tests.integration.engineering_fakes import free_port

    _, number = await pushed(world, fake, base_url=f"http://127.0.0.1:{free_port()}")
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "pending" and "ConnectError" in item.last_error
    wait = (item.next_attempt_at - clock.now()).total_seconds()
    assert 24 <= wait <= 36, "the first wait of the connector policy, 30 s ± 20 %"
    assert (await the_link(world, number)).sync_state == "pending"


async def test_the_echo_of_our_close_does_not_reopen_the_ticket(world, fake):
    connection_id, number = await pushed(world, fake)
    await deliver(world)
    await world.run("staff", close_ticket, number, reason="resolved")
    await deliver(world)
    assert fake.jira_issues["ENG-42"]["status"] == "Done"
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        result = await links.apply_external_status(tx, connection, issue_ids=("ENG-42",), status_id="10001",
                                                   status_name="Done")
    assert result == "unchanged", "Done maps back to resolved, but closed already maps to Done"
    assert (await ticket(world, number)).status == "closed"
