from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.domain.calendar import BusinessHours
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.sla import SlaClock, SlaPolicy, clock_runs
from frontdesk.domain.tickets import Priority, Status

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
OFFICE = BusinessHours.parse({"timezone": "UTC", "weekly": {d: ["09:00-17:00"] for d in
                                                             ("mon", "tue", "wed", "thu", "fri")}})


def test_default_first_response_targets_follow_priority():
    policy = SlaPolicy.default()
    assert [policy.target("first_response", p) for p in Priority] == [1440, 240, 60, 15]


def test_a_type_override_changes_only_what_it_names():
    policy = SlaPolicy.parse({"first_response": {"urgent": 5}, "business_hours": False})
    assert policy.target("first_response", Priority.URGENT) == 5
    assert policy.target("first_response", Priority.HIGH) == 60
    assert policy.business_hours is False


@pytest.mark.parametrize(("data", "field"), [
    ({"first_response": {"urgent": 4}}, "sla.first_response.urgent"),
    ({"resolution": {"critical": 60}}, "sla.resolution.critical"),
    ({"resolution": {"low": "1h"}}, "sla.resolution.low"),
    ({"business_hours": "yes"}, "sla.business_hours"),
    ({"response": {}}, "sla.response"),
])
def test_bad_policies_name_the_field(data, field):
    with pytest.raises(ValidationFailed) as refused:
        SlaPolicy.parse(data)
    assert refused.value.field == field


@pytest.mark.parametrize(("status", "paused", "runs"), [
    (Status.OPEN, False, True), (Status.IN_PROGRESS, False, True), (Status.WAITING, False, False),
    (Status.RESOLVED, False, False), (Status.CLOSED, False, False), (Status.OPEN, True, False),
])
def test_the_sla_clock_runs_only_in_open_and_in_progress_and_not_when_paused(status, paused, runs):
    assert clock_runs(status, paused) is runs


def test_waiting_stops_the_sla_clock_and_it_resumes_where_it_stopped():
    clock = SlaClock().start(T0)
    assert clock.due(60, None) == T0 + timedelta(minutes=60)
    clock = clock.stop(T0 + timedelta(minutes=20), None)          # Waiting after 20 minutes
    assert clock.due(60, None) is None
    resumed_at = T0 + timedelta(hours=5)
    clock = clock.start(resumed_at)                                # back to Open
    assert clock.due(60, None) == resumed_at + timedelta(minutes=40)
    assert clock.used_at(resumed_at + timedelta(minutes=10), None) == 30


def test_in_business_hours_the_due_time_skips_the_night():
    clock = SlaClock().start(T0 + timedelta(hours=7))             # 16:00, one hour before closing
    assert clock.due(240, OFFICE) == datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


def test_a_used_up_target_is_due_at_once():
    clock = SlaClock(used_minutes=90).start(T0)
    assert clock.due(60, None) == T0
