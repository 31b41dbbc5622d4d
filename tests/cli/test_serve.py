"""`frontdesk serve --demo` end to end: a real process on a loopback port."""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

STARTUP_SECONDS = 120


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Stand-ins for uvicorn.run and logging setup: what serve would have run, recorded."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    monkeypatch.setattr("frontdesk.cli.configure_logging", lambda settings: None)
    monkeypatch.setattr("frontdesk.bootstrap.configure_logging", lambda settings: None)
    # `serve --no-worker` passes the choice to its worker processes through the environment.
    monkeypatch.setenv("FRONTDESK_WORKER", "true")
    return calls


def test_serve_demo_builds_the_demo_once_and_prints_a_fresh_token_each_start(cli, served):
    first = cli.ok("serve", "--demo", "--port", "8123")
    second = cli.ok("serve", "--demo", "--port", "8123")

    tokens = [re.search(r"API token for Ada \(admin\): (fd_\S+)", r.stdout).group(1) for r in (first, second)]
    assert "Demo workspace 1" in first.stdout and "Demo workspace" not in second.stdout
    assert "http://127.0.0.1:8123" in first.stdout
    assert cli.scalar("SELECT count(*) FROM workspaces") == 1
    assert tokens[0] != tokens[1]
    assert {r[0] for r in cli.rows("SELECT token_hash FROM api_tokens")} == {
        hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert [(c["host"], c["port"]) for c in served] == [("127.0.0.1", 8123)] * 2


def test_serve_without_demo_only_migrates(cli, served):
    result = cli.ok("serve")

    assert "API token" not in result.stdout
    assert cli.scalar("SELECT count(*) FROM workspaces") == 0
    assert "up to date" in cli.ok("db", "current").stdout


def test_serve_runs_the_worker_in_process_unless_told_not_to(cli, served):
    cli.ok("serve")
    cli.ok("serve", "--no-worker")
    assert [call["app"].state.run_worker for call in served] == [True, False]


def test_serve_with_several_workers_hands_uvicorn_an_app_factory(cli, served):
    cli.ok("serve", "--workers", "3", "--no-worker", "--no-discord")

    [call] = served
    assert call["app"] == "frontdesk.bootstrap:create_app_from_environment"
    assert call["factory"] is True and call["workers"] == 3
    from frontdesk.bootstrap import create_app_from_environment

    app = create_app_from_environment()
    assert app.openapi()["info"]["title"] == "frontdesk"
    assert app.state.run_worker is False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pump(stream, lines: queue.Queue[str]) -> None:  # type: ignore[no-untyped-def]
    for line in stream:
        lines.put(line)


def test_serve_demo_answers_the_api_with_the_printed_token(tmp_path: Path):
    port = _free_port()
    env = {
        **os.environ,
        "FRONTDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "FRONTDESK_DATA_DIR": str(tmp_path / "data"),
        "FRONTDESK_CONFIG": str(tmp_path / "no-such-frontdesk.toml"),
        "FRONTDESK_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "frontdesk", "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    output: list[str] = []
    try:
        token = None
        healthy = False
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (token and healthy):
            if time.monotonic() > deadline or process.poll() is not None:
                while not lines.empty():
                    output.append(lines.get())
                pytest.fail(f"frontdesk serve did not come up (exit code {process.poll()}):\n{''.join(output)}")
            try:
                output.append(lines.get(timeout=0.2))
                found = re.search(r"API token for Ada \(admin\): (fd_\S+)", output[-1])
                token = found.group(1) if found else token
            except queue.Empty:
                pass
            if token and not healthy:
                with contextlib.suppress(httpx.TransportError):
                    healthy = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200

        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/tickets", timeout=10,
                             headers={"Authorization": f"Bearer {token}"})
        refused = httpx.get(f"http://127.0.0.1:{port}/api/v1/tickets", timeout=10,
                            headers={"Authorization": "Bearer fd_not-a-token"})

        assert response.status_code == 200, response.text
        assert len(response.json()["items"]) >= 20
        assert refused.status_code == 401
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
