"""What the desk knows about Discord, without talking to it: the settings a workspace and a
ticket type carry for their Discord server, channel names, forum tags, the custom ids of
buttons that must keep working after a restart, blacklists and anonymous identities.

Workspace settings live under ``settings["discord"]``, a ticket type's under its
``settings["discord"]``. Every id is a Discord snowflake written as a string.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.tickets import anonymous_nickname, channel_name_for

_SNOWFLAKE = re.compile(r"^\d{15,21}$")

# --- custom ids of persistent components ----------------------------------------------------------------------
# A component's custom id is all the bot has when a click arrives after a restart, so each
# carries what its handler needs. The bot registers one ``DynamicItem`` per pattern at start-up.
CUSTOM_ID_PREFIX = "fd"
PANEL_BUTTON = "fd:open:{type_id}"            # a panel's button for one ticket type
PANEL_SELECT = "fd:pick:{panel_id}"           # a panel's select menu (more than four types)
INTAKE_MODAL = "fd:intake:{type_id}"          # the intake modal of a type
REQUEST_HUMAN = "fd:human:{ticket_id}"        # the "Request human" button on a ticket's welcome message
CSAT_BUTTON = "fd:csat:{ticket_id}:{rating}"  # rating: helpful, not_helpful, skip
CLOSE_REQUEST_BUTTON = "fd:closereq:{ticket_id}:{answer}"  # answer: accept, deny
DM_PICK_SERVER = "fd:dmguild"                 # the DM relay: which server a user writes to
DM_PICK_TYPE = "fd:dmtype:{guild_id}"         # the DM relay: which type, in that server
CUSTOM_ID_MAX = 100  # Discord's limit

CSAT_RATINGS = ("helpful", "not_helpful", "skip")

# --- forum tags ------------------------------------------------------------------------------------------------
TAG_OPEN = "Open"
TAG_CLOSED = "Closed"
TAG_CLOSE_REQUESTED = "Close Requested"
TAG_UNANSWERED = "Unanswered"
TAG_USER_RESPONDED = "User Responded"
TAG_AWAITING_RESPONSE = "Awaiting Response"
STATUS_TAGS = (TAG_OPEN, TAG_CLOSED, TAG_CLOSE_REQUESTED)
ACTIVITY_TAGS = (TAG_UNANSWERED, TAG_USER_RESPONDED, TAG_AWAITING_RESPONSE)
FORUM_TAGS = STATUS_TAGS + ACTIVITY_TAGS

CHANNEL_NAME_MAX = 100
THREAD_NAME_MAX = 100
MESSAGE_MAX = 2000  # characters in one Discord message
CLOSE_NOTE_MAX = 500


def snowflake(value: Any, field: str) -> str:
    text = str(value).strip() if value is not None else ""
    if not _SNOWFLAKE.match(text):
        raise ValidationFailed(f"{value!r} is not a Discord id", field=field)
    return text


def _snowflakes(values: Any, field: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ValidationFailed("must be a list of Discord ids", field=field)
    return tuple(sorted({snowflake(v, field) for v in values}))


CUSTOM_COMMAND_MAX = 32


def _command_names(values: Any, field: str) -> tuple[str, ...]:
    """Custom command names as ``?name`` triggers them: 1 to 32 characters without spaces,
    compared in lower case."""
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ValidationFailed("must be a list of command names", field=field)
    names = set()
    for value in values:
        name = value.strip().lower().removeprefix("?") if isinstance(value, str) else ""
        if not 1 <= len(name) <= CUSTOM_COMMAND_MAX or any(c.isspace() for c in name):
            raise ValidationFailed(f"{value!r} is not a command name (1 to {CUSTOM_COMMAND_MAX} characters, "
                                   "no spaces)", field=field)
        names.add(name)
    return tuple(sorted(names))


def _optional_snowflake(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    return None if value is None else snowflake(value, f"{where}.{key}")


def _flag(data: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"{key} must be true or false", field=f"{where}.{key}")
    return value


def _object(raw: Any, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationFailed("must be an object", field=where)
    unknown = sorted(set(raw) - keys)
    if unknown:
        raise ValidationFailed(f"unknown setting {unknown[0]!r}; known: {', '.join(sorted(keys))}",
                               field=f"{where}.{unknown[0]}")
    return raw


@dataclass(frozen=True)
class DiscordSettings:
    """A workspace's Discord settings (``settings["discord"]``)."""

    # The DM relay: staff messages in a ticket post go to the user's DMs by themselves. When
    # off, only ``/send``, a leading ``-r `` or a leading mention of the bot sends them.
    forward_automatically: bool = True
    # Staff replies reach users without the staff member's name (``anonym-override`` per reply).
    anonymous_replies: bool = False
    # Users may open tickets whose opener staff do not see.
    anonymous_tickets: bool = False
    # Staff channels; None when not set up.
    logging: bool = False
    log_channel_id: str | None = None
    escalation_channel_id: str | None = None
    alerts_channel_id: str | None = None
    transcripts_channel_id: str | None = None
    # Blacklisted users and roles get a message and no ticket.
    blacklist_user_ids: tuple[str, ...] = ()
    blacklist_role_ids: tuple[str, ...] = ()
    # The opener gets a DM with Helpful / Not helpful / Skip when their ticket closes.
    csat_dm: bool = True
    # Names the server's other bots answer to as ``?name``: a macro shortcode of the same name
    # is left alone, so a macro never shadows an existing custom command.
    custom_commands: tuple[str, ...] = ()

    KEYS = frozenset({"forward_automatically", "anonymous_replies", "anonymous_tickets", "logging",
                      "log_channel_id", "escalation_channel_id", "alerts_channel_id", "transcripts_channel_id",
                      "blacklist_user_ids", "blacklist_role_ids", "csat_dm", "custom_commands"})

    @classmethod
    def parse(cls, raw: Any, *, where: str = "settings.discord") -> DiscordSettings:
        data = _object(raw, where, cls.KEYS)
        return cls(
            forward_automatically=_flag(data, "forward_automatically", True, where),
            anonymous_replies=_flag(data, "anonymous_replies", False, where),
            anonymous_tickets=_flag(data, "anonymous_tickets", False, where),
            logging=_flag(data, "logging", False, where),
            log_channel_id=_optional_snowflake(data, "log_channel_id", where),
            escalation_channel_id=_optional_snowflake(data, "escalation_channel_id", where),
            alerts_channel_id=_optional_snowflake(data, "alerts_channel_id", where),
            transcripts_channel_id=_optional_snowflake(data, "transcripts_channel_id", where),
            blacklist_user_ids=_snowflakes(data.get("blacklist_user_ids"), f"{where}.blacklist_user_ids"),
            blacklist_role_ids=_snowflakes(data.get("blacklist_role_ids"), f"{where}.blacklist_role_ids"),
            csat_dm=_flag(data, "csat_dm", True, where),
            custom_commands=_command_names(data.get("custom_commands"), f"{where}.custom_commands"),
        )

    @classmethod
    def of(cls, workspace_settings: dict[str, Any] | None) -> DiscordSettings:
        """The settings of a workspace whose settings were validated when saved."""
        return cls.parse((workspace_settings or {}).get("discord"))

    def blacklisted(self, user_id: str | int, role_ids: Iterable[str | int] = ()) -> bool:
        if str(user_id) in self.blacklist_user_ids:
            return True
        return bool({str(r) for r in role_ids} & set(self.blacklist_role_ids))


