"""Hooks that run inside an action's transaction after its body (automation, the outbox)."""

from __future__ import annotations

import pytest

from frontdesk.actions import tickets
from frontdesk.actions.base import get_ticket
from frontdesk.actions.templating import render_for_ticket
from frontdesk.db.models import Event
from tests.integration.helpers import count


async def test_before_commit_hooks_see_every_event_and_can_append_in_the_same_transaction(world):
    seen: list[list[str]] = []

    async def first(tx):
        seen.append([e.type for e in tx.events])
        await tx.record("test.reacted")

    async def second(tx):
        seen.append([e.type for e in tx.events])

    world.desk.before_commit[:] = [first, second]
    t = await world.open("alice")
    assert seen[0][0] == "ticket.opened"
    assert seen == [seen[0], [*seen[0], "test.reacted"]]
    assert await count(world, Event, Event.type == "test.reacted") == 1
    assert t.number > 0


async def test_a_failing_before_commit_hook_rolls_the_action_back(world):
    before = await count(world, Event)

    async def refuse(tx):
        raise RuntimeError("hook failed")

    world.desk.before_commit[:] = [refuse]
    with pytest.raises(RuntimeError):
        await world.open("alice")
    assert await count(world, Event) == before


async def test_ticket_variables_fill_a_template(world):
    t = await world.open("alice", title="Refund for order 7")
    await world.run("staff", tickets.assign_ticket, t.number, world.member_ids["staff2"])
    async with world.tx("staff") as tx:
        row = await get_ticket(tx, t.number)
        text = await render_for_ticket(
            tx, "{user} ({user.mention}): #{ticket.number} {ticket.title} [{ticket.priority}/{ticket.status}] "
                "{ticket.type} -> {ticket.assignee}, from {staff} at {workspace}", row)
    assert text == (f"Alice Customer (<@600000000000000001>): #{t.number} Refund for order 7 [normal/open] "
                    "General -> Sky Staff, from Sam Staff at " + text.rsplit(" at ", 1)[1])
    assert text.rsplit(" at ", 1)[1]
