"""Integration tests start every test from the same small workspace (``tests.support``'s world).

Building that world through the actions takes a few dozen transactions, and emptying
PostgreSQL with TRUNCATE costs a few hundred milliseconds per test; together they would
dominate the suite. So the world is built once per database and session, through the same
``build_world``, and each test starts from a copy of it:

- SQLite: a copy of a database file that already holds the world;
- PostgreSQL: every table emptied with DELETE and refilled from a snapshot schema in the same
  database, sequences set back to where they were (one round trip; commits do not wait for
  the disk, which means nothing for a test database).

Here ``db_url`` therefore yields a database that already holds the world, and ``world`` only
hands out the ids and actors that ``build_world`` produced.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from frontdesk.actions.base import Desk
from frontdesk.clock import ManualClock
from frontdesk.db.models import Base
from frontdesk.db.session import Database
from frontdesk.files import FileStore
from tests.conftest import PG_ADMIN_DSN
from tests.support import World, build_world

SNAPSHOT_SCHEMA = "world_snapshot"
TABLES = [t.name for t in Base.metadata.sorted_tables]


@dataclass(frozen=True)
class WorldData:
    workspace_id: int
    actors: dict[str, Any]
    member_ids: dict[str, int]
    type_ids: dict[str, int]
    team_ids: dict[str, int]


async def _build(url: str, files: Path) -> WorldData:
    db = Database(url)
    try:
        world = await build_world(Desk(db, clock=ManualClock(), files=FileStore(files)))
    finally:
        await db.dispose()
    return WorldData(world.workspace_id, world.actors, world.member_ids, world.type_ids, world.team_ids)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _pg(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(_plain(url), timeout=10)
    try:
        if sql.lstrip().lower().startswith("select"):
            return await conn.fetch(sql)
        await conn.execute(sql)
        return []
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorldData]:
    folder = tmp_path_factory.mktemp("sqlite-world")
    path = folder / "world.db"
    shutil.copyfile(sqlite_template, path)
    data = asyncio.run(_build(f"sqlite+aiosqlite:///{path}", folder / "files"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path, data


@pytest.fixture(scope="session")
def pg_world(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, WorldData]:
    """Build the world once, keep a copy of every table in a snapshot schema, and return the
    SQL that puts the database back to exactly that state."""
    name = pg_database.rsplit("/", 1)[1]
    asyncio.run(_pg(PG_ADMIN_DSN, f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    empty = "".join(f'DELETE FROM "{t}";' for t in reversed(TABLES))
    sequences = [r[0] for r in asyncio.run(_pg(
        pg_database, "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))]
    asyncio.run(_pg(pg_database, empty + "".join(f'ALTER SEQUENCE "{s}" RESTART;' for s in sequences)))
    data = asyncio.run(_build(pg_database, tmp_path_factory.mktemp("pg-world-files")))
    copies = "".join(f'CREATE TABLE {SNAPSHOT_SCHEMA}."{t}" AS SELECT * FROM public."{t}";' for t in TABLES)
    asyncio.run(_pg(pg_database, f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE;"
                                 f"CREATE SCHEMA {SNAPSHOT_SCHEMA};{copies}"))
    positions = asyncio.run(_pg(pg_database, "SELECT sequencename, last_value FROM pg_sequences "
                                             "WHERE schemaname = 'public'"))
    restarts = "".join(
        f"SELECT setval('public.\"{s}\"', {v}, true);" if v is not None else f'ALTER SEQUENCE "{s}" RESTART;'
        for s, v in positions)
    refill = "".join(f'INSERT INTO public."{t}" SELECT * FROM {SNAPSHOT_SCHEMA}."{t}";' for t in TABLES)
    return f"BEGIN;{empty}{refill}{restarts}COMMIT;", data


@pytest.fixture
def db_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        source, _ = request.getfixturevalue("sqlite_world")
        path = tmp_path / "frontdesk.db"
        shutil.copyfile(source, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    restore, _ = request.getfixturevalue("pg_world")
    asyncio.run(_pg(url, restore))
    return url


@pytest.fixture
def world(desk: Desk, db_kind: str, request: pytest.FixtureRequest) -> World:
    _, data = request.getfixturevalue("sqlite_world" if db_kind == "sqlite" else "pg_world")
    return World(desk=desk, workspace_id=data.workspace_id, actors=dict(data.actors),
                 member_ids=dict(data.member_ids), type_ids=dict(data.type_ids), team_ids=dict(data.team_ids))
