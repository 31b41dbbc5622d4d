"""The audit log: a ticket's events, and the workspace's event feed for integrations."""

from __future__ import annotations

from tests.api.helpers import TICKETS, ok, open_ticket, problem


async def test_a_ticket_has_one_event_per_action_with_actor_and_before_after(api, world, clock):
    n = (await open_ticket(api, world))["number"]
    clock.advance(minutes=1)
    ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    clock.advance(minutes=1)
    ok(await api("staff2").post(f"{TICKETS}/{n}/priority", json={"priority": "high"}))
    clock.advance(minutes=1)
    ok(await api("alice").post(f"{TICKETS}/{n}/escalate"))
    events = ok(await api("staff").get(f"{TICKETS}/{n}/events"))["items"]
    assert [(e["type"], e["actor_id"]) for e in events] == [
        ("ticket.opened", world.member_ids["alice"]),
        ("ticket.claimed", world.member_ids["staff"]),
        ("ticket.priority_changed", world.member_ids["staff2"]),
        ("ticket.escalated", world.member_ids["alice"]),
        # An escalation raises a quality flag in the same action.
        ("quality_flag.created", world.member_ids["alice"]),
    ]
    assert all(e["ticket_number"] == n and e["actor_kind"] == "member" for e in events)
    assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
    assert len({e["occurred_at"] for e in events}) == 4
    priority = events[2]["payload"]
    assert (priority["before"], priority["after"]) == ({"priority": "normal"}, {"priority": "high"})
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


async def test_a_customer_may_not_read_the_audit_log(api, world):
    n = (await open_ticket(api, world))["number"]
    problem(await api("alice").get(f"{TICKETS}/{n}/events"), 403)
    problem(await api("bob").get(f"{TICKETS}/{n}/events"), 404)


async def test_the_ticket_audit_log_pages_with_a_cursor(api, world):
    n = (await open_ticket(api, world))["number"]
    for tag in ("a", "b", "c", "d"):
        ok(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": tag}))
    first = ok(await api("staff").get(f"{TICKETS}/{n}/events", params={"limit": 3}))
    rest = ok(await api("staff").get(f"{TICKETS}/{n}/events", params={"limit": 3, "cursor": first["next_cursor"]}))
    assert [e["payload"].get("tag") for e in first["items"] + rest["items"]] == [None, "a", "b", "c", "d"]
    assert rest["next_cursor"] is None


async def test_the_workspace_feed_lists_events_after_an_id(api, world):
    start = ok(await api("staff").get("/api/v1/events"))["items"]
    last = start[-1]["id"] if start else 0
    n = (await open_ticket(api, world, description="hello"))["number"]
    ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    new = ok(await api("staff").get("/api/v1/events", params={"after": last}))["items"]
    assert [e["type"] for e in new] == ["ticket.opened", "message.created", "ticket.claimed"]
    assert all(e["id"] > last for e in new)
    after_open = ok(await api("staff").get("/api/v1/events", params={"after": new[0]["id"]}))["items"]
    assert [e["type"] for e in after_open] == ["message.created", "ticket.claimed"]
    only = ok(await api("staff").get("/api/v1/events", params={"after": last, "type": "ticket.claimed"}))["items"]
    assert [e["type"] for e in only] == ["ticket.claimed"]
    page = ok(await api("staff").get("/api/v1/events", params={"after": last, "limit": 2}))
    assert len(page["items"]) == 2 and page["next_cursor"] is not None
    problem(await api("alice").get("/api/v1/events"), 403)
    problem(await api("staff").get("/api/v1/events", params={"after": "yesterday"}), 422, "after")


async def test_the_workspace_feed_leaves_out_tickets_the_caller_may_not_see(api, world):
    hidden = (await open_ticket(api, world, "alice", title="Sensitive"))["number"]
    shown = (await open_ticket(api, world, "bob"))["number"]
    ok(await api("manager").post(f"{TICKETS}/{hidden}/lockdown"))
    ok(await api("manager").post(f"{TICKETS}/{hidden}/notes", json={"body": "legal is involved"}), 201)
    ok(await api("staff").post(f"{TICKETS}/{shown}/claim"))
    staff_feed = ok(await api("staff").get("/api/v1/events"))["items"]
    assert hidden not in {e["ticket_number"] for e in staff_feed}
    assert "Sensitive" not in str(staff_feed)
    assert [e["type"] for e in staff_feed if e["ticket_number"] == shown] == ["ticket.opened", "ticket.claimed"]
    manager_feed = ok(await api("manager").get("/api/v1/events"))["items"]
    assert [e["type"] for e in manager_feed if e["ticket_number"] == hidden] == [
        "ticket.opened", "ticket.locked", "note.created"]


async def test_the_audit_log_keeps_an_anonymous_opener_anonymous(api, world):
    n = (await open_ticket(api, world, "alice", anonymous=True, description="it is me"))["number"]
    alice = world.member_ids["alice"]
    events = ok(await api("staff").get(f"{TICKETS}/{n}/events"))["items"]
    assert alice not in [e["actor_id"] for e in events]
    assert alice not in [e["payload"].get("opener_id") for e in events]


async def test_searching_by_opener_does_not_reveal_anonymous_tickets(api, world):
    await open_ticket(api, world, "alice", anonymous=True, description="secret")
    await open_ticket(api, world, "alice", type_name="Billing", description="open")
    alice = world.member_ids["alice"]
    staff_view = ok(await api("staff").get(f"{TICKETS}?opener_id={alice}"))["items"]
    assert [t["anonymous"] for t in staff_view] == [False]
    own_view = ok(await api("alice").get(f"{TICKETS}?opener_id={alice}"))["items"]
    assert sorted(t["anonymous"] for t in own_view) == [False, True]
