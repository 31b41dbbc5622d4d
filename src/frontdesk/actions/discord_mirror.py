"""The Discord mirror, desk side: what a change made anywhere (the API, the dashboard, the
worker, the bot itself) has to do in Discord, written to the outbox in the change's own
transaction. The worker carries it out (``frontdesk.discord.mirror``); nothing here talks to
Discord, so a Discord outage never fails or slows the action that caused it.

Outbox kinds (payloads are ids; handlers read the current state when they run):

* ``discord.sync``: bring the ticket's channel, thread or post up to date (name, category,
  permission overwrites, thread members, forum tags, the welcome card, unarchiving after a
  reopen). One per ticket and transaction, in the lane ``discord:{ticket_id}``.
* ``discord.post``: a public message written outside Discord, posted into the ticket's place
  (and, for forum tickets of the DM relay, DMed to the user); the move notice with the new
  type's staff ping.
* ``discord.staff_log``: a post in a staff channel (log, escalations, alerts).
* ``discord.close``: the close flow (transcript post, channel deleted or thread archived).
* ``discord.dm``: the close DM (note, transcript link, CSAT buttons), close-request prompts
  and their settling (deleted when withdrawn, edited when answered).

Also here: the desk-only writes the handlers make afterwards (``save_applied``), and the
bot's request for a sync when Discord changed a place behind the desk's back (``resync``).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm.util import identity_key

from frontdesk.actions.base import Tx
from frontdesk.actions.outbox import enqueue
from frontdesk.db.models import DiscordTicket, Message, Ticket, Workspace
from frontdesk.domain import events as ev
from frontdesk.domain.discord import DiscordSettings, forum_tags
from frontdesk.domain.errors import NotPermitted

HOOK_KEY = "discord_mirror"

SYNC = "discord.sync"
POST = "discord.post"
STAFF_LOG = "discord.staff_log"
CLOSE = "discord.close"
DM = "discord.dm"
KINDS = (SYNC, POST, STAFF_LOG, CLOSE, DM)

# Events after which a ticket's place may differ from what was last applied.
SYNC_EVENTS = frozenset({
    ev.TICKET_CLAIMED, ev.TICKET_UNCLAIMED, ev.TICKET_ASSIGNED, ev.TICKET_UNASSIGNED, ev.TICKET_STATUS_CHANGED,
    ev.TICKET_PRIORITY_CHANGED, ev.TICKET_RENAMED, ev.TICKET_MOVED, ev.TICKET_PARTICIPANT_ADDED,
    ev.TICKET_PARTICIPANT_REMOVED, ev.TICKET_ESCALATED, ev.TICKET_LOCKED, ev.TICKET_UNLOCKED,
    ev.TICKET_REOPENED, ev.MESSAGE_CREATED, ev.CLOSE_REQUEST_CREATED, ev.CLOSE_REQUEST_ACCEPTED,
    ev.CLOSE_REQUEST_DENIED, ev.CLOSE_REQUEST_CANCELLED, ev.CLOSE_REQUEST_EXPIRED, ev.TICKET_UNMERGED,
})
# What changes only a forum post's tags: other places need no sync for it.
FORUM_ONLY = frozenset({ev.MESSAGE_CREATED, ev.CLOSE_REQUEST_CREATED, ev.CLOSE_REQUEST_ACCEPTED,
                        ev.CLOSE_REQUEST_DENIED, ev.CLOSE_REQUEST_CANCELLED, ev.CLOSE_REQUEST_EXPIRED})
CLOSE_REQUEST_SETTLED = frozenset({ev.CLOSE_REQUEST_ACCEPTED, ev.CLOSE_REQUEST_DENIED, ev.CLOSE_REQUEST_CANCELLED,
                                   ev.CLOSE_REQUEST_EXPIRED})
LOGGED = frozenset({ev.TICKET_OPENED, ev.TICKET_CLAIMED, ev.TICKET_CLOSED})
WATCHED = SYNC_EVENTS | LOGGED | {ev.TICKET_CLOSED, ev.TICKET_MERGED, ev.TICKET_ESCALATED, ev.ALERT_RAISED}

# Staff channels, by the name a ``discord.staff_log`` payload uses.
LOG_CHANNEL = "log"
ESCALATION_CHANNEL = "escalation"
ALERTS_CHANNEL = "alerts"

_NO_DISCORD = (None, None)


def lane(ticket_id: int) -> str:
    return f"discord:{ticket_id}"


async def mirror_to_discord(tx: Tx) -> None:
    """Before every commit: enqueue what the transaction's new events mean in Discord.

    Costs nothing for a transaction without such events, and one read of the workspace's
    server (once per transaction) for a workspace that has none. Tickets without a
    ``DiscordTicket`` row get no ticket effects; staff-channel posts need only the server."""
    events = [e for e in tx.unseen(HOOK_KEY) if e.type in WATCHED]
    if not events:
        return
    guild_id, settings = await _workspace_discord(tx)
    if guild_id is None or settings is None:
        return
    if any(e.id is None for e in events):
        await tx.session.flush()
    ticket_ids = {e.ticket_id for e in events if e.ticket_id is not None}
    places: dict[int, DiscordTicket] = {}
    if ticket_ids:
        rows = await tx.session.scalars(select(DiscordTicket).where(DiscordTicket.ticket_id.in_(ticket_ids)))
        places = {row.ticket_id: row for row in rows}
    await _staff_channels(tx, events, settings)
    if not places:
        return
    posted = await _postable_messages(tx, [e for e in events if e.ticket_id in places])
    # A forum post whose only news is messages that leave its activity tag as it is needs no sync.
    synced: set[int] = {t for t, place in places.items() if place.mode == "forum"
                        and all(e.type == ev.MESSAGE_CREATED for e in events if e.ticket_id == t)
                        and await _activity_tag_unchanged(tx, place)}
    token = _transaction_token(tx)
    for event in events:
        place = places.get(event.ticket_id)
        if place is None:
            continue
        ticket_id = place.ticket_id
        if event.type in SYNC_EVENTS and ticket_id not in synced and (
                place.mode == "forum" or event.type not in FORUM_ONLY):
            synced.add(ticket_id)
            await enqueue(tx, SYNC, {"ticket_id": ticket_id}, key=f"{SYNC}:{token}:{ticket_id}", lane=lane(ticket_id))
        if event.type == ev.MESSAGE_CREATED and event.payload.get("message_id") in posted:
            message_id = event.payload["message_id"]
            await enqueue(tx, POST, {"what": "message", "ticket_id": ticket_id, "message_id": message_id},
                          key=f"{POST}:message:{message_id}", lane=lane(ticket_id))
        elif event.type == ev.TICKET_MOVED:
            await enqueue(tx, POST, {"what": "moved", "ticket_id": ticket_id, "event_id": event.id,
                                     "type_id": (event.payload.get("after") or {}).get("type_id")},
                          key=f"{POST}:moved:{event.id}", lane=lane(ticket_id))
        elif event.type == ev.TICKET_CLOSED:
            await enqueue(tx, CLOSE, {"ticket_id": ticket_id, "event_id": event.id}, key=f"{CLOSE}:{event.id}",
                          lane=lane(ticket_id))
            await enqueue(tx, DM, {"what": "closed", "ticket_id": ticket_id, "event_id": event.id},
                          key=f"{DM}:closed:{event.id}", lane=lane(ticket_id))
        elif event.type == ev.TICKET_MERGED and event.payload.get("role") == "source":
            # Closed by the merge, without a transcript of its own: the place closes.
            await enqueue(tx, CLOSE, {"ticket_id": ticket_id, "event_id": event.id, "transcript": False},
                          key=f"{CLOSE}:{event.id}", lane=lane(ticket_id))
        elif event.type == ev.CLOSE_REQUEST_CREATED:
            request_id = event.payload.get("close_request_id")
            await enqueue(tx, DM, {"what": "close_request", "ticket_id": ticket_id, "close_request_id": request_id},
                          key=close_request_prompt_key(request_id), lane=lane(ticket_id))
        elif event.type in CLOSE_REQUEST_SETTLED:
            request_id = event.payload.get("close_request_id")
            await enqueue(tx, DM, {"what": "close_request_settled", "ticket_id": ticket_id,
                                   "close_request_id": request_id, "event": event.type,
                                   "cause": event.payload.get("cause")},
                          key=f"{DM}:close_request_settled:{request_id}", lane=lane(ticket_id))


def close_request_prompt_key(request_id: Any) -> str:
    return f"{DM}:close_request:{request_id}"


async def _workspace_discord(tx: Tx) -> tuple[str | None, DiscordSettings | None]:
    """The workspace's server id and Discord settings, read once per transaction."""
    cached = getattr(tx, "_discord_mirror_workspace", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    row = await tx.session.get(Workspace, tx.workspace_id)  # no read when loaded already
    found = _NO_DISCORD
    if row is not None and row.discord_guild_id:
        found = (row.discord_guild_id, DiscordSettings.of(row.settings))  # type: ignore[assignment]
    tx._discord_mirror_workspace = found  # type: ignore[attr-defined]
    return found


async def _activity_tag_unchanged(tx: Tx, place: DiscordTicket) -> bool:
    """Whether the post already carries the activity tag its ticket calls for (or the forum has
    no tags to carry), so a burst of messages does not make a Discord edit each."""
    applied = place.applied or {}
    if "tags" not in applied or applied.get("last_error"):
        return False
    # By id: loaded already in this transaction (``locked_tickets`` holds them), so no read.
    ticket = await tx.session.get(Ticket, place.ticket_id)
    if ticket is None:
        return False
    _, activity = forum_tags(status=ticket.status, close_requested=False,
                             last_customer_message_at=ticket.last_customer_message_at,
                             last_staff_message_at=ticket.last_staff_message_at)
    tags = list(applied["tags"])
    return not tags or activity in tags


def _transaction_token(tx: Tx) -> str:
    token = getattr(tx, "_discord_mirror_token", None)
    if token is None:
        token = uuid.uuid4().hex
        tx._discord_mirror_token = token  # type: ignore[attr-defined]
    return token  # type: ignore[no-any-return]


async def _postable_messages(tx: Tx, events: list[Any]) -> set[int]:
    """The ids of the public messages among ``events`` that were written outside Discord."""
    ids = {e.payload.get("message_id") for e in events
           if e.type == ev.MESSAGE_CREATED and e.payload.get("visibility", "public") == "public"}
    ids.discard(None)
    if not ids:
        return set()
    # The messages this transaction wrote and still holds are read off the session.
    loaded = {i: m for i in ids if (m := tx.session.identity_map.get(identity_key(Message, i))) is not None}
    external = {i: m.external_id for i, m in loaded.items()}
    if len(loaded) < len(ids):
        external.update((await tx.session.execute(
            select(Message.id, Message.external_id).where(Message.id.in_(ids - set(loaded))))).all())
    return {i for i, external_id in external.items() if not (external_id or "").startswith("discord:")}


async def _staff_channels(tx: Tx, events: list[Any], settings: DiscordSettings) -> None:
    for event in events:
        channel = None
        if event.type in LOGGED and settings.logging and settings.log_channel_id:
            channel = LOG_CHANNEL
        if channel is not None:
            await _staff_post(tx, event, channel)
        if event.type == ev.TICKET_ESCALATED and settings.escalation_channel_id:
            await _staff_post(tx, event, ESCALATION_CHANNEL)
        if event.type == ev.ALERT_RAISED and settings.alerts_channel_id:
            await _staff_post(tx, event, ALERTS_CHANNEL)


async def _staff_post(tx: Tx, event: Any, channel: str) -> None:
    await enqueue(tx, STAFF_LOG, {"event_id": event.id, "channel": channel},
                  key=f"{STAFF_LOG}:{channel}:{event.id}", lane=f"discord-staff:{tx.workspace_id}")


async def resync(tx: Tx, ticket_id: int) -> bool:
    """Enqueue a ``discord.sync`` of ticket ``ticket_id``'s place, for a change made in Discord
    that the desk must undo (someone brought into a locked-down thread). The desk only; emits
    no event. False when the ticket has no open place."""
    if not tx.actor.is_system:
        raise NotPermitted("only the desk itself asks for a Discord sync")
    place = await tx.session.scalar(select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id,
                                                                DiscordTicket.workspace_id == tx.workspace_id))
    if place is None or place.state != "open":
        return False
    await enqueue(tx, SYNC, {"ticket_id": ticket_id}, key=f"{SYNC}:{_transaction_token(tx)}:{ticket_id}",
                  lane=lane(ticket_id))
    return True


# --- what the handlers record -------------------------------------------------------------------------------


async def save_applied(tx: Tx, ticket_id: int, *, applied: dict[str, Any] | None = None,
                       state: str | None = None, close_request_message_id: str | None | bool = False
                       ) -> DiscordTicket | None:
    """Record what the mirror made of a ticket's place: keys of ``applied`` replace the stored
    ones (a value of None removes the key), ``state`` (open, archived, deleted) and the close
    request's message id (``None`` clears it; leave out to keep it). The desk only; emits no
    event. Returns None when the ticket has no place (any more)."""
    if not tx.actor.is_system:
        raise NotPermitted("only the desk itself records what the Discord mirror applied")
    stmt = select(DiscordTicket).where(DiscordTicket.ticket_id == ticket_id,
                                       DiscordTicket.workspace_id == tx.workspace_id).with_for_update()
    row = await tx.session.scalar(stmt)
    if row is None:
        return None
    if applied:
        merged = dict(row.applied or {})
        for key, value in applied.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        row.applied = merged
    if state is not None:
        row.state = state
    if close_request_message_id is not False:
        row.close_request_message_id = close_request_message_id  # type: ignore[assignment]
    row.updated_at = tx.now
    return row
