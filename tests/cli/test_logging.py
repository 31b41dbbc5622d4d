"""Structured logs: JSON lines in production, readable lines in a terminal."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from frontdesk.bootstrap import configure_logging, use_json_logs
from frontdesk.config import Settings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_format_writes_one_object_per_line_with_extra_fields():
    out = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=out)

    logging.getLogger("frontdesk.test").info("ticket %s opened", 42, extra={"workspace_id": 7})
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200)

    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "ticket 42 opened" and first["workspace_id"] == 7 and first["level"] == "info"
    assert first["logger"] == "frontdesk.test" and first["ts"].endswith("+00:00")
    assert (second["method"], second["path"], second["status"]) == ("GET", "/healthz", 200)


def test_text_format_is_a_readable_line():
    out = io.StringIO()
    configure_logging(Settings(log_format="text"), stream=out)

    logging.getLogger("frontdesk.test").warning("queue is deep", extra={"depth": 12})

    line = out.getvalue().strip()
    assert "WARNING" in line and "frontdesk.test: queue is deep" in line and line.endswith("depth=12")


def test_auto_picks_text_on_a_terminal_and_json_elsewhere():
    assert use_json_logs("auto", io.StringIO()) is True
    assert use_json_logs("auto", _Terminal()) is False
    with pytest.raises(ValueError):
        use_json_logs("yaml", io.StringIO())