@dataclass(frozen=True)
class TypeDiscordSettings:
    """Where a ticket type's tickets live in Discord (``ticket_type.settings["discord"]``).

    The type's ``discord_mode`` says which of these is used: ``category_id`` for channel mode
    (None: no category), ``parent_channel_id`` for thread mode (the text channel the private
    threads are made in), ``forum_channel_id`` for forum mode (the private forum of the DM relay).
    """

    category_id: str | None = None
    parent_channel_id: str | None = None
    forum_channel_id: str | None = None
    # The welcome message pings staff: all the type's staff roles, or ``ping_role_ids`` when
    # that subset is given.
    ping_staff: bool = True
    ping_role_ids: tuple[str, ...] = ()
    # Shown at the top of the welcome message (a template over the ticket's variables).
    welcome_message: str | None = None

    KEYS = frozenset({"category_id", "parent_channel_id", "forum_channel_id", "ping_staff", "ping_role_ids",
                      "welcome_message"})
    WELCOME_MAX = 1500

    @classmethod
    def parse(cls, raw: Any, *, where: str = "settings.discord") -> TypeDiscordSettings:
        data = _object(raw, where, cls.KEYS)
        welcome = data.get("welcome_message")
        if welcome is not None and (not isinstance(welcome, str) or len(welcome) > cls.WELCOME_MAX):
            raise ValidationFailed(f"welcome_message is text of at most {cls.WELCOME_MAX} characters",
                                   field=f"{where}.welcome_message")
        return cls(
            category_id=_optional_snowflake(data, "category_id", where),
            parent_channel_id=_optional_snowflake(data, "parent_channel_id", where),
            forum_channel_id=_optional_snowflake(data, "forum_channel_id", where),
            ping_staff=_flag(data, "ping_staff", True, where),
            ping_role_ids=_snowflakes(data.get("ping_role_ids"), f"{where}.ping_role_ids"),
            welcome_message=welcome or None,
        )

    @classmethod
    def of(cls, type_settings: dict[str, Any] | None) -> TypeDiscordSettings:
        return cls.parse((type_settings or {}).get("discord"))

    def pinged_roles(self, staff_role_ids: Iterable[str]) -> tuple[str, ...]:
        """The roles the welcome message (and a move into this type) pings."""
        if not self.ping_staff:
            return ()
        staff = tuple(sorted({str(r) for r in staff_role_ids}))
        if self.ping_role_ids:
            return tuple(r for r in self.ping_role_ids if r in staff) or self.ping_role_ids
        return staff


