"""A Discord server the bot joins becomes a workspace, once."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.actions.base import Tx
from frontdesk.actions.members import create_workspace
from frontdesk.db.models import Workspace
from frontdesk.domain.errors import Conflict, ValidationFailed
from frontdesk.domain.permissions import require_workspace_admin

_NAME_LIMIT = 100


async def _workspace_of(tx: Tx, guild_id: str) -> Workspace | None:
    return await tx.session.scalar(select(Workspace).where(Workspace.discord_guild_id == guild_id))


async def workspace_for_guild(tx: Tx, *, guild_id: str, name: str) -> tuple[Workspace, bool]:
    """The workspace of the Discord server ``guild_id``, created (named after the server) when
    there is none yet; answers it and whether it was created. Any number of bot processes and
    shards may call it for the same server at once: exactly one creates the workspace, the
    others find it. The desk itself only (the bot acts as ``Actor.system()``). Emits
    ``workspace.created`` when it creates one (through ``create_workspace``), nothing otherwise."""
    require_workspace_admin(tx.actor, "create a workspace for a Discord server")
    guild_id = str(guild_id)
    if not guild_id.isdigit() or len(guild_id) > 20:
        raise ValidationFailed(f"{guild_id!r} is not a Discord id", field="guild_id")
    found = await _workspace_of(tx, guild_id)
    if found is not None:
        tx.workspace_id = found.id
        return found, False
    # Discord allows 100 characters; whitespace-only names become a placeholder.
    label = (name or "").strip()[:_NAME_LIMIT] or f"Discord server {guild_id}"
    try:
        # A savepoint: when another process inserted the same server first, the unique index
        # on discord_guild_id refuses this row and only the savepoint is rolled back.
        async with tx.session.begin_nested():
            workspace = await create_workspace(tx, name=label, discord_guild_id=guild_id)
    except (Conflict, IntegrityError):
        found = await _workspace_of(tx, guild_id)
        if found is None:
            raise
        tx.workspace_id = found.id
        return found, False
    return workspace, True
