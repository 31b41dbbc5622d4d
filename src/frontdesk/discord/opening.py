"""Opening a ticket from a panel: a private text channel (channel mode) or a private thread
(thread mode), the welcome message in it, and the "Request human" button.

The order keeps Discord and the database in step: the open is rehearsed first (``open_ticket``
in a transaction that is rolled back, so the type's role restriction, the per-user limit and
business hours refuse with the action's own words before anything exists); then the channel
or thread is made; then, in one transaction as the member, the ticket is opened, the welcome
message posted in the new place and the place recorded (``place_ticket``, with the welcome
message's id). When anything after the place was made fails, the place is deleted, so a
failed open leaves nothing behind on either side. Forum-mode types continue in DMs
(``frontdesk.discord.modmail``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord

from frontdesk.actions.away import away_text
from frontdesk.actions.base import get_workspace
from frontdesk.actions.discord import link_message, place_ticket
from frontdesk.actions.macros import as_desk
from frontdesk.actions.templating import render_for_ticket
from frontdesk.actions.tickets import escalate_ticket, open_ticket
from frontdesk.db.models import Ticket
from frontdesk.discord.components import IntakeModal, submitted_values, welcome_view
from frontdesk.discord.embeds import ticket_embed
from frontdesk.discord.replies import reporting, say
from frontdesk.domain import events as ev
from frontdesk.domain.discord import (
    DiscordSettings,
    Overwrite,
    TypeDiscordSettings,
    clip,
    staff_ping,
    ticket_channel_name,
    ticket_overwrites,
)
from frontdesk.domain.errors import DeskClosed, DomainError, NotFound, NotPermitted
from frontdesk.domain.fields import IntakeQuestion, parse_intake_questions
from frontdesk.domain.permissions import Actor
from frontdesk.domain.tickets import ConversationChannel, DiscordMode
from frontdesk.queries.discord import ticket_card
from frontdesk.queries.panels import ticket_type

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord")

CONVERSATIONS = {DiscordMode.CHANNEL.value: ConversationChannel.DISCORD_CHANNEL.value,
                 DiscordMode.THREAD.value: ConversationChannel.DISCORD_THREAD.value,
                 DiscordMode.FORUM.value: ConversationChannel.DISCORD_FORUM.value}
BLACKLISTED = "You can't open tickets in this server."
GONE = "This ticket type is no longer available. Ask the server's staff for a new panel."
SERVERS_ONLY = "Tickets are opened from a panel in a server."
CONTINUE_IN_DMS = "I've sent you a DM to continue."
CLOSED_DMS = "I can't send you a DM: allow direct messages from this server's members, then try again."
ALREADY_ESCALATED = "This ticket is already escalated: staff know you're waiting for a human."
FAILED = "Something went wrong and no ticket was opened. Please try again in a moment."
REASON = "frontdesk ticket"


class PlaceRefused(DomainError):
    """Discord would not make a ticket's channel or thread (missing permission, no parent)."""

    code = "discord_refused"
    title = "Discord refused"


@dataclass(frozen=True)
class TypeFacts:
    """What opening needs of a ticket type, read before any write."""

    id: int
    name: str
    mode: str
    questions: tuple[IntakeQuestion, ...]
    staff_role_ids: tuple[str, ...]
    sequential_names: bool
    discord: TypeDiscordSettings


@dataclass(frozen=True)
class Facts:
    workspace_id: int
    type: TypeFacts
    discord: DiscordSettings
    management_role_ids: tuple[str, ...]


async def read_facts(bot: FrontdeskBot, workspace_id: int, type_id: int) -> Facts:
    """The type (refused when it is gone or archived) and the workspace's Discord settings."""
    async with bot.desk.read(Actor.system(), workspace_id) as tx:
        kind = await ticket_type(tx, type_id)
        if kind is None or kind.archived:
            raise NotFound(GONE)
        settings = (await get_workspace(tx)).settings or {}
        facts = Facts(
            workspace_id=workspace_id,
            type=TypeFacts(id=kind.id, name=kind.name, mode=kind.discord_mode,
                           questions=tuple(parse_intake_questions(kind.intake_questions or [])),
                           staff_role_ids=tuple(str(r) for r in kind.staff_role_ids or []),
                           sequential_names=kind.sequential_names, discord=TypeDiscordSettings.of(kind.settings)),
            discord=DiscordSettings.of(settings),
            management_role_ids=tuple(str(r) for r in settings.get("management_role_ids") or []),
        )
    return facts


def refuse_blacklisted(facts: Facts, user: discord.abc.User) -> None:
    roles = [r.id for r in user.roles] if isinstance(user, discord.Member) else []
    if facts.discord.blacklisted(user.id, roles):
        raise NotPermitted(BLACKLISTED)


