"""What the Discord bot reads: which workspace a server is, which ticket a channel holds."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions.base import Tx
from frontdesk.db.models import Conversation, Ticket, Workspace
from frontdesk.domain.tickets import ConversationChannel

DISCORD_CONVERSATIONS = (ConversationChannel.DISCORD_CHANNEL, ConversationChannel.DISCORD_THREAD,
                         ConversationChannel.DISCORD_FORUM)


async def workspace_id_for_guild(tx: Tx, guild_id: int | str) -> int | None:
    return await tx.session.scalar(select(Workspace.id).where(Workspace.discord_guild_id == str(guild_id)))


async def ticket_in_channel(tx: Tx, channel_id: int | str) -> Ticket | None:
    """The ticket whose Discord channel, thread or forum post is ``channel_id``, if any."""
    return await tx.session.scalar(
        select(Ticket).join(Conversation, Conversation.ticket_id == Ticket.id).where(
            Conversation.workspace_id == tx.workspace_id,
            Conversation.channel.in_([c.value for c in DISCORD_CONVERSATIONS]),
            Conversation.external_id == str(channel_id),
        ).limit(1)
    )
