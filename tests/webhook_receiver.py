"""A real HTTP/1.1 server on loopback that receives webhooks, for tests and the benchmark.

Each path follows a script of replies, one per request, the last one repeating: an answer
(``Reply(500)``), ``HANG`` (never answers), or ``CLOSE`` (drops the connection unanswered).
Every request is kept (path, lower-cased headers, body). Run as a module it serves in its
own process and appends one JSON line per request to ``--log``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()


HANG = "hang"
CLOSE = "close"
REASONS = {200: "OK", 204: "No Content", 302: "Found", 404: "Not Found", 410: "Gone", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict:  # type: ignore[type-arg]
        return json.loads(self.body)


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    scripts: dict[str, list[Reply | str]] = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)
    log_path: str | None = None
    # Seconds each answer waits (a receiver that takes its time, as real ones do).
    delay: float = 0.0
    port: int = 0
    _server: asyncio.base_events.Server | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _closing: asyncio.Event = field(default_factory=asyncio.Event)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def script(self, path: str, *replies: Reply | str) -> str:
        """Set what ``path`` answers; returns its URL with the host name ``localhost``."""
        self.scripts[path] = list(replies)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://localhost:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every connection (hanging requests end unanswered)."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=5)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def __aenter__(self) -> Receiver:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_for(self, count: int, *, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()

    def _next_reply(self, path: str) -> Reply | str:
        script = self.scripts.get(path) or [Reply()]
        return script.pop(0) if len(script) > 1 else script[0]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                _method, path, _version = request_line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                received = Received(path=path, headers=headers, body=body, at=time.monotonic())
                self.requests.append(received)
                self._arrived.set()
                if self.log_path:
                    self._log(received)
                reply = self._next_reply(path)
                if self.delay:
                    await asyncio.sleep(self.delay)
                if reply == HANG:
                    await self._closing.wait()
                    return
                if reply == CLOSE:
                    return
                assert isinstance(reply, Reply)
                head = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}",
                        f"content-length: {len(reply.body)}", "content-type: text/plain"]
                head += [f"{k}: {v}" for k, v in reply.headers]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _log(self, received: Received) -> None:
        try:
            body = received.json()
        except ValueError:
            body = None
        line = {"path": received.path, "webhook_id": received.headers.get("webhook-id"),
                "type": body.get("type") if isinstance(body, dict) else None,
                "event_id": (body.get("data") or {}).get("event_id") if isinstance(body, dict) else None,
                "sent_at": received.headers.get("webhook-timestamp"), "at": received.at}
        with open(self.log_path, "a", encoding="utf-8") as out:  # type: ignore[arg-type]
            out.write(json.dumps(line) + "\n")


async def _main(port: int, log: str | None, ready: str | None, delay: float) -> None:
    receiver = await Receiver(port=port, log_path=log, delay=delay).start()
    if ready:
        Path(ready).write_text(str(receiver.port), encoding="utf-8")  # noqa: ASYNC240 - once, at start
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", help="append one JSON line per request to this file")
    parser.add_argument("--ready", help="write the port to this file once listening")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each answer waits")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.port, args.log, args.ready, args.delay))
