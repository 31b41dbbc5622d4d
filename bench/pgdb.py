"""Throwaway PostgreSQL databases for the benchmarks: made fresh before a run, dropped after.

A benchmark names its database by a DSN (``postgresql://user@host:port/name``); the server's
``postgres`` database is used to create and drop it.
"""

from __future__ import annotations

import asyncpg


def _admin_and_name(dsn: str) -> tuple[str, str]:
    base, name = dsn.rsplit("/", 1)
    return f"{base}/postgres", name


async def fresh_database(dsn: str) -> str:
    """Drop the database ``dsn`` names if it is there, create it empty, and return its URL
    for SQLAlchemy's asyncpg driver."""
    admin_dsn, name = _admin_and_name(dsn)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def drop_database(dsn: str) -> None:
    admin_dsn, name = _admin_and_name(dsn)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