# --- the click, the modal, the open ---------------------------------------------------------------------------


async def start_opening(bot: FrontdeskBot, interaction: discord.Interaction, type_id: int) -> None:
    """A click on a panel's button or select: refuse (blacklist, roles, limit, hours) with an
    ephemeral answer, else show the intake modal, or open the ticket at once when the type
    asks nothing; a forum-mode type continues in the user's DMs."""
    if interaction.guild is None:
        await say(interaction, SERVERS_ONLY)
        return
    workspace_id = await bot.workspace_id_of(interaction.guild.id, interaction.guild)
    assert workspace_id is not None
    async with reporting(interaction):
        facts = await read_facts(bot, workspace_id, type_id)
        refuse_blacklisted(facts, interaction.user)
        # Required questions get a stand-in answer: the rehearsal is about who may open.
        stand_ins = {q.id: "-" for q in facts.type.questions if q.required}
        number = await rehearse(bot, facts, interaction.user, stand_ins)
        if facts.type.mode == DiscordMode.FORUM.value:
            await continue_in_dms(bot, interaction, facts)
            return
        if facts.type.questions:
            await interaction.response.send_modal(IntakeModal(facts.type.id, facts.type.name, facts.type.questions))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await open_in_discord(bot, interaction, facts, {}, predicted_number=number)


async def submit_intake(bot: FrontdeskBot, interaction: discord.Interaction, type_id: int) -> None:
    """The intake modal's answers: open the ticket with them."""
    if interaction.guild is None:
        await say(interaction, SERVERS_ONLY)
        return
    workspace_id = await bot.workspace_id_of(interaction.guild.id, interaction.guild)
    assert workspace_id is not None
    await interaction.response.defer(ephemeral=True, thinking=True)
    async with reporting(interaction):
        facts = await read_facts(bot, workspace_id, type_id)
        refuse_blacklisted(facts, interaction.user)
        asked = {q.id for q in facts.type.questions}
        answers = {key: value for key, value in submitted_values(interaction.data).items() if key in asked}
        await open_in_discord(bot, interaction, facts, answers)


async def continue_in_dms(bot: FrontdeskBot, interaction: discord.Interaction, facts: Facts) -> None:
    """Forum-mode types are opened through the DM relay: the user continues in DMs."""
    from frontdesk.discord.modmail import start_dm_intake

    await interaction.response.defer(ephemeral=True, thinking=True)
    try:
        await start_dm_intake(bot, interaction.user, guild_id=interaction.guild_id, type_id=facts.type.id)
    except discord.Forbidden:
        await say(interaction, CLOSED_DMS)
        return
    await say(interaction, CONTINUE_IN_DMS)


async def rehearse(bot: FrontdeskBot, facts: Facts, user: discord.abc.User, answers: dict[str, str]) -> int:
    """``bot.rehearse_open`` for a panel's type, the desk-closed refusal in Discord's words."""
    try:
        return await bot.rehearse_open(facts.workspace_id, user, type_id=facts.type.id, answers=answers,
                                       channel=CONVERSATIONS[facts.type.mode])
    except DeskClosed as closed:
        raise DeskClosed(closed_text(closed), **closed.extra) from None


def closed_text(closed: DeskClosed) -> str:
    """Outside business hours: when the desk opens again, in the reader's own time zone."""
    next_open = closed.extra.get("next_open")
    if not next_open:
        return "We're closed right now, and new tickets can be opened during business hours only."
    stamp = int(datetime.fromisoformat(next_open).timestamp())
    return (f"We're closed right now, and new tickets can be opened during business hours only. "
            f"We open again <t:{stamp}:F> (<t:{stamp}:R>).")


async def open_in_discord(bot: FrontdeskBot, interaction: discord.Interaction, facts: Facts,
                          answers: dict[str, str], *, predicted_number: int | None = None) -> None:
    """Rehearse (unless just done), make the place, open and record the ticket; answer the
    user with a link. The interaction must be deferred."""
    guild, user = interaction.guild, interaction.user
    assert guild is not None and bot.user is not None
    number = predicted_number if predicted_number is not None else await rehearse(bot, facts, user, answers)
    opener_name = getattr(user, "display_name", None) or user.name
    name = ticket_channel_name(number=number, opener_name=opener_name, sequential=facts.type.sequential_names)
    place = await make_place(bot, guild, user, facts, name)
    try:
        ticket_number = await record_ticket(bot, guild, user, facts, answers, place)
    except BaseException as exc:
        await remove_place(place)
        if not isinstance(exc, DomainError | asyncio.CancelledError):
            log.exception("opening a ticket failed after its place was made", extra={"type_id": facts.type.id})
            await say(interaction, FAILED)
            return
        raise
    if ticket_number != number:
        # Another ticket was opened between the rehearsal and the open: the name follows the number.
        await rename_place(place, ticket_channel_name(number=ticket_number, opener_name=opener_name,
                                                      sequential=facts.type.sequential_names))
    await say(interaction, f"Your ticket is open: {place.mention}")


