from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.domain.assignment import AssignmentMode, least_loaded, next_in_rotation, parse_mode
from frontdesk.domain.errors import ValidationFailed


def test_round_robin_rotates_through_eligible_staff_in_order():
    picks, last = [], None
    for _ in range(5):
        last = next_in_rotation([30, 10, 20], last)
        picks.append(last)
    assert picks == [10, 20, 30, 10, 20]


def test_round_robin_continues_after_a_member_who_left_the_rotation():
    # 20 became unavailable after being picked: the rotation goes on with the next id above it.
    assert next_in_rotation([10, 30], 20) == 30


def test_round_robin_with_nobody_eligible_picks_nobody():
    assert next_in_rotation([], 5) is None


def test_load_balanced_picks_the_fewest_open_assigned_tickets_ties_by_lowest_id():
    assert least_loaded({7: 3, 4: 1, 9: 1}) == 4
    assert least_loaded({}) is None


@given(st.lists(st.integers(min_value=1, max_value=50), min_size=1, unique=True))
def test_a_full_rotation_visits_every_eligible_member_once(members):
    last, seen = None, []
    for _ in members:
        last = next_in_rotation(members, last)
        seen.append(last)
    assert sorted(seen) == sorted(members)


def test_an_unknown_assignment_mode_names_the_field():
    assert parse_mode("round_robin") is AssignmentMode.ROUND_ROBIN
    with pytest.raises(ValidationFailed) as refused:
        parse_mode("random")
    assert refused.value.field == "assignment_mode"
