"""One endpoint per ticket action: each answers the ticket, writes its event, and refuses
what it should."""

from __future__ import annotations

import asyncio

from tests.api.helpers import TICKETS, event_types, ok, open_ticket, problem, ticket_events


async def _ticket(api, world, who="alice", type_name="General", **body) -> int:  # type: ignore[no-untyped-def]
    return int((await open_ticket(api, world, who, type_name, **body))["number"])


async def _last_event(api, number, who="staff"):  # type: ignore[no-untyped-def]
    return (await ticket_events(api, number, who))[-1]


# --- claim / assign ---------------------------------------------------------------------------------------------


async def test_claim_and_unclaim(api, world):
    n = await _ticket(api, world)
    claimed = ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    assert claimed["claimer"]["id"] == world.member_ids["staff"]
    event = await _last_event(api, n)
    assert event["type"] == "ticket.claimed"
    assert event["actor_id"] == world.member_ids["staff"]
    assert event["payload"]["after"] == {"claimer_id": world.member_ids["staff"]}
    # Claiming your own claim again changes nothing.
    ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    body = problem(await api("staff2").post(f"{TICKETS}/{n}/claim"), 409)
    assert body["code"] == "already_claimed"
    assert ok(await api("staff").post(f"{TICKETS}/{n}/unclaim"))["claimer"] is None
    assert await event_types(api, n) == ["ticket.opened", "ticket.claimed", "ticket.unclaimed"]


async def test_the_opener_may_not_claim_or_unclaim(api, world):
    n = await _ticket(api, world)
    ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    problem(await api("alice").post(f"{TICKETS}/{n}/claim"), 403)
    problem(await api("alice").post(f"{TICKETS}/{n}/unclaim"), 403)
    # Other staff may release someone's claim.
    assert ok(await api("staff2").post(f"{TICKETS}/{n}/unclaim"))["claimer"] is None


async def test_two_simultaneous_claims_one_wins_one_409(api, world):
    n = await _ticket(api, world)
    first, second = await asyncio.gather(api("staff").post(f"{TICKETS}/{n}/claim"),
                                         api("staff2").post(f"{TICKETS}/{n}/claim"))
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    loser = first if first.status_code == 409 else second
    assert problem(loser, 409)["code"] == "already_claimed"
    winner = first if first.status_code == 200 else second
    ticket = ok(await api("staff").get(f"{TICKETS}/{n}"))
    assert ticket["claimer"] == winner.json()["claimer"]
    assert (await event_types(api, n)).count("ticket.claimed") == 1


async def test_assign_and_unassign(api, world):
    n = await _ticket(api, world)
    staff2 = world.member_ids["staff2"]
    assigned = ok(await api("staff").post(f"{TICKETS}/{n}/assign", json={"assignee_id": staff2}))
    assert assigned["assignee"]["id"] == staff2
    # Claim and assignment may differ.
    claimed = ok(await api("staff").post(f"{TICKETS}/{n}/claim"))
    assert claimed["assignee"]["id"] == staff2
    assert claimed["claimer"]["id"] == world.member_ids["staff"]
    assert ok(await api("staff").post(f"{TICKETS}/{n}/unassign"))["assignee"] is None
    assert await event_types(api, n) == ["ticket.opened", "ticket.assigned", "ticket.claimed", "ticket.unassigned"]
    event = await _last_event(api, n)
    assert event["payload"]["before"] == {"assignee_id": staff2}
    assert event["payload"]["after"] == {"assignee_id": None}


async def test_assigning_to_a_customer_is_422(api, world):
    n = await _ticket(api, world)
    problem(await api("staff").post(f"{TICKETS}/{n}/assign", json={"assignee_id": world.member_ids["bob"]}), 422,
            "assignee_id")
    problem(await api("staff").post(f"{TICKETS}/{n}/assign", json={"assignee_id": 999999}), 422, "assignee_id")
    problem(await api("staff").post(f"{TICKETS}/{n}/assign", json={}), 422, "assignee_id")


# --- fields -----------------------------------------------------------------------------------------------------


async def test_status(api, world):
    n = await _ticket(api, world)
    assert ok(await api("staff").post(f"{TICKETS}/{n}/status", json={"status": "waiting"}))["status"] == "waiting"
    event = await _last_event(api, n)
    assert (event["type"], event["payload"]["before"], event["payload"]["after"]) == (
        "ticket.status_changed", {"status": "open"}, {"status": "waiting"})
    problem(await api("staff").post(f"{TICKETS}/{n}/status", json={"status": "paused"}), 422, "status")
    problem(await api("alice").post(f"{TICKETS}/{n}/status", json={"status": "open"}), 403)


