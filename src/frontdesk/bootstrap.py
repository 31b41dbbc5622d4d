"""Wiring: settings -> database -> file store -> desk, plus migrations and logging.

Every entry point (``frontdesk serve``, the other CLI commands, each ``--workers`` process)
builds its desk here, so they all agree on how the database and files are set up.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.engine import make_url

from frontdesk.actions.base import Desk
from frontdesk.clock import Clock
from frontdesk.config import Settings, load_settings
from frontdesk.db.migrate import current_revision, head_revision, upgrade
from frontdesk.db.session import Database
from frontdesk.files import FileStore

log = logging.getLogger("frontdesk")


def build_database(settings: Settings) -> Database:
    return Database(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        pool_size=settings.db_pool_size,
    )


def build_desk(settings: Settings, *, clock: Clock | None = None) -> Desk:
    """A desk on the configured database and data directory. The engines connect lazily, on
    the event loop that first uses them; build a new desk for each loop. The bot's token, when
    configured, is given to the REST client the worker's Discord handlers use."""
    if settings.discord_token is not None:
        from frontdesk.discord import rest

        rest.configure(settings.discord_token.get_secret_value())
    return Desk(build_database(settings), clock=clock, files=FileStore(settings.data_dir / "files"))


def _prepare_sqlite_path(url: str) -> None:
    """SQLite creates the file but not its folder; create the folder so a path such as
    ``/var/lib/frontdesk/frontdesk.db`` works on a new machine."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def ensure_database(settings: Settings) -> str | None:
    """Bring the database up to the newest schema (a new file or database gets every table).
    Returns the revision it is at afterwards."""
    _prepare_sqlite_path(settings.database_url)
    upgrade(settings.database_url)
    return head_revision()


async def schema_status(settings: Settings) -> tuple[str | None, str | None]:
    """The database's current revision and the newest one this code knows."""
    return await current_revision(settings.database_url), head_revision()


def describe_database(url: str) -> str:
    """The database URL without its password, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def create_app_from_environment() -> Any:
    """App factory for ``uvicorn --factory`` (``frontdesk serve --workers N``): each worker
    process reads the same settings from the environment and builds its own desk and app."""
    from frontdesk.api.app import create_app

    settings = load_settings()
    configure_logging(settings)
    return create_app(build_desk(settings), max_attachment_bytes=settings.max_attachment_bytes,
                      run_worker=settings.worker)


# --- logging -------------------------------------------------------------------------------------------------

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is logged as a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, http_version, status = record.args
            entry.update(client=client, method=method, path=path, http_version=http_version, status=status)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_") and key != "color_message":
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal: time, level, logger, message, then ``key=value`` extras."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items()
                  if k not in _RECORD_ATTRS and not k.startswith("_") and k != "color_message"}
        if extras:
            line += "  " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


def use_json_logs(log_format: str, stream: IO[str]) -> bool:
    fmt = log_format.strip().lower()
    if fmt == "json":
        return True
    if fmt == "text":
        return False
    if fmt != "auto":
        raise ValueError("FRONTDESK_LOG_FORMAT must be json, text or auto")
    return not (hasattr(stream, "isatty") and stream.isatty())


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> None:
    """Send frontdesk's and uvicorn's logs to one handler on stdout, as JSON lines in
    production (``log_format=json``, or ``auto`` when stdout is not a terminal) and as
    readable lines in a terminal."""
    out = stream or sys.stdout
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"FRONTDESK_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {settings.log_level!r}")
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if use_json_logs(settings.log_format, out) else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's own loggers propagate to ours instead of printing in their own format.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)  # follow FRONTDESK_LOG_LEVEL, whatever set it before
