"""Builders for the Discord mirror's tests: a workspace that is a Discord server, ticket types
in each mode, people with Discord ids, tickets placed in channels, threads and forum posts
that the REST stand-in knows, and the outbox run as the worker runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.discord import place_ticket
from frontdesk.actions.guilds import workspace_for_guild
from frontdesk.actions.tickets import open_ticket
from frontdesk.db.models import DiscordTicket, OutboxItem, Ticket
from frontdesk.discord import rest
from frontdesk.discord.mirror import ORDER_WAIT_SECONDS, overwrite_json
from frontdesk.domain.discord import FORUM_TAGS, forum_post_name, ticket_overwrites
from frontdesk.domain.permissions import Actor
from frontdesk.worker import outbox as ob
from tests.discord.harness import FAKE_TOKEN, DiscordStandIn, payloads, snowflake

SYSTEM = Actor.system()
MODES = {"channel": "General", "thread": "Threads", "forum": "Relay"}
CONVERSATION = {"channel": "discord_channel", "thread": "discord_thread", "forum": "discord_forum"}


@dataclass
class Placed:
    number: int
    ticket_id: int
    channel_id: str
    welcome_id: str
    mode: str


@dataclass
class MirrorWorld:
    desk: Desk
    stand_in: DiscordStandIn
    workspace_id: int
    guild_id: str
    staff_role: str = field(default_factory=snowflake)
    billing_role: str = field(default_factory=snowflake)
    management_role: str = field(default_factory=snowflake)
    category: str = field(default_factory=snowflake)
    billing_category: str = field(default_factory=snowflake)
    thread_parent: str = field(default_factory=snowflake)
    forum: str = field(default_factory=snowflake)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    member_ids: dict[str, int] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)
    type_ids: dict[str, int] = field(default_factory=dict)

    def tx(self, who: str = "system"):  # type: ignore[no-untyped-def]
        return self.desk.tx(self.actors.get(who, SYSTEM), self.workspace_id)

    async def run(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.tx(who) as tx:
            return await fn(tx, *args, **kwargs)

    async def discord_settings(self, **values: Any) -> None:
        async with self.tx() as tx:
            await m.update_workspace(tx, settings={"discord": values})

    async def ticket(self, mode: str = "channel", *, title: str = "My order is late", opener: str = "casey",
                     type_name: str | None = None, **options: Any) -> Placed:
        """A ticket opened from Discord: its channel, thread or post exists in the stand-in,
        with a welcome message."""
        if mode == "channel":
            channel = payloads.text_channel(self.guild_id, name=f"{opener}-ticket", parent_id=self.category)
        elif mode == "thread":
            channel = payloads.thread(self.guild_id, self.thread_parent, name=f"{opener}-ticket",
                                      owner_id=self.stand_in.bot_user["id"])
            # As the panel made it: the bot, the opener, and the staff its welcome mentioned.
            for user_id in (self.stand_in.bot_user["id"], self.users[opener]["id"]):
                self.stand_in.join_thread(channel["id"], user_id)
        else:
            channel = payloads.thread(self.guild_id, self.forum, name=forum_post_name(number=0, title=title),
                                      private=False)
        self.stand_in.channels[channel["id"]] = channel
        buttons = [payloads.action_row(payloads.button("fd:human:0", "Request human"))]
        welcome = self.stand_in._message(channel["id"], {"content": f"<@&{self.staff_role}> Welcome!",
                                                         "components": buttons})
        async with self.tx() as tx:
            ticket = await open_ticket(tx, type_id=self.type_ids[type_name or MODES[mode]], title=title,
                                       opener_id=self.member_ids[opener], channel=CONVERSATION[mode],
                                       external_id=channel["id"], **options)
            parent = {"channel": self.category, "thread": self.thread_parent, "forum": self.forum}[mode]
            await place_ticket(tx, ticket, guild_id=self.guild_id, mode=mode, channel_id=channel["id"],
                               parent_id=parent, user_id=self.users[opener]["id"], welcome_message_id=welcome["id"],
                               dm_channel_id=None)
            placed = Placed(ticket.number, ticket.id, channel["id"], welcome["id"], mode)
            if mode == "channel":  # as the panel made it: who may see it
                channel["permission_overwrites"] = [overwrite_json(o) for o in ticket_overwrites(
                    guild_id=self.guild_id, bot_user_id=self.stand_in.bot_user["id"],
                    opener_user_id=self.users[opener]["id"], staff_role_ids=[self.staff_role],
                    management_role_ids=[self.management_role])]
            channel["name"] = (forum_post_name(number=ticket.number, title=title) if mode == "forum"
                               else ticket.channel_name or channel["name"])
        return placed

    async def deliver(self, *, passes: int = 20) -> int:
        """Outbox passes until nothing is due now (as ``frontdesk worker --once`` runs them)."""
        total = 0
        for _ in range(passes):
            count = await ob.deliver_due(self.desk, limit=200)
            total += count
            if not count:
                # Rows put back to keep their order are due a moment later: let that moment pass.
                soon = self.desk.clock.now() + timedelta(seconds=ORDER_WAIT_SECONDS * 2)
                if not [i for i in await self.outbox() if i.status == "pending" and i.next_attempt_at <= soon]:
                    break
                self.desk.clock.advance(timedelta(seconds=ORDER_WAIT_SECONDS * 2))  # type: ignore[attr-defined]
        return total

    async def place(self, ticket_id: int) -> DiscordTicket:
        async with self.desk.db.reading() as session:
            row = await session.scalar(select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id))
            assert row is not None
            return row

    async def ticket_row(self, ticket_id: int) -> Ticket:
        async with self.desk.db.reading() as session:
            row = await session.get(Ticket, ticket_id)
            assert row is not None
            return row

    async def outbox(self, kind: str | None = None) -> list[OutboxItem]:
        async with self.desk.db.reading() as session:
            stmt = select(OutboxItem).order_by(OutboxItem.id)
            if kind is not None:
                stmt = stmt.where(OutboxItem.kind == kind)
            return list((await session.scalars(stmt)).all())

    def channel(self, channel_id: str) -> dict[str, Any]:
        return self.stand_in.channels[channel_id]

    def stranger_in_thread(self, channel_id: str, username: str, *, roles: list[str] | None = None
                           ) -> dict[str, Any]:
        """A server member the desk has never seen, in the thread (as a mention of their role
        would have brought them in)."""
        user = payloads.user(username=username)
        self.stand_in.add_guild_member(self.guild_id, user, roles=roles)
        self.stand_in.join_thread(channel_id, user["id"])
        return user

    def in_thread(self, channel_id: str) -> set[str]:
        """Who is in a thread, by the keys of ``users`` (and "bot")."""
        names = {u["id"]: k for k, u in self.users.items()} | {self.stand_in.bot_user["id"]: "bot"}
        return {names.get(u, u) for u in self.stand_in.thread_members.get(channel_id, [])}


async def build_mirror_world(desk: Desk, stand_in: DiscordStandIn) -> MirrorWorld:
    guild_id = snowflake()
    async with desk.tx(SYSTEM, 0) as tx:
        workspace, _ = await workspace_for_guild(tx, guild_id=guild_id, name="Acme Community")
    world = MirrorWorld(desk=desk, stand_in=stand_in, workspace_id=workspace.id, guild_id=guild_id)
    stand_in.channels[world.forum] = payloads.forum_channel(guild_id, id=world.forum, tags=list(FORUM_TAGS))
    stand_in.channels[world.thread_parent] = payloads.text_channel(guild_id, id=world.thread_parent, name="support")
    people = (("sam", "Sam Staff", "staff", [world.staff_role]),
              ("max", "Max Manager", "manager", [world.management_role]),
              ("casey", "Casey", "customer", []), ("pat", "Pat", "customer", []))
    async with world.tx() as tx:
        await m.update_workspace(tx, settings={"management_role_ids": [world.management_role]})
        for key, name, role, roles in people:
            world.users[key] = payloads.user(username=key, global_name=name)
            stand_in.add_guild_member(guild_id, world.users[key], roles=roles)
            member = await m.add_member(tx, display_name=name, role=role, discord_user_id=world.users[key]["id"],
                                        discord_role_ids=roles)
            world.member_ids[key] = member.id
            world.actors[key] = await m.actor_for_member(tx, member)
        general = await m.create_ticket_type(tx, name="General", discord_mode="channel",
                                             staff_role_ids=[world.staff_role],
                                             settings={"discord": {"category_id": world.category}})
        billing = await m.create_ticket_type(tx, name="Billing", discord_mode="channel",
                                             staff_role_ids=[world.staff_role, world.billing_role],
                                             settings={"discord": {"category_id": world.billing_category,
                                                                   "ping_role_ids": [world.billing_role]}})
        threads = await m.create_ticket_type(tx, name="Threads", discord_mode="thread",
                                             staff_role_ids=[world.staff_role],
                                             settings={"discord": {"parent_channel_id": world.thread_parent}})
        relay = await m.create_ticket_type(tx, name="Relay", discord_mode="forum", staff_role_ids=[world.staff_role],
                                           settings={"discord": {"forum_channel_id": world.forum}})
        world.type_ids.update(General=general.id, Billing=billing.id, Threads=threads.id, Relay=relay.id)
    return world


@pytest.fixture
def mirror_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FRONTDESK_SECRET_KEY", "a key for the mirror tests, long enough")
    monkeypatch.setenv("FRONTDESK_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("FRONTDESK_PUBLIC_URL", "https://desk.example.com")


@pytest.fixture
async def rest_client(stand_in: DiscordStandIn) -> AsyncIterator[None]:
    """The worker's REST client, logged in against the stand-in (no gateway bot)."""
    rest.configure(FAKE_TOKEN)
    try:
        yield
    finally:
        await rest.close()
        rest.configure(None)


