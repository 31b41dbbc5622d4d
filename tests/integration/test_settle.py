"""An action's answer shows what automation did in the same transaction: the hooks settle
before the answer is built, and run again at commit only over what came after."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions import messages, tickets
from frontdesk.actions import webhooks as wa
from frontdesk.db.models import WebhookDelivery
from frontdesk.domain import events as ev
from frontdesk.queries.tickets import present_ticket
from tests.integration.helpers import events, fetch
from tests.integration.rule_helpers import add_rule
from tests.integration.time_helpers import add_type


async def _urgent_on_open(world):  # type: ignore[no-untyped-def]
    await add_type(world)
    await add_rule(world, "ticket_opened", [{"type": "set_priority", "priority": "urgent"}])


async def test_a_presented_ticket_shows_what_rules_changed_in_the_same_transaction(world):
    await _urgent_on_open(world)
    async with world.tx("alice") as tx:
        opened = await tickets.open_ticket(tx, type_id=world.type_ids["Ops"], title="Printer on fire")
        shown = await present_ticket(tx, opened)
    assert shown["priority"] == "urgent"
    assert len(await events(world, ev.TICKET_PRIORITY_CHANGED, number=opened.number)) == 1


async def test_hooks_settled_early_do_not_act_twice_on_the_same_events_at_commit(world):
    await _urgent_on_open(world)
    await world.run("manager", wa.create_webhook, name="all", url="https://93.184.215.14/hook", events=["*"])
    async with world.tx("alice") as tx:
        opened = await tickets.open_ticket(tx, type_id=world.type_ids["Ops"], title="Twice?")
        await present_ticket(tx, opened)
        await tx.settle()
        # Recorded after the early settle: the hooks at commit see this one alone.
        await messages.post_message(tx, opened.number, "One more thing")
    recorded = await events(world, number=opened.number)
    assert len([e for e in recorded if e.type == ev.TICKET_PRIORITY_CHANGED]) == 1
    assert ev.MESSAGE_CREATED in {e.type for e in recorded}
    delivered = await fetch(world, select(WebhookDelivery.event_id).where(
        WebhookDelivery.event_id.in_([e.id for e in recorded])))
    # Every event of the ticket went to the endpoint exactly once.
    assert sorted(delivered) == sorted(e.id for e in recorded)
