"""Quality flags: raised by escalations and low-confidence bot replies (as by negative
ratings), listed with filters for the staff of their tickets, resolved once."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import lifecycle, messages, tickets
from frontdesk.actions.base import get_ticket
from frontdesk.actions.quality import flag_low_confidence, resolve_flag
from frontdesk.db.models import QualityFlag
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, ValidationFailed
from frontdesk.queries.quality import list_flags
from tests.integration.helpers import events, fetch, table_counts
from tests.integration.time_helpers import clock


async def flags(world, number=None):
    stmt = select(QualityFlag).where(QualityFlag.workspace_id == world.workspace_id).order_by(QualityFlag.id)
    rows = await fetch(world, stmt)
    if number is None:
        return rows
    t = await world.run("system", get_ticket, number, for_update=False)
    return [r for r in rows if r.ticket_id == t.id]


async def low_confidence(world, number, *, score=0.2, threshold=0.5, message_id=None, who="system"):
    async with world.tx(who) as tx:
        t = await get_ticket(tx, number)
        return await flag_low_confidence(tx, t, score=score, threshold=threshold, message_id=message_id)


async def listed(world, who="staff", **filters):
    async with world.desk.read(world.actors[who], world.workspace_id) as tx:
        return await list_flags(tx, **filters)


# --- escalated ---------------------------------------------------------------------------------------------


async def test_an_escalation_raises_an_escalated_flag_once(world):
    t = await world.open("alice", description="help")
    await world.run("alice", tickets.escalate_ticket, t.number, reason="user_requested")
    [flag] = await flags(world, t.number)
    assert (flag.kind, flag.detail, flag.resolved_at) == ("escalated", {"reason": "user_requested"}, None)
    created = [e for e in await events(world, ev.QUALITY_FLAG_CREATED, number=t.number)]
    assert [e.payload["kind"] for e in created] == ["escalated"]
    await world.run("staff", tickets.escalate_ticket, t.number, reason="staff")
    assert len(await flags(world, t.number)) == 1
    assert len(await events(world, ev.TICKET_ESCALATED, number=t.number)) == 1


async def test_a_refused_escalation_raises_no_flag(world):
    t = await world.open("alice", description="help")
    before = await table_counts(world)
    with pytest.raises(ValidationFailed):
        await world.run("staff", tickets.escalate_ticket, t.number, reason="bored")
    assert await table_counts(world) == before


# --- low confidence ------------------------------------------------------------------------------------------


async def test_a_low_confidence_reply_raises_a_flag_with_its_scores(world):
    t = await world.open("alice", description="help")
    message = await world.run("system", messages.post_message, t.number, "Maybe try restarting?")
    flag = await low_confidence(world, t.number, score=0.31, threshold=0.6, message_id=message.id)
    assert flag is not None
    [stored] = await flags(world, t.number)
    assert (stored.kind, stored.detail) == ("low_confidence", {"score": 0.31, "threshold": 0.6,
                                                               "message_id": message.id})
    # One open flag per kind and ticket.
    assert await low_confidence(world, t.number, score=0.1) is None
    assert len(await flags(world, t.number)) == 1


async def test_a_score_at_the_threshold_is_not_low(world):
    t = await world.open("alice", description="help")
    assert await low_confidence(world, t.number, score=0.5, threshold=0.5) is None
    assert await flags(world, t.number) == []


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"score": math.nan}, "score"), ({"score": "low"}, "score"), ({"threshold": math.inf}, "threshold"),
    ({"message_id": 999_999}, "message_id"), ({"score": True}, "score"),
])
async def test_bad_low_confidence_input_is_refused_naming_the_field(world, kwargs, field):
    t = await world.open("alice", description="help")
    before = await table_counts(world)
    with pytest.raises(ValidationFailed) as caught:
        await low_confidence(world, t.number, **kwargs)
    assert caught.value.field == field
    assert await table_counts(world) == before


async def test_customers_may_not_flag_replies(world):
    t = await world.open("alice", description="help")
    with pytest.raises(NotPermitted):
        await low_confidence(world, t.number, who="alice")


# --- listing -------------------------------------------------------------------------------------------------


async def test_flags_are_listed_with_filters_and_link_to_their_ticket(world):
    a = await world.open("alice", description="first", title="Printer on fire")
    await world.run("staff", tickets.escalate_ticket, a.number)
    clock(world).advance(hours=1)
    b = await world.open("bob", description="second")
    await low_confidence(world, b.number)
    await world.run("staff", tickets.escalate_ticket, b.number)
    start = clock(world).now()
    items, _ = await listed(world)
    assert [(i["kind"], i["ticket_number"]) for i in items] == [
        ("escalated", b.number), ("low_confidence", b.number), ("escalated", a.number)]
    assert items[-1]["ticket"] == {"number": a.number, "path": f"/api/v1/tickets/{a.number}",
                                   "title": "Printer on fire", "status": "open"}
    assert [i["ticket_number"] for i in (await listed(world, kind="escalated"))[0]] == [b.number, a.number]
    assert [i["kind"] for i in (await listed(world, ticket_number=b.number))[0]] == ["escalated", "low_confidence"]
    assert [i["ticket_number"] for i in (await listed(world, created_since=start))[0]] == [b.number, b.number]
    assert [i["ticket_number"] for i in (await listed(world, created_until=start))[0]] == [a.number]
    with pytest.raises(ValidationFailed) as caught:
        await listed(world, created_since=start, created_until=start - timedelta(hours=1))
    assert caught.value.field == "created_until"


async def test_flags_are_listed_by_status_in_pages(world):
    for who in ("alice", "bob", "vip"):
        t = await world.open(who, "VIP" if who == "vip" else "General", description="x")
        await world.run("manager", tickets.escalate_ticket, t.number)
    first, cursor = await listed(world, "manager", limit=2)
    second, end = await listed(world, "manager", limit=2, cursor=cursor)
    assert len(first) == 2 and len(second) == 1 and end is None
    assert len({i["id"] for i in first + second}) == 3
    await world.run("manager", resolve_flag, first[0]["id"], note="seen")
    assert [i["id"] for i in (await listed(world, "manager", status="resolved"))[0]] == [first[0]["id"]]
    assert len((await listed(world, "manager", status="open"))[0]) == 2
    assert len((await listed(world, "manager", status="all"))[0]) == 3
    for bad, field in (({"status": "maybe"}, "status"), ({"kind": "weird"}, "kind"), ({"cursor": "zzz"}, "cursor")):
        with pytest.raises(ValidationFailed) as caught:
            await listed(world, "manager", **bad)
        assert caught.value.field == field


async def test_staff_see_the_flags_of_the_tickets_they_work(world):
    vip = await world.open("vip", "VIP", description="x")
    general = await world.open("alice", description="y")
    locked = await world.open("bob", description="z")
    for n in (vip.number, general.number, locked.number):
        await world.run("manager", tickets.escalate_ticket, n)
    await world.run("manager", tickets.lockdown_ticket, locked.number)
    assert {i["ticket_number"] for i in (await listed(world, "roled"))[0]} == {general.number}
    assert {i["ticket_number"] for i in (await listed(world, "staff"))[0]} == {vip.number, general.number}
    assert len((await listed(world, "manager"))[0]) == 3
    [vip_flag] = await flags(world, vip.number)
    with pytest.raises(NotFound):
        await world.run("roled", resolve_flag, vip_flag.id)
    async with world.desk.read(world.alice, world.workspace_id) as tx:
        with pytest.raises(NotPermitted):
            await list_flags(tx)


async def test_a_negative_rating_still_raises_its_flag(world):
    t = await world.open("alice", description="x")
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    await world.run("alice", lifecycle.rate_ticket, t.number, rating="not_helpful")
    assert [f.kind for f in await flags(world, t.number)] == ["negative_csat"]
