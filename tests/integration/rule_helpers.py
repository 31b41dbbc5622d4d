"""Shared steps for the automation tests: add a rule, read its runs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.rules import create_rule
from frontdesk.db.models import Message, RuleRun, Ticket
from tests.integration.helpers import fetch, ticket
from tests.support import World


async def add_rule(world: World, trigger: str, actions: list[dict[str, Any]], *, name: str | None = None,
                   conditions: dict[str, Any] | None = None, **extra: Any) -> int:
    body: dict[str, Any] = {"name": name or f"{trigger} rule", "trigger": trigger, "actions": actions, **extra}
    if conditions is not None:
        body["conditions"] = conditions
    rule = await world.run("owner", create_rule, body)
    return int(rule.id)


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    item = {"field": field, "op": op}
    if value is not None:
        item["value"] = value
    return item


async def runs(world: World, *, rule_id: int | None = None, number: int | None = None) -> list[RuleRun]:
    stmt = select(RuleRun).where(RuleRun.workspace_id == world.workspace_id)
    if rule_id is not None:
        stmt = stmt.where(RuleRun.rule_id == rule_id)
    if number is not None:
        stmt = stmt.where(RuleRun.ticket_id == (await ticket(world, number)).id)
    return await fetch(world, stmt.order_by(RuleRun.id))


async def bodies(world: World, number: int, *, author_kind: str | None = None,
                 visibility: str = "public") -> list[str]:
    from frontdesk.db.models import Conversation

    t = await ticket(world, number)
    if visibility == "internal":
        stmt = select(Message.body).where(Message.ticket_id == t.id)
    else:
        stmt = select(Message.body).join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.ticket_id == t.id)
    stmt = stmt.where(Message.visibility == visibility)
    if author_kind is not None:
        stmt = stmt.where(Message.author_kind == author_kind)
    return await fetch(world, stmt.order_by(Message.id))


async def fresh(world: World, number: int) -> Ticket:
    return await ticket(world, number)
