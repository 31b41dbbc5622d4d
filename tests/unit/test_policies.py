"""Workspace policies read from settings: defaults, overrides, and errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.domain.assignment import AssignmentMode
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.policies import Policies, check_type_settings
from frontdesk.domain.tickets import Priority


def field_of(settings: dict, timezone: str = "UTC") -> str | None:
    with pytest.raises(ValidationFailed) as caught:
        Policies.parse(settings, timezone=timezone)
    return caught.value.field


def test_defaults_when_nothing_is_configured():
    policies = Policies.parse({})
    assert policies.business_hours is None
    assert policies.sla_enabled
    assert policies.sla.first_response == {Priority.URGENT: 15, Priority.HIGH: 60, Priority.NORMAL: 240,
                                           Priority.LOW: 1440}
    assert policies.assignment is AssignmentMode.MANUAL
    assert not policies.inactivity.enabled and policies.inactivity.after == timedelta(days=7)
    assert policies.allow_tickets_outside_hours and not policies.pause_ai_outside_hours
    assert not policies.alerts.any


def test_business_hours_take_the_workspace_timezone_unless_they_name_one():
    policies = Policies.parse({"business_hours": {"weekly": {"mon": ["09:00-17:00"]}}}, timezone="Europe/Berlin")
    assert policies.business_hours is not None and policies.business_hours.timezone == "Europe/Berlin"
    own = Policies.parse({"business_hours": {"timezone": "Asia/Tokyo", "weekly": {}}}, timezone="Europe/Berlin")
    assert own.business_hours is not None and own.business_hours.timezone == "Asia/Tokyo"


def test_an_unknown_timezone_is_refused_naming_the_field():
    settings = {"business_hours": {"timezone": "Mars/Olympus", "weekly": {}}}
    assert field_of(settings) == "settings.business_hours.timezone"


def test_overlapping_ranges_are_refused_naming_the_day():
    settings = {"business_hours": {"weekly": {"tue": ["09:00-12:00", "11:00-14:00"]}}}
    assert field_of(settings) == "settings.business_hours.weekly.tue"


def test_an_sla_target_under_five_minutes_is_refused_naming_the_target():
    assert field_of({"sla": {"first_response": {"urgent": 4}}}) == "settings.sla.first_response.urgent"


def test_a_malformed_time_string_is_refused_naming_the_setting():
    assert field_of({"inactivity": {"after": "7 days please"}}) == "settings.inactivity.after"
    assert field_of({"stale_nudge": {"after": "1h30x"}}) == "settings.stale_nudge.after"
    assert field_of({"alerts": {"escalation_window": ""}}) == "settings.alerts.escalation_window"


def test_the_inactivity_warning_must_come_before_the_close():
    assert field_of({"inactivity": {"after": "2d", "warn_before": "2d"}}) == "settings.inactivity.warn_before"
    assert field_of({"inactivity": {"after": "7d", "escalated_after": "3d"}}) == "settings.inactivity.escalated_after"


def test_unknown_keys_and_placeholders_are_refused():
    assert field_of({"inactivity": {"enabeld": True}}) == "settings.inactivity.enabeld"
    assert field_of({"away_message": {"template": "back {when}"}}) == "settings.away_message.template"
    assert field_of({"stale_nudge": {"message": "hello {name}"}}) == "settings.stale_nudge.message"
    assert field_of({"assignment_mode": "lottery"}) == "settings.assignment_mode"
    assert field_of({"alerts": {"queue_depth": 0}}) == "settings.alerts.queue_depth"
    assert field_of({"alerts": {"csat_drop_points": 101}}) == "settings.alerts.csat_drop_points"


def test_a_type_overrides_sla_targets_key_by_key_over_the_workspace():
    workspace = Policies.parse({"sla": {"first_response": {"normal": 120}}})
    sla = workspace.sla_for({"sla": {"first_response": {"urgent": 5}}})
    assert sla.target("first_response", Priority.URGENT) == 5
    assert sla.target("first_response", Priority.NORMAL) == 120
    assert workspace.sla_for(None) is workspace.sla


def test_type_settings_are_checked_against_the_workspace_policy():
    workspace = Policies.parse({})
    with pytest.raises(ValidationFailed) as caught:
        check_type_settings({"sla": {"resolution": {"low": 1}}}, workspace)
    assert caught.value.field == "settings.sla.resolution.low"
    with pytest.raises(ValidationFailed) as caught:
        check_type_settings({"assignment_mode": "random"}, workspace)
    assert caught.value.field == "settings.assignment_mode"
    assert workspace.assignment_for({"assignment_mode": "round_robin"}) is AssignmentMode.ROUND_ROBIN


def test_ai_replies_pause_outside_hours_only_when_asked():
    hours = {"business_hours": {"timezone": "UTC", "weekly": {"mon": ["09:00-17:00"]}}}
    monday_night = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)
    monday_noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    assert not Policies.parse(hours).ai_replies_paused(monday_night)
    paused = Policies.parse({**hours, "pause_ai_outside_hours": True})
    assert paused.ai_replies_paused(monday_night)
    assert not paused.ai_replies_paused(monday_noon)


def test_the_away_message_names_the_next_opening_in_local_time_and_the_expected_response():
    policies = Policies.parse({"business_hours": {"timezone": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"]}},
                               "away_message": {"enabled": True,
                                                "template": "Back {next_open}; answers within {expected_response}."}})
    assert policies.business_hours is not None
    text = policies.away.render(next_open=datetime(2026, 1, 12, 8, 0, tzinfo=UTC), expected_response="4h",
                                workspace="Acme", hours=policies.business_hours)
    assert text == "Back Monday 12 January at 09:00 CET; answers within 4h."
