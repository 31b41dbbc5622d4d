"""Connections to Jira Cloud, Linear and Slack, as pure rules: which settings each kind has,
how our statuses map to theirs and back, and how their signed calls are verified.

Settings are split in two. ``config`` is what may be shown again (site URL, project key,
status mapping, channel); credentials (API tokens, signing secrets) are write-only and kept
encrypted. Field names in errors are ``config.<name>`` and ``credentials.<name>``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.tickets import Status


class Kind(enum.StrEnum):
    JIRA = "jira"
    LINEAR = "linear"
    SLACK = "slack"


ISSUE_KINDS = frozenset({Kind.JIRA, Kind.LINEAR})

LINEAR_API_URL = "https://api.linear.app/graphql"
SLACK_API_BASE = "https://slack.com/api"

# Secret settings per kind; the first ones are required when a connection is created.
CREDENTIALS: dict[Kind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Kind.JIRA: (("api_token",), ("webhook_secret",)),
    Kind.LINEAR: (("api_key",), ("webhook_secret",)),
    Kind.SLACK: (("bot_token",), ("signing_secret",)),
}
SECRET_MAX = 500
TEXT_MAX = 200

# What a Slack thread mirrors from the ticket.
SLACK_MIRRORS = frozenset({"status", "notes"})

# How far a signed call's own timestamp may be from our clock.
LINEAR_TOLERANCE_SECONDS = 60
SLACK_TOLERANCE_SECONDS = 5 * 60

_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,9}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,9}-\d{1,9}$")


def parse_kind(value: Any) -> Kind:
    try:
        return Kind(value)
    except ValueError:
        raise ValidationFailed(f"kind must be one of {', '.join(k.value for k in Kind)}", field="kind") from None


# --- settings ------------------------------------------------------------------------------------------------


def check_url(value: Any, field: str, *, allow_http: bool) -> str:
    """An absolute https URL (http too when ``allow_http``), without credentials or fragment;
    returned without a trailing slash."""
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise ValidationFailed(f"{field} must be a URL of at most 500 characters", field=field)
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise ValidationFailed(f"{field} must be an https URL (FRONTDESK_INTEGRATIONS_ALLOW_HTTP=true allows http)",
                               field=field)
    if not parts.hostname or parts.username or parts.password or parts.fragment or parts.query:
        raise ValidationFailed(f"{field} must be a plain URL: a host, an optional path, no credentials or query",
                               field=field)
    return url


def _text(config: dict[str, Any], name: str, *, required: bool = True, default: str | None = None,
          pattern: re.Pattern[str] | None = None, hint: str = "") -> str | None:
    field = f"config.{name}"
    value = config.get(name, default)
    if value is None:
        if required:
            raise ValidationFailed(f"{field} is required", field=field)
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX:
        raise ValidationFailed(f"{field} must be text of 1 to {TEXT_MAX} characters", field=field)
    value = value.strip()
    if pattern is not None and not pattern.match(value):
        raise ValidationFailed(f"{field} {hint}", field=field)
    return value


def _outbound_map(config: dict[str, Any], name: str) -> dict[str, str]:
    """Our status -> their status name (Jira) or workflow state id (Linear)."""
    field = f"config.{name}"
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must map our statuses to theirs", field=field)
    out: dict[str, str] = {}
    for ours, theirs in value.items():
        try:
            status = Status(ours)
        except ValueError:
            raise ValidationFailed(f"{ours!r} is not one of our statuses "
                                   f"({', '.join(s.value for s in Status)})", field=f"{field}.{ours}") from None
        if not isinstance(theirs, str) or not theirs.strip() or len(theirs) > 100:
            raise ValidationFailed("a mapped status is text of 1 to 100 characters", field=f"{field}.{ours}")
        out[status.value] = theirs.strip()
    return out


def _inbound_map(config: dict[str, Any], name: str, outbound: dict[str, str]) -> dict[str, str]:
    """Their status name or state id -> our status. Without one, the outbound map read
    backwards (the first of our statuses mapped to a name wins)."""
    field = f"config.{name}"
    value = config.get(name)
    if value is None:
        inverse: dict[str, str] = {}
        for ours, theirs in outbound.items():
            inverse.setdefault(theirs, ours)
        return inverse
    if not isinstance(value, dict):
        raise ValidationFailed(f"{field} must map their statuses to ours", field=field)
    out: dict[str, str] = {}
    for theirs, ours in value.items():
        if not str(theirs).strip() or len(str(theirs)) > 100:
            raise ValidationFailed("a status name is 1 to 100 characters", field=field)
        try:
            out[str(theirs).strip()] = Status(ours).value
        except ValueError:
            raise ValidationFailed(f"{ours!r} is not one of our statuses", field=f"{field}.{theirs}") from None
    return out


def _bool(config: dict[str, Any], name: str, default: bool) -> bool:
    value = config.get(name, default)
    if not isinstance(value, bool):
        raise ValidationFailed(f"config.{name} must be true or false", field=f"config.{name}")
    return value


def check_config(kind: Kind, config: Any, *, allow_http: bool) -> dict[str, Any]:
    """The settings of a connection of ``kind``, checked and normalised. Unknown keys are
    refused, so a misspelt setting is not silently ignored."""
    if not isinstance(config, dict):
        raise ValidationFailed("config must be an object", field="config")
    known = CONFIG_KEYS[kind]
    for name in config:
        if name not in known:
            raise ValidationFailed(f"{kind.value} connections have no setting {name!r} "
                                   f"(known: {', '.join(sorted(known))})", field=f"config.{name}")
    if kind is Kind.JIRA:
        outbound = _outbound_map(config, "status_map")
        return {
            "base_url": check_url(config.get("base_url"), "config.base_url", allow_http=allow_http),
            "email": _text(config, "email", pattern=_EMAIL, hint="must be the Atlassian account's email address"),
            "project_key": _text(config, "project_key", pattern=_PROJECT_KEY,
                                 hint="must be a Jira project key such as ENG"),
            "issue_type": _text(config, "issue_type", default="Task"),
            "status_map": outbound,
            "inbound_status_map": _inbound_map(config, "inbound_status_map", outbound),
        }
    if kind is Kind.LINEAR:
        outbound = _outbound_map(config, "state_map")
        return {
            "api_url": check_url(config.get("api_url", LINEAR_API_URL), "config.api_url", allow_http=allow_http),
            "team_id": _text(config, "team_id"),
            "state_map": outbound,
            "inbound_state_map": _inbound_map(config, "inbound_state_map", outbound),
        }
    mirror = config.get("mirror", sorted(SLACK_MIRRORS))
    if not isinstance(mirror, list) or not set(mirror) <= SLACK_MIRRORS:
        raise ValidationFailed(f"config.mirror is a list of {', '.join(sorted(SLACK_MIRRORS))}", field="config.mirror")
    return {
        "api_base": check_url(config.get("api_base", SLACK_API_BASE), "config.api_base", allow_http=allow_http),
        "channel_id": _text(config, "channel_id", pattern=_SLACK_CHANNEL,
                            hint="must be a Slack channel id such as C0123456789"),
        "thread_on_open": _bool(config, "thread_on_open", False),
        "mirror": sorted(set(mirror)),
    }


CONFIG_KEYS: dict[Kind, frozenset[str]] = {
    Kind.JIRA: frozenset({"base_url", "email", "project_key", "issue_type", "status_map", "inbound_status_map"}),
    Kind.LINEAR: frozenset({"api_url", "team_id", "state_map", "inbound_state_map"}),
    Kind.SLACK: frozenset({"api_base", "channel_id", "thread_on_open", "mirror"}),
}


def check_credentials(kind: Kind, given: Any, *, current: dict[str, str] | None = None) -> dict[str, str]:
    """The secrets after applying ``given`` to ``current`` (a value replaces, ``null`` removes).
    Without ``current`` (a new connection) the required ones must be given."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ValidationFailed("credentials must be an object", field="credentials")
    required, optional = CREDENTIALS[kind]
    merged = dict(current or {})
    for name, value in given.items():
        field = f"credentials.{name}"
        if name not in required + optional:
            raise ValidationFailed(f"{kind.value} connections have no credential {name!r} "
                                   f"(known: {', '.join(required + optional)})", field=field)
        if value is None:
            if name in required:
                raise ValidationFailed(f"{field} cannot be removed; give a new one instead", field=field)
            merged.pop(name, None)
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > SECRET_MAX:
            raise ValidationFailed(f"{field} must be text of 1 to {SECRET_MAX} characters", field=field)
        merged[name] = value.strip()
    for name in required:
        if name not in merged:
            raise ValidationFailed(f"credentials.{name} is required", field=f"credentials.{name}")
    return merged


