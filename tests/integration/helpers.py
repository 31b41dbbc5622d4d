"""Reading rows back in integration tests: events, counts, tickets. Always through a fresh
read session, so what the tests see is what was committed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from frontdesk.db.models import Base, Event, Member, Ticket, TicketTag
from tests.support import World


async def fetch(world: World, stmt: Any) -> list[Any]:
    async with world.desk.db.reading() as session:
        return list((await session.execute(stmt)).scalars())


async def count(world: World, model: type[Base], *where: Any) -> int:
    async with world.desk.db.reading() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def table_counts(world: World) -> dict[str, int]:
    """Rows in every table: compare before and after to prove a failed action left nothing."""
    tables = Base.metadata.sorted_tables
    stmt = select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables))
    async with world.desk.db.reading() as session:
        row = (await session.execute(stmt)).one()
    return {t.name: int(n) for t, n in zip(tables, row, strict=True)}


async def events(world: World, type: str | None = None, *, number: int | None = None) -> list[Event]:
    stmt = select(Event).where(Event.workspace_id == world.workspace_id)
    if type is not None:
        stmt = stmt.where(Event.type == type)
    if number is not None:
        stmt = stmt.where(Event.ticket_id == (await ticket(world, number)).id)
    return await fetch(world, stmt.order_by(Event.id))


async def last_event(world: World, type: str, *, number: int | None = None) -> Event:
    found = await events(world, type, number=number)
    assert found, f"no {type} event was recorded"
    return found[-1]


async def ticket(world: World, number: int) -> Ticket:
    rows = await fetch(world, select(Ticket).where(Ticket.workspace_id == world.workspace_id,
                                                   Ticket.number == number))
    assert rows, f"ticket {number} does not exist"
    return rows[0]


async def tags(world: World, number: int) -> list[str]:
    t = await ticket(world, number)
    return await fetch(world, select(TicketTag.tag).where(TicketTag.ticket_id == t.id).order_by(TicketTag.tag))


async def add_customers(world: World, n: int, prefix: str = "cust") -> list[int]:
    """Add ``n`` customers (keys ``{prefix}0``...) to the world's actors and return their ids."""
    from frontdesk.actions.members import actor_for_member, add_member

    ids = []
    async with world.tx("system") as tx:
        for i in range(n):
            member = await add_member(tx, display_name=f"{prefix.title()} {i}", email=f"{prefix}{i}@example.com")
            ids.append(member.id)
            world.member_ids[f"{prefix}{i}"] = member.id
    async with world.tx("system") as tx:
        for i, member_id in enumerate(ids):
            world.actors[f"{prefix}{i}"] = await actor_for_member(tx, await tx.session.get(Member, member_id))
    return ids


def assert_event(event: Event, world: World, actor: str, *, number: int | None = None,
                 before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    """The event names its actor, its ticket, and (when given) the before/after values."""
    actor_id = world.member_ids.get(actor)
    assert event.actor_id == actor_id
    assert event.actor_kind == ("system" if actor == "system" else "member")
    if number is not None:
        assert event.ticket_id is not None
        assert event.payload["ticket_number"] == number
    if before is not None:
        assert event.payload["before"] == before
    if after is not None:
        assert event.payload["after"] == after
