"""Suggested macros: finding staff replies that are written again and again.

Pure functions over plain values; the worker reads the replies and stores what this finds.

How a reply is normalised (so that "Hi Alice, thanks for waiting!" on ticket 12 and
"hi  Bob, thanks for waiting" on ticket 40 count as one text):

1. Literal braces are escaped (``{`` becomes ``{{``), so the result is a valid template.
2. The ticket's own values become placeholders, where that is cheap and safe: ``#12`` and
   ``ticket 12`` (this ticket's number only, never any other number) become
   ``{ticket.number}``; the opener's display name, in any case, and their first name when it
   is written capitalised, become ``{user}``; the replying staff member's the same way become
   ``{staff}``. A first name is only replaced when capitalised so that an opener called
   "Will" does not turn "I will check" into a placeholder.
3. Case-folded, runs of whitespace collapsed to one space, and punctuation, symbols and
   spaces trimmed from both ends (braces excepted: they belong to placeholders).

Identical normalised texts form a group; a group is proposed when it has at least
``MIN_MESSAGES`` messages across at least ``MIN_TICKETS`` tickets and its text is at least
``MIN_TEXT_LENGTH`` characters (a bare "thanks!" is not worth a macro). The proposal's content
is the first reply of the group with steps 1 and 2 applied (original case and spacing).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.macros import CONTENT_MAX, SHORTCUT_MAX
from frontdesk.domain.timestrings import parse_timestring

MIN_MESSAGES = 3
MIN_TICKETS = 2
MIN_TEXT_LENGTH = 20
EXAMPLES_KEPT = 5
SHORTCUT_WORDS = 4
SHORTCUT_LENGTH = 40


@dataclass(frozen=True)
class StaffReply:
    """One public staff message of a closed ticket, with the values it may mention."""

    ticket_number: int
    text: str
    opener_name: str | None = None
    staff_name: str | None = None


@dataclass(frozen=True)
class Suggestion:
    text_hash: str
    content: str
    suggested_shortcut: str
    message_count: int
    ticket_count: int
    example_ticket_numbers: list[int] = field(default_factory=list)


def _trimmable(char: str) -> bool:
    return char.isspace() or (char not in "{}" and unicodedata.category(char)[0] in "PS")


def _name_patterns(name: str | None) -> list[re.Pattern[str]]:
    """The full name in any case, then the first name as written capitalised."""
    name = " ".join((name or "").split())
    if len(name) < 2:
        return []
    patterns = [re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)]
    first = name.split(" ", 1)[0]
    if first != name and len(first) >= 3 and first[0].isupper():
        patterns.append(re.compile(rf"(?<!\w){re.escape(first)}(?!\w)"))
    return patterns


def as_template(text: str, *, ticket_number: int | None = None, opener_name: str | None = None,
                staff_name: str | None = None) -> str:
    """A reply as a template: braces escaped, the ticket's own values as placeholders."""
    result = text.strip().replace("{", "{{").replace("}", "}}")
    if ticket_number is not None:
        result = re.sub(rf"(?i)((?<!\w)ticket\s+#?|(?<![\w#])#){ticket_number}(?!\d)",
                        lambda m: m.group(1) + "{ticket.number}", result)
    for pattern in _name_patterns(opener_name):
        result = pattern.sub("{user}", result)
    for pattern in _name_patterns(staff_name):
        result = pattern.sub("{staff}", result)
    return result


def normalize_template(template: str) -> str:
    """Case-fold, collapse whitespace, trim punctuation and symbols from both ends."""
    text = " ".join(template.casefold().split())
    start, end = 0, len(text)
    while start < end and _trimmable(text[start]):
        start += 1
    while end > start and _trimmable(text[end - 1]):
        end -= 1
    return text[start:end]


def normalize_reply(reply: StaffReply) -> str:
    return normalize_template(as_template(reply.text, ticket_number=reply.ticket_number,
                                          opener_name=reply.opener_name, staff_name=reply.staff_name))


def text_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode()).hexdigest()


