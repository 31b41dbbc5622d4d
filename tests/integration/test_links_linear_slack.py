"""Linear (GraphQL) and Slack (chat.postMessage) against local stand-ins: issues created and
moved, a ticket's Slack thread, what it mirrors, and replies coming back as notes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import links
from frontdesk.actions.integrations import create_connection, update_connection
from frontdesk.actions.messages import add_note
from frontdesk.actions.tickets import set_status
from frontdesk.db.models import IntegrationConnection, Message, OutboxItem, TicketLink
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.integrations.linear import issue_id_for
from tests.integration.engineering_fakes import LINEAR_KEY, SLACK_TOKEN, Scripted
from tests.integration.helpers import count, fetch, last_event, table_counts, ticket
from tests.integration.links_support import (  # noqa: F401
    CHANNEL,
    connect,
    deliver,
    fake,
    linear_config,
    link_settings,
    opened,
)

__all__ = ["fake", "link_settings"]


async def the_link(world, number):  # type: ignore[no-untyped-def]
    t = await ticket(world, number)
    [link] = await fetch(world, select(TicketLink).where(TicketLink.ticket_id == t.id))
    return link


async def pushed(world, fake, kind, **config):  # type: ignore[no-untyped-def]
    connection_id = await connect(world, fake, kind, **config)
    number = await opened(world)
    await world.run("staff", links.push_ticket, number, connection_id)
    return connection_id, number


# --- Linear ----------------------------------------------------------------------------------------------------


async def test_pushing_to_linear_creates_the_issue_with_an_id_of_our_choosing(world, fake):
    _, number = await pushed(world, fake, "linear")
    await deliver(world)
    [request] = fake.seen("linear")
    assert request["headers"]["authorization"] == LINEAR_KEY
    assert "issueCreate" in request["json"]["query"]
    fields = request["json"]["variables"]["input"]
    [item] = await fetch(world, select(OutboxItem))
    assert fields["id"] == issue_id_for(item)
    assert (fields["teamId"], fields["title"], fields["stateId"]) == ("team-1", "Checkout fails with a 500",
                                                                      "state-todo")
    assert fields["description"].startswith("Paying fails.")
    assert f"https://desk.example.com/tickets/{number}" in fields["description"]
    link = await the_link(world, number)
    assert (link.sync_state, link.key, link.url, link.external_status) == (
        "linked", "ENG-7", "https://linear.app/acme/issue/ENG-7", "state-todo")
    assert (await last_event(world, "ticket.link_created", number=number)).payload["external_id"] == fields["id"]


async def test_a_linear_retry_after_a_lost_answer_takes_the_issue_it_already_created(world, fake, clock):
    fake.fail_next("linear", Scripted(502, lose_answer=True))
    _, number = await pushed(world, fake, "linear")
    await deliver(world)
    assert len(fake.linear_issues) == 1
    [item] = await fetch(world, select(OutboxItem))
    clock.set(item.next_attempt_at)
    await deliver(world)
    assert len(fake.linear_issues) == 1
    queries = [r["json"]["query"] for r in fake.seen("linear")]
    assert "issueCreate" in queries[0] and "issue(id:" in queries[1] and len(queries) == 2
    assert (await the_link(world, number)).key == "ENG-7"


async def test_our_status_sets_the_linear_state_and_theirs_sets_ours_without_an_echo(world, fake):
    connection_id, number = await pushed(world, fake, "linear")
    await deliver(world)
    await world.run("staff", set_status, number, "in_progress")
    await deliver(world)
    update = fake.seen("linear")[-1]["json"]
    assert "issueUpdate" in update["query"]
    assert update["variables"]["input"] == {"stateId": "state-doing"}
    link = await the_link(world, number)
    assert link.external_status == "state-doing"
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        assert await links.apply_external_status(tx, connection, issue_ids=(link.external_id, "ENG-7"),
                                                 status_id="state-done", status_name="Done") == "applied"
    assert (await ticket(world, number)).status == "resolved"
    assert await count(world, OutboxItem, OutboxItem.kind == "linear.sync_status") == 1, "only ours went out"


async def test_linear_rate_limits_are_retried_and_authentication_errors_are_dead(world, fake, clock):
    fake.fail_next("linear", Scripted(400, {"errors": [{"message": "Rate limit exceeded",
                                                        "extensions": {"code": "RATELIMITED"}}]}))
    connection_id, number = await pushed(world, fake, "linear")
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "pending" and "Rate limit" in item.last_error
    await world.run("manager", update_connection, connection_id, {"credentials": {"api_key": "lin_wrong"}})
    clock.set(item.next_attempt_at)
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "dead"
    link = await the_link(world, number)
    assert link.sync_state == "failed" and "API key was refused" in link.last_error


# --- Slack -----------------------------------------------------------------------------------------------------


async def test_a_tickets_slack_thread_is_posted_and_its_ts_kept(world, fake):
    _, number = await pushed(world, fake, "slack")
    await deliver(world)
    [post] = fake.slack_posts
    [request] = fake.seen("slack")
    assert request["headers"]["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert post["channel"] == CHANNEL and "thread_ts" not in post
    assert f"Ticket #{number}: Checkout fails with a 500" in post["text"]
    link = await the_link(world, number)
    assert (link.sync_state, link.external_id) == ("linked", post["ts"])


async def test_status_changes_and_staff_notes_are_posted_in_the_thread(world, fake):
    _, number = await pushed(world, fake, "slack")
    await deliver(world)
    root = fake.slack_posts[0]["ts"]
    await world.run("staff", set_status, number, "waiting")
    await world.run("staff", add_note, number, "Asked engineering to look")
    await deliver(world)
    replies = fake.slack_posts[1:]
    assert [r["thread_ts"] for r in replies] == [root, root]
    assert sorted(r["text"] for r in replies) == ["Note from Sam Staff:\nAsked engineering to look",
                                                  "Status changed to *waiting* by Sam Staff"]


async def test_a_reply_waits_for_its_thread_and_mirror_settings_are_honoured(world, fake, clock):
    connection_id, number = await pushed(world, fake, "slack", mirror=["notes"])
    await world.run("staff", set_status, number, "waiting")
    await world.run("staff", add_note, number, "Early note")
    assert await count(world, OutboxItem, OutboxItem.kind == "slack.post_reply") == 1, "status is not mirrored"
    fake.fail_next("slack", Scripted(200, {"ok": False, "error": "internal_error"}))
    await deliver(world)
    assert fake.slack_posts == []
    reply = (await fetch(world, select(OutboxItem).where(OutboxItem.kind == "slack.post_reply")))[0]
    assert reply.status == "pending" and "waiting for the ticket's thread" in reply.last_error
    clock.advance(minutes=1)
    await deliver(world)
    root = fake.slack_posts[0]["ts"]
    clock.advance(minutes=1)
    await deliver(world)
    assert [p.get("thread_ts") for p in fake.slack_posts] == [None, root]


async def test_a_slack_reply_becomes_a_note_by_the_integration_and_is_not_posted_back(world, fake):
    connection_id, number = await pushed(world, fake, "slack")
    await deliver(world)
    root = fake.slack_posts[0]["ts"]
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        assert await links.first_receipt(tx, connection, "Ev1")
        assert await links.add_thread_reply(tx, connection, thread_ts=root, text="Fixed in 2.3", slack_user="U42")
        assert not await links.add_thread_reply(tx, connection, thread_ts="1.0", text="elsewhere", slack_user="U1")
    async with world.tx("system") as tx:
        connection = await tx.session.get(IntegrationConnection, connection_id)
        assert not await links.first_receipt(tx, connection, "Ev1"), "a retried event is seen once"
    t = await ticket(world, number)
    [note] = await fetch(world, select(Message).where(Message.ticket_id == t.id, Message.visibility == "internal"))
    assert note.body == "Fixed in 2.3\n\n— <@U42> in Slack"
    [connection] = await fetch(world, select(IntegrationConnection))
    assert note.author_id == connection.member_id
    assert await count(world, OutboxItem, OutboxItem.kind == "slack.post_reply") == 0, "no echo"


async def test_a_thread_is_started_for_every_new_ticket_when_the_connection_asks(world, fake):
    await connect(world, fake, "slack", thread_on_open=True)
    number = await opened(world)
    link = await the_link(world, number)
    assert link.sync_state == "pending"
    await deliver(world)
    assert len(fake.slack_posts) == 1
    assert (await the_link(world, number)).external_id == fake.slack_posts[0]["ts"]


async def test_slack_errors_about_the_token_are_dead_and_429_waits(world, fake, clock):
    fake.fail_next("slack", Scripted(429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}))
    _, number = await pushed(world, fake, "slack")
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.next_attempt_at == clock.now() + timedelta(seconds=30)
    fake.fail_next("slack", Scripted(200, {"ok": False, "error": "invalid_auth"}))
    clock.set(item.next_attempt_at)
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "dead"
    link = await the_link(world, number)
    assert link.sync_state == "failed" and "invalid_auth" in link.last_error
    assert (await last_event(world, "ticket.link_failed", number=number)).payload["operation"] == "create"


async def test_a_slack_retry_after_a_lost_answer_takes_the_thread_it_already_posted(world, fake, clock):
    fake.fail_next("slack", Scripted(502, lose_answer=True))
    _, number = await pushed(world, fake, "slack")
    await deliver(world)
    [root] = fake.slack_posts  # Slack posted it; its answer was lost
    assert root["metadata"]["event_type"] == "frontdesk_ticket_thread"
    [item] = await fetch(world, select(OutboxItem))
    assert item.status == "pending"
    clock.set(item.next_attempt_at)
    await deliver(world)
    assert len(fake.slack_posts) == 1, "the root message is not posted twice"
    [history] = fake.seen("slack.history")
    assert history["path"].endswith("/conversations.history")
    link = await the_link(world, number)
    assert (link.sync_state, link.external_id) == ("linked", root["ts"])
    await world.run("staff", add_note, number, "Found it")
    await deliver(world)
    assert fake.slack_posts[1]["thread_ts"] == root["ts"]


async def test_a_slack_retry_that_cannot_read_the_history_posts_the_thread_again(world, fake, clock):
    fake.fail_next("slack", Scripted(502, lose_answer=True))
    fake.fail_next("slack.history", Scripted(200, {"ok": False, "error": "missing_scope"}))
    _, number = await pushed(world, fake, "slack")
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem))
    clock.set(item.next_attempt_at)
    await deliver(world)
    assert len(fake.slack_posts) == 2
    link = await the_link(world, number)
    assert (link.sync_state, link.external_id) == ("linked", fake.slack_posts[1]["ts"])


async def test_a_slack_retry_ignores_other_tickets_threads_in_the_history(world, fake, clock):
    connection_id, first = await pushed(world, fake, "slack")
    await deliver(world)
    fake.fail_next("slack", Scripted(500, {"ok": False, "error": "internal_error"}))
    second = await opened(world, title="Another problem", who="bob")
    await world.run("staff", links.push_ticket, second, connection_id)
    await deliver(world)
    [item] = await fetch(world, select(OutboxItem).where(OutboxItem.status == "pending"))
    clock.set(item.next_attempt_at)
    await deliver(world)
    assert len(fake.slack_posts) == 2
    assert (await the_link(world, second)).external_id == fake.slack_posts[1]["ts"]
    assert (await the_link(world, first)).external_id == fake.slack_posts[0]["ts"]


# --- connections -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "credentials", "field"), [
    ({"api_url": "ftp://linear.example.com/graphql"}, None, "config.api_url"),
    ({"team_id": ""}, None, "config.team_id"),
    ({"state_map": {"done": "x"}}, None, "config.state_map.done"),
    ({"colour": "blue"}, None, "config.colour"),
    ({}, {"webhook_secret": "only this"}, "credentials.api_key"),
    ({}, {"api_key": "k", "password": "p"}, "credentials.password"),
])
async def test_a_bad_setting_is_refused_naming_it_and_changes_nothing(world, fake, config, credentials, field):
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as failed:
        async with world.tx("manager") as tx:
            await create_connection(tx, kind="linear", name="Linear", config=linear_config(fake, **config),
                                    credentials=credentials or {"api_key": "k"})
    assert failed.value.field == field
    assert await table_counts(world) == before


async def test_https_is_required_unless_http_is_allowed(world, fake, monkeypatch):
    monkeypatch.setenv("FRONTDESK_INTEGRATIONS_ALLOW_HTTP", "false")
    with pytest.raises(ValidationFailed) as failed:
        await connect(world, fake, "jira")
    assert failed.value.field == "config.base_url"


async def test_only_management_connects_integrations(world, fake):
    for who in ("staff", "alice"):
        with pytest.raises(NotPermitted):
            async with world.tx(who) as tx:
                await create_connection(tx, kind="linear", name="Linear", config=linear_config(fake),
                                        credentials={"api_key": "k"})
    async with world.tx("mgmtrole") as tx:
        await create_connection(tx, kind="linear", name="Linear", config=linear_config(fake),
                                credentials={"api_key": "k"})
