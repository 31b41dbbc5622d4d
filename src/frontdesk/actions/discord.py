"""What the Discord bot records besides tickets and messages: who a Discord user is in the
workspace, where a ticket lives in Discord, and which Discord message shows which frontdesk
message. The bot calls these; it never writes rows itself."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.actions.base import Tx
from frontdesk.db.models import DiscordMessageLink, DiscordTicket, Member, Message, Ticket
from frontdesk.domain.discord import snowflake
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.domain.permissions import ADMINISTRATOR, MANAGE_CHANNELS
from frontdesk.domain.tickets import DiscordMode

SYNCED_POWERS = (MANAGE_CHANNELS, ADMINISTRATOR)
_NAME_LIMIT = 100
LINK_KINDS = ("origin", "copy")


def _require_desk(tx: Tx, what: str) -> None:
    if not tx.actor.is_system:
        raise NotPermitted(f"only the desk itself may {what}")


async def member_for_discord_user(tx: Tx, *, user_id: str | int, display_name: str,
                                  role_ids: Iterable[str | int] | None = None, powers: Iterable[str] | None = None
                                  ) -> Member:
    """The workspace's member for a Discord user, created as a customer when new, with their
    name, roles and the powers frontdesk reads (Manage Channels, Administrator) brought up to
    date; ``None`` roles or powers (a DM, which carries no server roles) leave those as they
    are. Written only when something changed. Any number of processes may call it for the
    same user at once: one creates the member, the others find it. The desk only."""
    _require_desk(tx, "register Discord users")
    user = snowflake(user_id, "discord_user_id")
    roles = None if role_ids is None else sorted({snowflake(r, "discord_role_ids") for r in role_ids})
    wanted_powers = None if powers is None else sorted({p for p in powers if p in SYNCED_POWERS})
    name = (display_name or "").strip()[:_NAME_LIMIT] or f"Discord user {user}"
    member = await _member_of(tx, user)
    if member is None:
        try:
            async with tx.session.begin_nested():
                member = Member(workspace_id=tx.workspace_id, display_name=name, discord_user_id=user,
                                role="customer", discord_role_ids=roles or [], discord_powers=wanted_powers or [],
                                is_integration=False, available=True, created_at=tx.now)
                tx.session.add(member)
                await tx.session.flush()
        except IntegrityError:
            member = await _member_of(tx, user)
            if member is None:
                raise
        else:
            await tx.record("member.created", member_id=member.id, role="customer", source="discord")
            return member
    if member.display_name != name:
        member.display_name = name
    if roles is not None and list(member.discord_role_ids or []) != roles:
        member.discord_role_ids = roles
    if wanted_powers is not None and list(member.discord_powers or []) != wanted_powers:
        member.discord_powers = wanted_powers
    return member


async def _member_of(tx: Tx, user_id: str) -> Member | None:
    member = tx.discord_members.get(user_id)
    if member is None:
        member = await tx.session.scalar(select(Member).where(Member.workspace_id == tx.workspace_id,
                                                              Member.discord_user_id == user_id))
        if member is not None:
            tx.discord_members[user_id] = member
    return member


async def preload_discord_members(tx: Tx, user_ids: Iterable[str | int]) -> None:
    """Read the members of these Discord users in one round trip, for a transaction that acts
    as many of them (the relay's group commit). The desk only."""
    _require_desk(tx, "read Discord users' members")
    wanted = sorted({snowflake(u, "discord_user_id") for u in user_ids} - set(tx.discord_members))
    if wanted:
        for member in await tx.session.scalars(select(Member).where(Member.workspace_id == tx.workspace_id,
                                                                    Member.discord_user_id.in_(wanted))):
            tx.discord_members[member.discord_user_id] = member  # type: ignore[index]


async def place_ticket(tx: Tx, ticket: Ticket, *, guild_id: str | int, mode: str, channel_id: str | int,
                       parent_id: str | int | None = None, user_id: str | int | None = None,
                       dm_channel_id: str | int | None = None, welcome_message_id: str | int | None = None
                       ) -> DiscordTicket:
    """Record where ``ticket`` lives in Discord (its channel, thread or forum post). The desk only."""
    _require_desk(tx, "record where a ticket lives in Discord")
    try:
        kind = DiscordMode(mode).value
    except ValueError:
        raise ValidationFailed("mode must be channel, thread or forum", field="mode") from None
    row = DiscordTicket(
        ticket_id=ticket.id, workspace_id=tx.workspace_id, guild_id=snowflake(guild_id, "guild_id"), mode=kind,
        channel_id=snowflake(channel_id, "channel_id"),
        parent_id=None if parent_id is None else snowflake(parent_id, "parent_id"),
        user_id=None if user_id is None else snowflake(user_id, "user_id"),
        dm_channel_id=None if dm_channel_id is None else snowflake(dm_channel_id, "dm_channel_id"),
        welcome_message_id=None if welcome_message_id is None else snowflake(welcome_message_id,
                                                                             "welcome_message_id"),
        close_request_message_id=None, applied={}, state="open", created_at=tx.now, updated_at=tx.now,
    )
    tx.session.add(row)
    await tx.session.flush()
    return row


async def discord_ticket(tx: Tx, ticket_id: int, *, for_update: bool = False) -> DiscordTicket | None:
    stmt = select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id,
                                       DiscordTicket.workspace_id == tx.workspace_id)
    if for_update:
        stmt = stmt.with_for_update()
    return await tx.session.scalar(stmt)


