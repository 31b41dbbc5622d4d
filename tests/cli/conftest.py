"""The CLI run in-process with typer's CliRunner against a real database."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from frontdesk.cli import app
from frontdesk.config import normalise_database_url
from frontdesk.db.session import Database


@dataclass
class Cli:
    url: str
    runner: CliRunner

    def __call__(self, *args: str) -> Result:
        return self.runner.invoke(app, list(args))

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, f"frontdesk {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        return result

    def rows(self, sql: str, **params: Any) -> list[Any]:
        """Read the database the CLI wrote, through the same driver frontdesk uses."""

        async def read() -> list[Any]:
            db = Database(normalise_database_url(self.url))
            try:
                async with db.reading() as session:
                    return list((await session.execute(text(sql), params)).all())
            finally:
                await db.dispose()

        return asyncio.run(read())

    def scalar(self, sql: str, **params: Any) -> Any:
        return self.rows(sql, **params)[0][0]


def _cli(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", url)
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRONTDESK_CONFIG", str(tmp_path / "no-such-frontdesk.toml"))
    return Cli(url=url, runner=CliRunner())


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on a new SQLite file in the test's folder (not created until a command does)."""
    return _cli(f"sqlite:///{tmp_path / 'frontdesk.db'}", tmp_path, monkeypatch)


@pytest.fixture
def cli_any_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on a migrated, empty database: SQLite and PostgreSQL in turn."""
    return _cli(db_url, tmp_path, monkeypatch)