async def make_place(bot: FrontdeskBot, guild: discord.Guild, user: discord.abc.User, facts: Facts,
                     name: str) -> discord.TextChannel | discord.Thread:
    if facts.type.mode == DiscordMode.THREAD.value:
        return await make_thread(guild, user, facts, name)
    return await make_channel(bot, guild, user, facts, name)


async def make_channel(bot: FrontdeskBot, guild: discord.Guild, user: discord.abc.User, facts: Facts,
                       name: str) -> discord.TextChannel:
    """The ticket's private text channel, in the type's category (none when not set)."""
    assert bot.user is not None
    category_id = facts.type.discord.category_id
    category: Any = None
    if category_id is not None:
        category = guild.get_channel(int(category_id)) or discord.Object(int(category_id))
    overwrites = ticket_overwrites(guild_id=str(guild.id), bot_user_id=str(bot.user.id), opener_user_id=str(user.id),
                                   staff_role_ids=facts.type.staff_role_ids,
                                   management_role_ids=facts.management_role_ids)
    try:
        return await guild.create_text_channel(name, category=category, overwrites=permission_overwrites(
            guild, overwrites), reason=REASON)
    except discord.Forbidden:
        where = f"the category {category.name}" if isinstance(category, discord.CategoryChannel) else "this server"
        raise PlaceRefused(f"I couldn't open your ticket: I lack the Manage Channels permission in {where}. "
                           "Please tell the server's staff.") from None
    except discord.HTTPException as exc:
        raise PlaceRefused(f"I couldn't open your ticket: Discord refused to create its channel "
                           f"({exc.text or exc.status}). Please tell the server's staff.") from None


async def make_thread(guild: discord.Guild, user: discord.abc.User, facts: Facts, name: str) -> discord.Thread:
    """The ticket's private thread in the type's channel, with the opener added."""
    parent_id = facts.type.discord.parent_channel_id
    if parent_id is None:
        raise PlaceRefused(f"{facts.type.name} tickets have no channel for their threads yet. "
                           "Please tell the server's staff.")
    parent = guild.get_channel(int(parent_id))
    if parent is None:
        try:
            parent = await guild.fetch_channel(int(parent_id))
        except discord.HTTPException:
            parent = None
    if not isinstance(parent, discord.TextChannel):
        raise PlaceRefused(f"The channel for {facts.type.name} tickets is gone. Please tell the server's staff.")
    try:
        thread = await parent.create_thread(name=name, type=discord.ChannelType.private_thread, invitable=False,
                                            reason=REASON)
    except discord.Forbidden:
        raise PlaceRefused(f"I couldn't open your ticket: I lack the Create Private Threads permission in "
                           f"{parent.mention}. Please tell the server's staff.") from None
    except discord.HTTPException as exc:
        raise PlaceRefused(f"I couldn't open your ticket: Discord refused to create its thread "
                           f"({exc.text or exc.status}). Please tell the server's staff.") from None
    try:
        await thread.add_user(user)
    except discord.HTTPException as exc:
        await remove_place(thread)
        raise PlaceRefused(f"I couldn't add you to your ticket's thread ({exc.text or exc.status}).") from None
    return thread


def permission_overwrites(guild: discord.Guild, overwrites: list[Overwrite]
                          ) -> dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite]:
    """``domain.discord.ticket_overwrites`` as discord.py's overwrites for ``guild``. A role the
    server no longer has is left out (Discord would refuse the whole channel for it)."""
    out: dict[discord.Role | discord.Member | discord.Object, discord.PermissionOverwrite] = {}
    for overwrite in overwrites:
        permissions = discord.PermissionOverwrite(**{name: True for name in overwrite.allow},
                                                  **{name: False for name in overwrite.deny})
        target_id = int(overwrite.target_id)
        if overwrite.kind == "role":
            role = guild.get_role(target_id)
            if role is not None:
                out[role] = permissions
        else:
            out[guild.get_member(target_id) or discord.Object(target_id)] = permissions
    return out


