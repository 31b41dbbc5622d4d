"""Webhooks without I/O: what an endpoint may be, how a delivery is signed, what an answer
means. Signing follows the Standard Webhooks specification."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from frontdesk.domain import events as ev
from frontdesk.domain.errors import ValidationFailed

NAME_MAX = 100
URL_MAX = 2000
DESCRIPTION_MAX = 500
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
GENERATED_SECRET_BYTES = 32
ALL_EVENTS = "*"

# Delivery types that are not events of the log: sent to one endpoint on purpose.
TEST_TYPE = "webhook.test"
RULE_TYPE = "rule.triggered"

# The events a selection may name (``*`` selects every event, including ones added later).
SELECTABLE_EVENTS = ev.ALL


# --- endpoint fields -----------------------------------------------------------------------------------------


def check_name(name: str, *, field: str = "name") -> str:
    name = (name or "").strip()
    if not name or len(name) > NAME_MAX:
        raise ValidationFailed(f"a webhook name has 1 to {NAME_MAX} characters", field=field)
    return name


def check_description(text: str | None, *, field: str = "description") -> str | None:
    if text is None:
        return None
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(f"a description has at most {DESCRIPTION_MAX} characters", field=field)
    return text.strip() or None


def check_events(names: list[str], *, field: str = "events") -> list[str]:
    """A selection of event names, or ``["*"]`` for all of them. Empty is allowed: the
    endpoint then only receives test sends and rule deliveries."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValidationFailed("events is a list of event names", field=field)
    chosen = sorted({n.strip() for n in names})
    if ALL_EVENTS in chosen:
        if len(chosen) > 1:
            raise ValidationFailed("'*' selects every event; list no other name beside it", field=field)
        return [ALL_EVENTS]
    for index, name in enumerate(names):
        if name.strip() not in SELECTABLE_EVENTS:
            raise ValidationFailed(f"{name!r} is not an event name (see GET /api/v1/webhooks/events)",
                                   field=f"{field}.{index}")
    return chosen


def subscribes(selection: list[str], event_type: str) -> bool:
    return ALL_EVENTS in selection or event_type in selection


@dataclass(frozen=True)
class TargetUrl:
    url: str
    scheme: str
    host: str
    port: int


def check_url(url: str, *, allow_http: bool, field: str = "url") -> TargetUrl:
    """The URL's shape: https (http only when allowed), a host, no user name or password in it."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        raise ValidationFailed(f"a webhook URL has 1 to {URL_MAX} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValidationFailed(f"not a URL: {exc}", field=field) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise ValidationFailed("a webhook URL starts with https://", field=field)
    if scheme == "http" and not allow_http:
        raise ValidationFailed("webhooks are sent over https only (FRONTDESK_WEBHOOK_ALLOW_HTTP=true allows http)",
                               field=field)
    if not parts.hostname:
        raise ValidationFailed("a webhook URL names a host", field=field)
    if parts.username is not None or parts.password is not None:
        raise ValidationFailed("a webhook URL carries no user name or password; sign with the secret instead",
                               field=field)
    if parts.fragment:
        raise ValidationFailed("a webhook URL has no #fragment", field=field)
    return TargetUrl(url=url, scheme=scheme, host=parts.hostname, port=port or (443 if scheme == "https" else 80))


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may connect to ``address``: a global unicast address, not private,
    loopback, link-local, multicast, reserved or unspecified (IPv4-mapped and 6to4 IPv6
    addresses are judged by the IPv4 address inside)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is not None:
            return is_public_address(inner)
        if address.teredo is not None:
            return False
    return address.is_global and not (
        address.is_multicast or address.is_private or address.is_loopback or address.is_link_local
        or address.is_reserved or address.is_unspecified)


# --- secrets and signatures ----------------------------------------------------------------------------------


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES)).decode("ascii")


def secret_key(secret: str, *, field: str = "secret") -> bytes:
    """The HMAC key of a ``whsec_`` secret (the base64 after the prefix, 24 to 64 bytes)."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValidationFailed("a signing secret starts with whsec_", field=field)
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("a signing secret is whsec_ followed by base64", field=field) from None
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        raise ValidationFailed(f"a signing secret holds {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes "
                               f"(this one holds {len(key)})", field=field)
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature of ``{id}.{timestamp}.{body}``."""
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def signature_header(keys: list[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per key, space-separated (the new and
    the old secret during a rotation's overlap)."""
    return " ".join(sign(key, message_id, timestamp, body) for key in keys)


# --- answers -------------------------------------------------------------------------------------------------

# Answers that mean "try again later" (the receiver is down, overloaded or too slow).
RETRIED_STATUSES = frozenset({408, 425, 429})
# 3xx (never followed) and other 4xx answers are retried only this many attempts in all
# (about four hours on the schedule below): a receiver's mistake that a fix may cure soon.
CLIENT_ERROR_ATTEMPTS = 8
# Seconds to wait after each failed attempt: about three days in all, 15 attempts.
SCHEDULE: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200, 43200, 43200, 43200, 43200)
RETRY_AFTER_MAX = 12 * 3600.0


@dataclass(frozen=True)
class Verdict:
    """What one HTTP answer means for the delivery: ``done``, ``retry`` (after ``after``
    seconds when the receiver said so) or ``dead``; ``gone`` when the endpoint is to be disabled."""

    status: str
    reason: str
    after: float | None = None
    gone: bool = False


def judge(status_code: int, attempt: int, retry_after: str | None = None, *, now: datetime | None = None) -> Verdict:
    if 200 <= status_code < 300:
        return Verdict("done", f"answered {status_code}")
    if status_code == 410:
        return Verdict("dead", "answered 410 Gone: the endpoint is disabled", gone=True)
    if status_code >= 500 or status_code in RETRIED_STATUSES:
        return Verdict("retry", f"answered {status_code}", after=parse_retry_after(retry_after, now=now))
    kind = "a redirect, which is not followed" if 300 <= status_code < 400 else "refused"
    if attempt >= CLIENT_ERROR_ATTEMPTS:
        return Verdict("dead", f"answered {status_code} ({kind}); given up after {attempt} attempts")
    return Verdict("retry", f"answered {status_code} ({kind})")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d{1,10}", value):
        return min(float(value), RETRY_AFTER_MAX)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), RETRY_AFTER_MAX)
