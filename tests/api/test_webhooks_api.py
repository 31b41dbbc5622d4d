"""/api/v1/webhooks over HTTP: management only, secrets shown once, bad input named, the
delivery log in cursor pages, redelivery, test sends and rotation."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from frontdesk.api.app import create_app
from frontdesk.db.models import Event, WebhookEndpoint
from frontdesk.worker import outbox as ob
from tests.api.conftest import free_port
from tests.api.helpers import TICKETS, ok, open_ticket, problem
from tests.webhook_receiver import Reply

HOOKS = "/api/v1/webhooks"
PUBLIC = "https://93.184.215.14/hook"


pytestmark = pytest.mark.usefixtures("webhook_env")


async def endpoints_and_events(world):  # type: ignore[no-untyped-def]
    async with world.desk.db.reading() as session:
        return (int(await session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0),
                int(await session.scalar(select(func.count()).select_from(Event)) or 0))


async def create(api, **body):  # type: ignore[no-untyped-def]
    payload = {"name": "CRM", "url": PUBLIC, "events": ["ticket.opened"], **body}
    return ok(await api("manager").post(HOOKS, json=payload), 201)


async def test_a_webhook_is_created_with_its_secret_shown_once(api, world):
    created = await create(api, description="tickets to the CRM")
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["ticket.opened"] and created["enabled"] is True
    listed = ok(await api("manager").get(HOOKS))["items"]
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0] and created["secret"] not in str(listed)
    one = ok(await api("manager").get(f"{HOOKS}/{created['id']}"))
    assert "secret" not in one and one["description"] == "tickets to the CRM"


async def test_an_idempotent_create_replays_the_same_answer(api, world):
    headers = {"Idempotency-Key": "create-crm-hook"}
    body = {"name": "CRM", "url": PUBLIC, "events": ["*"]}
    first = ok(await api("manager").post(HOOKS, json=body, headers=headers), 201)
    again = ok(await api("manager").post(HOOKS, json=body, headers=headers), 201)
    assert again == first
    assert len(ok(await api("manager").get(HOOKS))["items"]) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"url": "ftp://93.184.215.14/hook"}, "url"),
    ({"url": "not a url"}, "url"),
    ({"url": "https://user:pw@93.184.215.14/hook"}, "url"),
    ({"events": ["ticket.opened", "ticket.vanished"]}, "events.1"),
    ({"events": ["*", "ticket.closed"]}, "events"),
    ({"secret": "whsec_dG9vIHNob3J0"}, "secret"),
    ({"secret": "plain-secret-without-prefix-0123456789"}, "secret"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"unknown": 1}, "unknown"),
])
async def test_bad_input_is_422_naming_the_field_and_changes_nothing(api, world, body, field):
    before = await endpoints_and_events(world)
    payload = {"name": "CRM", "url": PUBLIC, "events": ["ticket.opened"], **body}
    problem(await api("manager").post(HOOKS, json=payload), 422, field)
    assert await endpoints_and_events(world) == before


async def test_private_addresses_are_422_on_create_and_update_unless_allowed(api, world, monkeypatch):
    hook = await create(api)
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "false")
    before = await endpoints_and_events(world)
    problem(await api("manager").post(HOOKS, json={"name": "x", "url": "http://localhost:8080/", "events": []}),
            422, "url")
    problem(await api("manager").patch(f"{HOOKS}/{hook['id']}", json={"url": "http://169.254.169.254/"}), 422, "url")
    assert await endpoints_and_events(world) == before
    assert ok(await api("manager").get(f"{HOOKS}/{hook['id']}"))["url"] == PUBLIC


async def test_patch_changes_only_the_given_fields_and_refuses_nulls(api, world):
    hook = await create(api, description="old")
    changed = ok(await api("manager").patch(f"{HOOKS}/{hook['id']}", json={"enabled": False, "description": None}))
    assert (changed["enabled"], changed["description"], changed["url"]) == (False, None, PUBLIC)
    problem(await api("manager").patch(f"{HOOKS}/{hook['id']}", json={"url": None}), 422, "url")
    problem(await api("manager").patch(f"{HOOKS}/{hook['id']}", json={"events": ["nope"]}), 422, "events.0")


async def test_only_management_may_see_or_change_webhooks(api, world):
    hook = await create(api)
    for who in ("staff", "alice"):
        problem(await api(who).get(HOOKS), 403)
        problem(await api(who).post(HOOKS, json={"name": "x", "url": PUBLIC, "events": []}), 403)
        problem(await api(who).delete(f"{HOOKS}/{hook['id']}"), 403)
        problem(await api(who).post(f"{HOOKS}/{hook['id']}/rotate-secret"), 403)
        problem(await api(who).get(f"{HOOKS}/{hook['id']}/deliveries"), 403)
    assert ok(await api("owner").get(HOOKS))["items"][0]["id"] == hook["id"]


async def test_unknown_webhooks_are_404(api, world):
    problem(await api("manager").get(f"{HOOKS}/999"), 404)
    problem(await api("manager").post(f"{HOOKS}/999/test"), 404)
    problem(await api("manager").post(f"{HOOKS}/999/deliveries/1/redeliver"), 404)


async def test_delete_removes_the_webhook(api, world):
    hook = await create(api)
    assert (await api("manager").delete(f"{HOOKS}/{hook['id']}")).status_code == 204
    assert ok(await api("manager").get(HOOKS))["items"] == []
    problem(await api("manager").delete(f"{HOOKS}/{hook['id']}"), 404)


async def test_the_event_names_list_holds_what_webhooks_may_select(api, world):
    names = ok(await api("manager").get(f"{HOOKS}/events"))["items"]
    for name in ("*", "ticket.opened", "ticket.escalated", "ticket.closed", "csat.negative", "sla.breach",
                 "ticket.assigned", "ticket.status_changed", "message.created", "ticket.merged"):
        assert name in names


async def test_test_send_redelivery_and_the_delivery_log(api, world, receiver):
    url = receiver.script("/api", Reply(500, b"try later"), Reply(200, b"fine"))
    hook = await create(api, url=url, events=[])
    queued = ok(await api("manager").post(f"{HOOKS}/{hook['id']}/test"), 202)
    await ob.deliver_due(world.desk, limit=10)
    [page_item] = ok(await api("manager").get(f"{HOOKS}/{hook['id']}/deliveries"))["items"]
    assert page_item["id"] == queued["delivery_id"] and page_item["webhook_id"] == queued["webhook_id"]
    assert page_item["status"] == "retrying" and page_item["event_type"] == "webhook.test"
    assert [(a["attempt"], a["status_code"], a["response_excerpt"]) for a in page_item["attempts"]] == [
        (1, 500, "try later")]
    again = ok(await api("manager").post(f"{HOOKS}/{hook['id']}/deliveries/{queued['delivery_id']}/redeliver"), 202)
    assert again["webhook_id"] == queued["webhook_id"]
    await ob.deliver_due(world.desk, limit=10)
    item = ok(await api("manager").get(f"{HOOKS}/{hook['id']}/deliveries/{queued['delivery_id']}"))
    assert item["status"] == "succeeded"
    assert [a["status_code"] for a in item["attempts"]] == [500, 200]
    requests = receiver.at("/api")
    assert [Webhook(hook["secret"]).verify(r.body, r.headers)["type"] for r in requests] == ["webhook.test"] * 2
    assert {r.headers["webhook-id"] for r in requests} == {queued["webhook_id"]}


async def test_the_delivery_log_pages_with_a_cursor(api, world, receiver):
    hook = await create(api, url=receiver.script("/pages"), events=["ticket.opened", "message.created"])
    for _ in range(3):
        await open_ticket(api, world, "vip", "VIP", description="help")
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await api("manager").get(f"{HOOKS}/{hook['id']}/deliveries", params=params))
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 6 and seen == sorted(seen, reverse=True)
    problem(await api("manager").get(f"{HOOKS}/{hook['id']}/deliveries", params={"cursor": "garbage"}), 422,
            "cursor")
    problem(await api("manager").get(f"{HOOKS}/{hook['id']}/deliveries", params={"limit": 0}), 422, "limit")


async def test_rotating_the_secret_shows_the_new_one_once_and_both_sign_meanwhile(api, world, receiver):
    hook = await create(api, url=receiver.script("/rot"), events=["ticket.opened"])
    rotated = ok(await api("manager").post(f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap": "24h"}))
    assert rotated["secret"] != hook["secret"] and rotated["previous_secret_valid_until"]
    problem(await api("manager").post(f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap": "forever"}), 422,
            "overlap")
    problem(await api("manager").post(f"{HOOKS}/{hook['id']}/rotate-secret", json={"secret": "whsec_x"}), 422,
            "secret")
    await open_ticket(api, world, "vip", "VIP", description="help")
    await ob.deliver_due(world.desk, limit=10)
    [request] = receiver.at("/rot")
    for secret in (hook["secret"], rotated["secret"]):
        assert Webhook(secret).verify(request.body, request.headers)["type"] == "ticket.opened"


async def test_serve_delivers_right_after_the_commit(world, receiver, monkeypatch):
    """With the worker in the process, an action's commit wakes the outbox at once."""
    from frontdesk.actions.members import create_api_token

    app = create_app(world.desk, run_worker=True)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        async with world.tx("system") as tx:
            _, token = await create_api_token(tx, member_id=world.member_ids["manager"], name="t")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}",
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            hook = ok(await client.post(HOOKS, json={"name": "live", "url": receiver.script("/live"),
                                                     "events": ["ticket.opened"]}), 201)
            ok(await client.post(f"{HOOKS}/{hook['id']}/test"), 202)
            await receiver.wait_for(1, within=20)
            assert receiver.at("/live")[0].json()["type"] == "webhook.test"
            opened = ok(await client.post(TICKETS, json={"type_id": world.type_ids["VIP"], "description": "x"}), 201)
            await receiver.wait_for(2, within=20)
            assert receiver.at("/live")[1].json()["data"]["ticket"]["number"] == opened["number"]
    finally:
        server.should_exit = True
        await task