async def record_ticket(bot: FrontdeskBot, guild: discord.Guild, user: discord.abc.User, facts: Facts,
                        answers: dict[str, str], place: discord.TextChannel | discord.Thread) -> int:
    """In one transaction: open the ticket as the member, post the welcome message, record
    where the ticket lives (as the desk). Returns the ticket's number."""
    mode = facts.type.mode
    async with bot.acting(facts.workspace_id, user) as tx:
        ticket = await open_ticket(tx, type_id=facts.type.id, answers=answers, channel=CONVERSATIONS[mode],
                                   external_id=str(place.id))
        try:
            welcome = await post_welcome(tx, place, ticket, facts, user)
        except discord.HTTPException as exc:
            raise PlaceRefused(f"I couldn't post in your new ticket ({exc.text or exc.status}), so I removed it. "
                               "Please tell the server's staff.") from None
        desk = as_desk(tx)
        await place_ticket(desk, ticket, guild_id=guild.id, mode=mode, channel_id=place.id,
                           parent_id=place.category_id if isinstance(place, discord.TextChannel) else place.parent_id,
                           user_id=user.id, welcome_message_id=welcome.id)
        shown = shown_message(tx.events, ticket.id)
        if shown is not None:
            await link_message(desk, shown, channel_id=place.id, discord_message_id=welcome.id, kind="copy")
        return ticket.number


def shown_message(events: list[Any], ticket_id: int) -> int | None:
    """The message the welcome message stands for in Discord (it is linked as its ``copy``, so
    it is not posted again): the away message ``open_ticket`` wrote, else the opener's first
    message (the intake description, shown among the answers). A Discord message can stand
    for one frontdesk message; with both, the away message wins, as the one sure to be posted."""
    away = first = None
    for event in events:
        if event.ticket_id != ticket_id:
            continue
        if event.type == ev.AWAY_MESSAGE_SENT and away is None:
            away = event.payload["message_id"]
        elif event.type == ev.MESSAGE_CREATED and event.payload.get("author_kind") == "customer" and first is None:
            first = event.payload["message_id"]
    return away if away is not None else first


async def post_welcome(tx: Any, place: discord.abc.Messageable, ticket: Ticket, facts: Facts,
                       user: discord.abc.User) -> discord.Message:
    """The ticket's card with a staff ping (the type's toggle and role subset), the opener's
    mention, the type's welcome text, the away message outside business hours, and the
    "Request human" button."""
    pinged = facts.type.discord.pinged_roles(facts.type.staff_role_ids)
    head = " ".join(part for part in (staff_ping(facts.type.discord, facts.type.staff_role_ids), user.mention) if part)
    parts = [head]
    if facts.type.discord.welcome_message:
        parts.append(await render_for_ticket(tx, facts.type.discord.welcome_message, ticket))
    away = await away_text(tx, ticket)
    if away:
        parts.append(away)
    embed = ticket_embed(await ticket_card(tx, ticket))
    mentions = discord.AllowedMentions(everyone=False, users=[user], roles=[discord.Object(int(r)) for r in pinged])
    message = await place.send(content=clip("\n\n".join(parts)), embed=embed, view=welcome_view(ticket.id),
                               allowed_mentions=mentions)
    unpinged = [r for r in facts.type.staff_role_ids if r not in pinged]
    if isinstance(place, discord.Thread) and unpinged:
        # A private thread takes in whom a message mentions. Mentions added by an edit notify
        # nobody, so the staff roles the type does not ping still get into the thread.
        roles = " ".join(f"<@&{r}>" for r in unpinged)
        silent = discord.AllowedMentions(everyone=False, users=False,
                                         roles=[discord.Object(int(r)) for r in unpinged])
        await message.edit(content=clip(f"{message.content}\n-# Staff: {roles}"), allowed_mentions=silent)
    return message


async def remove_place(place: discord.TextChannel | discord.Thread) -> None:
    try:
        await place.delete(reason="frontdesk: the ticket could not be opened")
    except discord.HTTPException:
        log.warning("could not delete the place of a ticket that failed to open", extra={"channel_id": str(place.id)})


async def rename_place(place: discord.TextChannel | discord.Thread, name: str) -> None:
    try:
        await place.edit(name=name)
    except discord.HTTPException:
        log.warning("could not rename a ticket's channel to its number", extra={"channel_id": str(place.id)})


# --- Request human --------------------------------------------------------------------------------------------


async def request_human(bot: FrontdeskBot, interaction: discord.Interaction, ticket_id: int) -> None:
    """The welcome message's button: escalate the ticket as the clicker (its opener or staff,
    as ``escalate_ticket`` decides) and say so in the ticket; an escalated ticket is said to be."""
    found = await bot.ticket_of_button(interaction, ticket_id)
    if found is None:
        return
    workspace_id, number = found
    escalated = False
    async with reporting(interaction):
        async with bot.acting(workspace_id, interaction.user) as tx:
            await escalate_ticket(tx, number, reason="user_requested")
            escalated = any(e.type == ev.TICKET_ESCALATED for e in tx.events)
        if not escalated:
            await say(interaction, ALREADY_ESCALATED)
            return
        await say(interaction, f"{interaction.user.mention} asked for a human: the ticket is escalated and staff "
                               "will answer here.", ephemeral=False)