async def link_message(tx: Tx, message_id: int, *, channel_id: str | int, discord_message_id: str | int,
                       kind: str) -> DiscordMessageLink:
    """Remember that the Discord message ``discord_message_id`` in ``channel_id`` shows the
    frontdesk message ``message_id``: where it was written (``origin``) or a copy the bot
    posted (``copy``). Linking the same Discord message twice keeps the first link. The desk only."""
    _require_desk(tx, "link Discord messages")
    if kind not in LINK_KINDS:
        raise ValidationFailed("kind must be origin or copy", field="kind")
    channel = snowflake(channel_id, "channel_id")
    discord_id = snowflake(discord_message_id, "discord_message_id")
    existing = await tx.session.scalar(select(DiscordMessageLink).where(
        DiscordMessageLink.channel_id == channel, DiscordMessageLink.discord_message_id == discord_id))
    if existing is not None:
        return existing
    link = DiscordMessageLink(workspace_id=tx.workspace_id, message_id=message_id, channel_id=channel,
                              discord_message_id=discord_id, kind=kind, created_at=tx.now)
    tx.session.add(link)
    await tx.session.flush()
    return link


async def link_messages(tx: Tx, links: Iterable[tuple[int, str | int, str | int, str]]) -> None:
    """``link_message`` for many at once, as ``(message_id, channel_id, discord_message_id,
    kind)``, in one statement: what the relay's group commit writes for a batch of messages.
    A Discord message linked already keeps its first link. The desk only."""
    _require_desk(tx, "link Discord messages")
    rows = []
    for message_id, channel_id, discord_message_id, kind in links:
        if kind not in LINK_KINDS:
            raise ValidationFailed("kind must be origin or copy", field="kind")
        rows.append({"workspace_id": tx.workspace_id, "message_id": message_id,
                     "channel_id": snowflake(channel_id, "channel_id"),
                     "discord_message_id": snowflake(discord_message_id, "discord_message_id"),
                     "kind": kind, "created_at": tx.now})
    if not rows:
        return
    assert tx.db is not None, "bulk links need the desk's database (its INSERT ... ON CONFLICT)"
    await tx.session.execute(tx.db.insert(DiscordMessageLink).on_conflict_do_nothing(
        index_elements=["channel_id", "discord_message_id"]), rows)


async def mark_shown_in_discord(tx: Tx, message_id: int, external_id: str | None) -> None:
    """Set the ``external_id`` of a stored message the bot itself shows in Discord (a macro sent
    from Discord): ``discord:<id>`` once posted, so the mirror never posts it again, or ``None``
    when posting failed. The desk only."""
    _require_desk(tx, "mark messages as shown in Discord")
    if external_id is not None and not external_id.startswith("discord:"):
        raise ValidationFailed("a Discord external id starts with 'discord:'", field="external_id")
    message = await tx.session.get(Message, message_id)
    if message is None or message.workspace_id != tx.workspace_id:
        raise ValidationFailed(f"message {message_id} does not exist in this workspace", field="message_id")
    message.external_id = external_id
