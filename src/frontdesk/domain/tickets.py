"""The vocabulary of a ticket: statuses, priorities, close reasons, ratings, and the
rules that relate them. Pure Python; actions and entry points build on these names."""

from __future__ import annotations

import enum
import re
import unicodedata

CLOSE_NOTE_MAX = 500
TITLE_MAX = 200
TAG_MAX = 50
UNMERGE_WINDOW_DAYS = 30


class Status(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def is_active(self) -> bool:
        """Active tickets are the ones still being worked: everything but Closed."""
        return self is not Status.CLOSED

    @property
    def counts_toward_sla(self) -> bool:
        """Only Open and In progress run the SLA clock; Waiting, Resolved and Closed stop it."""
        return self in (Status.OPEN, Status.IN_PROGRESS)


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class CloseReason(enum.StrEnum):
    RESOLVED = "resolved"
    DUPLICATE = "duplicate"
    USER_UNRESPONSIVE = "user_unresponsive"
    OUT_OF_SCOPE = "out_of_scope"
    SPAM = "spam"
    OTHER = "other"


class Csat(enum.StrEnum):
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"
    SKIPPED = "skipped"


class AuthorKind(enum.StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    BOT = "bot"
    SYSTEM = "system"


class Visibility(enum.StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class ConversationChannel(enum.StrEnum):
    """Where a conversation's messages travel; replies go back the same way."""

    DISCORD_CHANNEL = "discord_channel"
    DISCORD_THREAD = "discord_thread"
    DISCORD_FORUM = "discord_forum"
    DM_RELAY = "dm_relay"
    EMAIL = "email"
    API = "api"
    WEB = "web"


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    SOLVED = "solved"


class DiscordMode(enum.StrEnum):
    CHANNEL = "channel"
    THREAD = "thread"
    FORUM = "forum"


def settable_statuses() -> list[Status]:
    """Statuses reachable by a plain status change. Closed needs a reason, so it goes
    through closing; a closed ticket leaves Closed only by reopening."""
    return [s for s in Status if s is not Status.CLOSED]


_TAG_SPACE = re.compile(r"\s+")


def normalize_tag(raw: str) -> str:
    """Tags are case-insensitive labels: trimmed, lower-cased, inner spaces as dashes."""
    return _TAG_SPACE.sub("-", raw.strip().lower())


def channel_name_for(number: int, opener_name: str | None, sequential: bool) -> str:
    """The Discord-style name of a ticket's channel: ``ticket-N`` with sequential names on,
    otherwise after the opener (lower-case, dashes, only letters, digits, ``-`` and ``_``)."""
    if sequential or not opener_name:
        return f"ticket-{number}"
    # Letters keep their base form ("Chloé" -> "chloe") before everything else becomes a dash.
    plain = unicodedata.normalize("NFKD", opener_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_-]+", "-", plain.lower()).strip("-")
    return slug[:90] or f"ticket-{number}"


_ANON_ADJECTIVES = ("Amber", "Brisk", "Calm", "Dapper", "Eager", "Fuzzy", "Gentle", "Hazel", "Jolly",
                    "Keen", "Lucky", "Mellow", "Nimble", "Olive", "Plucky", "Quiet", "Rosy", "Sunny",
                    "Tidy", "Velvet", "Witty", "Zesty")
_ANON_ANIMALS = ("Otter", "Falcon", "Badger", "Heron", "Lynx", "Panda", "Koala", "Marten", "Puffin",
                 "Gecko", "Bison", "Ibis", "Quokka", "Raven", "Stoat", "Tapir", "Walrus", "Yak")


def anonymous_nickname(ticket_id: int, member_id: int) -> str:
    """A stable generated nickname that stands in for the opener of an anonymous ticket."""
    seed = (ticket_id * 2654435761 + member_id * 40503) & 0xFFFFFFFF
    adjective = _ANON_ADJECTIVES[seed % len(_ANON_ADJECTIVES)]
    animal = _ANON_ANIMALS[(seed // len(_ANON_ADJECTIVES)) % len(_ANON_ANIMALS)]
    return f"{adjective} {animal}"
