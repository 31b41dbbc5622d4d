"""Time over HTTP: workspace policies (and their 422s), the SLA on tickets, pause and resume."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.helpers import TICKETS, ok, open_ticket, problem
from tests.integration.helpers import table_counts

WS = "/api/v1/workspace"


@pytest.mark.parametrize(("settings", "field"), [
    ({"business_hours": {"timezone": "Nowhere/Atlantis", "weekly": {}}}, "settings.business_hours.timezone"),
    ({"business_hours": {"weekly": {"mon": ["09:00-13:00", "12:00-17:00"]}}}, "settings.business_hours.weekly.mon"),
    ({"business_hours": {"weekly": {"mon": ["9am-5pm"]}}}, "settings.business_hours.weekly.mon[0]"),
    ({"business_hours": {"holidays": ["25/12/2026"], "weekly": {}}}, "settings.business_hours.holidays[0]"),
    ({"sla": {"first_response": {"high": 3}}}, "settings.sla.first_response.high"),
    ({"sla": {"resolution": {"critical": 60}}}, "settings.sla.resolution.critical"),
    ({"inactivity": {"enabled": True, "after": "a week"}}, "settings.inactivity.after"),
    ({"follow_up": {"after": "30x"}}, "settings.follow_up.after"),
    ({"assignment_mode": "random"}, "settings.assignment_mode"),
])
async def test_bad_policy_settings_answer_422_naming_the_field_and_save_nothing(api, world, settings, field):
    before = ok(await api("admin").get(WS))
    counts = await table_counts(world)
    problem(await api("admin").patch(WS, json={"settings": settings}), 422, field)
    assert ok(await api("admin").get(WS)) == before
    assert await table_counts(world) == counts


async def test_policy_settings_are_saved_and_apply(api, world):
    body = {"settings": {"sla": {"first_response": {"normal": 45}}, "assignment_mode": "round_robin",
                         "business_hours": {"weekly": {"mon": ["09:00-17:00"]}}}}
    saved = ok(await api("admin").patch(WS, json=body))
    assert saved["settings"]["sla"] == {"first_response": {"normal": 45}}
    ticket = await open_ticket(api, world, "vip", "VIP", description="help")
    assert ticket["assignee"] is not None
    assert ticket["sla"]["running"] is True


async def test_a_ticket_type_with_a_bad_sla_override_is_refused(api, world):
    problem(await api("admin").post("/api/v1/ticket-types", json={
        "name": "Fast", "settings": {"sla": {"first_response": {"urgent": 2}}}}), 422,
        "settings.sla.first_response.urgent")
    names = [t["name"] for t in ok(await api("admin").get("/api/v1/ticket-types"))["items"]]
    assert "Fast" not in names


async def test_the_ticket_shows_its_sla(api, world):
    ticket = await open_ticket(api, world, "vip", "VIP", description="help", priority="urgent")
    sla = ticket["sla"]
    opened = world.desk.clock.now()
    assert sla["first_response_due_at"] == (opened + timedelta(minutes=15)).isoformat()
    assert sla["resolution_due_at"] == (opened + timedelta(minutes=120)).isoformat()
    assert sla["due_at"] == sla["first_response_due_at"]
    assert (sla["paused"], sla["breached"]) == (False, False)


async def test_pause_and_resume_the_sla_over_http(api, world):
    n = (await open_ticket(api, world, "vip", "VIP", description="help"))["number"]
    problem(await api("staff").post(f"{TICKETS}/{n}/sla/pause"), 403)
    paused = ok(await api("manager").post(f"{TICKETS}/{n}/sla/pause"))["sla"]
    assert paused["paused"] is True and paused["due_at"] is None
    resumed = ok(await api("manager").post(f"{TICKETS}/{n}/sla/resume"))["sla"]
    assert resumed["paused"] is False and resumed["due_at"] is not None
    problem(await api("vip").post(f"{TICKETS}/{n}/sla/pause"), 403)
    problem(await api("bob").post(f"{TICKETS}/{n}/sla/pause"), 404)


async def test_a_pending_close_request_shows_on_the_ticket(api, world):
    n = (await open_ticket(api, world, "vip", "VIP", description="help"))["number"]
    assert ok(await api("vip").get(f"{TICKETS}/{n}"))["close_request_id"] is None
    request = ok(await api("staff").post(f"{TICKETS}/{n}/close-request", json={"close_after": "1d"}), 201)
    assert ok(await api("vip").get(f"{TICKETS}/{n}"))["close_request_id"] == request["id"]
    listed = ok(await api("staff").get(TICKETS, params={"status": "open"}))["items"]
    assert [t["close_request_id"] for t in listed if t["number"] == n] == [request["id"]]
    ok(await api("vip").post(f"{TICKETS}/{n}/close-request/deny"))
    assert ok(await api("vip").get(f"{TICKETS}/{n}"))["close_request_id"] is None
