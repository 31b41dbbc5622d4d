"""What automation rules read and do: the facts of an event for conditions, and each rule
action carried out through the same action functions every entry point calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.actions.assignment import assign_by_mode
from frontdesk.actions.base import Tx, _load_type
from frontdesk.actions.templating import render_for_ticket
from frontdesk.actions.timers import load_policies
from frontdesk.db.models import Member, Message, Ticket, TicketTag, Workspace
from frontdesk.domain import events as ev
from frontdesk.domain.assignment import AssignmentMode
from frontdesk.domain.errors import TicketClosed, ValidationFailed
from frontdesk.domain.permissions import Capability
from frontdesk.domain.rule_fields import WEEKDAYS
from frontdesk.domain.rules import ActionType, RuleAction


async def message_text(tx: Tx, event: Any) -> str | None:
    """The text of the message an event names (``message_id`` in its payload)."""
    message_id = (event.payload or {}).get("message_id")
    if not isinstance(message_id, int):
        return None
    message = await tx.session.get(Message, message_id)
    return message.body if message is not None and message.workspace_id == tx.workspace_id else None


async def event_facts(tx: Tx, ticket: Ticket, event: Any, needed: set[str], *,
                      text: str | None = None, timezone: list[str] | None = None) -> dict[str, Any]:
    """Every field a condition in ``needed`` reads, for ``ticket`` as it is now and ``event``.
    Tags, the opener, the message and the clock are read only when some condition needs them;
    ``timezone`` is a one-slot cache of the workspace's zone."""
    payload = event.payload or {}
    facts: dict[str, Any] = {
        "ticket.status": ticket.status,
        "ticket.priority": ticket.priority,
        "ticket.team": ticket.team_id,
        "ticket.assignee": ticket.assignee_id,
        "ticket.claimer": ticket.claimer_id,
        "ticket.escalated": bool(ticket.escalated),
        "ticket.pinned": bool(ticket.pinned),
        "ticket.lockdown": bool(ticket.lockdown),
        "ticket.title": ticket.title,
        "ticket.number": ticket.number,
        "csat.rating": ticket.csat,
        "event": payload,
        "event.type": event.type,
    }
    for key, value in (ticket.custom_fields or {}).items():
        facts[f"ticket.custom.{key}"] = value
    if "ticket.type" in needed:
        ticket_type = await _load_type(tx, ticket.type_id) if ticket.type_id else None
        facts["ticket.type"] = (ticket.type_id, ticket_type.name if ticket_type else None) if ticket.type_id else None
    if "ticket.tags" in needed:
        facts["ticket.tags"] = list((await tx.session.execute(
            select(TicketTag.tag).where(TicketTag.ticket_id == ticket.id))).scalars())
    if any(name.startswith("customer.") for name in needed):
        opener = await tx.session.get(Member, ticket.opener_id) if ticket.opener_id else None
        email = opener.email if opener is not None else None
        facts.update({
            "customer.role": opener.role if opener is not None else None,
            "customer.email": email,
            "customer.email_domain": email.rsplit("@", 1)[-1].lower() if email and "@" in email else None,
            "customer.discord_role_ids": list(opener.discord_role_ids or []) if opener is not None else [],
        })
    if any(name.startswith("message.") for name in needed):
        facts["message.text"] = text if text is not None else await message_text(tx, event)
        facts["message.author_kind"] = payload.get("author_kind")
    if any(name.startswith("time.") for name in needed):
        policies = await load_policies(tx)
        facts["time.business_hours"] = policies.is_open(tx.now)
        local = await _local(tx, tx.now, timezone)
        facts["time.weekday"] = WEEKDAYS[local.weekday()]
        facts["time.hour"] = local.hour
    return facts


async def _local(tx: Tx, now: datetime, cache: list[str] | None) -> datetime:
    if cache:
        zone = cache[0]
    else:
        zone = await tx.session.scalar(select(Workspace.timezone).where(Workspace.id == tx.workspace_id)) or "UTC"
        if cache is not None:
            cache.append(zone)
    return now.astimezone(ZoneInfo(zone))


# --- the actions ------------------------------------------------------------------------------------------------