def macro_hash(content: str) -> str:
    """The hash a macro's content has, to leave out replies that already are that macro."""
    return text_hash(normalize_template(content))


def suggest_shortcut(normalized: str, taken: set[str]) -> str:
    """A slug of the first words, not in ``taken`` (a number is added when it is); the
    chosen shortcut is added to ``taken``."""
    plain = re.sub(r"\{[a-z_.]+\}", " ", normalized)
    ascii_text = unicodedata.normalize("NFKD", plain).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())[:SHORTCUT_WORDS]
    base = ""
    for word in words:
        candidate = f"{base}-{word}" if base else word
        if len(candidate) > SHORTCUT_LENGTH:
            break
        base = candidate
    base = base or (words[0][:SHORTCUT_LENGTH] if words else "reply")
    shortcut, n = base, 1
    while shortcut in taken:
        n += 1
        suffix = f"-{n}"
        shortcut = base[:SHORTCUT_MAX - len(suffix)] + suffix
    taken.add(shortcut)
    return shortcut


def mine(replies: Iterable[StaffReply], *, known_hashes: set[str], taken_shortcuts: set[str],
         min_messages: int = MIN_MESSAGES, min_tickets: int = MIN_TICKETS) -> list[Suggestion]:
    """Group replies by normalised text and propose each group seen in at least
    ``min_messages`` messages across at least ``min_tickets`` tickets, leaving out
    ``known_hashes`` (existing macros, earlier suggestions whatever their status). Most
    repeated first; ties in order of first appearance."""
    groups: dict[str, list[tuple[StaffReply, str]]] = {}
    for reply in replies:
        normalized = normalize_reply(reply)
        if len(normalized) < MIN_TEXT_LENGTH:
            continue
        groups.setdefault(normalized, []).append((reply, normalized))
    found: list[Suggestion] = []
    taken = set(taken_shortcuts)
    ranked = sorted(groups.items(), key=lambda item: -len(item[1]))
    for normalized, members in ranked:
        tickets = sorted({reply.ticket_number for reply, _ in members})
        if len(members) < min_messages or len(tickets) < min_tickets:
            continue
        digest = text_hash(normalized)
        if digest in known_hashes:
            continue
        first = members[0][0]
        content = as_template(first.text, ticket_number=first.ticket_number, opener_name=first.opener_name,
                              staff_name=first.staff_name)
        if len(content) > CONTENT_MAX:
            continue
        found.append(Suggestion(
            text_hash=digest, content=content, suggested_shortcut=suggest_shortcut(normalized, taken),
            message_count=len(members), ticket_count=len(tickets), example_ticket_numbers=tickets[:EXAMPLES_KEPT]))
    return found


DEFAULT_LOOKBACK = timedelta(days=30)
LONGEST_LOOKBACK = timedelta(days=365)


@dataclass(frozen=True)
class MiningPolicy:
    """A workspace's ``macro_suggestions`` setting: ``{"enabled": true, "lookback": "30d"}``."""

    enabled: bool = True
    lookback: timedelta = DEFAULT_LOOKBACK

    @classmethod
    def parse(cls, settings: dict[str, Any] | None) -> MiningPolicy:
        where = "settings.macro_suggestions"
        raw = (settings or {}).get("macro_suggestions")
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise ValidationFailed("must be an object", field=where)
        unknown = sorted(set(raw) - {"enabled", "lookback"})
        if unknown:
            raise ValidationFailed(f"unknown key {unknown[0]!r}", field=f"{where}.{unknown[0]}")
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ValidationFailed("must be true or false", field=f"{where}.enabled")
        lookback = DEFAULT_LOOKBACK
        if raw.get("lookback") is not None:
            if not isinstance(raw["lookback"], str):
                raise ValidationFailed("must be a time string such as 30d", field=f"{where}.lookback")
            lookback = parse_timestring(raw["lookback"], field=f"{where}.lookback", longest=LONGEST_LOOKBACK)
        return cls(enabled=enabled, lookback=lookback)
