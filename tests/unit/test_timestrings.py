from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.timestrings import format_timestring, parse_timestring


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("2d", timedelta(days=2)),
    ("1w 2d", timedelta(days=9)),
    (" 90M ", timedelta(minutes=90)),
    ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
])
def test_time_strings_name_durations(text, expected):
    assert parse_timestring(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "soon", "30", "m30", "1h30", "30m1h", "1h1h", "0m", "1y",
                                  "2h and 3m", "400d"])
def test_malformed_time_strings_are_refused_naming_the_field(text):
    with pytest.raises(ValidationFailed) as refused:
        parse_timestring(text, field="close_time")
    assert refused.value.field == "close_time"


@given(st.integers(min_value=1, max_value=365 * 24 * 3600))
def test_formatting_and_parsing_round_trip(seconds):
    duration = timedelta(seconds=seconds)
    assert parse_timestring(format_timestring(duration)) == duration
