"""/api/v1/integrations, /api/v1/tickets/{n}/links and the signed inbound routes, over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.db.models import IntegrationConnection, Message, Ticket, TicketLink
from frontdesk.worker import outbox as ob
from tests.api.helpers import ok, open_ticket, problem, row_counts
from tests.integration.engineering_fakes import JIRA_TOKEN, LINEAR_KEY, SLACK_TOKEN
from tests.integration.links_support import (  # noqa: F401
    CHANNEL,
    CREDENTIALS,
    JIRA_SECRET,
    LINEAR_SECRET,
    SLACK_SECRET,
    fake,
    jira_config,
    linear_config,
    link_settings,
    slack_config,
)

__all__ = ["fake", "link_settings"]

INTEGRATIONS = "/api/v1/integrations"


async def created(api, fake, kind="jira", who="manager", **config) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    build = {"jira": jira_config, "linear": linear_config, "slack": slack_config}[kind]
    body = {"kind": kind, "name": f"{kind} main", "config": build(fake, **config), "credentials": CREDENTIALS[kind]}
    return ok(await api(who).post(INTEGRATIONS, json=body), 201)


async def ticket_status(world, number) -> str:  # type: ignore[no-untyped-def]
    async with world.desk.db.reading() as session:
        return str(await session.scalar(select(Ticket.status).where(Ticket.number == number)))


# --- connections -----------------------------------------------------------------------------------------------


async def test_management_creates_lists_changes_and_removes_integrations_and_never_sees_secrets(api, world, fake):
    connection = await created(api, fake)
    assert connection["credentials"] == {"api_token": True, "webhook_secret": True}
    assert connection["config"]["project_key"] == "ENG"
    assert connection["config"]["inbound_status_map"] == {"To Do": "open", "In Progress": "in_progress",
                                                          "Done": "resolved"}
    listing = await api("staff").get(INTEGRATIONS)
    shown = await api("manager").get(f"{INTEGRATIONS}/{connection['id']}")
    for response in (listing, shown):
        assert JIRA_TOKEN not in response.text and JIRA_SECRET not in response.text
    assert [c["id"] for c in ok(listing)["items"]] == [connection["id"]]
    changed = ok(await api("admin").patch(f"{INTEGRATIONS}/{connection['id']}", json={
        "name": "Jira ENG", "config": {"issue_type": "Bug"}, "credentials": {"webhook_secret": None}}))
    assert (changed["name"], changed["config"]["issue_type"], changed["config"]["project_key"]) == (
        "Jira ENG", "Bug", "ENG")
    assert changed["credentials"] == {"api_token": True, "webhook_secret": False}
    assert (await api("manager").delete(f"{INTEGRATIONS}/{connection['id']}")).status_code == 204
    problem(await api("manager").get(f"{INTEGRATIONS}/{connection['id']}"), 404)
    types = [e["type"] for e in ok(await api("owner").get("/api/v1/events"))["items"]]
    assert {"integration.created", "integration.updated", "integration.deleted"} <= set(types)


async def test_staff_and_customers_may_not_change_integrations(api, world, fake):
    connection = await created(api, fake)
    body = {"kind": "linear", "name": "L", "config": linear_config(fake), "credentials": {"api_key": "k"}}
    problem(await api("staff").post(INTEGRATIONS, json=body), 403)
    problem(await api("staff").patch(f"{INTEGRATIONS}/{connection['id']}", json={"enabled": False}), 403)
    problem(await api("staff").delete(f"{INTEGRATIONS}/{connection['id']}"), 403)
    problem(await api("alice").get(INTEGRATIONS), 403)


@pytest.mark.parametrize(("change", "field"), [
    ({"kind": "github"}, "kind"),
    ({"name": ""}, "name"),
    ({"config": {"base_url": "ftp://acme.atlassian.net"}}, "config.base_url"),
    ({"config": {"project_key": "eng lower"}}, "config.project_key"),
    ({"config": {"email": "not-an-email"}}, "config.email"),
    ({"config": {"status_map": {"later": "To Do"}}}, "config.status_map.later"),
    ({"config": {"inbound_status_map": {"Done": "finished"}}}, "config.inbound_status_map.Done"),
    ({"config": {"unknown": 1}}, "config.unknown"),
    ({"credentials": {"webhook_secret": "s"}}, "credentials.api_token"),
])
async def test_bad_integration_input_is_422_naming_the_field_and_changes_nothing(api, world, fake, change, field):
    body: dict[str, Any] = {"kind": "jira", "name": "Jira", "config": jira_config(fake),
                            "credentials": CREDENTIALS["jira"]}
    for key, value in change.items():
        body[key] = {**body[key], **value} if isinstance(value, dict) and key != "credentials" else value
    before = await row_counts(world)
    problem(await api("manager").post(INTEGRATIONS, json=body), 422, field)
    assert await row_counts(world) == before
    async with world.desk.db.reading() as session:
        assert (await session.execute(select(IntegrationConnection))).first() is None


async def test_a_bad_change_is_422_and_leaves_the_integration_as_it_was(api, world, fake):
    connection = await created(api, fake, "slack")
    url = f"{INTEGRATIONS}/{connection['id']}"
    problem(await api("manager").patch(url, json={"config": {"channel_id": "general"}}), 422, "config.channel_id")
    problem(await api("manager").patch(url, json={"credentials": {"bot_token": None}}), 422, "credentials.bot_token")
    problem(await api("manager").patch(url, json={"kind": "jira"}), 422, "kind")
    assert ok(await api("manager").get(url)) == connection


# --- ticket links ----------------------------------------------------------------------------------------------


async def test_staff_push_a_ticket_link_an_issue_list_and_unlink(api, world, fake):
    jira = await created(api, fake)
    t = await open_ticket(api, world, title="Export is empty", description="The CSV has no rows")
    number = t["number"]
    links_url = f"/api/v1/tickets/{number}/links"
    pushed = ok(await api("staff").post(links_url, json={"connection_id": jira["id"], "push": True},
                                        headers={"Idempotency-Key": "push-1"}), 201)
    assert (pushed["sync_state"], pushed["kind"], pushed["key"]) == ("pending", "jira", None)
    again = await api("staff").post(links_url, json={"connection_id": jira["id"], "push": True},
                                    headers={"Idempotency-Key": "push-1"})
    assert again.status_code == 201 and again.json()["id"] == pushed["id"]
    problem(await api("staff").post(links_url, json={"connection_id": jira["id"], "push": True}), 409)
    await ob.deliver_due(world.desk, limit=10)
    [shown] = ok(await api("staff").get(links_url))["items"]
    assert (shown["sync_state"], shown["key"]) == ("linked", "ENG-42")
    other = await open_ticket(api, world, who="bob", title="Other", description="x")
    linked = ok(await api("staff").post(f"/api/v1/tickets/{other['number']}/links",
                                        json={"connection_id": jira["id"], "key": "ENG-9"}), 201)
    assert (linked["key"], linked["sync_state"]) == ("ENG-9", "linked")
    assert (await api("staff").delete(f"{links_url}/{pushed['id']}")).status_code == 204
    assert ok(await api("staff").get(links_url))["items"] == []
    problem(await api("staff").delete(f"{links_url}/{pushed['id']}"), 404)


@pytest.mark.parametrize(("body", "field"), [
    ({"push": True, "key": "ENG-1"}, "push"),
    ({}, "key"),
    ({"key": "nonsense"}, "key"),
    ({"url": "https://acme.atlassian.net/jira/dashboards"}, "url"),
    ({"connection_id": 999_999, "push": True}, "connection_id"),
    ({"connection_id": 0, "push": True}, "connection_id"),
    ({"push": True, "extra": 1}, "extra"),
])
async def test_bad_link_input_is_422_naming_the_field_and_changes_nothing(api, world, fake, body, field):
    jira = await created(api, fake)
    t = await open_ticket(api, world, description="x")
    before = await row_counts(world)
    problem(await api("staff").post(f"/api/v1/tickets/{t['number']}/links",
                                    json={"connection_id": jira["id"], **body}), 422, field)
    assert await row_counts(world) == before


async def test_customers_neither_see_nor_make_links(api, world, fake):
    jira = await created(api, fake)
    t = await open_ticket(api, world, description="x")
    url = f"/api/v1/tickets/{t['number']}/links"
    problem(await api("alice").get(url), 403)
    problem(await api("alice").post(url, json={"connection_id": jira["id"], "push": True}), 403)
    problem(await api("bob").get(url), 404)


# --- inbound: Jira ---------------------------------------------------------------------------------------------


def jira_signed(body: bytes, secret: str = JIRA_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}", "Content-Type": "application/json"}


def jira_update(key: str, status: str) -> bytes:
    return json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": "10000", "key": key, "fields": {
        "status": {"id": "3", "name": status}}}, "changelog": {"items": [
            {"field": "status", "fromString": "To Do", "toString": status}]}}).encode()


async def linked_ticket(api, world, fake, kind="jira"):  # type: ignore[no-untyped-def]
    connection = await created(api, fake, kind)
    t = await open_ticket(api, world, description="It broke")
    ok(await api("staff").post(f"/api/v1/tickets/{t['number']}/links",
                               json={"connection_id": connection["id"], "push": True}), 201)
    await ob.deliver_due(world.desk, limit=10)
    return connection, t["number"]


async def test_a_signed_jira_webhook_moves_the_ticket_and_a_bad_signature_changes_nothing(api, world, fake):
    connection, number = await linked_ticket(api, world, fake)
    url = f"{INTEGRATIONS}/{connection['id']}/jira/webhook"
    body = jira_update("ENG-42", "In Progress")
    before = await row_counts(world)
    problem(await api(None).post(url, content=body, headers=jira_signed(body, "wrong secret")), 401)
    problem(await api(None).post(url, content=body, headers={"Content-Type": "application/json"}), 401)
    tampered = body.replace(b"In Progress", b"Done")
    problem(await api(None).post(url, content=tampered, headers=jira_signed(body)), 401)
    assert await row_counts(world) == before and await ticket_status(world, number) == "open"
    assert ok(await api(None).post(url, content=body, headers=jira_signed(body)))["result"] == "applied"
    assert await ticket_status(world, number) == "in_progress"
    assert ok(await api(None).post(url, content=body, headers=jira_signed(body)))["result"] == "unchanged"
    other = jira_update("ENG-42", "Done").replace(b'"field": "status"', b'"field": "summary"')
    assert ok(await api(None).post(url, content=other, headers=jira_signed(other)))["result"] == "ignored"
    assert fake.seen("jira.transitions") == [], "a change from Jira is not sent back to Jira"


# --- inbound: Linear -------------------------------------------------------------------------------------------


def linear_signed(payload: dict[str, Any], secret: str = LINEAR_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"Linear-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
                  "Content-Type": "application/json"}


async def test_a_signed_linear_webhook_moves_the_ticket_and_an_old_or_bad_one_changes_nothing(api, world, fake, clock):
    connection, number = await linked_ticket(api, world, fake, "linear")
    url = f"{INTEGRATIONS}/{connection['id']}/linear/webhook"
    issue_id = next(iter(fake.linear_issues))

    def payload(at_ms: int) -> dict[str, Any]:
        return {"action": "update", "type": "Issue", "webhookTimestamp": at_ms, "updatedFrom": {"stateId": "x"},
                "data": {"id": issue_id, "identifier": "ENG-7", "state": {"id": "state-done", "name": "Done"}}}

    now_ms = int(clock.now().timestamp() * 1000)
    before = await row_counts(world)
    old_body, old_headers = linear_signed(payload(now_ms - 120_000))
    problem(await api(None).post(url, content=old_body, headers=old_headers), 401)
    body, headers = linear_signed(payload(now_ms))
    problem(await api(None).post(url, content=body, headers={**headers, "Linear-Signature": "00" * 32}), 401)
    assert await row_counts(world) == before
    assert ok(await api(None).post(url, content=body, headers=headers))["result"] == "applied"
    assert await ticket_status(world, number) == "resolved"
    await ob.deliver_due(world.desk, limit=10)
    assert not any("issueUpdate" in r["json"]["query"] for r in fake.seen("linear")), "no ping-pong"
    assert LINEAR_KEY not in str(fake.seen("linear")[-1]["json"])


# --- inbound: Slack --------------------------------------------------------------------------------------------


def slack_signed(payload: dict[str, Any], timestamp: int, secret: str = SLACK_SECRET) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return body, {"X-Slack-Signature": signature, "X-Slack-Request-Timestamp": str(timestamp),
                  "Content-Type": "application/json"}


async def test_slack_url_verification_is_answered_with_its_challenge(api, world, fake, clock):
    connection = await created(api, fake, "slack")
    body, headers = slack_signed({"type": "url_verification", "challenge": "3eZbrw1aB"}, int(clock.now().timestamp()))
    answer = ok(await api(None).post(f"{INTEGRATIONS}/{connection['id']}/slack/events", content=body,
                                     headers=headers))
    assert answer["challenge"] == "3eZbrw1aB"


async def test_a_slack_thread_reply_becomes_one_note_and_bad_signatures_bots_and_edits_change_nothing(
        api, world, fake, clock):
    connection, number = await linked_ticket(api, world, fake, "slack")
    root = fake.slack_posts[0]["ts"]
    url = f"{INTEGRATIONS}/{connection['id']}/slack/events"
    now = int(clock.now().timestamp())

    def event(event_id: str, **fields: Any) -> dict[str, Any]:
        return {"type": "event_callback", "event_id": event_id, "event": {
            "type": "message", "channel": CHANNEL, "user": "U0ENG", "text": "Deployed the fix",
            "ts": "1700000999.000100", "thread_ts": root, **fields}}

    before = await row_counts(world)
    body, headers = slack_signed(event("Ev1"), now)
    problem(await api(None).post(url, content=body, headers={**headers, "X-Slack-Signature": "v0=" + "0" * 64}), 401)
    old_body, old_headers = slack_signed(event("Ev1"), now - 6 * 60)
    problem(await api(None).post(url, content=old_body, headers=old_headers), 401)
    for ignored in (event("Ev2", bot_id="B1"), event("Ev3", subtype="message_changed"),
                    event("Ev4", thread_ts=None), event("Ev5", thread_ts="1.000")):
        b, h = slack_signed(ignored, now)
        assert ok(await api(None).post(url, content=b, headers=h))["result"] == "ignored"
    assert (await row_counts(world))["messages"] == before["messages"]
    assert ok(await api(None).post(url, content=body, headers=headers))["result"] == "noted"
    retried = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert ok(await api(None).post(url, content=body, headers=retried))["result"] == "duplicate"
    async with world.desk.db.reading() as session:
        notes = list((await session.execute(select(Message.body).join(Ticket, Ticket.id == Message.ticket_id).where(
            Ticket.number == number, Message.visibility == "internal"))).scalars())
    assert notes == ["Deployed the fix\n\n— <@U0ENG> in Slack"]
    await ob.deliver_due(world.desk, limit=10)
    assert len(fake.slack_posts) == 1, "the reply is not posted back into its thread"
    assert SLACK_TOKEN not in str(ok(await api("manager").get(f"{INTEGRATIONS}/{connection['id']}")))


async def test_inbound_calls_for_an_unknown_or_other_kind_of_integration_are_refused(api, world, fake, clock):
    connection = await created(api, fake, "slack")
    body = jira_update("ENG-1", "Done")
    problem(await api(None).post(f"{INTEGRATIONS}/{connection['id']}/jira/webhook", content=body,
                                 headers=jira_signed(body)), 401)
    problem(await api(None).post(f"{INTEGRATIONS}/999/slack/events", content=b"{}"), 401)
    async with world.desk.db.reading() as session:
        assert (await session.execute(select(TicketLink))).first() is None


async def test_a_signed_body_that_is_not_json_is_422_and_a_bad_cursor_too(api, world, fake):
    connection = await created(api, fake)
    body = b"not json"
    problem(await api(None).post(f"{INTEGRATIONS}/{connection['id']}/jira/webhook", content=body,
                                 headers=jira_signed(body)), 422, "body")
    problem(await api("staff").get(INTEGRATIONS, params={"cursor": "abc"}), 422, "cursor")


async def test_a_change_from_jira_to_a_locked_down_ticket_is_ignored_and_changes_nothing(api, world, fake):
    connection, number = await linked_ticket(api, world, fake)
    ok(await api("manager").post(f"/api/v1/tickets/{number}/lockdown"))
    body = jira_update("ENG-42", "In Progress")
    answer = ok(await api(None).post(f"{INTEGRATIONS}/{connection['id']}/jira/webhook", content=body,
                                     headers=jira_signed(body)))
    assert answer["result"] == "ignored"
    assert await ticket_status(world, number) == "open"


async def test_integrations_are_listed_a_page_at_a_time(api, world, fake):
    for name in ("one", "two", "three"):
        ok(await api("manager").post(INTEGRATIONS, json={"kind": "slack", "name": name,
                                                         "config": slack_config(fake),
                                                         "credentials": CREDENTIALS["slack"]}), 201)
    first = ok(await api("staff").get(INTEGRATIONS, params={"limit": 2}))
    second = ok(await api("staff").get(INTEGRATIONS, params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [c["name"] for c in first["items"] + second["items"]] == ["one", "two", "three"]
    assert second["next_cursor"] is None
    problem(await api("manager").post(INTEGRATIONS, json={"kind": "slack", "name": "one",
                                                          "config": slack_config(fake),
                                                          "credentials": CREDENTIALS["slack"]}), 409)