async def send_rule_macro(tx: Tx, number: int, shortcut: str, *, field: str) -> None:
    """Send a macro by its shortcut: ``actions.macros.send_macro(tx, number, shortcut)``, which
    renders it for the ticket, posts it (as the bot, the desk acting), counts the use and
    raises ``NotFound`` for an unknown shortcut. Until that module exists this says so."""
    try:
        from frontdesk.actions import macros  # type: ignore[attr-defined]

        send = macros.send_macro
    except (ImportError, AttributeError):
        raise ValidationFailed("macros are not available", field=field) from None
    await send(tx, number, shortcut)


async def send_rule_webhook(tx: Tx, endpoint_id: int, ticket: Ticket, *, rule_id: int, event: Any) -> None:
    """Queue a delivery to one webhook endpoint (``actions.webhooks``), when webhooks exist."""
    try:
        from frontdesk.actions import webhooks  # type: ignore[attr-defined]

        enqueue = webhooks.enqueue_rule_webhook
    except (ImportError, AttributeError):
        raise ValidationFailed("webhooks are not available", field="endpoint_id") from None
    await enqueue(tx, endpoint_id, ticket, rule_id=rule_id, event=event)


async def perform(tx: Tx, action: RuleAction, ticket: Ticket, *, rule_id: int, rule_name: str,
                  event: Any, where: str) -> None:
    """Carry out one rule action on ``ticket`` in ``tx`` (the desk acting for the rule)."""
    n, p = ticket.number, action.params
    match action.type:
        case ActionType.ASSIGN_ROUND_ROBIN | ActionType.ASSIGN_LOAD_BALANCED:
            locked = await tickets.ticket_for(tx, n, Capability.ASSIGN)
            if locked.status == "closed":
                raise TicketClosed(f"ticket {n} is closed; reopen it first")
            ticket_type = await _load_type(tx, locked.type_id) if locked.type_id else None
            if ticket_type is None:
                raise ValidationFailed("the ticket has no type to choose staff from", field=where)
            mode = (AssignmentMode.ROUND_ROBIN if action.type is ActionType.ASSIGN_ROUND_ROBIN
                    else AssignmentMode.LOAD_BALANCED)
            await assign_by_mode(tx, locked, ticket_type, mode, cause="rule")
        case ActionType.ASSIGN_TO:
            await tickets.assign_ticket(tx, n, p["member_id"])
        case ActionType.SET_PRIORITY:
            await tickets.set_priority(tx, n, p["priority"])
        case ActionType.SET_STATUS:
            await tickets.set_status(tx, n, p["status"])
        case ActionType.ADD_TAG:
            await tickets.add_tag(tx, n, p["tag"])
        case ActionType.REMOVE_TAG:
            await tickets.remove_tag(tx, n, p["tag"])
        case ActionType.SET_TEAM:
            await tickets.set_team(tx, n, p["team_id"])
        case ActionType.SET_FIELD:
            await tickets.set_custom_field(tx, n, p["key"], p["value"])
        case ActionType.ESCALATE:
            await tickets.escalate_ticket(tx, n, reason="rule", note=p.get("note"))
        case ActionType.SEND_MESSAGE:
            if "macro" in p:
                await send_rule_macro(tx, n, p["macro"], field=f"{where}.macro")
            else:
                await messages.post_message(tx, n, await render_for_ticket(tx, p["text"], ticket))
        case ActionType.ADD_NOTE:
            await messages.add_note(tx, n, await render_for_ticket(tx, p["text"], ticket))
        case ActionType.CLOSE:
            await lifecycle.close_ticket(tx, n, reason=p["reason"], note=p.get("note"), cause="rule")
        case ActionType.NOTIFY_MANAGERS:
            await tx.record(ev.ALERT_RAISED, ticket=ticket, kind="rule", rule_name=rule_name,
                            message=await render_for_ticket(tx, p["message"], ticket))
        case ActionType.SEND_WEBHOOK:
            await send_rule_webhook(tx, p["endpoint_id"], ticket, rule_id=rule_id, event=event)


def described(event: Any) -> dict[str, Any]:
    """An event written by a rule action, as a run's changes list it."""
    payload = {k: v for k, v in (event.payload or {}).items() if k not in ("ticket_number", "rule_id")}
    return {"type": event.type, **payload}
