"""`frontdesk worker`: the sweeps alone, once or in a loop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _keep_logging_as_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process runs must not point the root logger at a stream the runner then closes."""
    monkeypatch.setattr("frontdesk.cli.configure_logging", lambda settings: None)


def last_json_line(output: str) -> dict:
    return json.loads([line for line in output.splitlines() if line.startswith("{\"")][-1])


def test_worker_once_runs_every_sweep_and_reports_what_each_did(cli_any_db):
    cli_any_db.ok("demo")
    first = last_json_line(cli_any_db.ok("worker", "--once").stdout)
    assert set(first) == {"sla_breaches", "inactivity", "stale_nudges", "follow_ups", "close_requests", "alerts",
                          "macro_suggestions", "outbox", "outbox_retention"}
    # The demo's older tickets have missed their SLA targets by now.
    assert first["sla_breaches"] > 0
    assert cli_any_db.scalar("SELECT count(*) FROM events WHERE type = 'sla.breach'") == first["sla_breaches"]
    second = last_json_line(cli_any_db.ok("worker", "--once").stdout)
    assert second["sla_breaches"] == 0


def test_worker_refuses_a_database_that_was_never_set_up(cli):
    result = cli("worker", "--once")
    assert result.exit_code != 0
    assert "frontdesk db upgrade" in result.output or "does not exist" in result.output


def test_worker_stops_cleanly_on_sigterm(tmp_path: Path):
    env = {**os.environ, "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
           "FRONTDESK_DATA_DIR": str(tmp_path / "data"), "FRONTDESK_CONFIG": str(tmp_path / "none.toml"),
           "FRONTDESK_LOG_FORMAT": "json"}
    subprocess.run([sys.executable, "-m", "frontdesk", "db", "upgrade"], env=env, check=True, capture_output=True)
    process = subprocess.Popen([sys.executable, "-m", "frontdesk", "worker"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        seen = ""
        while "worker started" not in seen and time.monotonic() < deadline:
            line = process.stdout.readline() if process.stdout else ""
            if not line and process.poll() is not None:
                break
            seen += line
        assert "worker started" in seen, seen
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert "worker stopped" in (process.stdout.read() if process.stdout else "")
    finally:
        if process.poll() is None:
            process.kill()
