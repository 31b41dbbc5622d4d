"""API tests talk HTTP to a real uvicorn server on a loopback port, serving the test's desk."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from frontdesk.actions.members import create_api_token
from frontdesk.api.app import create_app
from tests.integration import conftest as prebuilt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Api:
    base_url: str
    tokens: dict[str, str] = field(default_factory=dict)
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def __call__(self, who: str | None) -> httpx.AsyncClient:
        """An HTTP client acting as a world member (``None``: no token)."""
        key = who or "<anonymous>"
        if key not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
            self.clients[key] = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)
        return self.clients[key]


@pytest.fixture
async def api(world) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    app = create_app(world.desk, max_attachment_bytes=1024 * 1024)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    handle = Api(base_url=f"http://127.0.0.1:{port}")
    async with world.tx("system") as tx:
        for key, member_id in world.member_ids.items():
            _, secret = await create_api_token(tx, member_id=member_id, name=f"test {key}")
            handle.tokens[key] = secret
    try:
        yield handle
    finally:
        for client in handle.clients.values():
            await client.aclose()
        server.should_exit = True
        await task


# API tests start from the same prebuilt world as the integration tests (a file copy on
# SQLite, a snapshot restore on PostgreSQL) instead of emptying and rebuilding per test.
sqlite_world = prebuilt.sqlite_world
pg_world = prebuilt.pg_world
db_url = prebuilt.db_url
world = prebuilt.world
