"""actions.guilds.workspace_for_guild on its own: who may call it and what it refuses."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from frontdesk.actions.base import Desk
from frontdesk.actions.guilds import workspace_for_guild
from frontdesk.db.models import Workspace
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.domain.permissions import Actor, Role


async def _count(desk: Desk) -> int:
    async with desk.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Workspace)) or 0


@pytest.mark.parametrize("guild_id", ["abc", "", "1" * 21, "12 34"])
async def test_a_guild_id_that_is_not_a_discord_id_is_refused(desk: Desk, guild_id: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        async with desk.tx(Actor.system(), 0) as tx:
            await workspace_for_guild(tx, guild_id=guild_id, name="Server")
    assert failure.value.field == "guild_id"
    assert await _count(desk) == 0


async def test_only_the_desk_or_an_admin_creates_a_workspace_for_a_server(desk: Desk) -> None:
    staff = Actor(member_id=1, role=Role.STAFF)
    with pytest.raises(NotPermitted):
        async with desk.tx(staff, 0) as tx:
            await workspace_for_guild(tx, guild_id="123456789012345678", name="Server")
    assert await _count(desk) == 0


async def test_a_blank_server_name_gets_a_placeholder_and_a_long_one_is_cut(desk: Desk) -> None:
    async with desk.tx(Actor.system(), 0) as tx:
        blank, created = await workspace_for_guild(tx, guild_id="111111111111111111", name="   ")
        long, _ = await workspace_for_guild(tx, guild_id="222222222222222222", name="x" * 150)
        again, created_again = await workspace_for_guild(tx, guild_id="111111111111111111", name="Renamed")
    assert created and not created_again and again.id == blank.id
    assert blank.name == "Discord server 111111111111111111"
    assert long.name == "x" * 100
