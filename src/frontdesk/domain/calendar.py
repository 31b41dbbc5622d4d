"""Business hours: a weekly schedule of opening ranges in a workspace's IANA timezone, with
holidays, and the arithmetic SLAs and away messages need.

Ranges are wall-clock times on each local date ("09:00-17:00" is nine to five local time on
the day, whatever the UTC offset that day), so a schedule stays right across DST changes. A
range ends at the latest at 24:00 and never crosses midnight; a day may hold several ranges,
which must not overlap. Pure Python: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from frontdesk.domain.errors import ValidationFailed

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
# How far to look for the next open minute before deciding the schedule never opens.
SEARCH_DAYS = 400


@dataclass(frozen=True, order=True)
class OpenRange:
    """Minutes after local midnight: ``start`` inclusive, ``end`` exclusive (1440 = 24:00)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


def _parse_range(text: str, field: str) -> OpenRange:
    match = _RANGE.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationFailed("a range is written HH:MM-HH:MM, such as 09:00-17:30", field=field)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValidationFailed(f"{text.strip()} is not a time of day", field=field)
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise ValidationFailed(f"{text.strip()} ends before it starts (ranges do not cross midnight)",
                               field=field)
    return OpenRange(start, end)


@dataclass(frozen=True)
class BusinessHours:
    timezone: str
    weekly: tuple[tuple[OpenRange, ...], ...]  # index 0 is Monday
    holidays: frozenset[date] = frozenset()

    # --- building -------------------------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: dict[str, Any], *, field: str = "business_hours") -> BusinessHours:
        """Read ``{"timezone": ..., "weekly": {"mon": ["09:00-17:00"], ...}, "holidays": [...]}``,
        naming the offending field in any error."""
        if not isinstance(data, dict):
            raise ValidationFailed("business hours must be an object", field=field)
        unknown = set(data) - {"timezone", "weekly", "holidays"}
        if unknown:
            raise ValidationFailed(f"unknown key {sorted(unknown)[0]!r}", field=f"{field}.{sorted(unknown)[0]}")
        zone = data.get("timezone", "UTC")
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValidationFailed(f"{zone!r} is not an IANA timezone such as Europe/Berlin",
                                   field=f"{field}.timezone") from None
        weekly_raw = data.get("weekly", {})
        if not isinstance(weekly_raw, dict):
            raise ValidationFailed("weekly must map day names (mon..sun) to lists of ranges", field=f"{field}.weekly")
        weekly: list[tuple[OpenRange, ...]] = []
        for key in weekly_raw:
            if key not in DAYS:
                raise ValidationFailed(f"{key!r} is not a day; use {', '.join(DAYS)}", field=f"{field}.weekly.{key}")
        for day in DAYS:
            items = weekly_raw.get(day, [])
            if not isinstance(items, list):
                raise ValidationFailed("a day holds a list of ranges", field=f"{field}.weekly.{day}")
            ranges = sorted(_parse_range(text, f"{field}.weekly.{day}[{i}]") for i, text in enumerate(items))
            for before, after in zip(ranges, ranges[1:], strict=False):
                if after.start < before.end:
                    raise ValidationFailed(f"{before} and {after} overlap", field=f"{field}.weekly.{day}")
            weekly.append(tuple(ranges))
        holidays_raw = data.get("holidays", [])
        if not isinstance(holidays_raw, list):
            raise ValidationFailed("holidays is a list of dates", field=f"{field}.holidays")
        holidays = set()
        for i, value in enumerate(holidays_raw):
            try:
                holidays.add(date.fromisoformat(value))
            except (TypeError, ValueError):
                raise ValidationFailed(f"{value!r} is not a date written YYYY-MM-DD",
                                       field=f"{field}.holidays[{i}]") from None
        return cls(zone, tuple(weekly), frozenset(holidays))

    @classmethod
    def always_open(cls, timezone: str = "UTC") -> BusinessHours:
        return cls(timezone, tuple((OpenRange(0, 1440),) for _ in DAYS))

    def as_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "weekly": {day: [str(r) for r in self.weekly[i]] for i, day in enumerate(DAYS) if self.weekly[i]},
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    # --- arithmetic -----------------------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def _local_instant(self, day: date, minute: int) -> datetime:
        if minute >= 1440:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone).astimezone(UTC)
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone).astimezone(UTC)

    def intervals(self, after: datetime, days: int = SEARCH_DAYS) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in UTC, in order, from the one containing ``after`` on, looking at
        most ``days`` days ahead."""
        _aware(after)
        day = after.astimezone(self.zone).date() - timedelta(days=1)
        for _ in range(days + 2):
            if day not in self.holidays:
                for r in self.weekly[day.weekday()]:
                    start, end = self._local_instant(day, r.start), self._local_instant(day, r.end)
                    if end > after and end > start:
                        yield start, end
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        for start, end in self.intervals(at):
            return start <= at < end
        return False

    def next_opening(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else when the desk next opens; ``None`` if it never does."""
        for start, _ in self.intervals(at):
            return max(start, at)
        return None

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant ``minutes`` of open time after ``start``."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        left = timedelta(minutes=minutes)
        if not left:
            return start
        for open_at, close_at in self.intervals(start):
            begin = max(open_at, start)
            available = close_at - begin
            if left <= available:
                return begin + left
            left -= available
        raise ValueError(f"the schedule has no open time within {SEARCH_DAYS} days")

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Open minutes in [start, end); negative when ``end`` comes first."""
        if end < start:
            return -self.business_minutes_between(end, start)
        total = timedelta()
        for open_at, close_at in self.intervals(start, days=(end - start).days + 2):
            if open_at >= end:
                break
            total += min(close_at, end) - max(open_at, start)
        return total / timedelta(minutes=1)


def _aware(value: datetime) -> None:
    if value.tzinfo is None:
        raise ValueError("business hours work with aware datetimes")
