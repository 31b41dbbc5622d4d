"""The worker's half of panels made through the API: post the panel (outbox ``discord.panel``)
and delete the message of a deleted panel (``discord.panel_delete``), over the REST client.

Posting is idempotent: a panel that has its message is done, and the message is sent with a
nonce Discord enforces, so a retry after a lost answer within Discord's few minutes gets the
message already made instead of a second one. A channel outside the workspace's server, a
missing channel or a missing permission is dead at once with the reason; Discord being
unreachable or failing is retried.
"""

from __future__ import annotations

import logging

import aiohttp
import discord
from discord.http import handle_message_parameters

from frontdesk.actions.base import Desk, get_workspace
from frontdesk.actions.panels import DELETE_KIND, POST_KIND, set_panel_message
from frontdesk.db.models import DiscordPanel, OutboxItem
from frontdesk.discord import rest
from frontdesk.discord.components import panel_embed, panel_view
from frontdesk.domain.permissions import Actor
from frontdesk.queries.panels import shown_types
from frontdesk.worker.outbox import Outcome, RetryPolicy, dead, done, register, retry

log = logging.getLogger("frontdesk.discord")

SYSTEM = Actor.system("discord panels")
PANEL_RETRY = RetryPolicy.exponential(first=10, cap=900, attempts=12, timeout=30)


def _failure(exc: Exception, what: str) -> Outcome:
    """What a failed Discord call means for the item."""
    if isinstance(exc, discord.Forbidden):
        return dead(f"{what}: the bot lacks a permission there (Discord {exc.code}: {exc.text})")
    if isinstance(exc, discord.NotFound):
        return dead(f"{what}: Discord does not know it (Discord {exc.code}: {exc.text})")
    if isinstance(exc, discord.DiscordServerError):
        return retry(error=f"{what}: Discord failed ({exc.status})")
    if isinstance(exc, discord.HTTPException):
        return dead(f"{what}: Discord refused ({exc.status}, code {exc.code}: {exc.text})")
    return retry(error=f"{what}: Discord is unreachable ({type(exc).__name__}: {exc})")


async def post_panel(desk: Desk, item: OutboxItem) -> Outcome:
    panel_id = int(item.payload["panel_id"])
    async with desk.read(SYSTEM, item.workspace_id) as tx:
        panel = await tx.session.get(DiscordPanel, panel_id)
        if panel is None or panel.workspace_id != item.workspace_id:
            return done()  # deleted before it was posted
        if panel.message_id is not None:
            return done()
        guild_id = (await get_workspace(tx)).discord_guild_id
        kinds = await shown_types(tx, list(panel.type_ids or []))
        channel_id, title, description = panel.channel_id, panel.title, panel.description
    if not kinds:
        return dead("none of the panel's ticket types is open for tickets any more")
    where = f"channel {channel_id}"
    try:
        http = await rest.client()
        channel = await http.get_channel(channel_id)
        if guild_id is None or str(channel.get("guild_id")) != guild_id:
            return dead(f"{where} is not in this workspace's Discord server")
        with handle_message_parameters(embed=panel_embed(title, description), view=panel_view(panel_id, kinds),
                                       nonce=f"fdpanel{panel_id}") as params:
            message = await http.send_message(channel_id, params=params)
    except rest.DiscordNotConfigured as exc:
        return retry(error=str(exc))
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        return _failure(exc, where)
    async with desk.tx(SYSTEM, item.workspace_id) as tx:
        await set_panel_message(tx, panel_id, message["id"])
    return done()


async def delete_panel_message(desk: Desk, item: OutboxItem) -> Outcome:
    channel_id, message_id = str(item.payload["channel_id"]), str(item.payload["message_id"])
    try:
        http = await rest.client()
        await http.delete_message(channel_id, message_id, reason="frontdesk: the panel was deleted")
    except discord.NotFound:
        return done()  # already gone
    except rest.DiscordNotConfigured as exc:
        return retry(error=str(exc))
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        return _failure(exc, f"message {message_id} in channel {channel_id}")
    return done()


register(POST_KIND, post_panel, retry=PANEL_RETRY)
register(DELETE_KIND, delete_panel_message, retry=PANEL_RETRY)
