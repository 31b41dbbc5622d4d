"""A workspace's time and routing policies, read from its settings.

The settings of a workspace are a JSON object; the keys this module owns are read into typed,
validated policies here, and nowhere else. Every error names the offending key under
``settings.`` so the API can answer 422 with the exact field. Absent keys take the defaults.

    "business_hours": {"timezone": "Europe/Berlin", "weekly": {"mon": ["09:00-17:00"]}, "holidays": []}
    "away_message": {"enabled": true, "template": "..."}
    "pause_ai_outside_hours": false, "allow_tickets_outside_hours": true
    "sla": {"enabled": true, "first_response": {"urgent": 15}, "resolution": {...}, "business_hours": true}
    "assignment_mode": "manual" | "round_robin" | "load_balanced"
    "inactivity": {"enabled": false, "after": "7d", "warn_before": "1d", "escalated_after": "14d",
                   "activity": "any" | "customer"}
    "stale_nudge": {"enabled": false, "after": "48h", "message": "..."}
    "follow_up": {"enabled": false, "after": "1d", "message": "..."}
    "negative_csat": {"follow_up": false, "message": "..."}
    "alerts": {"queue_depth": 20, "csat_drop_points": 10, "csat_window": "7d", "csat_min_ratings": 5,
               "escalation_spike": 5, "escalation_window": "1h", "sla_breach": true}

A ticket type's own settings may override ``sla`` (key by key over the workspace policy) and
``assignment_mode``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from frontdesk.domain.assignment import AssignmentMode, parse_mode
from frontdesk.domain.calendar import BusinessHours
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.sla import SlaPolicy
from frontdesk.domain.tickets import Priority
from frontdesk.domain.timestrings import format_timestring, parse_timestring

MESSAGE_MAX = 2000

DEFAULT_AWAY = ("Thanks for your message. We're away right now and will be back {next_open}. "
                "We usually answer within {expected_response}.")
DEFAULT_WARNING = ("This ticket has had no activity for a while and will close {close_at} "
                   "unless someone writes in it.")
DEFAULT_NUDGE = "Is there anything else we can help you with on this ticket?"
DEFAULT_FOLLOW_UP = "Your ticket was closed recently. Did we solve your issue? Reply here if not."
DEFAULT_NEGATIVE_CSAT = "Sorry we did not get this right. A member of the team will look at your ticket again."

# Placeholders each template may use.
AWAY_FIELDS = frozenset({"next_open", "expected_response", "workspace"})
WARNING_FIELDS = frozenset({"close_at", "days"})
PLAIN_FIELDS: frozenset[str] = frozenset()


def _obj(data: Any, where: str, keys: set[str]) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed("must be an object", field=where)
    unknown = set(data) - keys
    if unknown:
        key = sorted(unknown)[0]
        raise ValidationFailed(f"unknown key {key!r}", field=f"{where}.{key}")
    return data


def _bool(data: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValidationFailed("must be true or false", field=f"{where}.{key}")
    return value


def _duration(data: dict[str, Any], key: str, default: timedelta | None, where: str) -> timedelta | None:
    value = data.get(key)
    if value is None:
        return default
    return parse_timestring(value, field=f"{where}.{key}")


def _count(data: dict[str, Any], key: str, where: str, *, minimum: int = 1, default: int | None = None) -> int | None:
    value = data.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValidationFailed(f"must be a whole number of at least {minimum}", field=f"{where}.{key}")
    return value


def _template(data: dict[str, Any], key: str, default: str, allowed: frozenset[str], where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("must be non-empty text", field=f"{where}.{key}")
    if len(value) > MESSAGE_MAX:
        raise ValidationFailed(f"must be at most {MESSAGE_MAX} characters", field=f"{where}.{key}")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValidationFailed(f"is not a valid template ({exc}); write literal braces as {{{{ and }}}}",
                               field=f"{where}.{key}") from None
    bad = sorted(n for n in names if n not in allowed)
    if bad:
        hint = f"use {', '.join('{' + a + '}' for a in sorted(allowed))}" if allowed else "no placeholders allowed"
        raise ValidationFailed(f"unknown placeholder {{{bad[0]}}}; {hint}", field=f"{where}.{key}")
    return value


@dataclass(frozen=True)
class AwayMessage:
    enabled: bool = False
    template: str = DEFAULT_AWAY

    def render(self, *, next_open: datetime | None, expected_response: str, workspace: str,
               hours: BusinessHours) -> str:
        when = "soon"
        if next_open is not None:
            local = next_open.astimezone(hours.zone)
            when = local.strftime("%A %d %B at %H:%M ") + (local.tzname() or hours.timezone)
        return self.template.format(next_open=when, expected_response=expected_response, workspace=workspace)


@dataclass(frozen=True)
class Inactivity:
    enabled: bool = False
    after: timedelta = timedelta(days=7)
    warn_before: timedelta | None = None
    escalated_after: timedelta | None = None
    # "any": any public customer or staff message is activity. "customer": only the customer's
    # messages count; the first staff reply after them restarts the customer's time, later ones do not.
    customer_only: bool = False
    warning: str = DEFAULT_WARNING

    def timeout(self, escalated: bool) -> timedelta:
        return self.escalated_after if escalated and self.escalated_after else self.after


@dataclass(frozen=True)
class StaleNudge:
    enabled: bool = False
    after: timedelta = timedelta(hours=48)
    # None: stale tickets are marked (``ticket.stale``) without a message in the ticket.
    message: str | None = DEFAULT_NUDGE


@dataclass(frozen=True)
class FollowUp:
    enabled: bool = False
    after: timedelta = timedelta(days=1)
    message: str = DEFAULT_FOLLOW_UP


@dataclass(frozen=True)
class NegativeCsat:
    # A negative rating always raises a quality flag; this also sends the customer a message.
    follow_up: bool = False
    message: str = DEFAULT_NEGATIVE_CSAT


@dataclass(frozen=True)
class Alerts:
    queue_depth: int | None = None
    csat_drop_points: int | None = None
    csat_window: timedelta = timedelta(days=7)
    csat_min_ratings: int = 5
    escalation_spike: int | None = None
    escalation_window: timedelta = timedelta(hours=1)
    sla_breach: bool = False

    @property
    def any(self) -> bool:
        return self.queue_depth is not None or self.csat_drop_points is not None \
            or self.escalation_spike is not None


@dataclass(frozen=True)
class Policies:
    business_hours: BusinessHours | None = None
    away: AwayMessage = field(default_factory=AwayMessage)
    pause_ai_outside_hours: bool = False
    allow_tickets_outside_hours: bool = True
    sla_enabled: bool = True
    sla: SlaPolicy = field(default_factory=SlaPolicy.default)
    assignment: AssignmentMode = AssignmentMode.MANUAL
    inactivity: Inactivity = field(default_factory=Inactivity)
    stale_nudge: StaleNudge = field(default_factory=StaleNudge)
    follow_up: FollowUp = field(default_factory=FollowUp)
    negative_csat: NegativeCsat = field(default_factory=NegativeCsat)
    alerts: Alerts = field(default_factory=Alerts)

    @classmethod
    def parse(cls, settings: dict[str, Any] | None, *, timezone: str = "UTC") -> Policies:
        """Read and check the policy keys of a workspace's settings (others are ignored)."""
        s = settings or {}
        hours = None
        if s.get("business_hours") is not None:
            raw = s["business_hours"]
            if isinstance(raw, dict) and "timezone" not in raw:
                raw = {**raw, "timezone": timezone}
            hours = BusinessHours.parse(raw, field="settings.business_hours")
        away = _obj(s.get("away_message"), "settings.away_message", {"enabled", "template"})
        sla_raw = _obj(s.get("sla"), "settings.sla", {"enabled", "first_response", "resolution", "business_hours"})
        sla = SlaPolicy.parse({k: v for k, v in sla_raw.items() if k != "enabled"}, field="settings.sla")
        mode = s.get("assignment_mode", AssignmentMode.MANUAL.value)
        ina_where = "settings.inactivity"
        ina = _obj(s.get("inactivity"), ina_where,
                   {"enabled", "after", "warn_before", "escalated_after", "activity", "warning"})
        activity = ina.get("activity", "any")
        if activity not in ("any", "customer"):
            raise ValidationFailed("must be 'any' or 'customer'", field=f"{ina_where}.activity")
        inactivity = Inactivity(
            enabled=_bool(ina, "enabled", False, ina_where),
            after=_duration(ina, "after", Inactivity.after, ina_where) or Inactivity.after,
            warn_before=_duration(ina, "warn_before", None, ina_where),
            escalated_after=_duration(ina, "escalated_after", None, ina_where),
            customer_only=activity == "customer",
            warning=_template(ina, "warning", DEFAULT_WARNING, WARNING_FIELDS, ina_where),
        )
        if inactivity.warn_before is not None and inactivity.warn_before >= inactivity.after:
            raise ValidationFailed("the warning must come before the close: warn_before is shorter than after",
                                   field=f"{ina_where}.warn_before")
        if inactivity.escalated_after is not None and inactivity.escalated_after < inactivity.after:
            raise ValidationFailed("escalated tickets get a longer timeout: escalated_after is at least after",
                                   field=f"{ina_where}.escalated_after")
        nudge = _obj(s.get("stale_nudge"), "settings.stale_nudge", {"enabled", "after", "message"})
        follow = _obj(s.get("follow_up"), "settings.follow_up", {"enabled", "after", "message"})
        negative = _obj(s.get("negative_csat"), "settings.negative_csat", {"follow_up", "message"})
        al_where = "settings.alerts"
        al = _obj(s.get("alerts"), al_where, {"queue_depth", "csat_drop_points", "csat_window", "csat_min_ratings",
                                              "escalation_spike", "escalation_window", "sla_breach"})
        drop = _count(al, "csat_drop_points", al_where)
        if drop is not None and drop > 100:
            raise ValidationFailed("a drop is at most 100 percentage points", field=f"{al_where}.csat_drop_points")
        return cls(
            business_hours=hours,
            away=AwayMessage(enabled=_bool(away, "enabled", False, "settings.away_message"),
                             template=_template(away, "template", DEFAULT_AWAY, AWAY_FIELDS,
                                                "settings.away_message")),
            pause_ai_outside_hours=_bool(s, "pause_ai_outside_hours", False, "settings"),
            allow_tickets_outside_hours=_bool(s, "allow_tickets_outside_hours", True, "settings"),
            sla_enabled=_bool(sla_raw, "enabled", True, "settings.sla"),
            sla=sla,
            assignment=parse_mode(mode, field="settings.assignment_mode"),
            inactivity=inactivity,
            stale_nudge=StaleNudge(
                enabled=_bool(nudge, "enabled", False, "settings.stale_nudge"),
                after=_duration(nudge, "after", StaleNudge.after, "settings.stale_nudge") or StaleNudge.after,
                # null: mark stale tickets (``ticket.stale``, the ticket_stale rule trigger) and post nothing.
                message=None if "message" in nudge and nudge["message"] is None else
                _template(nudge, "message", DEFAULT_NUDGE, PLAIN_FIELDS, "settings.stale_nudge")),
            follow_up=FollowUp(
                enabled=_bool(follow, "enabled", False, "settings.follow_up"),
                after=_duration(follow, "after", FollowUp.after, "settings.follow_up") or FollowUp.after,
                message=_template(follow, "message", DEFAULT_FOLLOW_UP, PLAIN_FIELDS, "settings.follow_up")),
            negative_csat=NegativeCsat(
                follow_up=_bool(negative, "follow_up", False, "settings.negative_csat"),
                message=_template(negative, "message", DEFAULT_NEGATIVE_CSAT, PLAIN_FIELDS,
                                  "settings.negative_csat")),
            alerts=Alerts(
                queue_depth=_count(al, "queue_depth", al_where),
                csat_drop_points=drop,
                csat_window=_duration(al, "csat_window", Alerts.csat_window, al_where) or Alerts.csat_window,
                csat_min_ratings=_count(al, "csat_min_ratings", al_where, default=5) or 5,
                escalation_spike=_count(al, "escalation_spike", al_where),
                escalation_window=_duration(al, "escalation_window", Alerts.escalation_window, al_where)
                or Alerts.escalation_window,
                sla_breach=_bool(al, "sla_breach", False, al_where),
            ),
        )

    # --- per ticket type --------------------------------------------------------------------------------------

    def sla_for(self, type_settings: dict[str, Any] | None) -> SlaPolicy:
        override = (type_settings or {}).get("sla")
        if not override:
            return self.sla
        return SlaPolicy.parse(override, field="settings.sla", base=self.sla)

    def assignment_for(self, type_settings: dict[str, Any] | None) -> AssignmentMode:
        mode = (type_settings or {}).get("assignment_mode")
        return self.assignment if mode is None else parse_mode(mode, field="settings.assignment_mode")

    def sla_hours(self, policy: SlaPolicy) -> BusinessHours | None:
        """The calendar SLA time is counted in: business hours when the policy says so and the
        workspace has them; otherwise every minute counts."""
        return self.business_hours if policy.business_hours else None

    def is_open(self, at: datetime) -> bool:
        return self.business_hours is None or self.business_hours.is_open(at)

    def ai_replies_paused(self, at: datetime) -> bool:
        """AI replies wait for the desk to open when the workspace asks for that."""
        return self.pause_ai_outside_hours and not self.is_open(at)

    def expected_response(self, policy: SlaPolicy, priority: Priority) -> str:
        return format_timestring(timedelta(minutes=policy.target("first_response", priority)))


def check_type_settings(settings: Any, workspace: Policies, *, field: str = "settings") -> dict[str, Any]:
    """Validate the policy keys a ticket type may carry; returns the settings unchanged."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise ValidationFailed("settings must be an object", field=field)
    if "sla" in settings and settings["sla"] is not None:
        SlaPolicy.parse(settings["sla"], field=f"{field}.sla", base=workspace.sla)
    if settings.get("assignment_mode") is not None:
        parse_mode(settings["assignment_mode"], field=f"{field}.assignment_mode")
    from frontdesk.domain.discord import TypeDiscordSettings

    TypeDiscordSettings.parse(settings.get("discord"), where=f"{field}.discord")
    return settings
