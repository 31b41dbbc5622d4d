"""Webhooks end to end: real actions write deliveries in their transaction; the outbox
handler POSTs them to a real HTTP server on loopback; receivers verify them with the
``standardwebhooks`` package."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from frontdesk.actions import lifecycle, merge, messages, tickets
from frontdesk.actions import webhooks as wa
from frontdesk.db.models import Event, OutboxItem, Ticket, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotPermitted, ValidationFailed
from frontdesk.queries.tickets import get_ticket_view
from frontdesk.worker import outbox as ob
from frontdesk.worker import webhooks as ww
from frontdesk.worker.sweeps import sla_breaches
from tests.integration.helpers import count, fetch
from tests.integration.time_helpers import add_type, clock, open_ops
from tests.webhook_receiver import CLOSE, HANG, Reply

SEEDS_EVENTS = [ev.TICKET_OPENED, ev.TICKET_ESCALATED, ev.TICKET_CLOSED, ev.CSAT_NEGATIVE, ev.SLA_BREACH,
                ev.TICKET_ASSIGNED, ev.TICKET_STATUS_CHANGED, ev.MESSAGE_CREATED, ev.TICKET_MERGED]


pytestmark = pytest.mark.usefixtures("webhook_env")


async def add_endpoint(world, url, events=None, **kwargs):  # type: ignore[no-untyped-def]
    return await world.run("manager", wa.create_webhook, name=kwargs.pop("name", url[-40:]), url=url,
                           events=events if events is not None else ["*"], **kwargs)


async def deliver_all(world, *, passes=20):  # type: ignore[no-untyped-def]
    """Run outbox passes until nothing is due now."""
    total = 0
    for _ in range(passes):
        done = await ob.deliver_due(world.desk, limit=200)
        total += done
        if not done:
            return total
    return total


async def outbox_rows(world):  # type: ignore[no-untyped-def]
    return await fetch(world, select(OutboxItem).order_by(OutboxItem.id))


def verified(request, secret):  # type: ignore[no-untyped-def]
    return Webhook(secret).verify(request.body, request.headers)


# --- what is sent ----------------------------------------------------------------------------------------------


async def test_every_seeds_event_is_delivered_from_its_real_action_signed_and_verifiable(world, receiver):
    url = receiver.script("/all")
    _, secret = await add_endpoint(world, url, events=SEEDS_EVENTS)
    await add_type(world)
    t = await open_ops(world, "bob", priority="urgent")
    clock(world).advance(minutes=20)
    assert await sla_breaches(world.desk) == 1
    await world.run("staff", tickets.escalate_ticket, t.number)
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff"])
    await world.run("staff", tickets.set_status, t.number, "in_progress")
    await world.run("staff", messages.post_message, t.number, "On it")
    other = await open_ops(world, "bob", title="Same again")
    await world.run("staff", merge.merge_tickets, other.number, t.number)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("bob", lifecycle.rate_ticket, t.number, "not_helpful", comment="meh")
    await deliver_all(world)

    bodies = [verified(r, secret) for r in receiver.at("/all")]
    assert {b["type"] for b in bodies} == set(SEEDS_EVENTS)
    stored = {e.id: e for e in await fetch(world, select(Event))}
    for body in bodies:
        assert set(body) == {"type", "timestamp", "data"}
        event = stored[body["data"]["event_id"]]
        assert body["type"] == event.type
        assert body["timestamp"] == event.occurred_at.isoformat()
        assert body["data"]["ticket"]["number"] == event.payload["ticket_number"]
        for key, value in event.payload.items():
            assert body["data"][key] == value
    ids = [r.headers["webhook-id"] for r in receiver.at("/all")]
    assert len(ids) == len(set(ids)) == len(bodies)
    assert {o.status for o in await outbox_rows(world)} == {"done"}


async def test_the_ticket_in_a_delivery_is_the_ticket_the_api_shows(world, receiver):
    url = receiver.script("/shape")
    _, secret = await add_endpoint(world, url, events=[ev.TICKET_ESCALATED])
    t = await world.open("alice", title="Printer on fire")
    await world.run("staff", tickets.escalate_ticket, t.number)
    await deliver_all(world)
    [request] = receiver.at("/shape")
    body = verified(request, secret)
    async with world.desk.read(world.actors["manager"], world.workspace_id) as tx:
        shown = await get_ticket_view(tx, t.number)
    assert body["data"]["ticket"] == shown
    assert body["data"]["actor"] == {"id": world.member_ids["staff"], "kind": "member"}


async def test_only_subscribed_enabled_endpoints_of_the_workspace_receive_an_event(world, receiver):
    closed_only = receiver.script("/closed")
    everything = receiver.script("/everything")
    disabled = receiver.script("/disabled")
    await add_endpoint(world, closed_only, events=[ev.TICKET_CLOSED])
    await add_endpoint(world, everything, events=["*"])
    await add_endpoint(world, disabled, events=["*"], enabled=False)
    t = await world.open("alice")
    await deliver_all(world)
    assert receiver.at("/closed") == [] and receiver.at("/disabled") == []
    assert ev.TICKET_OPENED in {r.json()["type"] for r in receiver.at("/everything")}
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await deliver_all(world)
    assert [r.json()["type"] for r in receiver.at("/closed")] == [ev.TICKET_CLOSED]
    assert receiver.at("/disabled") == []


async def test_a_rolled_back_action_sends_nothing(world, receiver):
    await add_endpoint(world, receiver.script("/x"), events=[ev.TICKET_OPENED])
    before = await count(world, WebhookDelivery)
    with pytest.raises(RuntimeError):
        async with world.tx("alice") as tx:
            await tickets.open_ticket(tx, type_id=world.type_ids["General"], description="boom")
            raise RuntimeError("the action failed after its events")
    assert await count(world, WebhookDelivery) == before
    await deliver_all(world)
    assert receiver.requests == []


async def test_a_workspace_without_endpoints_pays_one_query_per_transaction(world):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = world.desk.db.write_engine.sync_engine
    hook = world.desk.before_commit[:]
    await add_type(world)

    async def statements_of_one_open(hooks):  # type: ignore[no-untyped-def]
        world.desk.before_commit[:] = hooks
        statements.clear()
        sa_event.listen(engine, "before_cursor_execute", seen)
        try:
            await open_ops(world)
        finally:
            sa_event.remove(engine, "before_cursor_execute", seen)
        return list(statements)

    # The other hooks (automation) pay their own queries; compare with them alone.
    others = [h for h in hook if h is not wa.deliver_events]
    assert len(others) == len(hook) - 1
    without = await statements_of_one_open(others)
    with_hook = await statements_of_one_open(hook)
    extra = [s for s in with_hook if "webhook_endpoints" in s]
    assert len(with_hook) == len(without) + 1
    assert len(extra) == 1


async def test_events_of_a_ticket_under_lockdown_are_not_sent(world, receiver):
    await add_endpoint(world, receiver.script("/ld"), events=[ev.TICKET_STATUS_CHANGED, ev.TICKET_LOCKED])
    t = await world.open("alice")
    await world.run("manager", tickets.lockdown_ticket, t.number)
    await world.run("manager", tickets.set_status, t.number, "in_progress")
    await deliver_all(world)
    assert receiver.requests == []


async def test_breach_events_from_the_worker_pass_are_delivered(world, receiver):
    _, secret = await add_endpoint(world, receiver.script("/sla"), events=[ev.SLA_BREACH])
    await add_type(world)
    t = await open_ops(world, priority="urgent")
    clock(world).advance(minutes=20)
    assert await sla_breaches(world.desk) == 1
    await deliver_all(world)
    [request] = receiver.at("/sla")
    body = verified(request, secret)
    assert body["type"] == "sla.breach" and body["data"]["target"] == "first_response"
    assert body["data"]["ticket"]["number"] == t.number and body["data"]["ticket"]["sla"]["breached"] is True


# --- failures and retries --------------------------------------------------------------------------------------


async def test_a_500_is_retried_with_the_same_webhook_id_until_it_succeeds(world, receiver):
    url = receiver.script("/flaky", Reply(500, b"database down"), Reply(503), Reply(200, b"thanks"))
    _, secret = await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    for _ in range(3):
        await deliver_all(world)
        [row] = await outbox_rows(world)
        if row.status == "pending":
            assert row.next_attempt_at > clock(world).now()
            clock(world).set(row.next_attempt_at)
    requests = receiver.at("/flaky")
    assert len(requests) == 3
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert all(verified(r, secret) for r in requests)
    [row] = await outbox_rows(world)
    assert row.status == "done"
    attempts = await fetch(world, select(WebhookAttempt).order_by(WebhookAttempt.attempt))
    assert [(a.attempt, a.status_code, a.response_excerpt) for a in attempts] == [
        (1, 500, "database down"), (2, 503, "ok"), (3, 200, "thanks")]
    assert all(a.latency_ms is not None and a.latency_ms >= 0 for a in attempts)


async def test_the_first_retry_waits_about_five_seconds_and_the_schedule_spans_about_three_days():
    assert ww.RETRY.max_attempts == 15
    assert 2.5 * 24 * 3600 < sum(ww.RETRY.delays) < 3.5 * 24 * 3600
    assert ww.RETRY.delays[0] == 5


async def test_a_receiver_that_hangs_or_drops_the_connection_is_retried_without_holding_up_another(
        world, receiver, monkeypatch):
    monkeypatch.setenv("FRONTDESK_WEBHOOK_TIMEOUT_SECONDS", "1")  # the hanging one times out soon
    hanging = receiver.script("/hang", HANG)
    dropping = receiver.script("/drop", CLOSE)
    fine = receiver.script("/fine")
    for url in (hanging, dropping, fine):
        await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await ob.deliver_due(world.desk, limit=50)
    assert len(receiver.at("/fine")) == 1
    rows = await outbox_rows(world)
    assert sorted(r.status for r in rows) == ["done", "pending", "pending"]
    errors = sorted(r.last_error for r in rows if r.status == "pending")
    assert any("no answer within 1 s" in e for e in errors)
    assert any("RemoteProtocolError" in e or "ReadError" in e for e in errors), errors
    attempts = await fetch(world, select(WebhookAttempt))
    assert len(attempts) == 3
    assert sum(1 for a in attempts if a.status_code is None and a.error) == 2


async def test_a_410_disables_the_endpoint_and_stops_its_deliveries(world, receiver):
    gone = receiver.script("/gone", Reply(410))
    endpoint, _ = await add_endpoint(world, gone, events=[ev.TICKET_OPENED, ev.TICKET_CLOSED])
    t = await world.open("alice")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await ob.deliver_due(world.desk, limit=1)  # two deliveries wait; the first gets the 410
    row = (await fetch(world, select(WebhookEndpoint)))[0]
    assert row.enabled is False and "410" in row.disabled_reason
    disabled = await fetch(world, select(Event).where(Event.type == ev.WEBHOOK_DISABLED))
    assert [e.payload["endpoint_id"] for e in disabled] == [endpoint.id]
    await deliver_all(world)
    assert len(receiver.at("/gone")) == 1
    assert {r.status for r in await outbox_rows(world)} == {"dead"}
    await world.run("staff", lifecycle.reopen_ticket, t.number)
    await deliver_all(world)
    assert len(receiver.at("/gone")) == 1


async def test_redirects_are_not_followed_and_count_as_failures(world, receiver):
    receiver.script("/elsewhere")
    url = receiver.script("/moved", Reply(302, b"", (("location", receiver.url("/elsewhere")),)))
    await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await deliver_all(world)
    assert receiver.at("/elsewhere") == []
    [row] = await outbox_rows(world)
    assert row.status == "pending" and "302" in row.last_error and "not followed" in row.last_error


async def test_other_4xx_answers_are_given_up_after_a_few_attempts(world, receiver):
    url = receiver.script("/missing", Reply(404, b"no such hook"))
    await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    for _ in range(20):
        await deliver_all(world)
        [row] = await outbox_rows(world)
        if row.status != "pending":
            break
        clock(world).set(row.next_attempt_at)
    assert row.status == "dead" and "404" in row.last_error
    assert len(receiver.at("/missing")) == 8


async def test_a_429_is_retried_after_the_time_its_retry_after_asks(world, receiver):
    url = receiver.script("/busy", Reply(429, b"slow down", (("retry-after", "120"),)), Reply(200))
    await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await deliver_all(world)
    [row] = await outbox_rows(world)
    assert row.status == "pending"
    assert row.next_attempt_at == clock(world).now() + timedelta(seconds=120)


async def test_the_answer_is_read_only_up_to_a_bound_and_an_excerpt_is_kept(world, receiver):
    url = receiver.script("/big", Reply(200, b"x" * (5 * 1024 * 1024)))
    await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await deliver_all(world)
    [attempt] = await fetch(world, select(WebhookAttempt))
    assert attempt.status_code == 200 and attempt.response_excerpt == "x" * 1024


async def test_a_deleted_endpoint_s_pending_deliveries_are_dropped(world, receiver):
    endpoint, _ = await add_endpoint(world, receiver.script("/bye"), events=[ev.TICKET_OPENED])
    await world.open("alice")
    await world.run("manager", wa.delete_webhook, endpoint.id)
    await deliver_all(world)
    assert receiver.requests == []
    assert {r.status for r in await outbox_rows(world)} == {"dead"}


# --- a slow receiver never blocks the others ---------------------------------------------------------------------


async def test_a_slow_receiver_does_not_hold_up_other_endpoints_in_the_running_worker(world, receiver, monkeypatch):
    monkeypatch.setenv("FRONTDESK_WEBHOOK_TIMEOUT_SECONDS", "30")
    slow = receiver.script("/slow", HANG)
    fast = receiver.script("/fast")
    await add_type(world)
    await add_endpoint(world, slow, events=[ev.TICKET_OPENED, ev.MESSAGE_CREATED])
    for _ in range(20):
        await open_ops(world)
    await add_endpoint(world, fast, events=[ev.TICKET_OPENED])
    for _ in range(5):
        await open_ops(world)
    pump = ob.OutboxPump(world.desk, concurrency=40)
    stop = asyncio.Event()
    task = asyncio.create_task(pump.run(stop))
    try:
        await receiver.wait_for(pump.per_lane + 5)
        for _ in range(500):
            if len(receiver.at("/fast")) == 5:
                break
            await asyncio.sleep(0.01)
        assert len(receiver.at("/fast")) == 5, "the fast endpoint got everything while the slow one hangs"
        assert len(receiver.at("/slow")) <= pump.per_lane
    finally:
        stop.set()
        await receiver.close()  # the hanging connections drop; their attempts fail and are retried
        await task
    slow_rows = [o for d, o in await fetch_pairs(world) if d.endpoint_id != (await fast_id(world))]
    assert all(o.status == "pending" for o in slow_rows)


async def fetch_pairs(world):  # type: ignore[no-untyped-def]
    async with world.desk.db.reading() as session:
        return (await session.execute(select(WebhookDelivery, OutboxItem).join(
            OutboxItem, OutboxItem.id == WebhookDelivery.outbox_id))).all()


async def fast_id(world):  # type: ignore[no-untyped-def]
    rows = await fetch(world, select(WebhookEndpoint).where(WebhookEndpoint.url.like("%/fast")))
    return rows[0].id


# --- security ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://localhost:9/hook", "http://127.0.0.1/hook", "http://10.1.2.3/hook", "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook", "http://0.0.0.0/hook", "http://224.0.0.1/hook", "http://240.0.0.1/hook",
    "http://100.64.0.1/hook", "http://[fc00::1]/hook",
])
async def test_private_loopback_and_reserved_addresses_are_refused_unless_allowed(world, monkeypatch, url):
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "false")
    with pytest.raises(ValidationFailed) as refused:
        await add_endpoint(world, url)
    assert refused.value.field == "url"
    assert await count(world, WebhookEndpoint) == 0
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "true")
    await add_endpoint(world, url)
    assert await count(world, WebhookEndpoint) == 1


async def test_http_is_refused_unless_allowed(world, monkeypatch):
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_HTTP", "false")
    with pytest.raises(ValidationFailed) as refused:
        await add_endpoint(world, "http://93.184.215.14/hook")
    assert refused.value.field == "url" and "https" in refused.value.message
    endpoint, _ = await add_endpoint(world, "https://93.184.215.14/hook")
    with pytest.raises(ValidationFailed) as refused:
        await world.run("manager", wa.update_webhook, endpoint.id, url="http://93.184.215.14/other")
    assert refused.value.field == "url"
    assert (await fetch(world, select(WebhookEndpoint.url))) == ["https://93.184.215.14/hook"]


async def test_the_address_is_checked_again_when_sending(world, receiver, monkeypatch):
    # Saved while private addresses were allowed (or while the name resolved elsewhere):
    # at send time the address actually connected to is checked, and nothing is sent.
    await add_endpoint(world, receiver.script("/rebind"), events=[ev.TICKET_OPENED])
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "false")
    await world.open("alice")
    await deliver_all(world)
    assert receiver.requests == []
    [row] = await outbox_rows(world)
    assert row.status == "pending" and "resolves to 127.0.0.1" in row.last_error


# --- secrets -----------------------------------------------------------------------------------------------------


async def test_a_given_secret_signs_and_is_stored_encrypted(world, receiver):
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    endpoint, secret = await add_endpoint(world, receiver.script("/given"), events=[ev.TICKET_OPENED], secret=given)
    assert secret == given
    stored = (await fetch(world, select(WebhookEndpoint.secret_encrypted)))[0]
    assert "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" not in stored
    await world.open("alice")
    await deliver_all(world)
    assert verified(receiver.at("/given")[0], given)


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_not base64!",
                                    "whsec_" + "QUFB" * 30])
async def test_a_malformed_secret_is_refused(world, secret):
    with pytest.raises(ValidationFailed) as refused:
        await add_endpoint(world, "https://93.184.215.14/hook", secret=secret)
    assert refused.value.field == "secret"
    assert await count(world, WebhookEndpoint) == 0


async def test_during_a_rotation_both_secrets_sign_and_afterwards_only_the_new(world, receiver):
    await add_type(world)
    endpoint, old = await add_endpoint(world, receiver.script("/rot"), events=[ev.TICKET_OPENED])
    _, new = await world.run("manager", wa.rotate_webhook_secret, endpoint.id, overlap="24h")
    assert new != old and new.startswith("whsec_")
    await open_ops(world)
    await deliver_all(world)
    [during] = receiver.at("/rot")
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert verified(during, old) and verified(during, new)
    clock(world).advance(hours=24, seconds=1)
    await open_ops(world)
    await deliver_all(world)
    after = receiver.at("/rot")[1]
    assert verified(after, new)
    with pytest.raises(WebhookVerificationError):
        verified(after, old)
    rotated = await fetch(world, select(Event).where(Event.type == ev.WEBHOOK_SECRET_ROTATED))
    assert old not in str(rotated[0].payload) and new not in str(rotated[0].payload)


async def test_a_rotation_without_overlap_drops_the_old_secret_at_once(world, receiver):
    endpoint, old = await add_endpoint(world, receiver.script("/now"), events=[ev.TICKET_OPENED])
    _, new = await world.run("manager", wa.rotate_webhook_secret, endpoint.id, overlap="0s")
    await world.open("alice")
    await deliver_all(world)
    [request] = receiver.at("/now")
    assert verified(request, new)
    with pytest.raises(WebhookVerificationError):
        verified(request, old)


async def test_a_bad_overlap_is_refused_and_changes_nothing(world):
    endpoint, _ = await add_endpoint(world, "https://93.184.215.14/hook")
    before = (await fetch(world, select(WebhookEndpoint.secret_encrypted)))[0]
    for overlap in ("soon", "8d"):
        with pytest.raises(ValidationFailed) as refused:
            await world.run("manager", wa.rotate_webhook_secret, endpoint.id, overlap=overlap)
        assert refused.value.field == "overlap"
    assert (await fetch(world, select(WebhookEndpoint.secret_encrypted)))[0] == before


# --- endpoints: validation, permission, events ---------------------------------------------------------------------


async def test_event_selection_is_validated(world):
    for events, field in ((["ticket.opened", "ticket.exploded"], "events.1"), (["*", "ticket.opened"], "events"),
                          ("ticket.opened", "events")):
        with pytest.raises(ValidationFailed) as refused:
            await add_endpoint(world, "https://93.184.215.14/hook", events=events)
        assert refused.value.field == field
    assert await count(world, WebhookEndpoint) == 0


async def test_only_management_manages_webhooks(world):
    with pytest.raises(NotPermitted):
        await world.run("staff", wa.create_webhook, name="x", url="https://93.184.215.14/hook", events=["*"])
    endpoint, _ = await world.run("mgmtrole", wa.create_webhook, name="by role", url="https://93.184.215.14/h",
                                  events=["*"])
    for action, args in ((wa.update_webhook, {"enabled": False}), (wa.rotate_webhook_secret, {}),
                         (wa.send_test, {}), (wa.delete_webhook, {})):
        with pytest.raises(NotPermitted):
            await world.run("staff", action, endpoint.id, **args)


async def test_endpoint_changes_are_events_without_secrets(world):
    endpoint, secret = await add_endpoint(world, "https://93.184.215.14/hook", name="CRM")
    await world.run("manager", wa.update_webhook, endpoint.id, events=[ev.TICKET_CLOSED], description="to the CRM")
    await world.run("manager", wa.update_webhook, endpoint.id, events=[ev.TICKET_CLOSED])  # no change, no event
    await world.run("manager", wa.delete_webhook, endpoint.id)
    rows = await fetch(world, select(Event).where(Event.type.like("webhook.%")).order_by(Event.id))
    assert [e.type for e in rows] == [ev.WEBHOOK_CREATED, ev.WEBHOOK_UPDATED, ev.WEBHOOK_DELETED]
    assert rows[1].payload["after"] == {"events": [ev.TICKET_CLOSED], "description": "to the CRM"}
    assert all(secret not in str(e.payload) for e in rows)


async def test_names_are_unique_in_a_workspace(world):
    await add_endpoint(world, "https://93.184.215.14/a", name="CRM")
    with pytest.raises(ValidationFailed) as refused:
        await add_endpoint(world, "https://93.184.215.14/b", name="CRM")
    assert refused.value.field == "name"


# --- test sends, redelivery, rule deliveries -----------------------------------------------------------------------


async def test_a_test_send_and_a_redelivery_carry_the_same_webhook_id_each_time(world, receiver):
    endpoint, secret = await add_endpoint(world, receiver.script("/t"), events=[])
    delivery = await world.run("manager", wa.send_test, endpoint.id)
    await deliver_all(world)
    [first] = receiver.at("/t")
    assert verified(first, secret)["type"] == "webhook.test"
    await world.run("manager", wa.redeliver, endpoint.id, delivery.id)
    await deliver_all(world)
    second = receiver.at("/t")[1]
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == delivery.message_id
    assert second.body == first.body
    attempts = await fetch(world, select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id))
    assert len(attempts) == 2


async def test_redelivering_a_delivery_that_waits_for_a_retry_sends_it_now(world, receiver):
    url = receiver.script("/later", Reply(500), Reply(200))
    endpoint, _ = await add_endpoint(world, url, events=[ev.TICKET_OPENED])
    await world.open("alice")
    await deliver_all(world)
    [delivery] = await fetch(world, select(WebhookDelivery))
    await world.run("manager", wa.redeliver, endpoint.id, delivery.id)
    await deliver_all(world)
    assert len(receiver.at("/later")) == 2
    assert [o.status for o in await outbox_rows(world)] == ["done"]


async def test_a_delivery_being_sent_cannot_be_redelivered_and_a_disabled_endpoint_gets_no_test(world):
    endpoint, _ = await add_endpoint(world, "https://93.184.215.14/hook", events=[])
    delivery = await world.run("manager", wa.send_test, endpoint.id)
    await ob.claim_due(world.desk, limit=10)
    with pytest.raises(Conflict):
        await world.run("manager", wa.redeliver, endpoint.id, delivery.id)
    await world.run("manager", wa.update_webhook, endpoint.id, enabled=False)
    with pytest.raises(Conflict):
        await world.run("manager", wa.send_test, endpoint.id)


async def test_a_rule_webhook_goes_to_its_endpoint_whatever_the_selection(world, receiver):
    endpoint, secret = await add_endpoint(world, receiver.script("/rule"), events=[ev.TICKET_CLOSED])
    t = await world.open("alice")
    async with world.tx("system") as tx:
        row = (await tx.session.execute(select(Ticket).where(Ticket.number == t.number))).scalar_one()
        opened = (await tx.session.execute(select(Event).where(Event.type == ev.TICKET_OPENED))).scalars().first()
        await wa.enqueue_rule_webhook(tx, endpoint.id, row, rule_id=7, event=opened)
    await deliver_all(world)
    [request] = receiver.at("/rule")
    body = verified(request, secret)
    assert body["type"] == "rule.triggered"
    assert body["data"]["rule_id"] == 7 and body["data"]["event"]["type"] == ev.TICKET_OPENED
    assert body["data"]["ticket"]["number"] == t.number


async def test_a_rules_send_webhook_action_delivers_rule_triggered_to_the_endpoint(world, receiver):
    from tests.integration.rule_helpers import add_rule

    endpoint, secret = await add_endpoint(world, receiver.script("/from-rule"), events=[ev.TICKET_CLOSED])
    rule_id = await add_rule(world, "ticket_opened", [{"type": "send_webhook", "endpoint_id": endpoint.id}])
    t = await world.open("alice")
    await deliver_all(world)
    [request] = receiver.at("/from-rule")
    body = verified(request, secret)
    assert body["type"] == "rule.triggered"
    assert body["data"]["rule_id"] == rule_id and body["data"]["event"]["type"] == ev.TICKET_OPENED
    assert body["data"]["ticket"]["number"] == t.number


async def test_a_rule_webhook_to_an_unknown_or_disabled_endpoint_names_endpoint_id(world):
    endpoint, _ = await add_endpoint(world, "https://93.184.215.14/hook", enabled=False)
    t = await world.open("alice")
    for endpoint_id in (endpoint.id, 999999):
        with pytest.raises(ValidationFailed) as refused:
            async with world.tx("system") as tx:
                row = (await tx.session.execute(select(Ticket).where(Ticket.number == t.number))).scalar_one()
                await wa.enqueue_rule_webhook(tx, endpoint_id, row, rule_id=1, event=ev.TICKET_OPENED)
        assert refused.value.field == "endpoint_id"
