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


class GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, *, allow_private: bool, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # httpx builds its httpcore pool without a way to pass a network backend; this is
        # the same pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary())


def client(policy: OutboundPolicy) -> httpx.AsyncClient:
    """The process's client for this event loop (connections are kept alive between
    deliveries), never following redirects."""
    loop = asyncio.get_running_loop()
    per_loop = _clients.setdefault(loop, {})
    found = per_loop.get(policy.allow_private)
    if found is None or found.is_closed:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30)
        found = per_loop[policy.allow_private] = httpx.AsyncClient(
            transport=GuardedTransport(allow_private=policy.allow_private, limits=limits),
            follow_redirects=False, trust_env=False,
            headers={"user-agent": "frontdesk-webhooks/1"})
    return found
