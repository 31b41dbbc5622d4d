"""Run the real discord.py client with no network.

* ``DiscordStandIn``: Discord's REST API as an aiohttp server on loopback. It records every
  request and answers in Discord's own JSON shapes; ``script`` makes a route answer something
  else (an error, a 429) a given number of times.
* ``payloads``: builders of Discord's gateway and REST JSON (guilds, members, channels,
  threads, messages, interactions) with fresh snowflake ids.
* ``DiscordHarness``: points discord.py at the stand-in (``Route.BASE``), logs a bot in with a
  fake token through discord.py's own HTTP client, and feeds gateway dispatches through the
  parsers the websocket would call, so caches, events, app commands and views behave as in
  production. ``drain`` waits until the events fed so far have been handled.
* The stand-in also speaks the gateway protocol on a websocket (HELLO, IDENTIFY, READY,
  GUILD_CREATE, heartbeats), for tests that run the bot as its command does (``bot.start``).

See tests/README.md, "The Discord harness".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord
import yarl
from aiohttp import WSMsgType, web
from discord.gateway import DiscordWebSocket
from discord.http import Route

API_VERSION = 10
FAKE_TOKEN = "MTA1.fake-bot-token.for-tests-only"
# Waits give up after this many seconds: only so that a broken test fails instead of hanging.
HANG_GUARD = 10.0

# --- snowflakes and payloads ---------------------------------------------------------------------------------

_DISCORD_EPOCH_MS = 1_420_070_400_000
_sequence = itertools.count(1)


def snowflake() -> str:
    """A fresh, increasing Discord id (timestamp bits from now, a counter below them)."""
    millis = int(datetime.now(UTC).timestamp() * 1000) - _DISCORD_EPOCH_MS
    return str((millis << 22) | (next(_sequence) & 0x3FFFFF))


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class ChannelType:
    TEXT = 0
    DM = 1
    CATEGORY = 4
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    FORUM = 15


class payloads:  # noqa: N801 - a namespace of builders, read as payloads.guild(...)
    @staticmethod
    def user(*, id: str | None = None, username: str = "someone", bot: bool = False,
             global_name: str | None = None) -> dict[str, Any]:
        return {"id": id or snowflake(), "username": username, "discriminator": "0",
                "global_name": global_name, "avatar": None, "bot": bot, "public_flags": 0, "flags": 0}

    @staticmethod
    def role(guild_id: str, *, id: str | None = None, name: str = "Staff", permissions: int = 0,
             position: int = 1) -> dict[str, Any]:
        return {"id": id or snowflake(), "name": name, "color": 0, "hoist": False, "position": position,
                "permissions": str(permissions), "managed": False, "mentionable": False, "flags": 0,
                "icon": None, "unicode_emoji": None}

    @staticmethod
    def member(user: dict[str, Any], *, roles: list[str] | None = None, nick: str | None = None,
               guild_id: str | None = None) -> dict[str, Any]:
        out = {"user": user, "roles": roles or [], "joined_at": now_iso(), "deaf": False, "mute": False,
               "flags": 0, "nick": nick, "avatar": None, "pending": False, "premium_since": None}
        if guild_id is not None:
            out["guild_id"] = guild_id
        return out

    @staticmethod
    def text_channel(guild_id: str, *, name: str = "general", id: str | None = None, parent_id: str | None = None,
                     overwrites: list[dict[str, Any]] | None = None, type: int = ChannelType.TEXT,
                     position: int = 0) -> dict[str, Any]:
        return {"id": id or snowflake(), "type": type, "guild_id": guild_id, "name": name, "position": position,
                "permission_overwrites": overwrites or [], "parent_id": parent_id, "topic": None, "nsfw": False,
                "rate_limit_per_user": 0, "last_message_id": None, "flags": 0}

    @staticmethod
    def category(guild_id: str, *, name: str = "Tickets", id: str | None = None) -> dict[str, Any]:
        return payloads.text_channel(guild_id, name=name, id=id, type=ChannelType.CATEGORY)

    @staticmethod
    def forum_channel(guild_id: str, *, name: str = "support", id: str | None = None,
                      tags: list[str] = ("Open", "Closed"), parent_id: str | None = None) -> dict[str, Any]:  # type: ignore[assignment]
        channel = payloads.text_channel(guild_id, name=name, id=id, type=ChannelType.FORUM, parent_id=parent_id)
        channel.update({
            "available_tags": [{"id": snowflake(), "name": t, "moderated": False, "emoji_id": None,
                                "emoji_name": None} for t in tags],
            "default_reaction_emoji": None, "default_sort_order": None, "default_forum_layout": 0,
            "default_thread_rate_limit_per_user": 0, "default_auto_archive_duration": 10080,
        })
        return channel

    @staticmethod
    def thread(guild_id: str, parent_id: str, *, name: str = "ticket", owner_id: str | None = None,
               private: bool = True, id: str | None = None, applied_tags: list[str] | None = None,
               newly_created: bool = False) -> dict[str, Any]:
        """A thread or forum post (REST); with ``newly_created`` the THREAD_CREATE of a new one."""
        kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
        return {"newly_created": newly_created, "id": id or snowflake(), "type": kind,
                "guild_id": guild_id, "parent_id": parent_id, "name": name, "owner_id": owner_id or snowflake(),
                "last_message_id": None, "rate_limit_per_user": 0, "message_count": 0, "member_count": 1,
                "total_message_sent": 0, "flags": 0, "applied_tags": applied_tags or [],
                "thread_metadata": {"archived": False, "auto_archive_duration": 10080, "archive_timestamp": now_iso(),
                                    "locked": False, "invitable": False, "create_timestamp": now_iso()}}

    @staticmethod
    def dm_channel(recipient: dict[str, Any], *, id: str | None = None) -> dict[str, Any]:
        return {"id": id or snowflake(), "type": ChannelType.DM, "recipients": [recipient], "last_message_id": None,
                "flags": 0}

    @staticmethod
    def guild(*, id: str | None = None, name: str = "Acme Community", owner: dict[str, Any] | None = None,
              members: list[dict[str, Any]] | None = None, channels: list[dict[str, Any]] | None = None,
              roles: list[dict[str, Any]] | None = None, threads: list[dict[str, Any]] | None = None,
              unavailable: bool | None = False) -> dict[str, Any]:
        """A GUILD_CREATE payload. ``unavailable=False`` is a server of the READY list coming
        online; ``None`` (no key) is a server the bot has just joined."""
        guild_id = id or snowflake()
        owner = owner or payloads.user(username="owner")
        everyone = payloads.role(guild_id, id=guild_id, name="@everyone", permissions=int(
            discord.Permissions.general().value | discord.Permissions.text().value), position=0)
        all_members = [payloads.member(owner)] + list(members or [])
        data: dict[str, Any] = {
            "id": guild_id, "name": name, "icon": None, "splash": None, "discovery_splash": None, "banner": None,
            "description": None, "owner_id": owner["id"], "afk_channel_id": None, "afk_timeout": 300,
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": [everyone] + list(roles or []), "emojis": [], "stickers": [], "features": [], "mfa_level": 0,
            "application_id": None, "system_channel_id": None, "system_channel_flags": 0, "rules_channel_id": None,
            "vanity_url_code": None, "premium_tier": 0, "premium_subscription_count": 0, "preferred_locale": "en-US",
            "public_updates_channel_id": None, "nsfw_level": 0, "premium_progress_bar_enabled": False,
            "max_members": 500000, "joined_at": now_iso(), "large": False, "member_count": len(all_members),
            "members": all_members, "channels": list(channels or []), "threads": list(threads or []),
            "presences": [], "voice_states": [], "stage_instances": [], "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }
        if unavailable is not None:
            data["unavailable"] = unavailable
        return data

    @staticmethod
    def ready(bot_user: dict[str, Any], *, application_id: str, guild_ids: list[str] = (),  # type: ignore[assignment]
              shard: tuple[int, int] = (0, 1)) -> dict[str, Any]:
        return {"v": API_VERSION, "user": bot_user, "guilds": [{"id": g, "unavailable": True} for g in guild_ids],
                "session_id": snowflake(), "resume_gateway_url": "wss://gateway.discord.gg",
                "application": {"id": application_id, "flags": 0}, "shard": list(shard),
                "private_channels": [], "relationships": [], "user_settings": {}, "guild_join_requests": [],
                "geo_ordered_rtc_regions": [], "presences": []}

    @staticmethod
    def button(custom_id: str, label: str = "Open", *, style: int = 1) -> dict[str, Any]:
        return {"type": 2, "style": style, "label": label, "custom_id": custom_id, "disabled": False}

    @staticmethod
    def string_select(custom_id: str, values: list[str], *, placeholder: str | None = None) -> dict[str, Any]:
        return {"type": 3, "custom_id": custom_id, "placeholder": placeholder, "min_values": 1, "max_values": 1,
                "disabled": False, "options": [{"label": v, "value": v, "default": False} for v in values]}

    @staticmethod
    def action_row(*components: dict[str, Any]) -> dict[str, Any]:
        return {"type": 1, "components": list(components)}

    @staticmethod
    def message(channel_id: str, author: dict[str, Any], content: str = "", *, guild_id: str | None = None,
                member: dict[str, Any] | None = None, id: str | None = None,
                reference: dict[str, Any] | None = None,
                components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """A message object (REST) or a MESSAGE_CREATE payload (gateway, with ``guild_id`` and
        ``member`` for a server message)."""
        data: dict[str, Any] = {
            "id": id or snowflake(), "channel_id": channel_id, "author": author, "content": content,
            "timestamp": now_iso(), "edited_timestamp": None, "tts": False, "mention_everyone": False,
            "mentions": [], "mention_roles": [], "mention_channels": [], "attachments": [], "embeds": [],
            "reactions": [], "pinned": False, "type": 0, "flags": 0, "components": components or [],
        }
        if guild_id is not None:
            data["guild_id"] = guild_id
        if member is not None:
            data["member"] = {k: v for k, v in member.items() if k != "user"}
        if reference is not None:
            data["message_reference"] = reference
            data["type"] = 19
        return data

    @staticmethod
    def _interaction(kind: int, data: dict[str, Any] | None, *, application_id: str, guild_id: str | None,
                     channel: dict[str, Any], member: dict[str, Any] | None = None,
                     user: dict[str, Any] | None = None, permissions: int = 0,
                     message: dict[str, Any] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": snowflake(), "application_id": application_id, "type": kind, "token": f"itoken-{snowflake()}",
            "version": 1, "channel_id": channel["id"], "channel": channel, "locale": "en-US",
            "app_permissions": str(discord.Permissions.all().value), "entitlements": [],
            "attachment_size_limit": 26_214_400,
        }
        if data is not None:
            out["data"] = data
        if guild_id is not None:
            assert member is not None, "an interaction in a server comes from a member"
            out.update(guild_id=guild_id, guild_locale="en-US", context=0,
                       member={**member, "permissions": str(permissions)},
                       authorizing_integration_owners={"0": guild_id})
        else:
            out.update(user=user, context=1, authorizing_integration_owners={"1": (user or {}).get("id")})
        if message is not None:
            out["message"] = message
        return out

    @staticmethod
    def slash_command(name: str, *, application_id: str, guild_id: str | None, channel: dict[str, Any],
                      member: dict[str, Any] | None = None, user: dict[str, Any] | None = None,
                      options: list[dict[str, Any]] | None = None, permissions: int = 0,
                      command_id: str | None = None) -> dict[str, Any]:
        """An application command interaction (type 2). ``options`` as Discord sends them:
        ``[{"name": "reason", "type": 3, "value": "resolved"}]``, sub-commands nesting theirs."""
        data: dict[str, Any] = {"id": command_id or snowflake(), "name": name, "type": 1}
        if options:
            data["options"] = options
        if guild_id is not None:
            data["guild_id"] = guild_id
        return payloads._interaction(2, data, application_id=application_id, guild_id=guild_id, channel=channel,
                                     member=member, user=user, permissions=permissions)

    @staticmethod
    def component(custom_id: str, *, message: dict[str, Any], application_id: str, guild_id: str | None,
                  channel: dict[str, Any], member: dict[str, Any] | None = None,
                  user: dict[str, Any] | None = None, values: list[str] | None = None,
                  component_type: int = 2, permissions: int = 0) -> dict[str, Any]:
        """A button (component_type 2) or string select (3, with ``values``) interaction on
        ``message``, which must carry the component as Discord's does (discord.py finds a
        ``DynamicItem`` there): build it with ``components=[action_row(button(...))]``, or take
        the message the bot posted from ``stand_in.messages``."""
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        return payloads._interaction(3, data, application_id=application_id, guild_id=guild_id, channel=channel,
                                     member=member, user=user, permissions=permissions, message=message)

    @staticmethod
    def modal_submit(custom_id: str, fields: dict[str, str], *, application_id: str, guild_id: str | None,
                     channel: dict[str, Any], member: dict[str, Any] | None = None,
                     user: dict[str, Any] | None = None, permissions: int = 0) -> dict[str, Any]:
        """A modal submit (type 5): one action row holding a text input per field."""
        rows = [{"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
                for key, value in fields.items()]
        return payloads._interaction(5, {"custom_id": custom_id, "components": rows}, application_id=application_id,
                                     guild_id=guild_id, channel=channel, member=member, user=user,
                                     permissions=permissions)


# --- the REST stand-in ---------------------------------------------------------------------------------------


@dataclass
class Recorded:
    """One request the stand-in received. ``path`` is relative to the API base (``/users/@me``)."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: dict[str, str]
    status: int = 0


