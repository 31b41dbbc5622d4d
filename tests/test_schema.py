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
@pytest.mark.parametrize("table", ["sla_deadlines", "outbox"])
async def test_queue_tables_are_vacuumed_as_queues_on_postgresql(pg_database, table):
    from frontdesk.db.models import QUEUE_STORAGE

    engine = create_async_engine(pg_database)
    try:
        async with engine.connect() as connection:
            options = (await connection.exec_driver_sql(
                f"SELECT reloptions FROM pg_class WHERE oid = '{table}'::regclass")).scalar_one()
    finally:
        await engine.dispose()
    assert sorted(options) == sorted(f"{k}={v}" for k, v in QUEUE_STORAGE)


async def test_rows_given_up_on_before_0009_get_a_finishing_time(tmp_path):
    from frontdesk.db.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0008")
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:  # (foreign keys are not enforced on this bare connection)
            for key, status, next_at in (("gave-up", "dead", "'2026-11-02 10:00:00.000000'"),
                                         ("waiting", "pending", "'2026-11-03 10:00:00.000000'")):
                await connection.exec_driver_sql(
                    "INSERT INTO outbox (workspace_id, kind, key, payload, status, attempts, next_attempt_at, "
                    f"created_at) VALUES (1, 'test', '{key}', '{{}}', '{status}', 3, {next_at}, "
                    "'2026-11-01 10:00:00.000000')")
        upgrade(url, "0009")
        async with engine.connect() as connection:
            rows = dict((await connection.exec_driver_sql("SELECT key, done_at FROM outbox")).all())
    finally:
        await engine.dispose()
    assert rows["gave-up"] is not None and str(rows["gave-up"]).startswith("2026-11-02")
    assert rows["waiting"] is None
