"""The demo workspace: a cloud host's support desk with three weeks of history.

Everything is built through the same actions the API and the bot call, so the demo has the
events, transcripts and timestamps real use would leave. A hand-driven clock walks through a
single timeline (every story's steps merged in time order), so ticket numbers, messages and
events are chronological and spread over the past ~3 weeks; staff act in office hours. A
seeded random number generator picks the gaps between steps: the content is the same on every
run. The stories themselves are in ``frontdesk.demo_data``.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select

from frontdesk.actions import conversations as conv
from frontdesk.actions import lifecycle, macros, merge, messages, rules, tickets
from frontdesk.actions import members as m
from frontdesk.actions.base import Desk, Tx
from frontdesk.clock import ManualClock
from frontdesk.db.models import Member, Workspace
from frontdesk.demo_data import (
    ADMIN_EMAIL,
    CUSTOMERS,
    SEED,
    STAFF,
    STORIES,
    TIMEZONE,
    TYPES,
    VIP_ROLE,
    WORKSPACE_NAME,
    Story,
)
from frontdesk.domain.permissions import Actor


@dataclass
class DemoSummary:
    workspace_id: int
    workspace_name: str
    admin_member_id: int
    tickets: int


def _file(name: str) -> messages.NewAttachment:
    lines = [f"09:{d:02d}:11Z GET /v2/snapshots?filter=tag:nightly 500 {d * 9_000 + 31} ms req_{d:04x}"
             for d in range(1, 9)]
    return messages.NewAttachment(filename=name, content_type="text/plain", data="\n".join(lines).encode())


# Canned replies staff of this desk would keep, and a rule that tags outage reports as they
# come in (the stories then show it at work).
DEMO_MACROS: list[dict[str, Any]] = [
    {"shortcut": "refund-policy", "category": "Billing",
     "content": "Hi {user}, refunds go back to the card you paid with, within 5 to 10 business days. "
                "I've noted it on ticket #{ticket.number}. - {staff}"},
    {"shortcut": "status-page", "category": "Outages",
     "content": "Thanks {user}. We're tracking this on status.nimbus.example and will update this ticket "
                "as soon as we know more."},
    {"shortcut": "need-logs", "category": "Technical",
     "content": "Could you send us the last 50 lines of your instance log and the time it happened "
                "(with your timezone)? That lets us find it on our side."},
]
DEMO_RULES: list[dict[str, Any]] = [
    {"name": "Tag outage reports", "trigger": "keyword", "keywords": ["been down", "is down", "outage", "unreachable"],
     "actions": [{"type": "add_tag", "tag": "outage-report"}, {"type": "set_priority", "priority": "high"}]},
]


# Time policies a real desk like this one would set: the hours staff work, an away message,
# SLA alerts, a generous inactivity close with a warning, nudges and follow-ups.
DEMO_POLICIES: dict[str, Any] = {
    "business_hours": {"weekly": {day: ["08:00-19:00"] for day in ("mon", "tue", "wed", "thu", "fri")}},
    "away_message": {"enabled": True},
    "inactivity": {"enabled": True, "after": "30d", "warn_before": "3d", "escalated_after": "45d"},
    "stale_nudge": {"enabled": True, "after": "72h"},
    "follow_up": {"enabled": True, "after": "2d"},
    "alerts": {"queue_depth": 10, "sla_breach": True, "escalation_spike": 3, "escalation_window": "2h",
               "csat_drop_points": 15},
}


class DemoBuilder:
    def __init__(self, desk: Desk) -> None:
        self.now = desk.clock.now()
        self.clock = ManualClock(self.now - timedelta(days=22))
        self.desk = Desk(desk.db, clock=self.clock, files=desk.files)
        self.rng = random.Random(SEED)
        self.ids: dict[str, int] = {}
        self.plans: dict[str, str] = {}
        self.actors: dict[str, Actor] = {"system": Actor.system()}
        self.type_ids: dict[str, int] = {}
        self.numbers: dict[str, int] = {}
        self.conversations: dict[str, int] = {}
        self.handlers: dict[str, str] = {}
        self.workspace_id = 0

    async def build(self) -> DemoSummary:
        await self._setup()
        for when, _, _, story, step in self._timeline():
            self.clock.set(when)
            await self._step(story, step)
        return DemoSummary(self.workspace_id, WORKSPACE_NAME, self.ids["ada"], len(self.numbers))

    async def _setup(self) -> None:
        async with self.desk.tx(Actor.system(), 0) as tx:
            workspace = await m.create_workspace(tx, name=WORKSPACE_NAME, timezone=TIMEZONE,
                                                 settings={"demo": True, "transcript_retention_days": 365,
                                                           **DEMO_POLICIES})
            self.workspace_id = workspace.id
            for key, name, role in STAFF:
                member = await m.add_member(tx, display_name=name, role=role, email=f"{key}@nimbus.example")
                self.ids[key] = member.id
            for key, name, email, discord_id, plan, vip in CUSTOMERS:
                member = await m.add_member(tx, display_name=name, email=email, discord_user_id=discord_id,
                                            discord_role_ids=[VIP_ROLE] if vip else None)
                self.ids[key], self.plans[key] = member.id, plan
            team = await m.create_team(tx, name="Tier 2", permissions=["tickets.edit"],
                                       member_ids=[self.ids["tom"], self.ids["lena"]])
            for key, spec in TYPES.items():
                values = {k: v for k, v in spec.items() if k not in ("channel", "team")}
                ticket_type = await m.create_ticket_type(tx, **values, team_id=team.id if "team" in spec else None)
                self.type_ids[key] = ticket_type.id
            await m.define_custom_field(tx, key="plan", label="Plan", field_type="select",
                                        options=["free", "starter", "pro", "enterprise"])
            await m.define_custom_field(tx, key="vendor_ticket_id", label="Engineering ticket", field_type="text")
            for key, member_id in self.ids.items():
                self.actors[key] = await m.actor_for_member(tx, await tx.session.get(Member, member_id))
            for macro in DEMO_MACROS:
                await macros.create_macro(tx, **macro)
            for rule in DEMO_RULES:
                await rules.create_rule(tx, rule)

    def _timeline(self) -> list[tuple[datetime, int, int, Story, str]]:
        """Every story's steps with a time each, merged into one chronological list."""
        timeline = []
        latest = self.now - timedelta(minutes=3)
        for index, story in enumerate(STORIES):
            t = self.now - timedelta(days=story.days_ago, minutes=self.rng.uniform(0, 90))
            timed: list[tuple[datetime, str]] = []
            for step in story.steps:
                if step.startswith("+"):
                    unit = {"d": timedelta(days=1), "h": timedelta(hours=1)}[step[-1]]
                    t += unit * float(step[1:-1])
                    continue
                if timed:
                    low, high = {">": (15, 240), "@": (6, 150), "#": (2, 25)}.get(step[0], (1, 15))
                    t += timedelta(minutes=self.rng.uniform(low, high))
                if step[0] in "@#!" and "@opener" not in step and not step.startswith("!rate"):
                    t = self._office_hours(t)
                timed.append((t, step))
            shift = max(timedelta(0), timed[-1][0] - latest)
            timeline += [(when - shift, index, i, story, step) for i, (when, step) in enumerate(timed)]
        return sorted(timeline, key=lambda item: item[:3])

    def _office_hours(self, t: datetime) -> datetime:
        """Staff work 08:00-19:00 Amsterdam time; a step outside waits for the next morning."""
        local = t.astimezone(ZoneInfo(TIMEZONE))
        if 8 <= local.hour < 19:
            return t
        day = local.date() + timedelta(days=1 if local.hour >= 19 else 0)
        start = datetime.combine(day, time(8), ZoneInfo(TIMEZONE)) + timedelta(minutes=self.rng.uniform(0, 45))
        return start.astimezone(UTC)

    async def _step(self, story: Story, step: str) -> None:
        key = story.key
        if step[0] == ">":
            await self._customer_writes(story, step[1:].strip())
        elif step[0] in "@#":
            who, _, text = step[1:].partition(" ")
            self.handlers.setdefault(key, who)
            async with self.desk.tx(self.actors[who], self.workspace_id) as tx:
                if key in self.numbers:
                    if step[0] == "#":
                        await messages.add_note(tx, self.numbers[key], text)
                    else:
                        await messages.post_message(tx, self.numbers[key], text)
                else:
                    await conv.post_in_conversation(tx, self.conversations[key], text, internal=step[0] == "#")
        else:
            verb, _, who = step[1:].partition(" ")[0].partition("@")
            await self._action(story, verb, who, step[1:].partition(" ")[2])

    async def _customer_writes(self, story: Story, text: str) -> None:
        text, _, filename = text.partition(" +file:")
        attachments = [_file(filename)] if filename else None
        async with self.desk.tx(self.actors[story.opener], self.workspace_id) as tx:
            if story.key in self.numbers:
                await messages.post_message(tx, self.numbers[story.key], text, attachments=attachments)
            elif story.key in self.conversations:
                await conv.post_in_conversation(tx, self.conversations[story.key], text)
            elif story.via:
                started = await conv.start_conversation(tx, channel=story.via, subject=story.title, body=text)
                self.conversations[story.key] = started.id
            else:
                ticket = await tickets.open_ticket(
                    tx, type_id=self.type_ids[story.type], answers={"subject": story.title, "description": text,
                                                                    **story.answers},
                    priority=story.priority, anonymous=story.anonymous, channel=TYPES[story.type]["channel"],
                    custom_fields={"plan": self.plans[story.opener]})
                self.numbers[story.key] = ticket.number

    async def _action(self, story: Story, verb: str, who: str, arg: str) -> None:
        key = story.key
        defaults = {"assign": "marco", "lockdown": "marco", "rate": "opener"}
        who = who or defaults.get(verb) or self.handlers.get(key, "priya")
        who = story.opener if who == "opener" else who
        if verb == "claim":
            self.handlers.setdefault(key, who)
        async with self.desk.tx(self.actors[who], self.workspace_id) as tx:
            n, (first, _, rest) = self.numbers.get(key, 0), arg.partition(" ")
            if verb == "convert":
                ticket = await conv.convert_to_ticket(tx, self.conversations[key], title=story.title,
                                                      type_id=self.type_ids[story.type], priority=story.priority)
                self.numbers[key] = ticket.number
                return
            calls: dict[str, Callable[[], Awaitable[Any]]] = {
                "claim": lambda: tickets.claim_ticket(tx, n),
                "assign": lambda: tickets.assign_ticket(tx, n, self.ids[arg]),
                "status": lambda: tickets.set_status(tx, n, arg),
                "tag": lambda: _add_tags(tx, n, arg.split()),
                "field": lambda: tickets.set_custom_field(tx, n, first, rest),
                "escalate": lambda: tickets.escalate_ticket(tx, n, reason=arg or "staff"),
                "pin": lambda: tickets.pin_ticket(tx, n),
                "lockdown": lambda: tickets.lockdown_ticket(tx, n),
                "close": lambda: lifecycle.close_ticket(tx, n, reason=first, note=rest or None),
                "rate": lambda: lifecycle.rate_ticket(tx, n, first, comment=rest or None),
                "merge": lambda: merge.merge_tickets(tx, n, self.numbers[arg]),
                "participant": lambda: tickets.add_participant(tx, n, self.ids[arg], kind="participant"),
                "contact": lambda: tickets.add_participant(tx, n, self.ids[arg], kind="contact"),
                "rename": lambda: tickets.rename_ticket(tx, n, arg),
                "move": lambda: tickets.move_ticket(tx, n, self.type_ids[arg]),
                "solve": lambda: conv.solve_conversation(tx, self.conversations[key]),
            }
            await calls[verb]()