def credential_names(kind: Kind) -> tuple[str, ...]:
    required, optional = CREDENTIALS[kind]
    return required + optional


# --- statuses ------------------------------------------------------------------------------------------------


def outbound_status(kind: Kind, config: dict[str, Any], ours: str) -> str | None:
    """Their status (Jira: a status name; Linear: a workflow state id) for our ``ours``, or
    None when the mapping leaves that status alone."""
    mapping = config.get("status_map" if kind is Kind.JIRA else "state_map") or {}
    value = mapping.get(ours)
    return str(value) if value is not None else None


def inbound_status(kind: Kind, config: dict[str, Any], *names: str | None) -> Status | None:
    """Our status for theirs, trying each of ``names`` (a state id, then its name); matched
    without regard to case. None when their status is not mapped."""
    mapping = config.get("inbound_status_map" if kind is Kind.JIRA else "inbound_state_map") or {}
    folded = {str(k).casefold(): v for k, v in mapping.items()}
    for name in names:
        if name and (value := folded.get(name.casefold())) is not None:
            return Status(value)
    return None


def same_status(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.casefold() == b.casefold()


def issue_key(value: Any, field: str = "key") -> str:
    if not isinstance(value, str) or not _ISSUE_KEY.match(value.strip()):
        raise ValidationFailed(f"{field} must be an issue key such as ENG-42", field=field)
    return value.strip().upper()


def key_from_url(url: Any, field: str = "url") -> str:
    """The issue key at the end of a Jira (``/browse/ENG-42``) or Linear
    (``/issue/ENG-42/title``) address."""
    if not isinstance(url, str) or len(url) > 2000:
        raise ValidationFailed(f"{field} must be the issue's address", field=field)
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"{field} must be the issue's address", field=field)
    for segment in reversed(segments):
        if _ISSUE_KEY.match(segment):
            return segment.upper()
    raise ValidationFailed(f"{field} does not end in an issue key such as ENG-42", field=field)