async def test_a_customer_reply_reopens_a_waiting_ticket(api, world):
    n = await _ticket(api, world)
    ok(await api("staff").post(f"{TICKETS}/{n}/status", json={"status": "waiting"}))
    ok(await api("alice").post(f"{TICKETS}/{n}/messages", json={"body": "any news?"}), 201)
    assert ok(await api("alice").get(f"{TICKETS}/{n}"))["status"] == "open"


async def test_priority(api, world):
    n = await _ticket(api, world)
    assert ok(await api("staff").post(f"{TICKETS}/{n}/priority", json={"priority": "urgent"}))["priority"] == "urgent"
    event = await _last_event(api, n)
    assert event["payload"]["before"] == {"priority": "normal"}
    assert event["payload"]["after"] == {"priority": "urgent"}
    problem(await api("staff").post(f"{TICKETS}/{n}/priority", json={"priority": "asap"}), 422, "priority")


async def test_tags_add_and_delete(api, world):
    n = await _ticket(api, world)
    assert ok(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": "Refund"}))["tags"] == ["refund"]
    assert ok(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": "billing"}))["tags"] == ["billing", "refund"]
    # Adding a tag that is there already writes nothing.
    ok(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": "refund"}))
    assert ok(await api("staff").delete(f"{TICKETS}/{n}/tags/refund"))["tags"] == ["billing"]
    assert await event_types(api, n) == ["ticket.opened", "ticket.tag_added", "ticket.tag_added",
                                         "ticket.tag_removed"]
    problem(await api("staff").post(f"{TICKETS}/{n}/tags", json={"tag": "  "}), 422, "tag")


async def test_custom_fields_put(api, world):
    n = await _ticket(api, world)
    ticket = ok(await api("staff").put(f"{TICKETS}/{n}/fields/vendor_ticket_id", json={"value": "JIRA-12"}))
    assert ticket["custom_fields"] == {"vendor_ticket_id": "JIRA-12"}
    event = await _last_event(api, n)
    assert event["type"] == "ticket.field_set"
    assert event["payload"]["before"] == {"vendor_ticket_id": None}
    assert event["payload"]["after"] == {"vendor_ticket_id": "JIRA-12"}
    assert ok(await api("staff").put(f"{TICKETS}/{n}/fields/vendor_ticket_id", json={"value": None}))[
        "custom_fields"] == {}
    problem(await api("staff").put(f"{TICKETS}/{n}/fields/plan", json={"value": "gold"}), 422, "custom_fields.plan")
    problem(await api("staff").put(f"{TICKETS}/{n}/fields/nope", json={"value": 1}), 422, "custom_fields.nope")


async def test_rename(api, world):
    n = await _ticket(api, world, title="Old")
    renamed = ok(await api("staff").post(f"{TICKETS}/{n}/rename", json={"title": "Refund: Order #7"}))
    assert renamed["title"] == "Refund: Order #7"
    event = await _last_event(api, n)
    assert event["type"] == "ticket.renamed"
    assert event["payload"]["before"]["title"] == "Old"
    assert event["payload"]["after"]["title"] == "Refund: Order #7"
    problem(await api("staff").post(f"{TICKETS}/{n}/rename", json={"title": ""}), 422, "title")


async def test_move_to_another_type(api, world):
    n = await _ticket(api, world)
    moved = ok(await api("staff").post(f"{TICKETS}/{n}/move", json={"type_id": world.type_ids["Billing"]}))
    assert moved["type"] == {"id": world.type_ids["Billing"], "name": "Billing"}
    event = await _last_event(api, n)
    assert event["type"] == "ticket.moved"
    assert event["payload"]["after"] == {"type_id": world.type_ids["Billing"]}
    problem(await api("staff").post(f"{TICKETS}/{n}/move", json={"type_id": 999999}), 422, "type_id")


async def test_team(api, world):
    n = await _ticket(api, world)
    team_id = world.team_ids["Tier 2"]
    assert ok(await api("staff").post(f"{TICKETS}/{n}/team", json={"team_id": team_id}))["team"] == {
        "id": team_id, "name": "Tier 2"}
    assert ok(await api("staff").post(f"{TICKETS}/{n}/team", json={"team_id": None}))["team"] is None
    assert await event_types(api, n) == ["ticket.opened", "ticket.team_changed", "ticket.team_changed"]
    problem(await api("staff").post(f"{TICKETS}/{n}/team", json={"team_id": 999999}), 422, "team_id")


async def test_participants_add_and_delete(api, world):
    n = await _ticket(api, world)
    bob = world.member_ids["bob"]
    problem(await api("bob").get(f"{TICKETS}/{n}"), 404)
    added = ok(await api("staff").post(f"{TICKETS}/{n}/participants", json={"member_id": bob}))
    assert [p["id"] for p in added["participants"]] == [bob]
    # A participant sees the ticket and may write in it.
    ok(await api("bob").get(f"{TICKETS}/{n}"))
    ok(await api("bob").post(f"{TICKETS}/{n}/messages", json={"body": "same problem here"}), 201)
    contact = ok(await api("staff").post(f"{TICKETS}/{n}/participants", json={"member_id": world.member_ids["vip"],
                                                                               "kind": "contact"}))
    assert [c["id"] for c in contact["contacts"]] == [world.member_ids["vip"]]
    assert ok(await api("staff").delete(f"{TICKETS}/{n}/participants/{bob}"))["participants"] == []
    problem(await api("bob").get(f"{TICKETS}/{n}"), 404)
    removed = ok(await api("staff").delete(f"{TICKETS}/{n}/participants/{world.member_ids['vip']}",
                                           params={"kind": "contact"}))
    assert removed["contacts"] == []
    types = await event_types(api, n)
    assert [t for t in types if t.startswith(("ticket.participant", "ticket.contact"))] == [
        "ticket.participant_added", "ticket.contact_added", "ticket.participant_removed", "ticket.contact_removed"]
    problem(await api("staff").post(f"{TICKETS}/{n}/participants", json={"member_id": 999999}), 422, "member_id")


async def test_pin_and_unpin(api, world):
    n = await _ticket(api, world)
    assert ok(await api("staff").post(f"{TICKETS}/{n}/pin"))["pinned"] is True
    assert ok(await api("staff").post(f"{TICKETS}/{n}/unpin"))["pinned"] is False
    assert await event_types(api, n) == ["ticket.opened", "ticket.pinned", "ticket.unpinned"]
    problem(await api("alice").post(f"{TICKETS}/{n}/pin"), 403)


# --- escalation, lockdown -------------------------------------------------------------------------------------


async def test_the_opener_may_escalate(api, world):
    n = await _ticket(api, world)
    escalated = ok(await api("alice").post(f"{TICKETS}/{n}/escalate", json={"reason": "user_requested"}))
    assert escalated["escalated"] is True
    # The escalation raises a quality flag after it (quality_flag.created comes last).
    event = [e for e in await ticket_events(api, n) if e["type"] == "ticket.escalated"][-1]
    assert event["actor_id"] == world.member_ids["alice"]
    assert event["payload"]["reason"] == "user_requested"


async def test_staff_escalate_without_a_body(api, world):
    n = await _ticket(api, world)
    assert ok(await api("staff").post(f"{TICKETS}/{n}/escalate"))["escalated"] is True
    assert [e for e in await ticket_events(api, n) if e["type"] == "ticket.escalated"][-1]["payload"]["reason"] \
        == "staff"
    problem(await api("staff").post(f"{TICKETS}/{n}/escalate", json={"reason": "bored"}), 422, "reason")


async def test_lockdown_is_management_only_and_hides_the_ticket_from_staff(api, world):
    n = await _ticket(api, world)
    problem(await api("staff").post(f"{TICKETS}/{n}/lockdown"), 403)
    problem(await api("alice").post(f"{TICKETS}/{n}/lockdown"), 403)
    assert ok(await api("manager").post(f"{TICKETS}/{n}/lockdown"))["lockdown"] is True
    problem(await api("staff").get(f"{TICKETS}/{n}"), 404)
    problem(await api("staff").post(f"{TICKETS}/{n}/unlock"), 404)
    assert n not in [t["number"] for t in ok(await api("staff").get(TICKETS))["items"]]
    # Management by a Discord role listed in the workspace's management roles keeps access.
    ok(await api("mgmtrole").get(f"{TICKETS}/{n}"))
    # The opener still sees their open ticket.
    ok(await api("alice").get(f"{TICKETS}/{n}"))
    assert ok(await api("manager").post(f"{TICKETS}/{n}/unlock"))["lockdown"] is False
    ok(await api("staff").get(f"{TICKETS}/{n}"))
    assert await event_types(api, n, "manager") == ["ticket.opened", "ticket.locked", "ticket.unlocked"]


async def test_a_closed_lockdown_ticket_is_for_management_only(api, world):
    n = await _ticket(api, world)
    ok(await api("manager").post(f"{TICKETS}/{n}/lockdown"))
    ok(await api("manager").post(f"{TICKETS}/{n}/close", json={"reason": "spam"}))
    problem(await api("alice").get(f"{TICKETS}/{n}"), 404)
    problem(await api("staff").get(f"{TICKETS}/{n}"), 404)
    assert ok(await api("manager").get(f"{TICKETS}/{n}"))["status"] == "closed"


# --- close, reopen, rate --------------------------------------------------------------------------------------


async def test_close_with_a_reason_and_note(api, world):
    n = await _ticket(api, world)
    closed = ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved", "note": "fixed"}))
    assert (closed["status"], closed["close_reason"], closed["close_note"]) == ("closed", "resolved", "fixed")
    assert closed["closed_by"]["id"] == world.member_ids["staff"]
    assert closed["closed_at"] is not None
    closed_event = next(e for e in await ticket_events(api, n) if e["type"] == "ticket.closed")
    assert closed_event["payload"]["reason"] == "resolved"
    assert closed_event["payload"]["after"] == {"status": "closed"}


async def test_close_needs_a_reason(api, world):
    n = await _ticket(api, world)
    problem(await api("staff").post(f"{TICKETS}/{n}/close", json={}), 422, "reason")
    problem(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "because"}), 422, "reason")
    problem(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": None}), 422, "reason")
    assert ok(await api("staff").get(f"{TICKETS}/{n}"))["status"] == "open"


async def test_a_close_note_over_500_characters_is_422(api, world):
    n = await _ticket(api, world)
    problem(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "other", "note": "x" * 501}), 422,
            "note")
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "other", "note": "x" * 500}))


