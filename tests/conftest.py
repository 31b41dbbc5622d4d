"""Shared fixtures: real databases (an SQLite file and a PostgreSQL server), a desk with a
clock tests move by hand, and a small workspace with people in every role.

Tests that take the ``db_url`` fixture (directly or through ``desk``/``world``) run once on
SQLite and once on PostgreSQL. ``FRONTDESK_TEST_DATABASES=sqlite`` limits a run to SQLite;
by default both are required, and an unreachable PostgreSQL is an error, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from frontdesk.clock import ManualClock
from frontdesk.db.migrate import upgrade
from frontdesk.db.models import Base
from frontdesk.db.session import Database
from frontdesk.files import FileStore

# A full collection at every test's bot or app start would cost minutes (runtime.settle_heap);
# its own tests switch it on.
os.environ["FRONTDESK_GC_FREEZE"] = "false"
PG_ADMIN_DSN = os.environ.get("FRONTDESK_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASES = [d.strip() for d in os.environ.get("FRONTDESK_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]
if not DATABASES or set(DATABASES) - {"sqlite", "postgresql"}:
    # An empty or misspelt list would skip every database test and still pass.
    raise pytest.UsageError("FRONTDESK_TEST_DATABASES is a comma-separated list of sqlite and postgresql, "
                            f"not {os.environ.get('FRONTDESK_TEST_DATABASES')!r}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        metafunc.parametrize("db_kind", DATABASES, scope="session")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once, dropped at the end."""
    name = f"frontdesk_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({exc}). Start it, or run the suite on SQLite only "
            "with FRONTDESK_TEST_DATABASES=sqlite.",
            pytrace=False,
        )
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    upgrade(url)
    yield url
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


TABLES = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)


@pytest.fixture
def db_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if db_kind == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "frontdesk.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    asyncio.run(_pg_admin_url(url, f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    return url


async def _pg_admin_url(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1), timeout=10)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    yield db
    await db.dispose()


@pytest.fixture
def files(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "files")


@pytest.fixture
def desk(database: Database, clock: ManualClock, files: FileStore):  # type: ignore[no-untyped-def]
    from frontdesk.actions.base import Desk

    return Desk(database, clock=clock, files=files)


@pytest.fixture
async def world(desk):  # type: ignore[no-untyped-def]
    from tests.support import build_world

    return await build_world(desk)


@pytest.fixture
def webhook_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings for tests that deliver webhooks to a receiver on loopback: a secret key, a
    data folder of the test's own, http and private addresses allowed, and a delivery
    timeout loose enough for a loaded machine (the receiver shares the test's event loop)."""
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", "a key for the webhook tests, long enough")
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("FRONTDESK_WEBHOOK_TIMEOUT_SECONDS", "10")


@pytest.fixture
async def receiver() -> AsyncIterator[Any]:
    """A webhook receiver on loopback (``tests.webhook_receiver``), closed after the test."""
    from tests.webhook_receiver import Receiver

    async with Receiver() as running:
        yield running