# --- signatures ----------------------------------------------------------------------------------------------


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def jira_signature_ok(secret: str | None, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>``, as Jira Cloud's admin
    webhooks send it when a secret is set."""
    if not secret or not header:
        return False
    method, _, digest = header.strip().partition("=")
    return method.lower() == "sha256" and hmac.compare_digest(digest.lower(), _hex_hmac(secret, body))


def linear_signature_ok(secret: str | None, body: bytes, header: str | None, timestamp_ms: Any,
                        now: datetime) -> bool:
    """``Linear-Signature``: hex HMAC-SHA256 of the raw body; the body's ``webhookTimestamp``
    (milliseconds) within a minute of now, so a captured call cannot be replayed later."""
    if not secret or not header or not isinstance(timestamp_ms, int | float) or isinstance(timestamp_ms, bool):
        return False
    if abs(now.timestamp() - timestamp_ms / 1000) > LINEAR_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(header.strip().lower(), _hex_hmac(secret, body))


def slack_signature_ok(secret: str | None, body: bytes, timestamp: str | None, header: str | None,
                       now: datetime) -> bool:
    """``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">`` with the
    signing secret; ``X-Slack-Request-Timestamp`` within five minutes of now."""
    if not secret or not header or not timestamp or not timestamp.strip().isdigit():
        return False
    if abs(now.timestamp() - int(timestamp)) > SLACK_TOLERANCE_SECONDS:
        return False
    expected = "v0=" + _hex_hmac(secret, b"v0:" + timestamp.strip().encode() + b":" + body)
    return hmac.compare_digest(header.strip(), expected)


# --- what we send --------------------------------------------------------------------------------------------

DESCRIPTION_MAX = 10_000


def issue_description(first_message: str | None, ticket_number: int, link: str | None) -> str:
    """The plain text of a pushed issue's description: the customer's first message and
    where the ticket is."""
    text = (first_message or "").strip()[:DESCRIPTION_MAX]
    where = f"Support ticket #{ticket_number}" + (f": {link}" if link else "")
    return f"{text}\n\n{where}" if text else where


def adf_description(first_message: str | None, ticket_number: int, link: str | None) -> dict[str, Any]:
    """The same as an Atlassian Document Format document, which Jira's REST v3 requires:
    one paragraph per paragraph of the message, then the link back as a link mark."""
    content: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", (first_message or "").strip()[:DESCRIPTION_MAX]):
        if not block.strip():
            continue
        inline: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    label = f"Support ticket #{ticket_number}"
    back: dict[str, Any] = {"type": "text", "text": label}
    if link:
        back["marks"] = [{"type": "link", "attrs": {"href": link}}]
    content.append({"type": "paragraph", "content": [back]})
    return {"type": "doc", "version": 1, "content": content}