@dataclass
class _Script:
    method: str
    pattern: re.Pattern[str]
    status: int
    body: Any
    headers: dict[str, str]
    times: int | None


def discord_error(code: int, message: str) -> dict[str, Any]:
    return {"message": message, "code": code}


MISSING_PERMISSIONS = discord_error(50013, "Missing Permissions")
CANNOT_DM = discord_error(50007, "Cannot send messages to this user")
UNKNOWN_CHANNEL = discord_error(10003, "Unknown Channel")

Handler = Callable[["DiscordStandIn", Recorded, re.Match[str]], Awaitable[tuple[int, Any]] | tuple[int, Any]]


@dataclass
class DiscordStandIn:
    """Discord's REST API on loopback: it keeps the channels, messages and commands it was
    asked to create, so later requests (edit, delete, patch) answer about them."""

    application_id: str = field(default_factory=snowflake)
    bot_user: dict[str, Any] = field(default_factory=lambda: payloads.user(username="frontdesk", bot=True))
    requests: list[Recorded] = field(default_factory=list)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Who is in each thread (thread id -> user ids, in the order they joined), and the members
    # of each server the stand-in knows (server id -> user id -> member JSON): what answers
    # ``GET /channels/{id}/thread-members`` and decides whom a role mention brings into a
    # private thread.
    thread_members: dict[str, list[str]] = field(default_factory=dict)
    guild_members: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    global_commands: list[dict[str, Any]] = field(default_factory=list)
    base_url: str = ""
    # The gateway: GUILD_CREATE payloads sent after READY to each connection (a shard gets
    # the servers Discord would route to it), the IDENTIFY payloads received, and a close
    # code to answer IDENTIFY with instead (4004 a bad token, 4014 privileged intents refused).
    gateway_url: str = ""
    gateway_guilds: list[dict[str, Any]] = field(default_factory=list)
    identifies: list[dict[str, Any]] = field(default_factory=list)
    refuse_identify: int | None = None
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _sequences: dict[int, int] = field(default_factory=dict)
    _scripts: list[_Script] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None

    def __post_init__(self) -> None:
        self.bot_user["id"] = self.application_id  # a bot's user id is its application id

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/api/v{API_VERSION}"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"

    async def close(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- scripting and reading --

    def script(self, method: str, path: str, status: int, body: Any = None, *, headers: dict[str, str] | None = None,
               times: int | None = 1) -> None:
        """Answer requests matching ``method`` and the regular expression ``path`` (matched in
        full against the path below the API base) with ``status`` and ``body``, ``times`` times
        (``None``: until the test ends); scripts are tried newest first, before the defaults."""
        self._scripts.insert(0, _Script(method.upper(), re.compile(path), status, body, headers or {}, times))

    def rate_limit(self, method: str, path: str, *, retry_after: float = 0.01, times: int = 1,
                   is_global: bool = False) -> None:
        """A 429 as Discord sends it: body with ``retry_after`` and the rate-limit headers."""
        headers = {"Retry-After": str(max(1, round(retry_after))), "X-RateLimit-Limit": "5",
                   "X-RateLimit-Remaining": "0", "X-RateLimit-Reset-After": str(retry_after),
                   "X-RateLimit-Bucket": "fake-bucket", "X-RateLimit-Scope": "global" if is_global else "user"}
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        self.script(method, path, 429, {"message": "You are being rate limited.", "retry_after": retry_after,
                                        "global": is_global}, headers=headers, times=times)

    def seen(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        """Requests received so far, optionally those matching ``method`` and the regular
        expression ``path`` (in full)."""
        pattern = re.compile(path) if path is not None else None
        return [r for r in self.requests if (method is None or r.method == method.upper())
                and (pattern is None or pattern.fullmatch(r.path))]

    async def wait_for(self, method: str, path: str, *, count: int = 1) -> list[Recorded]:
        """Wait until ``count`` matching requests have arrived (within ``HANG_GUARD`` seconds,
        which only keeps a broken test from hanging)."""
        assert self._changed is not None
        async with asyncio.timeout(HANG_GUARD), self._changed:
            await self._changed.wait_for(lambda: len(self.seen(method, path)) >= count)
        return self.seen(method, path)

    async def wait_for_identify(self, count: int = 1) -> list[dict[str, Any]]:
        assert self._changed is not None
        async with asyncio.timeout(HANG_GUARD), self._changed:
            await self._changed.wait_for(lambda: len(self.identifies) >= count)
        return self.identifies

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway dispatch to every connected client."""
        for socket in list(self._sockets):
            await self._send_dispatch(socket, event, data)

    # -- the gateway --

    async def _send_dispatch(self, socket: web.WebSocketResponse, event: str, data: dict[str, Any]) -> None:
        seq = self._sequences[id(socket)] = self._sequences.get(id(socket), 0) + 1
        await socket.send_json({"op": 0, "t": event, "s": seq, "d": data})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41_250}, "s": None, "t": None})
        try:
            async for frame in socket:
                if frame.type is not WSMsgType.TEXT:
                    break
                message = json.loads(frame.data)
                if message["op"] == 1:  # heartbeat
                    await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif message["op"] == 2:  # identify
                    await self._identified(socket, message["d"])
                elif message["op"] == 6:  # resume: this stand-in keeps no sessions
                    await socket.send_json({"op": 9, "d": False, "s": None, "t": None})
        finally:
            self._sockets.remove(socket)
        return socket

    async def _identified(self, socket: web.WebSocketResponse, identify: dict[str, Any]) -> None:
        self.identifies.append(identify)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        if self.refuse_identify is not None:
            await socket.close(code=self.refuse_identify)
            return
        shard_id, shard_count = identify.get("shard") or (0, 1)
        mine = [g for g in self.gateway_guilds if (int(g["id"]) >> 22) % shard_count == shard_id]
        ready = payloads.ready(self.bot_user, application_id=self.application_id, guild_ids=[g["id"] for g in mine],
                               shard=(shard_id, shard_count))
        ready["resume_gateway_url"] = self.gateway_url
        await self._send_dispatch(socket, "READY", ready)
        for guild in mine:
            await self._send_dispatch(socket, "GUILD_CREATE", guild)

    # -- serving --

    async def _handle(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        raw = await request.read()
        body: Any = None
        if raw and request.content_type == "application/json":
            body = json.loads(raw)
        elif raw and request.content_type.startswith("multipart/"):
            body = {"multipart": raw.decode(errors="replace")}
        recorded = Recorded(request.method, path, dict(request.query), body, dict(request.headers))
        status, answer, headers = await self._answer(recorded)
        recorded.status = status
        self.requests.append(recorded)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        # Discord's answers pass through its edge; discord.py treats a 429 without ``Via`` as a
        # Cloudflare ban.
        headers = {"Via": "1.1 google", **headers}
        if status == 204 or answer is None:
            return web.Response(status=status if status != 200 else 204, headers=headers)
        # Exactly ``application/json`` (no charset), as Discord sends it; discord.py compares it whole.
        return web.Response(body=json.dumps(answer).encode(), status=status,
                            headers={"Content-Type": "application/json", **headers})

    async def _answer(self, r: Recorded) -> tuple[int, Any, dict[str, str]]:
        for s in list(self._scripts):
            if s.method == r.method and s.pattern.fullmatch(r.path):
                if s.times is not None:
                    s.times -= 1
                    if s.times <= 0:
                        self._scripts.remove(s)
                return s.status, s.body, s.headers
        for method, pattern, handler in _ROUTES:
            if method == r.method:
                match = pattern.fullmatch(r.path)
                if match:
                    result = handler(self, r, match)
                    if asyncio.iscoroutine(result):
                        result = await result
                    status, answer = result  # type: ignore[misc]
                    return status, answer, {}
        return 404, discord_error(0, "404: Not Found"), {}

    # -- default answers --

    def _new_channel(self, data: dict[str, Any]) -> dict[str, Any]:
        self.channels[data["id"]] = data
        return data

    def add_guild_member(self, guild_id: str, user: dict[str, Any], *, roles: list[str] | None = None
                         ) -> dict[str, Any]:
        member = payloads.member(user, roles=roles)
        self.guild_members.setdefault(guild_id, {})[user["id"]] = member
        return member

    def join_thread(self, thread_id: str, user_id: str) -> bool:
        """Put ``user_id`` in the thread; False when they were in it already."""
        members = self.thread_members.setdefault(thread_id, [])
        if user_id in members:
            return False
        members.append(user_id)
        return True

    def _mentioned_into_thread(self, channel_id: str, body: dict[str, Any]) -> None:
        """A message in a private thread brings in the members of the roles it mentions (those
        its allowed mentions let through), as Discord does."""
        channel = self.channels.get(channel_id)
        if channel is None or channel.get("type") != ChannelType.PRIVATE_THREAD:
            return
        roles = set(re.findall(r"<@&(\d+)>", body.get("content") or ""))
        allowed = body.get("allowed_mentions")
        if allowed is not None and "roles" not in (allowed.get("parse") or []):
            roles &= {str(r) for r in allowed.get("roles") or []}
        for user_id, member in self.guild_members.get(channel["guild_id"], {}).items():
            if roles & set(member.get("roles") or []):
                self.join_thread(channel_id, user_id)

    def _message(self, channel_id: str, body: dict[str, Any] | None, *, author: dict[str, Any] | None = None,
                 message_id: str | None = None) -> dict[str, Any]:
        body = body or {}
        self._mentioned_into_thread(channel_id, body)
        message = payloads.message(channel_id, author or self.bot_user, body.get("content") or "", id=message_id)
        message["embeds"] = body.get("embeds") or []
        message["components"] = body.get("components") or []
        message["flags"] = body.get("flags") or 0
        channel = self.channels.get(channel_id)
        if channel is not None and channel.get("guild_id"):
            message["guild_id"] = channel["guild_id"]
        self.messages[message["id"]] = message
        return message


def _me(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    if r.headers.get("Authorization") != f"Bot {FAKE_TOKEN}":
        return 401, discord_error(0, "401: Unauthorized")
    return 200, s.bot_user


def _application(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, {"id": s.application_id, "name": "frontdesk", "icon": None, "description": "", "bot_public": True,
                 "bot_require_code_grant": False, "owner": payloads.user(username="owner"), "team": None,
                 "verify_key": "0" * 64, "flags": 0, "bot": s.bot_user, "summary": "", "rpc_origins": [],
                 "interactions_endpoint_url": None, "approximate_guild_count": 1}


def _gateway_url(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, {"url": s.gateway_url, "shards": 1,
                 "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000,
                                         "max_concurrency": 1}}


def _overwrite_commands(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    stored = []
    for command in r.json or []:
        stored.append({"id": snowflake(), "application_id": s.application_id, "version": snowflake(),
                       "type": 1, "description": "", "options": [], "default_member_permissions": None,
                       "dm_permission": True, "nsfw": False, "integration_types": [0], "contexts": None,
                       **command, **({"guild_id": m.group("guild")} if "guild" in m.groupdict() else {})})
    if "guild" not in m.groupdict():
        s.global_commands = stored
    return 200, stored


def _list_commands(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, s.global_commands


def _create_guild_channel(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    body = r.json or {}
    channel = payloads.text_channel(m.group("guild"), name=body.get("name", "channel"), parent_id=body.get("parent_id"),
                                    overwrites=body.get("permission_overwrites"), type=body.get("type", 0))
    if channel["type"] == ChannelType.FORUM:
        channel.update(available_tags=body.get("available_tags", []), default_reaction_emoji=None)
    channel["topic"] = body.get("topic")
    return 201, s._new_channel(channel)


def _channel(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    channel = s.channels.get(m.group("channel"))
    return (200, channel) if channel is not None else (404, UNKNOWN_CHANNEL)


def _patch_channel(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    channel = s.channels.get(m.group("channel"))
    if channel is None:
        return 404, UNKNOWN_CHANNEL
    body = dict(r.json or {})
    metadata = {k: body.pop(k) for k in ("archived", "locked", "auto_archive_duration", "invitable") if k in body}
    channel.update(body)
    if metadata and "thread_metadata" in channel:
        channel["thread_metadata"].update(metadata)
    return 200, channel


def _delete_channel(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    channel = s.channels.pop(m.group("channel"), None)
    return (200, channel) if channel is not None else (404, UNKNOWN_CHANNEL)


def _create_message(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, s._message(m.group("channel"), r.json)


def _edit_message(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    message = s.messages.get(m.group("message"))
    if message is None:
        return 404, discord_error(10008, "Unknown Message")
    message.update({k: v for k, v in (r.json or {}).items() if k in ("content", "embeds", "components", "flags")})
    message["edited_timestamp"] = now_iso()
    s._mentioned_into_thread(message["channel_id"], r.json or {})
    return 200, message


def _delete_message(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    if s.messages.pop(m.group("message"), None) is None:
        return 404, discord_error(10008, "Unknown Message")
    return 204, None


def _no_content(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 204, None


def _create_thread(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    body = r.json or {}
    parent = s.channels.get(m.group("channel"))
    if parent is None:
        return 404, UNKNOWN_CHANNEL
    from_message = m.groupdict().get("message") is not None
    private = body.get("type", ChannelType.PUBLIC_THREAD if from_message else ChannelType.PRIVATE_THREAD) == 12
    thread = payloads.thread(parent["guild_id"], parent["id"], name=body.get("name", "thread"),
                             owner_id=s.bot_user["id"], private=private, applied_tags=body.get("applied_tags"))
    s._new_channel(thread)
    s.join_thread(thread["id"], s.bot_user["id"])  # who makes a thread is in it
    if parent["type"] == ChannelType.FORUM:
        # A forum post is a thread whose first message has the thread's id.
        thread["message"] = s._message(thread["id"], body.get("message"), message_id=thread["id"])
    return 201, thread


def _thread_members(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    """A thread's members, by user id; ``with_member=true`` pages them (``limit``, ``after``)
    and adds each one's server member."""
    channel = s.channels.get(m.group("channel"))
    if channel is None or "thread_metadata" not in channel:
        return 404, UNKNOWN_CHANNEL
    users = sorted(s.thread_members.get(channel["id"], []), key=int)
    with_member = r.query.get("with_member") in ("true", "True", "1")
    if with_member:
        after = int(r.query.get("after", "0"))
        users = [u for u in users if int(u) > after][:int(r.query.get("limit", "100"))]
    known = s.guild_members.get(channel["guild_id"], {})
    answer = []
    for user_id in users:
        entry: dict[str, Any] = {"id": channel["id"], "user_id": user_id, "join_timestamp": now_iso(), "flags": 0}
        if with_member:
            user = s.bot_user if user_id == s.bot_user["id"] else payloads.user(id=user_id)
            entry["member"] = known.get(user_id) or payloads.member(user)
        answer.append(entry)
    return 200, answer


def _add_thread_member(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    if m.group("channel") not in s.channels:
        return 404, UNKNOWN_CHANNEL
    s.join_thread(m.group("channel"), m.group("user"))
    return 204, None


def _remove_thread_member(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    if m.group("channel") not in s.channels:
        return 404, UNKNOWN_CHANNEL
    members = s.thread_members.get(m.group("channel"), [])
    if m.group("user") in members:
        members.remove(m.group("user"))
    return 204, None


def _interaction_callback(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    body = r.json or {}
    answer: dict[str, Any] = {"interaction": {"id": m.group("interaction"), "type": 2}}
    data = body.get("data") or {}
    if body.get("type") in (4, 7):  # a message, or an update of the component's message
        message = s._message(r.query.get("channel_id", "0"), data, message_id=snowflake())
        answer["interaction"].update(response_message_id=message["id"], response_message_loading=False,
                                     response_message_ephemeral=bool((data.get("flags") or 0) & 64))
        answer["resource"] = {"type": body["type"], "message": message}
    elif body.get("type") == 5:  # deferred: "thinking"
        answer["interaction"].update(response_message_loading=True,
                                     response_message_ephemeral=bool((data.get("flags") or 0) & 64))
        answer["resource"] = {"type": 5}
    else:
        answer["resource"] = {"type": body.get("type", 1)}
    return 200, answer


def _followup(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, s._message("0", r.json)


def _edit_original(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    return 200, s._message("0", r.json)


def _create_webhook(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    channel = s.channels.get(m.group("channel"), {})
    return 200, {"id": snowflake(), "type": 1, "token": f"wtoken-{snowflake()}", "channel_id": m.group("channel"),
                 "guild_id": channel.get("guild_id"), "name": (r.json or {}).get("name", "frontdesk"),
                 "avatar": None, "application_id": s.application_id, "user": s.bot_user}


def _execute_webhook(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    if m.group("webhook") == s.application_id:
        return _followup(s, r, m)  # an interaction's follow-up message
    body = r.json or {}
    author = payloads.user(id=m.group("webhook"), username=body.get("username") or "webhook", bot=True)
    channel_id = r.query.get("thread_id", "0")
    message = s._message(channel_id, body, author=author)
    message["webhook_id"] = m.group("webhook")
    return (200, message) if r.query.get("wait") in ("true", "1") else (204, None)


def _open_dm(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    recipient_id = str((r.json or {}).get("recipient_id"))
    for channel in s.channels.values():
        if channel["type"] == ChannelType.DM and channel["recipients"][0]["id"] == recipient_id:
            return 200, channel
    return 200, s._new_channel(payloads.dm_channel(payloads.user(id=recipient_id)))


# --- commands ---


def _channel_webhooks(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    """A channel's webhooks: none unless a test scripts the answer (``script("GET", ...)``)."""
    return 200, []


# --- modmail ---


def _get_message(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    """A message the stand-in made or a test put in ``stand_in.messages`` (a user's DM, say)."""
    message = s.messages.get(m.group("message"))
    if message is None or message["channel_id"] != m.group("channel"):
        return 404, discord_error(10008, "Unknown Message")
    return 200, message


def _guild_member(s: DiscordStandIn, r: Recorded, m: re.Match[str]) -> tuple[int, Any]:
    """A member put in ``stand_in.guild_members``; anyone else is Unknown Member (or script the
    route: ``stand_in.script("GET", ...)``)."""
    member = s.guild_members.get(m.group("guild"), {}).get(m.group("user"))
    return (200, member) if member is not None else (404, discord_error(10007, "Unknown Member"))


_S = r"(?P<%s>\d+)"
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    (method, re.compile(path.replace("{guild}", _S % "guild").replace("{channel}", _S % "channel")
                        .replace("{message}", _S % "message").replace("{app}", _S % "app")
                        .replace("{interaction}", _S % "interaction").replace("{webhook}", _S % "webhook")
                        .replace("{token}", r"(?P<token>[^/]+)").replace("{overwrite}", _S % "overwrite")
                        .replace("{user}", r"(?P<user>\d+|@me)")), handler)  # type: ignore[misc]
    for method, path, handler in [
        ("GET", "/users/@me", _me),
        ("GET", "/oauth2/applications/@me", _application),
        ("GET", "/gateway/bot", _gateway_url),
        ("GET", "/gateway", _gateway_url),
        ("PUT", "/applications/{app}/commands", _overwrite_commands),
        ("GET", "/applications/{app}/commands", _list_commands),
        ("PUT", "/applications/{app}/guilds/{guild}/commands", _overwrite_commands),
        ("POST", "/guilds/{guild}/channels", _create_guild_channel),
        ("GET", "/channels/{channel}", _channel),
        ("PATCH", "/channels/{channel}", _patch_channel),
        ("DELETE", "/channels/{channel}", _delete_channel),
        ("POST", "/channels/{channel}/messages", _create_message),
        ("PATCH", "/channels/{channel}/messages/{message}", _edit_message),
        ("DELETE", "/channels/{channel}/messages/{message}", _delete_message),
        ("PUT", "/channels/{channel}/pins/{message}", _no_content),
        ("DELETE", "/channels/{channel}/pins/{message}", _no_content),
        ("PUT", "/channels/{channel}/messages/pins/{message}", _no_content),
        ("DELETE", "/channels/{channel}/messages/pins/{message}", _no_content),
        ("PUT", "/channels/{channel}/permissions/{overwrite}", _no_content),
        ("DELETE", "/channels/{channel}/permissions/{overwrite}", _no_content),
        ("POST", "/channels/{channel}/threads", _create_thread),
        ("POST", "/channels/{channel}/messages/{message}/threads", _create_thread),
        ("GET", "/channels/{channel}/thread-members", _thread_members),
        ("PUT", "/channels/{channel}/thread-members/{user}", _add_thread_member),
        ("DELETE", "/channels/{channel}/thread-members/{user}", _remove_thread_member),
        ("POST", "/channels/{channel}/webhooks", _create_webhook),
        ("POST", "/webhooks/{webhook}/{token}", _execute_webhook),
        ("POST", "/interactions/{interaction}/{token}/callback", _interaction_callback),
        ("PATCH", "/webhooks/{app}/{token}/messages/@original", _edit_original),
        ("POST", "/users/@me/channels", _open_dm),
        ("GET", "/channels/{channel}/webhooks", _channel_webhooks),
        # --- modmail ---
        ("GET", "/channels/{channel}/messages/{message}", _get_message),
        ("GET", "/guilds/{guild}/members/{user}", _guild_member),
    ]
]


# --- the bot against the stand-in ----------------------------------------------------------------------------

_HANDLING_TASKS = ("discord.py:", "CommandTree-invoker", "discord-ui-")


class HandlerFailed(AssertionError):
    """An event handler or app command raised while the harness drained (the cause is chained)."""


@dataclass
class DiscordHarness:
    """A bot logged in against a stand-in. ``feed`` a gateway dispatch, ``drain`` until it
    has been handled, read ``stand_in.requests``."""

    stand_in: DiscordStandIn
    bot: discord.Client
    # Exceptions raised by event handlers and app commands; ``drain`` raises the first.
    failures: list[BaseException] = field(default_factory=list)

    def watch_failures(self) -> None:
        """discord.py logs and swallows what a handler raises; a test should fail instead."""
        original = self.bot.on_error

        async def on_error(event: str, *args: Any, **kwargs: Any) -> None:
            import sys

            failure = sys.exc_info()[1]
            if failure is not None:
                self.failures.append(failure)
            await original(event, *args, **kwargs)

        self.bot.on_error = on_error  # type: ignore[method-assign]
        tree = getattr(self.bot, "tree", None) or getattr(self.state, "_command_tree", None)
        if tree is not None:
            tree_original = tree.on_error

            async def on_tree_error(interaction: discord.Interaction, error: Exception) -> None:
                self.failures.append(error)
                await tree_original(interaction, error)

            tree.on_error = on_tree_error

    @property
    def state(self) -> Any:
        return self.bot._connection

    def feed(self, event: str, data: dict[str, Any]) -> None:
        """A gateway dispatch (``t`` = ``event``, ``d`` = ``data``), handled as the websocket
        handles it: by the connection state's parser for that event."""
        self.state.parsers[event](data)

    async def drain(self) -> None:
        """Wait until every event handler, app command, view callback and READY delay that
        discord.py started has finished (and those they started)."""
        async def settle() -> None:
            while True:
                await asyncio.sleep(0)
                pending = [t for t in asyncio.all_tasks() if not t.done() and t is not asyncio.current_task()
                           and (t.get_name().startswith(_HANDLING_TASKS) or t is self.state._ready_task)]
                if not pending:
                    return
                await asyncio.gather(*pending, return_exceptions=True)

        async with asyncio.timeout(HANG_GUARD):
            await settle()
        if self.failures:
            raise HandlerFailed(f"{len(self.failures)} handler(s) raised") from self.failures[0]

    async def connect(self, guilds: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        """READY listing ``guilds`` as unavailable, then a GUILD_CREATE for each, then wait
        for READY to be dispatched (as after a start or a reconnect)."""
        self.feed("READY", payloads.ready(self.stand_in.bot_user, application_id=self.stand_in.application_id,
                                          guild_ids=[g["id"] for g in guilds]))
        for guild in guilds:
            self.feed("GUILD_CREATE", guild)
        await self.drain()

    def slash(self, name: str, *, guild: dict[str, Any], channel: dict[str, Any], member: dict[str, Any],
              **kwargs: Any) -> dict[str, Any]:
        """A slash-command interaction from ``member`` in ``channel``, fed and returned."""
        data = payloads.slash_command(name, application_id=self.stand_in.application_id, guild_id=guild["id"],
                                      channel=channel, member=member, **kwargs)
        self.feed("INTERACTION_CREATE", data)
        return data

    async def close(self) -> None:
        await self.bot.close()


@dataclass
class HarnessFactory:
    """What the ``discord_harness`` fixture yields: ``await start(bot)`` logs a bot in."""

    stand_in: DiscordStandIn
    started: list[DiscordHarness] = field(default_factory=list)

    async def start(self, bot: discord.Client, *, token: str = FAKE_TOKEN) -> DiscordHarness:
        await bot.login(token)
        harness = DiscordHarness(self.stand_in, bot)
        harness.watch_failures()
        self.started.append(harness)
        return harness


def point_discord_at(base_url: str, gateway_url: str | yarl.URL) -> tuple[str, yarl.URL]:
    """Send discord.py's REST requests to ``base_url`` and its gateway connections to
    ``gateway_url``; answers what they replaced."""
    old = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = base_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    return old
