"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from frontdesk.db.models import Base
from tests.conftest import DATABASES


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrations_match_the_models(db_url):
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.skipif("postgresql" not in DATABASES, reason="PostgreSQL left out by FRONTDESK_TEST_DATABASES")
async def test_sla_deadlines_are_vacuumed_as_a_queue_on_postgresql(pg_database):
    from frontdesk.db.models import SLA_DEADLINES_STORAGE

    engine = create_async_engine(pg_database)
    try:
        async with engine.connect() as connection:
            options = (await connection.exec_driver_sql(
                "SELECT reloptions FROM pg_class WHERE oid = 'sla_deadlines'::regclass")).scalar_one()
    finally:
        await engine.dispose()
    assert sorted(options) == sorted(f"{k}={v}" for k, v in SLA_DEADLINES_STORAGE)
