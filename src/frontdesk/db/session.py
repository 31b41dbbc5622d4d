"""Engines and transactions.

``Database.transaction()`` is the unit of work: it yields a session inside one write
transaction and commits when the block ends without an error, or rolls back.

On SQLite there is one writer at a time. Write transactions start with ``BEGIN IMMEDIATE``
so that concurrent writers queue on the busy timeout instead of failing half-way with
"database is locked"; reads use a second engine whose transactions start deferred, so
they run beside a writer in WAL mode. On PostgreSQL both are the same engine and row locks
coordinate writers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import InsertmanyvaluesSentinelOpts


def _sqlite_engine(url: str, *, immediate: bool, busy_timeout_ms: int) -> AsyncEngine:
    engine = create_async_engine(url, poolclass=NullPool if ":memory:" in url else None)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to issue.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL takes a lock, and without a timeout a new
        # connection fails at once ("database is locked") while another process writes.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    # Let a flush insert many rows of a table in one INSERT ... RETURNING (as on PostgreSQL)
    # instead of one statement per row. SQLAlchemy needs to match returned ids to rows; it
    # does so by sorting the ids, which is right here: every table's id is SQLite's rowid,
    # which one statement hands out in ascending order, row after row of its VALUES.
    engine.sync_engine.dialect.insertmanyvalues_implicit_sentinel = InsertmanyvaluesSentinelOpts.AUTOINCREMENT
    return engine


class Database:
    """Owns the engines of one database and hands out units of work."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 20) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self._sqlite_writer = asyncio.Lock()
        if self.dialect == "sqlite":
            self.write_engine = _sqlite_engine(url, immediate=True, busy_timeout_ms=busy_timeout_ms)
            self.read_engine = _sqlite_engine(url, immediate=False, busy_timeout_ms=busy_timeout_ms)
        else:
            self.write_engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
            )
            self.read_engine = self.write_engine
            # A small pool of its own for counters taken outside the caller's transaction, so
            # a request holding a connection never waits on the pool it holds one from.
            self.counter_engine = create_async_engine(
                url, pool_size=4, max_overflow=4, isolation_level="AUTOCOMMIT"
            )
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False, autoflush=True)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False, autoflush=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def insert(self, table: Any) -> Any:
        """This database's own INSERT construct, which has ``on_conflict_do_nothing`` and
        ``on_conflict_do_update`` (both databases spell them the same)."""
        if self.is_sqlite:
            return sqlite_insert(table)
        return pg_insert(table)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: commit on success, roll back on any exception."""
        if self.is_sqlite:
            # SQLite has one writer. Writers of this process wait their turn here, in order,
            # instead of polling the file lock with SQLite's growing busy-timeout sleeps;
            # other processes still queue on the busy timeout.
            async with self._sqlite_writer, self._write_sessions() as session, session.begin():
                yield session
            return
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only session; never commits anything."""
        async with self._read_sessions() as session:
            yield session

    async def take_counter(self, statement: Any) -> Any:
        """Run one counter-taking statement in a transaction of its own, committed at once,
        and return its scalar. PostgreSQL only: on SQLite the caller's transaction already
        holds the only write lock, so counters are taken inside it."""
        async with self.counter_engine.connect() as conn:
            return (await conn.execute(statement)).scalar_one()

    async def dispose(self) -> None:
        if not self.is_sqlite:
            await self.counter_engine.dispose()
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
