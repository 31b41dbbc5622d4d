"""Time strings as staff type them in commands: ``30m``, ``1h30m``, ``2d``, ``1w 2d``.

Units: ``w`` weeks, ``d`` days, ``h`` hours, ``m`` minutes, ``s`` seconds; each at most once,
largest first, spaces allowed between parts. Used for close-request timers and the like.
"""

from __future__ import annotations

import re
from datetime import timedelta

from frontdesk.domain.errors import ValidationFailed

UNITS = {"w": 7 * 24 * 3600, "d": 24 * 3600, "h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([wdhms])", re.IGNORECASE)
LONGEST = timedelta(days=365)


def parse_timestring(text: str, *, field: str = "time", longest: timedelta = LONGEST) -> timedelta:
    """The duration ``text`` names, or ``ValidationFailed`` naming ``field`` and the reason."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed("give a duration such as 30m, 1h30m or 2d", field=field)
    compact = text.strip().lower()
    position, seen, seconds = 0, [], 0
    for match in _PART.finditer(compact):
        if compact[position:match.start()].strip():
            break
        unit = match.group(2).lower()
        if unit in seen:
            raise ValidationFailed(f"{text.strip()!r} names {unit!r} twice", field=field)
        if seen and UNITS[unit] > UNITS[seen[-1]]:
            raise ValidationFailed(f"{text.strip()!r}: write larger units first (1h30m, not 30m1h)", field=field)
        seen.append(unit)
        seconds += int(match.group(1)) * UNITS[unit]
        position = match.end()
    if not seen or compact[position:].strip():
        raise ValidationFailed(f"{text.strip()!r} is not a duration; use numbers with w, d, h, m or s "
                               "(30m, 1h30m, 2d)", field=field)
    duration = timedelta(seconds=seconds)
    if duration <= timedelta(0):
        raise ValidationFailed("the duration must be longer than zero", field=field)
    if duration > longest:
        raise ValidationFailed(f"the duration must be at most {format_timestring(longest)}", field=field)
    return duration


def format_timestring(duration: timedelta) -> str:
    """The shortest time string for ``duration`` (whole seconds): ``timedelta(minutes=90)`` -> ``1h30m``."""
    seconds = int(duration.total_seconds())
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
