"""Panels: the Discord messages with a button per ticket type (a select menu above four types)
that open tickets.

Who: a workspace admin (owner, admin, Discord Administrator) or a member with the Discord
Manage Channels power creates and deletes panels. A panel is a message posted in one of the
server's channels, the same trust as shaping its channels; ticket types themselves stay with
admins. The bot posts a panel made by ``/panel`` at once; a panel made through the API is
posted by the worker (outbox kind ``discord.panel``), which stores the message id through
``set_panel_message``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Tx, get_owned, get_workspace
from frontdesk.actions.outbox import enqueue
from frontdesk.db.models import DiscordPanel, TicketType
from frontdesk.domain.discord import snowflake
from frontdesk.domain.errors import Conflict, NotPermitted, ValidationFailed
from frontdesk.domain.permissions import MANAGE_CHANNELS, Actor

PANEL_CREATED = "discord_panel.created"
PANEL_POSTED = "discord_panel.posted"
PANEL_DELETED = "discord_panel.deleted"
POST_KIND = "discord.panel"
DELETE_KIND = "discord.panel_delete"
OUTBOX_LANE = "discord"
TITLE_MAX = 256  # an embed title
DESCRIPTION_MAX = 4000  # an embed description holds 4096
TYPES_MAX = 25  # a select menu's options


def can_manage_panels(actor: Actor) -> bool:
    return actor.is_workspace_admin or MANAGE_CHANNELS in actor.discord_powers


def require_panel_manager(actor: Actor) -> None:
    if not can_manage_panels(actor):
        raise NotPermitted("only workspace admins and members with Manage Channels may manage panels")


def _title(value: Any) -> str:
    title = " ".join(value.split()) if isinstance(value, str) else ""
    if not title or len(title) > TITLE_MAX:
        raise ValidationFailed(f"title is 1 to {TITLE_MAX} characters", field="title")
    return title


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX:
        raise ValidationFailed(f"description is text of at most {DESCRIPTION_MAX} characters", field="description")
    return value.strip() or None


async def _check_types(tx: Tx, type_ids: Any) -> list[int]:
    """The type ids in the order given, each once: every one a type of this workspace that is
    not archived, 1 to 25 of them."""
    if not isinstance(type_ids, list) or not type_ids:
        raise ValidationFailed("type_ids lists 1 to 25 ticket types", field="type_ids")
    wanted: list[int] = []
    for value in type_ids:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationFailed(f"{value!r} is not a ticket type id", field="type_ids")
        if value not in wanted:
            wanted.append(value)
    if len(wanted) > TYPES_MAX:
        raise ValidationFailed(f"a panel shows at most {TYPES_MAX} ticket types", field="type_ids")
    found: dict[int, bool] = dict((await tx.session.execute(
        select(TicketType.id, TicketType.archived).where(TicketType.workspace_id == tx.workspace_id,
                                                         TicketType.id.in_(wanted)))).all())
    for type_id in wanted:
        if type_id not in found:
            raise ValidationFailed(f"ticket type {type_id} does not exist in this workspace", field="type_ids")
        if found[type_id]:
            raise ValidationFailed(f"ticket type {type_id} is archived", field="type_ids")
    return wanted


async def create_panel(tx: Tx, *, channel_id: Any, title: Any, description: Any = None, type_ids: Any,
                       post_by_worker: bool = True) -> DiscordPanel:
    """Record a panel for ``channel_id`` showing ``type_ids`` (in that order). With
    ``post_by_worker`` (the API) the worker posts it (outbox ``discord.panel``); without, the
    caller (the bot's ``/panel``) posts it and records the message with ``set_panel_message``.
    Panel managers only; the workspace must belong to a Discord server. Emits
    ``discord_panel.created``."""
    require_panel_manager(tx.actor)
    channel = snowflake(channel_id, "channel_id")
    clean_title = _title(title)
    clean_description = _description(description)
    ids = await _check_types(tx, type_ids)
    workspace = await get_workspace(tx)
    if workspace.discord_guild_id is None:
        raise Conflict("this workspace is not linked to a Discord server: invite the bot to it first")
    panel = DiscordPanel(workspace_id=tx.workspace_id, channel_id=channel, message_id=None, title=clean_title,
                         description=clean_description, type_ids=ids, created_by_id=tx.actor.member_id,
                         created_at=tx.now)
    tx.session.add(panel)
    await tx.session.flush()
    await tx.record(PANEL_CREATED, panel_id=panel.id, channel_id=channel, type_ids=ids)
    if post_by_worker:
        await enqueue(tx, POST_KIND, {"panel_id": panel.id}, key=f"discord-panel:{panel.id}", lane=OUTBOX_LANE)
    return panel


async def set_panel_message(tx: Tx, panel_id: int, message_id: Any) -> DiscordPanel:
    """Record the Discord message that shows the panel. A panel already posted keeps its
    first message. The desk only. Emits ``discord_panel.posted``."""
    if not tx.actor.is_system:
        raise NotPermitted("only the desk itself may record where a panel was posted")
    panel = await get_owned(tx, DiscordPanel, panel_id, what=f"panel {panel_id}", for_update=True)
    if panel.message_id is None:
        panel.message_id = snowflake(message_id, "message_id")
        await tx.record(PANEL_POSTED, panel_id=panel.id, channel_id=panel.channel_id, message_id=panel.message_id)
    return panel


async def delete_panel(tx: Tx, panel_id: int) -> None:
    """Delete a panel; its Discord message, once posted, is deleted by the worker (outbox
    ``discord.panel_delete``). Buttons of a message that outlives it still open tickets: they
    name their ticket type, not the panel. Panel managers only. Emits ``discord_panel.deleted``."""
    require_panel_manager(tx.actor)
    panel = await get_owned(tx, DiscordPanel, panel_id, what=f"panel {panel_id}", for_update=True)
    if panel.message_id is not None:
        await enqueue(tx, DELETE_KIND, {"channel_id": panel.channel_id, "message_id": panel.message_id},
                      key=f"discord-panel-delete:{panel.id}", lane=OUTBOX_LANE)
    await tx.record(PANEL_DELETED, panel_id=panel.id, channel_id=panel.channel_id, message_id=panel.message_id)
    await tx.session.delete(panel)
    await tx.session.flush()