@pytest.fixture
async def mw(desk: Desk, stand_in: DiscordStandIn, rest_client: None, mirror_env: None) -> MirrorWorld:
    return await build_mirror_world(desk, stand_in)


def bodies(stand_in: DiscordStandIn, method: str, path: str) -> list[Any]:
    return [r.json for r in stand_in.seen(method, path)]


def dm_posts(stand_in: DiscordStandIn, user_id: str) -> list[Any]:
    """The bodies of the messages the bot sent to ``user_id``'s DMs."""
    channels = {c["id"] for c in stand_in.channels.values() if c.get("type") == 1
                and c["recipients"][0]["id"] == user_id}
    return [r.json for r in stand_in.seen("POST", r"/channels/\d+/messages")
            if r.path.split("/")[2] in channels and r.status < 300]


def embed_text(body: dict[str, Any]) -> str:
    """Everything a message body shows in its embeds, as one string."""
    parts: list[str] = []
    for embed in body.get("embeds") or []:
        parts += [str(embed.get("title") or ""), str(embed.get("description") or "")]
        for f in embed.get("fields") or []:
            parts += [str(f["name"]), str(f["value"])]
        parts.append(str((embed.get("footer") or {}).get("text") or ""))
    return "\n".join(parts)


def custom_ids(body: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for row in body.get("components") or [] for c in row.get("components") or []]
