"""`frontdesk serve --demo` end to end: a real process on a loopback port."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 120


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
