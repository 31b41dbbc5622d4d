"""Macros: what a shortcut, a content and a category may be. Pure; the actions store them."""

from __future__ import annotations

import re

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.templating import TICKET_VARIABLES, check

SHORTCUT_MAX = 64
CONTENT_MAX = 2000
CATEGORY_MAX = 50

_SHORTCUT = re.compile(rf"[a-z0-9_-]{{1,{SHORTCUT_MAX}}}")


def normalize_shortcut(value: object, *, field: str = "shortcut") -> str:
    """A shortcut as stored: trimmed and lower-cased, then 1 to 64 of a-z, 0-9, ``-`` and ``_``."""
    if not isinstance(value, str):
        raise ValidationFailed("shortcut must be text", field=field)
    shortcut = value.strip().lower()
    if not _SHORTCUT.fullmatch(shortcut):
        raise ValidationFailed(
            f"shortcut must be 1 to {SHORTCUT_MAX} characters of lower-case letters, digits, '-' and '_'; "
            f"got {value!r}", field=field)
    return shortcut


def check_content(value: object, *, field: str = "content") -> str:
    """A macro's text: trimmed, 1 to 2,000 characters, using only the ticket variables."""
    if not isinstance(value, str):
        raise ValidationFailed("content must be text", field=field)
    content = value.strip()
    if not content:
        raise ValidationFailed("content must not be empty", field=field)
    if len(content) > CONTENT_MAX:
        raise ValidationFailed(f"content must be at most {CONTENT_MAX} characters", field=field)
    check(content, TICKET_VARIABLES, field=field)
    return content


def normalize_category(value: object, *, field: str = "category") -> str | None:
    """A category: trimmed, at most 50 characters; empty means none."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationFailed("category must be text", field=field)
    category = " ".join(value.split())
    if len(category) > CATEGORY_MAX:
        raise ValidationFailed(f"category must be at most {CATEGORY_MAX} characters", field=field)
    return category or None