async def test_closing_a_closed_ticket_is_409(api, world):
    n = await _ticket(api, world)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    assert problem(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}), 409)[
        "code"] == "ticket_closed"
    assert (await event_types(api, n)).count("ticket.closed") == 1


async def test_who_may_close_follows_opener_can_close(api, world):
    general = await _ticket(api, world)
    assert ok(await api("alice").post(f"{TICKETS}/{general}/close", json={"reason": "resolved"}))["status"] == "closed"
    billing = await _ticket(api, world, "alice", "Billing")
    problem(await api("alice").post(f"{TICKETS}/{billing}/close", json={"reason": "resolved"}), 403)


async def test_reopen(api, world):
    n = await _ticket(api, world)
    problem(await api("staff").post(f"{TICKETS}/{n}/reopen"), 409)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    problem(await api("alice").post(f"{TICKETS}/{n}/reopen"), 403)
    reopened = ok(await api("staff").post(f"{TICKETS}/{n}/reopen"))
    assert (reopened["status"], reopened["close_reason"], reopened["closed_at"]) == ("open", None, None)
    assert (await _last_event(api, n))["type"] == "ticket.reopened"


async def test_rate_after_close_by_the_opener_only(api, world):
    n = await _ticket(api, world)
    problem(await api("alice").post(f"{TICKETS}/{n}/rate", json={"rating": "helpful"}), 409)
    ok(await api("staff").post(f"{TICKETS}/{n}/close", json={"reason": "resolved"}))
    problem(await api("staff").post(f"{TICKETS}/{n}/rate", json={"rating": "helpful"}), 403)
    problem(await api("alice").post(f"{TICKETS}/{n}/rate", json={"rating": "meh"}), 422, "rating")
    rated = ok(await api("alice").post(f"{TICKETS}/{n}/rate", json={"rating": "not_helpful", "comment": "slow"}))
    assert (rated["csat"], rated["csat_comment"]) == ("not_helpful", "slow")
    assert (await event_types(api, n))[-3:] == ["csat.submitted", "csat.negative", "quality_flag.created"]
    problem(await api("alice").post(f"{TICKETS}/{n}/rate", json={"rating": "helpful"}), 409)


