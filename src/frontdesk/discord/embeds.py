"""How a ticket looks in Discord: the card at the top of its channel, thread or post."""

from __future__ import annotations

import discord

from frontdesk.domain.discord import clip
from frontdesk.queries.discord import TicketCard

STATUS_COLOURS = {"open": 0x3BA55C, "waiting": 0xFAA61A, "resolved": 0x5865F2, "closed": 0x747F8D}
FIELD_VALUE_MAX = 1024  # Discord's limit for one embed field


def ticket_embed(card: TicketCard) -> discord.Embed:
    """The ticket's card: subject, who opened it, who claimed it and who it is assigned to,
    priority and status, and the opener's intake answers."""
    embed = discord.Embed(title=clip(f"Ticket #{card.number}: {card.title}", 256),
                          colour=STATUS_COLOURS.get(card.status, 0x747F8D))
    embed.add_field(name="Opened by", value=card.opener, inline=True)
    if card.type_name:
        embed.add_field(name="Type", value=card.type_name, inline=True)
    embed.add_field(name="Priority", value=card.priority, inline=True)
    embed.add_field(name="Status", value=card.status + (" · escalated" if card.escalated else "")
                    + (" · lockdown" if card.lockdown else ""), inline=True)
    embed.add_field(name="Claimed by", value=card.claimer or "nobody yet", inline=True)
    embed.add_field(name="Assigned to", value=card.assignee or "nobody", inline=True)
    for label, value in card.answers[:5]:
        embed.add_field(name=clip(label, 256), value=clip(value, FIELD_VALUE_MAX), inline=False)
    embed.set_footer(text=f"frontdesk ticket {card.number}")
    return embed
