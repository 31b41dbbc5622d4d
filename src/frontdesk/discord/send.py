"""``/send``: a staff message to a ticket's user (stored in the ticket, DMed to the user and
shown in the post through a webhook under the staff member's name), or outside a ticket a
plain DM to any server member (recorded nowhere: it is not part of a ticket)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord

from frontdesk.discord.relay import (
    deliver,
    link_copies,
    read_place,
    recipient,
    staff_embed,
    store,
    undelivered,
)
from frontdesk.discord.webhooks import own_webhook
from frontdesk.domain.discord import STAFF_ANONYMOUS_NAME, clip
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import require_staff
from frontdesk.queries.modmail import TicketPlace

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

log = logging.getLogger("frontdesk.discord.modmail")

SENT = "Sent to {user}."
SENT_OUTSIDE = "Sent to {user} as a direct message (not part of any ticket)."
NEEDS_USER = "Outside a ticket, /send needs the user to write to."
NOT_THE_OPENER = "In a ticket, /send writes to the ticket's user; leave the user option empty."
NOT_A_RELAY = "This ticket is not a DM ticket: write in its channel instead."
ANONYMOUS_OUTSIDE = "anonym-override only works inside a DM ticket."
EMPTY = "The message is empty."


async def relay_webhook(bot: FrontdeskBot, forum_id: int) -> discord.Webhook:
    """The bot's webhook in the ticket's forum."""
    forum = bot.get_channel(forum_id) or await bot.fetch_channel(forum_id)
    if not isinstance(forum, discord.ForumChannel | discord.TextChannel):
        raise ValidationFailed("the ticket's forum is gone", field="forum_channel_id")
    return await own_webhook(bot, forum, reason="frontdesk shows /send replies with it")


async def show_in_post(bot: FrontdeskBot, place: TicketPlace, body: str, *, author: discord.abc.User,
                       anonymous: bool) -> discord.Message | None:
    """The sent message in the post, under the staff member's name and avatar (marked when the
    user saw it from "Staff"). A failure here is logged: the message is stored and delivered."""
    if place.parent_id is None:
        return None
    name = getattr(author, "display_name", None) or author.name
    try:
        hook = await relay_webhook(bot, int(place.parent_id))
        return await hook.send(clip(body), username=clip(f"{name} (as {STAFF_ANONYMOUS_NAME})" if anonymous else name,
                                                         80),
                               avatar_url=author.display_avatar.url, thread=discord.Object(int(place.channel_id)),
                               wait=True, allowed_mentions=discord.AllowedMentions.none())
    except (discord.HTTPException, ValidationFailed) as exc:
        log.warning("a /send reply could not be shown in its post", extra={"ticket_id": place.ticket_id,
                                                                           "error": str(exc)})
        return None


async def send_in_ticket(bot: FrontdeskBot, interaction: discord.Interaction, place: TicketPlace, text: str, *,
                         anonymous_override: bool | None) -> str:
    """Store, deliver and show a staff message of the ticket in ``place``; the answer for the
    staff member (a ``DomainError`` leaves with nothing stored)."""
    anonymous = place.settings.anonymous_replies if anonymous_override is None else anonymous_override
    stored = await store(bot, place, interaction.user, text, external_id=f"discord:interaction:{interaction.id}",
                         origin=None, reply_to=None, other_channel_id=None, anonymous=anonymous, staff_only=True)
    try:
        sent = await deliver(bot, place, text, author=interaction.user, anonymous=stored.anonymous,
                             reply_reference=None)
    except discord.HTTPException as exc:
        return undelivered(recipient(place), exc)
    shown = await show_in_post(bot, place, text, author=interaction.user, anonymous=stored.anonymous)
    await link_copies(bot, place.workspace_id, stored.message_id, sent, shown)
    return SENT.format(user=recipient(place))


async def send_outside(bot: FrontdeskBot, interaction: discord.Interaction, user: discord.abc.User,
                       text: str) -> str:
    """A plain DM from staff to ``user``, outside any ticket."""
    assert interaction.guild is not None
    workspace_id = await bot.workspace_id_of(interaction.guild.id, interaction.guild)
    assert workspace_id is not None
    async with bot.acting(workspace_id, interaction.user) as tx:
        require_staff(tx.actor, "send direct messages through the bot")
    if not isinstance(user, discord.User | discord.Member):  # an option Discord did not resolve
        user = await bot.fetch_user(user.id)
    try:
        await user.send(embed=staff_embed(text, author=interaction.user, anonymous=False,
                                          guild_name=interaction.guild.name))
    except discord.HTTPException as exc:
        return undelivered(f"<@{user.id}>", exc)
    return SENT_OUTSIDE.format(user=f"<@{user.id}>")


async def send_command(bot: FrontdeskBot, interaction: discord.Interaction, text: str,
                       user: discord.abc.User | None, anonymous_override: bool | None) -> str:
    """What ``/send`` does with its options, wherever it was used; the answer to show."""
    text = text.strip()
    if not text:
        raise ValidationFailed(EMPTY, field="message")
    place = await read_place(bot, interaction.channel_id) if interaction.channel_id else None
    if place is None or not place.is_open:
        if user is None:
            raise ValidationFailed(NEEDS_USER, field="user")
        if anonymous_override:
            raise ValidationFailed(ANONYMOUS_OUTSIDE, field="anonym-override")
        return await send_outside(bot, interaction, user, text)
    if not place.relays_to_dm:
        raise ValidationFailed(NOT_A_RELAY, field="user")
    if user is not None and str(user.id) != place.user_id:
        raise ValidationFailed(NOT_THE_OPENER, field="user")
    return await send_in_ticket(bot, interaction, place, text, anonymous_override=anonymous_override)
