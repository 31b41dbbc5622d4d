"""Outbound HTTP to URLs that users typed: refuses private networks, follows no redirects,
ignores proxy settings of the environment.

A URL is checked when it is saved (``check_target``) and again on every connection: the
client's network backend resolves the host itself, refuses the connection when any address
is private, loopback, link-local, multicast, reserved or unspecified, and connects to the
address it checked. TLS still verifies the certificate for the host name (SNI and the Host
header are the URL's), so a name that resolves differently between the check and the
connection (DNS rebinding) cannot reach an internal address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from frontdesk.config import load_settings
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.webhooks import TargetUrl, check_url, is_public_address, literal_address


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allow_private: bool = False
    timeout: float = 15.0


_POLICY_ENV = ("FRONTDESK_WEBHOOK_ALLOW_HTTP", "FRONTDESK_WEBHOOK_ALLOW_PRIVATE", "FRONTDESK_WEBHOOK_TIMEOUT_SECONDS",
               "FRONTDESK_CONFIG")
_policies: dict[tuple[str | None, ...], OutboundPolicy] = {}


def current_policy() -> OutboundPolicy:
    """The process's settings, read once per distinct environment."""
    key = tuple(os.environ.get(name) for name in _POLICY_ENV)
    policy = _policies.get(key)
    if policy is None:
        settings = load_settings()
        policy = _policies[key] = OutboundPolicy(allow_http=settings.webhook_allow_http,
                                                 allow_private=settings.webhook_allow_private,
                                                 timeout=settings.webhook_timeout_seconds)
    return policy


class AddressRefused(httpx.ConnectError):
    """The host resolves to an address webhooks may not reach."""


async def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as strings (a literal address stands for itself)."""
    if literal_address(host) is not None:
        return [str(literal_address(host))]
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0]).split("%", 1)[0]
        if address not in seen:
            seen.append(address)
    return seen


def refused_address(addresses: Iterable[str]) -> str | None:
    for address in addresses:
        if not is_public_address(ipaddress.ip_address(address)):
            return address
    return None


async def checked_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise httpx.ConnectError(f"{host} does not resolve: {exc}") from exc
    if not addresses:
        raise httpx.ConnectError(f"{host} does not resolve")
    if not allow_private and (bad := refused_address(addresses)) is not None:
        raise AddressRefused(f"{host} resolves to {bad}, a private, loopback, link-local or reserved address")
    return addresses


async def check_target(url: str, policy: OutboundPolicy, *, field: str = "url") -> TargetUrl:
    """A URL as a webhook may be saved with: its shape, and where its host resolves now."""
    target = check_url(url, allow_http=policy.allow_http, field=field)
    if policy.allow_private:
        return target
    try:
        await checked_addresses(target.host, target.port, allow_private=False)
    except AddressRefused as exc:
        raise ValidationFailed(f"{exc}; webhooks may not reach internal networks "
                               "(FRONTDESK_WEBHOOK_ALLOW_PRIVATE=true allows it)", field=field) from None
    except httpx.ConnectError as exc:
        raise ValidationFailed(str(exc), field=field) from None
    return target


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses it resolved and checked."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 - httpcore's
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, allow_private=self.allow_private)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                      socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("webhooks are not sent over unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class IdlePool:
    """Keep-alive connections by origin, for httpx's transport in place of httpcore's pool,
    which rescans every connection for every queued request (quadratic at a few dozen
    deliveries in flight). A request takes an idle connection of its origin that is still
    open, or opens one; the connection goes back when its answer is closed."""

    def __init__(self, *, ssl_context: Any, network_backend: httpcore.AsyncNetworkBackend,
                 max_idle_per_origin: int = 64, keepalive_expiry: float = 30.0) -> None:
        self._ssl_context = ssl_context
        self._backend = network_backend
        self._max_idle = max_idle_per_origin
        self._expiry = keepalive_expiry
        self._idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTPConnection]] = {}

    def _take(self, key: tuple[bytes, bytes, int]) -> httpcore.AsyncHTTPConnection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
        return None

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = request.url.origin
        key = (origin.scheme, origin.host, origin.port)
        connection = self._take(key) or httpcore.AsyncHTTPConnection(
            origin=origin, ssl_context=self._ssl_context, keepalive_expiry=self._expiry,
            network_backend=self._backend)
        try:
            response = await connection.handle_async_request(request)
        except BaseException:
            await connection.aclose()
            raise
        return httpcore.Response(status=response.status, headers=response.headers,
                                 content=_GivesBack(response, connection, self, key),
                                 extensions=response.extensions)

    async def give_back(self, key: tuple[bytes, bytes, int], connection: httpcore.AsyncHTTPConnection) -> None:
        idle = self._idle.setdefault(key, [])
        if connection.is_idle() and len(idle) < self._max_idle:
            idle.append(connection)
        else:
            await connection.aclose()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()

    async def __aenter__(self) -> IdlePool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _GivesBack:
    def __init__(self, response: httpcore.Response, connection: httpcore.AsyncHTTPConnection, pool: IdlePool,
                 key: tuple[bytes, bytes, int]) -> None:
        self._stream: Any = response.stream
        self._connection = connection
        self._pool = pool
        self._key = key
        self._closed = False

    async def __aiter__(self) -> Any:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if hasattr(self._stream, "aclose"):
                await self._stream.aclose()
        finally:
            await self._pool.give_back(self._key, self._connection)


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool, max_idle_per_origin: int = 64, ssl_context: Any = None) -> None:
        super().__init__(trust_env=False)
        # httpx's transport maps requests, answers and errors; the pool under it is ours,
        # with our network backend (httpx offers no way to pass one).
        context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._pool = IdlePool(ssl_context=context,  # type: ignore[assignment]
                              network_backend=GuardedBackend(allow_private=allow_private),
                              max_idle_per_origin=max_idle_per_origin)


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary())


def client(policy: OutboundPolicy) -> httpx.AsyncClient:
    """The process's client for this event loop (connections are kept alive between
    deliveries), never following redirects."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    found = per_loop.get(policy.allow_private)
    if found is None or found.is_closed:
        found = per_loop[policy.allow_private] = httpx.AsyncClient(
            transport=GuardedTransport(allow_private=policy.allow_private),
            follow_redirects=False, trust_env=False,
            headers={"user-agent": "frontdesk-webhooks/1"})
    return found