async def _add_tags(tx: Tx, number: int, tags: list[str]) -> None:
    for tag in tags:
        await tickets.add_tag(tx, number, tag)


async def find_demo(desk: Desk) -> tuple[Workspace, Member | None] | None:
    """The demo workspace and its admin, if the database has one."""
    async with desk.db.reading() as session:
        for workspace in (await session.execute(select(Workspace).order_by(Workspace.id))).scalars():
            if (workspace.settings or {}).get("demo"):
                admin = (await session.execute(select(Member).where(
                    Member.workspace_id == workspace.id, Member.email == ADMIN_EMAIL))).scalar_one_or_none()
                return workspace, admin
    return None


async def remove_demo(desk: Desk, workspace_id: int) -> None:
    """Delete the demo workspace and, by cascade, everything in it (``frontdesk demo --reset``).

    There is no action for deleting a workspace yet; this is the one place that removes rows
    directly, and it only ever touches a workspace marked as the demo."""
    async with desk.db.transaction() as session:
        workspace = await session.get(Workspace, workspace_id)
        if workspace is None or not (workspace.settings or {}).get("demo"):
            raise ValueError(f"workspace {workspace_id} is not the demo workspace")
        await session.execute(delete(Workspace).where(Workspace.id == workspace_id))


async def build_demo(desk: Desk) -> DemoSummary:
    """Create the demo workspace with its people, types and three weeks of tickets."""
    return await DemoBuilder(desk).build()
