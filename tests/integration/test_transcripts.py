"""Transcript retention: the workspace's transcript_retention_days and the purge sweep."""

from __future__ import annotations

import pytest

from frontdesk.actions import lifecycle, members
from frontdesk.actions.transcripts import purge_expired_transcripts
from frontdesk.db.models import Transcript
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from tests.integration.helpers import assert_event, count, last_event


async def set_retention(world, days):
    await world.run("admin", members.update_workspace, settings={"transcript_retention_days": days})


async def close_one(world, who="alice"):
    t = await world.open(who)
    await world.run("staff", lifecycle.close_ticket, t.number, reason="resolved")
    return t


async def test_transcripts_are_purged_once_the_retention_has_passed(world, clock):
    await set_retention(world, 30)
    await close_one(world)
    clock.advance(days=29)
    assert await world.run("system", purge_expired_transcripts) == 0
    assert await count(world, Transcript) == 1
    clock.advance(days=1, seconds=1)
    assert await world.run("system", purge_expired_transcripts) == 1
    assert await count(world, Transcript) == 0
    purged = await last_event(world, "transcript.purged")
    assert_event(purged, world, "system")
    assert purged.payload["count"] == 1


async def test_only_expired_transcripts_are_purged(world, clock):
    await set_retention(world, 10)
    await close_one(world, "alice")
    clock.advance(days=5)
    await close_one(world, "bob")
    clock.advance(days=6)
    assert await world.run("admin", purge_expired_transcripts) == 1
    assert await count(world, Transcript) == 1


async def test_without_retention_transcripts_are_kept_for_ever(world, clock):
    await close_one(world)
    clock.advance(days=3650)
    assert await world.run("system", purge_expired_transcripts) == 0
    assert await count(world, Transcript) == 1


async def test_setting_a_retention_applies_to_transcripts_already_kept(world, clock):
    await close_one(world)
    clock.advance(days=40)
    await set_retention(world, 30)
    assert await world.run("system", purge_expired_transcripts) == 1


async def test_removing_the_retention_keeps_transcripts_already_due(world, clock):
    await set_retention(world, 30)
    await close_one(world)
    await set_retention(world, None)
    clock.advance(days=31)
    assert await world.run("system", purge_expired_transcripts) == 0
    assert await count(world, Transcript) == 1


async def test_a_purge_touches_only_its_own_workspace(world, clock):
    from frontdesk.actions import tickets

    await set_retention(world, 1)
    await close_one(world)
    async with world.desk.tx(world.system, 0) as tx:
        other = await members.create_workspace(tx, name="Other", settings={"transcript_retention_days": 1})
        customer = await members.add_member(tx, display_name="Zed")
        general = await members.create_ticket_type(tx, name="General")
        t = await tickets.open_ticket(tx, type_id=general.id, opener_id=customer.id)
        await lifecycle.close_ticket(tx, t.number, reason="resolved")
    clock.advance(days=2)
    assert await world.run("system", purge_expired_transcripts) == 1
    assert await count(world, Transcript, Transcript.workspace_id == other.id) == 1


async def test_only_admins_and_the_desk_purge_transcripts(world):
    for who in ("staff", "manager", "alice"):
        with pytest.raises(NotPermitted):
            await world.run(who, purge_expired_transcripts)


async def test_the_retention_must_be_a_whole_number_of_days(world):
    for bad in (0, -3, "30", True, 1.5, 10**12):
        with pytest.raises(ValidationFailed) as caught:
            await set_retention(world, bad)
        assert caught.value.field == "settings.transcript_retention_days"