# --- merge ----------------------------------------------------------------------------------------------------


async def test_merge_moves_conversations_notes_and_tags(api, world):
    source = await _ticket(api, world, "alice", tags=["refund"], description="charged twice")
    dest = await _ticket(api, world, "bob", tags=["billing"])
    ok(await api("staff").post(f"{TICKETS}/{source}/notes", json={"body": "checked the ledger"}), 201)
    source_conversations = ok(await api("staff").get(f"{TICKETS}/{source}"))["conversation_ids"]
    merged = ok(await api("staff").post(f"{TICKETS}/{source}/merge", json={"into": dest}))
    assert merged["number"] == dest
    assert merged["tags"] == ["billing", "refund"]
    assert set(source_conversations) <= set(merged["conversation_ids"])
    bodies = [m["body"] for m in ok(await api("staff").get(f"{TICKETS}/{dest}/messages"))["items"]]
    assert "charged twice" in bodies and "checked the ledger" in bodies
    gone = ok(await api("staff").get(f"{TICKETS}/{source}"))
    assert (gone["status"], gone["close_reason"], gone["merged_into"]) == ("closed", "duplicate", dest)
    assert (await event_types(api, source))[-1] == "ticket.merged"
    assert (await event_types(api, dest))[-1] == "ticket.merged"
    # The source's opener keeps access to their conversation, now on the destination.
    ok(await api("alice").get(f"{TICKETS}/{dest}"))