def staff_ping(settings: TypeDiscordSettings, staff_role_ids: Iterable[str]) -> str | None:
    """The text that pings a type's staff (``<@&role> <@&role>``), or None for no ping."""
    roles = settings.pinged_roles(staff_role_ids)
    return " ".join(f"<@&{r}>" for r in roles) or None


# --- names ------------------------------------------------------------------------------------------------------

def channel_slug(text: str) -> str:
    """A Discord text-channel name: lower case letters, digits and dashes."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    return slug[:CHANNEL_NAME_MAX].strip("-")


def ticket_channel_name(*, number: int, opener_name: str | None, sequential: bool, anonymous: bool = False) -> str:
    """A ticket's channel or thread name, the same the ticket engine records as its
    ``channel_name``: ``ticket-N`` with sequential names (and for anonymous tickets, whose
    opener staff must not see), otherwise after the opener."""
    return channel_name_for(number, None if anonymous else opener_name, sequential)


def forum_post_name(*, number: int, title: str) -> str:
    """A forum post's title: the number and the ticket's subject, within Discord's limit."""
    head = f"#{number} "
    return (head + " ".join(title.split()))[:THREAD_NAME_MAX]


def forum_tags(*, status: str, close_requested: bool, last_customer_message_at: Any, last_staff_message_at: Any
               ) -> tuple[str, str]:
    """The status tag and the activity tag a forum post should carry."""
    if status == "closed":
        status_tag = TAG_CLOSED
    elif close_requested:
        status_tag = TAG_CLOSE_REQUESTED
    else:
        status_tag = TAG_OPEN
    if last_staff_message_at is None:
        activity = TAG_UNANSWERED
    elif last_customer_message_at is not None and last_customer_message_at > last_staff_message_at:
        activity = TAG_USER_RESPONDED
    else:
        activity = TAG_AWAITING_RESPONSE
    return status_tag, activity


# --- anonymous identities -------------------------------------------------------------------------------------

# Discord's own default avatars (``https://cdn.discordapp.com/embed/avatars/N.png``, N from 0 to 5).
DEFAULT_AVATAR = "https://cdn.discordapp.com/embed/avatars/{n}.png"


@dataclass(frozen=True)
class AnonymousIdentity:
    nickname: str
    avatar_url: str


def anonymous_identity(ticket_id: int, opener_id: int | None) -> AnonymousIdentity:
    """The name and avatar staff see instead of an anonymous ticket's opener: the nickname the
    API and transcripts show for them (``domain.tickets.anonymous_nickname``), and one of
    Discord's default avatars picked the same stable way. Tells nothing about the user."""
    digest = hashlib.sha256(f"frontdesk-anon:{ticket_id}:{opener_id}".encode()).digest()
    return AnonymousIdentity(nickname=anonymous_nickname(ticket_id, opener_id or 0),
                             avatar_url=DEFAULT_AVATAR.format(n=digest[0] % 6))


STAFF_ANONYMOUS_NAME = "Staff"


def clip(text: str, limit: int = MESSAGE_MAX) -> str:
    """Text cut to fit one Discord message (or another limit), marked when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- who may see a ticket's channel ---------------------------------------------------------------------------

# What people let into a ticket's channel may do there, and what the bot needs there.
MEMBER_ALLOW = frozenset({"view_channel", "send_messages", "read_message_history", "attach_files", "embed_links"})
BOT_ALLOW = MEMBER_ALLOW | frozenset({"manage_channels", "manage_messages", "manage_webhooks"})


@dataclass(frozen=True)
class Overwrite:
    """One permission overwrite of a ticket channel: a role or a member, what it allows and denies
    (names of Discord permissions, as discord.py spells them)."""

    target_id: str
    kind: str  # role or member
    allow: frozenset[str] = frozenset()
    deny: frozenset[str] = frozenset()


def ticket_overwrites(*, guild_id: str, bot_user_id: str, opener_user_id: str | None,
                      participant_user_ids: Iterable[str] = (), staff_role_ids: Iterable[str] = (),
                      management_role_ids: Iterable[str] = (), lockdown: bool = False) -> list[Overwrite]:
    """The overwrites of a ticket's private channel: hidden from everyone (the @everyone role's
    id is the server's id), open to the bot, the opener, added users and the type's staff
    roles; under lockdown the staff roles lose access and only management roles keep it."""
    out = [Overwrite(str(guild_id), "role", deny=frozenset({"view_channel"})),
           Overwrite(str(bot_user_id), "member", allow=BOT_ALLOW)]
    people = [str(opener_user_id)] if opener_user_id else []
    people += [str(p) for p in participant_user_ids if str(p) not in people]
    out += [Overwrite(p, "member", allow=MEMBER_ALLOW) for p in people if p != str(bot_user_id)]
    management = sorted({str(r) for r in management_role_ids})
    staff = [] if lockdown else sorted({str(r) for r in staff_role_ids} - set(management))
    out += [Overwrite(r, "role", allow=MEMBER_ALLOW) for r in staff + management]
    return out
