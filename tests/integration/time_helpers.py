"""Shared steps for the time tests: configure the workspace, add an unlimited ticket type,
move the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from frontdesk.actions import members as m
from frontdesk.clock import ManualClock
from tests.support import World


def clock(world: World) -> ManualClock:
    assert isinstance(world.desk.clock, ManualClock)
    return world.desk.clock


def now(world: World) -> datetime:
    return world.desk.clock.now()


async def configure(world: World, **settings: Any) -> None:
    await world.run("owner", m.update_workspace, settings=settings)


async def add_type(world: World, name: str = "Ops", **values: Any) -> int:
    """A ticket type anyone may open as often as they like."""
    values.setdefault("open_limit_per_user", None)
    created = await world.run("owner", m.create_ticket_type, name=name, **values)
    world.type_ids[name] = created.id
    return created.id


async def open_ops(world: World, who: str = "bob", type_name: str = "Ops", **kwargs: Any) -> Any:
    kwargs.setdefault("description", "It does not work")
    return await world.open(who, type_name, **kwargs)