async def test_merge_refusals_are_409(api, world):
    a = await _ticket(api, world, "alice")
    b = await _ticket(api, world, "bob")
    c = await _ticket(api, world, "vip")
    closed = await _ticket(api, world, "alice", "Billing")
    ok(await api("staff").post(f"{TICKETS}/{closed}/close", json={"reason": "resolved"}))
    assert problem(await api("staff").post(f"{TICKETS}/{a}/merge", json={"into": a}), 409)["code"] == "merge_refused"
    problem(await api("staff").post(f"{TICKETS}/{a}/merge", json={"into": closed}), 409)
    ok(await api("staff").post(f"{TICKETS}/{b}/merge", json={"into": c}))
    problem(await api("staff").post(f"{TICKETS}/{a}/merge", json={"into": b}), 409)
    problem(await api("staff").post(f"{TICKETS}/{a}/merge", json={"into": 999999}), 404)
    problem(await api("alice").post(f"{TICKETS}/{a}/merge", json={"into": c}), 403)
    problem(await api("staff").post(f"{TICKETS}/{a}/merge", json={}), 422, "into")
    assert ok(await api("staff").get(f"{TICKETS}/{a}"))["status"] == "open"


async def test_unmerge_within_30_days_restores_the_source(api, world, clock):
    source = await _ticket(api, world, "alice", tags=["refund"], description="charged twice")
    dest = await _ticket(api, world, "bob")
    before = ok(await api("staff").get(f"{TICKETS}/{source}"))
    ok(await api("staff").post(f"{TICKETS}/{source}/merge", json={"into": dest}))
    clock.advance(days=29)
    restored = ok(await api("staff").post(f"{TICKETS}/{source}/unmerge"))
    assert restored["number"] == source
    assert (restored["status"], restored["merged_into"], restored["close_reason"]) == ("open", None, None)
    assert restored["conversation_ids"] == before["conversation_ids"]
    dest_after = ok(await api("staff").get(f"{TICKETS}/{dest}"))
    assert dest_after["tags"] == []
    assert not set(before["conversation_ids"]) & set(dest_after["conversation_ids"])
    assert (await event_types(api, source))[-1] == "ticket.unmerged"
    problem(await api("staff").post(f"{TICKETS}/{source}/unmerge"), 409)


async def test_unmerge_after_31_days_is_409(api, world, clock):
    source = await _ticket(api, world, "alice")
    dest = await _ticket(api, world, "bob")
    ok(await api("staff").post(f"{TICKETS}/{source}/merge", json={"into": dest}))
    clock.advance(days=31)
    body = problem(await api("staff").post(f"{TICKETS}/{source}/unmerge"), 409)
    assert body["code"] == "unmerge_refused"
    assert "30 days" in body["detail"]
    assert ok(await api("staff").get(f"{TICKETS}/{source}"))["merged_into"] == dest


async def test_a_merged_ticket_is_reopened_by_unmerging(api, world):
    source = await _ticket(api, world, "alice")
    dest = await _ticket(api, world, "bob")
    ok(await api("staff").post(f"{TICKETS}/{source}/merge", json={"into": dest}))
    problem(await api("staff").post(f"{TICKETS}/{source}/reopen"), 409)


# --- conversations on a ticket --------------------------------------------------------------------------------


async def test_link_and_unlink_a_conversation(api, world):
    n = await _ticket(api, world)
    conversation = ok(await api("staff").post("/api/v1/conversations", json={
        "customer_id": world.member_ids["alice"], "subject": "Also by email", "channel": "email"}), 201)
    linked = ok(await api("staff").post(f"{TICKETS}/{n}/conversations", json={"conversation_id": conversation["id"]}))
    assert conversation["id"] in linked["conversation_ids"]
    assert ok(await api("staff").get(f"/api/v1/conversations/{conversation['id']}"))["ticket_number"] == n
    first = linked["conversation_ids"][0]
    unlinked = ok(await api("staff").delete(f"{TICKETS}/{n}/conversations/{conversation['id']}"))
    assert unlinked["conversation_ids"] == [first]
    assert ok(await api("staff").get(f"/api/v1/conversations/{conversation['id']}"))["ticket_number"] is None
    types = await event_types(api, n)
    assert types[-2:] == ["conversation.linked", "conversation.unlinked"]
    # The last conversation stays.
    problem(await api("staff").delete(f"{TICKETS}/{n}/conversations/{first}"), 409)
    problem(await api("staff").post(f"{TICKETS}/{n}/conversations", json={"conversation_id": 999999}), 404)


async def test_a_conversation_linked_elsewhere_is_409(api, world):
    a = await _ticket(api, world, "alice")
    b = ok(await api("staff").get(f"{TICKETS}/{await _ticket(api, world, 'bob')}"))
    problem(await api("staff").post(f"{TICKETS}/{a}/conversations",
                                    json={"conversation_id": b["conversation_ids"][0]}), 409)


# --- bulk -----------------------------------------------------------------------------------------------------


async def test_bulk_reports_each_ticket_and_a_failure_undoes_nothing(api, world):
    a = await _ticket(api, world, "alice")
    b = await _ticket(api, world, "bob")
    closed = await _ticket(api, world, "vip")
    ok(await api("staff").post(f"{TICKETS}/{closed}/close", json={"reason": "resolved"}))
    staff2 = world.member_ids["staff2"]
    result = ok(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a, closed, 999, b],
                                                                 "operation": "assign", "assignee_id": staff2}))
    assert (result["succeeded"], result["failed"]) == (2, 2)
    by_number = {r["ticket_number"]: r for r in result["results"]}
    assert by_number[a]["ok"] and by_number[b]["ok"]
    assert by_number[closed] == {"ticket_number": closed, "ok": False, "error_code": "ticket_closed",
                                 "message": by_number[closed]["message"]}
    assert by_number[999]["error_code"] == "not_found"
    for n in (a, b):
        assert ok(await api("staff").get(f"{TICKETS}/{n}"))["assignee"]["id"] == staff2
    assert ok(await api("staff").get(f"{TICKETS}/{closed}"))["assignee"] is None
    assert "ticket.assigned" not in await event_types(api, closed)


async def test_bulk_tag_and_status(api, world):
    a = await _ticket(api, world, "alice")
    b = await _ticket(api, world, "bob")
    tagged = ok(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a, b], "operation": "tag",
                                                                 "add": ["outage"]}))
    assert tagged["succeeded"] == 2
    assert await _tags(api, a) == await _tags(api, b) == ["outage"]
    waiting = ok(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a, b], "operation": "status",
                                                                  "status": "waiting"}))
    assert waiting["succeeded"] == 2
    closing = ok(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a, b], "operation": "status",
                                                                  "status": "closed", "reason": "duplicate"}))
    assert closing["succeeded"] == 2
    assert ok(await api("staff").get(f"{TICKETS}/{a}"))["close_reason"] == "duplicate"
    problem(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a], "operation": "status",
                                                             "status": "closed"}), 422, "reason")
    problem(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [a], "operation": "status"}), 422, "status")
    problem(await api("staff").post(f"{TICKETS}/bulk", json={"numbers": [], "operation": "tag", "add": ["x"]}),
            422, "numbers")


async def test_bulk_by_a_customer_fails_per_ticket(api, world):
    a = await _ticket(api, world, "alice")
    b = await _ticket(api, world, "bob")
    result = ok(await api("alice").post(f"{TICKETS}/bulk", json={"numbers": [a, b], "operation": "tag",
                                                                 "add": ["mine"]}))
    assert [(r["ticket_number"], r["error_code"]) for r in result["results"]] == [(a, "not_permitted"),
                                                                                   (b, "not_found")]
    assert await _tags(api, a) == []


async def _tags(api, number):  # type: ignore[no-untyped-def]
    return ok(await api("staff").get(f"{TICKETS}/{number}"))["tags"]
