"""The Discord mirror, worker side: the outbox handlers of ``actions.discord_mirror``'s kinds.

They talk to Discord through ``frontdesk.discord.rest`` (the bot's own client where the bot
runs, else one logged in with the token) and read the desk fresh on every attempt, so an
item that is retried, or runs after a later one, still does the right thing:

* ``discord.sync`` converges: it reads the ticket and the channel as Discord has it now and
  changes only what differs (name, category and permission overwrites, thread members,
  forum tags, the welcome card, unarchiving after a reopen), then records what it applied
  in ``DiscordTicket.applied``.
* Failures: 5xx, timeouts and refused connections retry on ``MIRROR_RETRY`` (429s are waited
  out by discord.py itself). A 4xx (50013 Missing Permissions, 50007 closed DMs, ...) will not
  get better by retrying: it is logged and kept as ``applied["last_error"]``, the other steps
  still run, and the item is done. 404 on the ticket's channel means it is gone: done.

See docs/discord-mirror.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
from discord.http import HTTPClient, Route, handle_message_parameters

from frontdesk.actions.base import Desk, Tx
from frontdesk.actions.discord import link_message
from frontdesk.actions.discord_mirror import (
    ALERTS_CHANNEL,
    CLOSE,
    DM,
    ESCALATION_CHANNEL,
    LOG_CHANNEL,
    POST,
    STAFF_LOG,
    SYNC,
    close_request_prompt_key,
    save_applied,
)
from frontdesk.db.models import OutboxItem
from frontdesk.discord import rest
from frontdesk.discord.embeds import STATUS_COLOURS, ticket_embed
from frontdesk.domain import events as ev
from frontdesk.domain.discord import (
    FORUM_TAGS,
    STAFF_ANONYMOUS_NAME,
    TAG_CLOSED,
    TypeDiscordSettings,
    anonymous_identity,
    clip,
    forum_post_name,
    forum_tags,
    staff_ping,
    ticket_channel_name,
    ticket_overwrites,
)
from frontdesk.domain.permissions import Actor
from frontdesk.queries import discord_mirror as q
from frontdesk.transcript_links import LINK_DAYS, transcript_link
from frontdesk.worker.outbox import Outcome, RetryPolicy, defer, done, register, retry

log = logging.getLogger("frontdesk.discord.mirror")

SYSTEM = Actor.system("discord-mirror")
# About a day of retries for Discord being down; each call may take a while (discord.py
# waits out 429s inside it).
MIRROR_RETRY = RetryPolicy.exponential(first=5, cap=1800, attempts=14, timeout=120)
REASON = "frontdesk: ticket changed"
CANNOT_DM = 50007
NO_MENTIONS = discord.AllowedMentions.none()
ROLE_MENTIONS = discord.AllowedMentions(everyone=False, users=False, roles=True)
USER_MENTIONS = discord.AllowedMentions(everyone=False, users=True, roles=False)


class _Retry(Exception):
    """Discord (or the way there) failed in a way that may pass: try the item again."""


def retryable(exc: BaseException) -> bool:
    if isinstance(exc, discord.HTTPException):
        return exc.status >= 500 or exc.status == 429
    return isinstance(exc, aiohttp.ClientError | OSError | asyncio.TimeoutError | rest.DiscordNotConfigured)


def describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"Discord answered {exc.status} (code {exc.code}): {exc.text}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _guarded(handler: Callable[[Desk, OutboxItem], Awaitable[Outcome]]
             ) -> Callable[[Desk, OutboxItem], Awaitable[Outcome]]:
    """Failures that may pass become a retry with a readable error; others stay exceptions
    (the outbox retries those too, and logs them)."""
    async def run(desk: Desk, item: OutboxItem) -> Outcome:
        try:
            return await handler(desk, item)
        except Exception as exc:
            if isinstance(exc, _Retry) or retryable(exc):
                cause = exc.__cause__ if isinstance(exc, _Retry) and exc.__cause__ else exc
                log.info("discord mirror will retry", extra={"kind": item.kind, "outbox_id": item.id,
                                                            "error": describe(cause)})
                return retry(error=describe(cause))
            raise

    run.__name__ = handler.__name__
    return run


async def _read(desk: Desk, item: OutboxItem, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    async with desk.read(SYSTEM, item.workspace_id) as tx:
        return await fn(tx, *args)


async def _save(desk: Desk, item: OutboxItem, ticket_id: int, **changes: Any) -> None:
    async with desk.tx(SYSTEM, item.workspace_id) as tx:
        await save_applied(tx, ticket_id, **changes)


async def _write(desk: Desk, item: OutboxItem, fn: Callable[[Tx], Awaitable[Any]]) -> None:
    async with desk.tx(SYSTEM, item.workspace_id) as tx:
        await fn(tx)


def _is_gone(exc: discord.HTTPException) -> bool:
    return isinstance(exc, discord.NotFound)


# --- talking to Discord ------------------------------------------------------------------------------------

_bot_ids: dict[int, str] = {}


async def bot_user_id(http: HTTPClient) -> str:
    """The bot's own user id (for its overwrite in ticket channels), asked once per client."""
    found = _bot_ids.get(id(http))
    if found is None:
        me = await http.request(Route("GET", "/users/@me"))
        found = _bot_ids[id(http)] = str(me["id"])
    return found


async def send(http: HTTPClient, channel_id: str, *, content: str | None = None,
               embed: discord.Embed | None = None, view: discord.ui.View | None = None,
               file: discord.File | None = None,
               mentions: discord.AllowedMentions = NO_MENTIONS) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"allowed_mentions": mentions}
    if content is not None:
        kwargs["content"] = clip(content)
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    with handle_message_parameters(**kwargs) as params:
        return await http.send_message(channel_id, params=params)  # type: ignore[return-value]


async def dm_channel(http: HTTPClient, user_id: str) -> str:
    channel = await http.start_private_message(user_id)
    return str(channel["id"])


def overwrite_json(o: Any) -> dict[str, Any]:
    allow = discord.Permissions(**{name: True for name in o.allow}).value
    deny = discord.Permissions(**{name: True for name in o.deny}).value
    return {"id": str(o.target_id), "type": 0 if o.kind == "role" else 1, "allow": str(allow), "deny": str(deny)}


def _overwrite_key(raw: dict[str, Any]) -> tuple[str, int, str, str]:
    return (str(raw["id"]), int(raw.get("type", 0)), str(raw.get("allow", "0")), str(raw.get("deny", "0")))


def _card_digest(embed: discord.Embed) -> str:
    return hashlib.sha256(json.dumps(embed.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


async def forum_tag_ids(http: HTTPClient, forum_id: str, names: list[str]) -> tuple[dict[str, str], set[str]]:
    """(frontdesk tag name -> the forum's tag id, the ids of every frontdesk tag in the
    forum). Tags the forum lacks are added to it first (Discord allows 20); when that is
    refused, the missing ones are left out."""
    forum = await http.get_channel(forum_id)
    available = list(forum.get("available_tags") or [])  # type: ignore[union-attr]
    by_name = {str(t["name"]): str(t["id"]) for t in available if t.get("id")}
    missing = [n for n in FORUM_TAGS if n not in by_name]
    if missing and any(n in missing for n in names) and len(available) + len(missing) <= 20:
        try:
            updated = await http.edit_channel(forum_id, available_tags=[
                *({k: v for k, v in t.items() if k in ("id", "name", "moderated", "emoji_id", "emoji_name")}
                  for t in available),
                *({"name": n, "moderated": False} for n in missing)], reason="frontdesk: ticket status tags")
            by_name = {str(t["name"]): str(t["id"]) for t in updated.get("available_tags") or [] if t.get("id")}
        except discord.HTTPException as exc:
            if retryable(exc):
                raise
            log.warning("forum tags could not be added", extra={"forum_id": forum_id, "error": describe(exc)})
    ours = {by_name[n] for n in FORUM_TAGS if n in by_name}
    return {n: by_name[n] for n in names if n in by_name}, ours


# --- discord.sync ------------------------------------------------------------------------------------------


def desired_name(state: q.TicketPlace) -> str:
    ticket = state.ticket
    if state.place.mode == "forum":
        return forum_post_name(number=ticket.number, title=ticket.title)
    if ticket.channel_name:
        return ticket.channel_name
    return ticket_channel_name(number=ticket.number, opener_name=state.opener.display_name if state.opener else None,
                               sequential=bool(state.ticket_type and state.ticket_type.sequential_names),
                               anonymous=ticket.anonymous)


def desired_tags(state: q.TicketPlace) -> list[str]:
    t = state.ticket
    return list(forum_tags(status=t.status, close_requested=state.close_request is not None,
                           last_customer_message_at=t.last_customer_message_at,
                           last_staff_message_at=t.last_staff_message_at))


class _Steps:
    """Run a sync's steps; a refusal (4xx) is noted and the next step still runs."""

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        self.problems: list[str] = []
        self.gone = False

    async def run(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        if self.gone:
            return None
        try:
            return await call()
        except discord.HTTPException as exc:
            if retryable(exc):
                raise _Retry(what) from exc
            if _is_gone(exc) and what == "read channel":
                self.gone = True
                return None
            self.problems.append(f"{what}: {describe(exc)}")
            log.warning("discord mirror step refused", extra={"ticket_id": self.ticket_id, "step": what,
                                                               "error": describe(exc)})
            return None

    async def done(self, what: str, call: Callable[[], Awaitable[Any]]) -> bool:
        """``run`` for a call that answers nothing: whether Discord did it."""
        problems = len(self.problems)
        await self.run(what, call)
        return not self.gone and len(self.problems) == problems


async def sync_place(desk: Desk, item: OutboxItem) -> Outcome:
    """Bring the ticket's channel, thread or post in line with the ticket."""
    ticket_id = int(item.payload["ticket_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    if state is None or state.place.state == "deleted":
        return done()
    http = await rest.client()
    place, ticket = state.place, state.ticket
    steps = _Steps(ticket_id)
    applied: dict[str, Any] = {}
    new_state: str | None = None
    try:
        channel = await steps.run("read channel", lambda: http.get_channel(place.channel_id))
        if steps.gone:
            await _save(desk, item, ticket_id, state="deleted", applied={"last_error": "the channel is gone"})
            return done()
        if channel is None:  # the bot may not read it: nothing can be compared
            return done()
        closed = ticket.status == "closed"
        metadata = (channel or {}).get("thread_metadata") or {}
        if place.mode != "channel" and not closed and (metadata.get("archived") or metadata.get("locked")
                                                       or place.state == "archived"):
            await steps.run("unarchive", lambda: http.edit_channel(place.channel_id, archived=False, locked=False,
                                                                   reason="frontdesk: ticket reopened"))
            new_state = "open"
        if not closed:  # a closed ticket's place belongs to the close flow
            if place.mode == "channel":
                applied.update(await _sync_structure(http, state, channel or {}, steps))
            elif place.mode == "thread":
                applied.update(await _sync_members(desk, item, http, state, steps))
            name = desired_name(state)
            if (channel or {}).get("name") != name:
                renamed = await steps.run("rename", lambda: http.edit_channel(place.channel_id, name=name,
                                                                              reason=REASON))
                if renamed is not None:
                    applied["name"] = name
            if place.mode == "forum":
                applied.update(await _sync_tags(http, state, channel or {}, steps))
        if not (closed and place.state != "open"):  # an archived thread's messages cannot be edited
            applied.update(await _sync_card(http, state, steps))
    finally:
        if steps.problems:
            applied["last_error"] = steps.problems[-1]
        elif applied:
            applied["last_error"] = None
        if applied or new_state:
            await _save(desk, item, ticket_id, applied=applied, state=new_state)
    return done()


async def _sync_structure(http: HTTPClient, state: q.TicketPlace, channel: dict[str, Any],
                          steps: _Steps) -> dict[str, Any]:
    """Channel mode: the category of the ticket's type and who may see the channel."""
    place, ticket = state.place, state.ticket
    wanted = ticket_overwrites(guild_id=place.guild_id, bot_user_id=await bot_user_id(http),
                               opener_user_id=state.user_id, participant_user_ids=state.participant_user_ids,
                               staff_role_ids=state.staff_role_ids, management_role_ids=state.management_role_ids,
                               lockdown=ticket.lockdown)
    overwrites = [overwrite_json(o) for o in wanted]
    changes: dict[str, Any] = {}
    current = sorted(_overwrite_key(o) for o in channel.get("permission_overwrites") or [])
    if current != sorted(_overwrite_key(o) for o in overwrites):
        changes["permission_overwrites"] = overwrites
    category = state.type_settings.category_id
    if category is not None and str(channel.get("parent_id") or "") != category:
        changes["parent_id"] = category
        changes["permission_overwrites"] = overwrites  # set with the move, not synced from the category
    if not changes:
        return {}
    result = await steps.run("permissions", lambda: http.edit_channel(place.channel_id, reason=REASON, **changes))
    if result is None:
        return {}
    return {"parent_id": changes.get("parent_id", channel.get("parent_id")), "lockdown": ticket.lockdown,
            "overwrites": [o["id"] for o in overwrites]}


async def _sync_members(desk: Desk, item: OutboxItem, http: HTTPClient, state: q.TicketPlace,
                        steps: _Steps) -> dict[str, Any]:
    """Thread mode: the opener and added users are members of the private thread. A private
    thread has no overwrites, so lockdown is done with its members: everyone in it whom the
    permission module no longer lets see the ticket (staff who are not management) is taken
    out and remembered in ``applied["locked_out"]``, and the management roles are brought in
    (``applied["locked"]``); after an unlock those who may see it again are put back."""
    thread = state.place.channel_id
    wanted = sorted({*([state.user_id] if state.user_id else []), *state.participant_user_ids})
    before = set(state.place.applied.get("members") or [])
    for user in wanted:
        if user not in before:
            await steps.run("add member", lambda u=user: http.add_user_to_thread(thread, u))
    for user in sorted(before - set(wanted)):
        await steps.run("remove member", lambda u=user: http.remove_user_from_thread(thread, u))
    applied: dict[str, Any] = {"members": wanted} if set(wanted) != before else {}
    earlier = set(state.place.applied.get("locked_out") or [])
    locked_out = set(earlier)
    if state.ticket.lockdown:
        present = await steps.run("read thread members", lambda: thread_members(http, thread))
        if present is not None:
            keep = await _read(desk, item, q.who_may_see, state.ticket.id, present)
            keep |= {await bot_user_id(http), *wanted}
            for user in sorted(set(present) - keep, key=int):
                if await steps.done("lock out member", lambda u=user: http.remove_user_from_thread(thread, u)):
                    locked_out.add(user)
        if not state.place.applied.get("locked") and await _bring_in_management(http, state, steps):
            applied["locked"] = True
    else:
        if state.place.applied.get("locked"):
            applied["locked"] = None
        if earlier:
            # Their roles as Discord has them now: someone the desk has never met is judged by them.
            roles = {user: await _member_roles(http, state.place.guild_id, user, steps) for user in sorted(earlier)}
            back = await _read(desk, item, q.who_may_see, state.ticket.id, roles)
            locked_out -= earlier - back  # no longer staff: they stay out, and are forgotten
            for user in sorted(back, key=int):
                if await steps.done("let member back", lambda u=user: http.add_user_to_thread(thread, u)):
                    locked_out.discard(user)
    if locked_out != earlier:
        applied["locked_out"] = sorted(locked_out, key=int) or None
    return applied


THREAD_MEMBERS_PAGE = 100
LOCKDOWN_NOTICE = "This ticket is under lockdown: only management can see it now."


async def _member_roles(http: HTTPClient, guild_id: str, user_id: str, steps: _Steps) -> frozenset[str] | None:
    """A server member's roles, or None when Discord would not say (they left, say)."""
    async def read() -> Any:
        try:
            return await http.get_member(guild_id, user_id)
        except discord.NotFound:
            return {}  # no longer in the server

    member = await steps.run("read member", read)
    return frozenset(str(r) for r in member.get("roles") or []) if member else None


async def _bring_in_management(http: HTTPClient, state: q.TicketPlace, steps: _Steps) -> bool:
    """Once per lockdown: a notice in the thread, then the management roles mentioned in an
    edit of it, which brings their members into the private thread without notifying them
    (as the welcome message does for the staff roles it does not ping). False when the notice
    could not be posted (the next sync tries again)."""
    thread, roles = state.place.channel_id, state.management_role_ids
    notice = await steps.run("lockdown notice", lambda: send(http, thread, content=LOCKDOWN_NOTICE))
    if notice is None:
        return False
    if not roles:
        return True
    silent = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(int(r)) for r in roles])
    content = f"{LOCKDOWN_NOTICE}\n-# Management: {' '.join(f'<@&{r}>' for r in roles)}"
    with handle_message_parameters(content=content, allowed_mentions=silent) as params:
        params.payload.pop("tts", None)
        # A refused edit is kept as the sync's error; the notice is not posted again.
        await steps.run("bring in management", lambda: http.edit_message(thread, str(notice["id"]), params=params))
    return True


async def thread_members(http: HTTPClient, thread_id: str) -> dict[str, frozenset[str] | None]:
    """Everyone in a thread (user id -> their server roles), page by page. Reading other
    members' roles needs the Server Members intent, which the bot asks for."""
    found: dict[str, frozenset[str] | None] = {}
    after = 0
    while True:
        page = await http.request(Route("GET", "/channels/{channel_id}/thread-members", channel_id=thread_id),
                                  params={"with_member": "true", "limit": THREAD_MEMBERS_PAGE, "after": after})
        for entry in page:
            member = entry.get("member")
            found[str(entry["user_id"])] = (frozenset(str(r) for r in member.get("roles") or [])
                                            if member is not None else None)
        if len(page) < THREAD_MEMBERS_PAGE:
            return found
        after = max(int(entry["user_id"]) for entry in page)


async def _sync_tags(http: HTTPClient, state: q.TicketPlace, channel: dict[str, Any],
                     steps: _Steps, names: list[str] | None = None) -> dict[str, Any]:
    """Forum mode: the post's status and activity tags; tags that are not frontdesk's stay."""
    wanted = names or desired_tags(state)
    forum_id = state.place.parent_id or channel.get("parent_id")
    if not forum_id:
        return {}
    found = await steps.run("read forum tags", lambda: forum_tag_ids(http, str(forum_id), wanted))
    if found is None:
        return {}
    ids, ours = found
    current = [str(t) for t in channel.get("applied_tags") or []]
    tags = [t for t in current if t not in ours] + [ids[n] for n in wanted if n in ids]
    if sorted(tags) != sorted(current) and await steps.run(
            "tags", lambda: http.edit_channel(state.place.channel_id, applied_tags=tags[:5], reason=REASON)) is None:
        return {}
    return {"tags": [n for n in wanted if n in ids]}


async def _sync_card(http: HTTPClient, state: q.TicketPlace, steps: _Steps) -> dict[str, Any]:
    """The welcome message's embed (only the embed: its buttons stay as they are)."""
    place = state.place
    if not place.welcome_message_id:
        return {}
    embed = ticket_embed(state.card)
    digest = _card_digest(embed)
    if place.applied.get("card") == digest:
        return {}
    with handle_message_parameters(embed=embed) as params:
        params.payload.pop("tts", None)
        edited = await steps.run("card", lambda: http.edit_message(place.channel_id, place.welcome_message_id,
                                                                   params=params))
    return {"card": digest} if edited is not None else {}


# --- discord.close -----------------------------------------------------------------------------------------


def transcript_summary(state: q.TicketPlace, transcript: Any, event: Any) -> discord.Embed:
    ticket = state.ticket
    embed = discord.Embed(title=clip(f"Ticket #{ticket.number}: {ticket.title}", 256),
                          colour=STATUS_COLOURS["closed"])
    embed.add_field(name="Opened by", value=state.card.opener, inline=True)
    if state.card.type_name:
        embed.add_field(name="Type", value=state.card.type_name, inline=True)
    embed.add_field(name="Reason", value=str((event.payload if event else {}).get("reason") or ticket.close_reason
                                             or "closed"), inline=True)
    embed.add_field(name="Messages", value=str(transcript.message_count), inline=True)
    embed.set_footer(text=f"frontdesk transcript {transcript.id}")
    return embed


async def close_place(desk: Desk, item: OutboxItem) -> Outcome:
    """After ``ticket.closed``: the transcript to the transcripts channel (not for lockdown
    tickets), then the channel deleted (channel mode) or the thread locked and archived."""
    ticket_id, event_id = int(item.payload["ticket_id"]), int(item.payload["event_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    if state is None:
        return done()
    event = await _read(desk, item, q.event, event_id)
    transcript = await _read(desk, item, q.newest_transcript, ticket_id)
    http = await rest.client()
    steps = _Steps(ticket_id)
    place, applied = state.place, dict(state.place.applied or {})
    lockdown = bool((event.payload if event else {}).get("lockdown", state.ticket.lockdown))
    target = state.settings.transcripts_channel_id
    if (transcript is not None and target and not lockdown and item.payload.get("transcript", True)
            and applied.get("transcript_posted") != transcript.id):
        name = f"ticket-{state.ticket.number}-transcript.html"
        file = discord.File(io.BytesIO(transcript.html.encode("utf-8")), filename=name)
        posted = await steps.run("transcript", lambda: send(http, target, embed=transcript_summary(
            state, transcript, event), file=file))
        if posted is not None:
            await _save(desk, item, ticket_id, applied={"transcript_posted": transcript.id})
    if state.ticket.status != "closed" or place.state != "open":
        return done()  # reopened before this ran, or already closed in Discord
    if place.mode == "channel":
        await steps.run("delete channel", lambda: http.delete_channel(place.channel_id, reason="frontdesk: closed"))
        await _save(desk, item, ticket_id, state="deleted", applied=_last_error(steps))
        return done()
    changes: dict[str, Any] = {"archived": True, "locked": True}
    if place.mode == "forum":
        forum_id = place.parent_id
        channel = await steps.run("read channel", lambda: http.get_channel(place.channel_id))
        if steps.gone:
            await _save(desk, item, ticket_id, state="deleted")
            return done()
        if forum_id and channel is not None:
            wanted = [TAG_CLOSED, desired_tags(state)[1]]
            found = await steps.run("read forum tags", lambda: forum_tag_ids(http, str(forum_id), wanted))
            if found is not None:
                ids, ours = found
                kept = [str(t) for t in channel.get("applied_tags") or [] if str(t) not in ours]
                changes["applied_tags"] = (kept + [ids[n] for n in wanted if n in ids])[:5]
    await steps.run("archive", lambda: http.edit_channel(place.channel_id, reason="frontdesk: closed", **changes))
    await _save(desk, item, ticket_id, state="archived", applied=_last_error(steps))
    return done()


def _last_error(steps: _Steps) -> dict[str, Any]:
    return {"last_error": steps.problems[-1]} if steps.problems else {}


# --- discord.dm --------------------------------------------------------------------------------------------


async def send_dm(desk: Desk, item: OutboxItem) -> Outcome:
    what = item.payload.get("what")
    if what == "closed":
        return await _close_dm(desk, item)
    if what == "close_request":
        return await _close_request_prompt(desk, item)
    if what == "close_request_settled":
        return await _close_request_settled(desk, item)
    return done()


def _refused(exc: discord.HTTPException, item: OutboxItem, what: str) -> Outcome:
    if retryable(exc):
        raise _Retry(what) from exc
    level = "info" if exc.code == CANNOT_DM else "warning"
    getattr(log, level)("discord message not delivered", extra={"outbox_id": item.id, "what": what,
                                                                 "error": describe(exc)})
    return done()


def close_dm_embed(state: q.TicketPlace, event: Any, link: str | None) -> discord.Embed:
    payload = event.payload if event is not None else {}
    ticket = state.ticket
    embed = discord.Embed(title=clip(f"Ticket #{ticket.number} is closed", 256), colour=STATUS_COLOURS["closed"],
                          description=clip(ticket.title, 4096))
    embed.add_field(name="Reason", value=str(payload.get("reason") or "closed").replace("_", " "), inline=True)
    note = payload.get("note")
    if note and q.payload_flag(payload, "share_comment"):
        embed.add_field(name="Note from the team", value=clip(str(note), 1024), inline=False)
    if link:
        embed.add_field(name="Transcript", value=f"[Read the conversation]({link}) (link valid {LINK_DAYS} days)",
                        inline=False)
    if state.settings.csat_dm:
        embed.set_footer(text="Did we help? Let us know below.")
    return embed


async def _close_dm(desk: Desk, item: OutboxItem) -> Outcome:
    """The opener's DM after a close: the note when it is shared, the transcript page, and
    the CSAT buttons when the workspace asks for them."""
    ticket_id, event_id = int(item.payload["ticket_id"]), int(item.payload["event_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    if state is None or state.user_id is None or state.place.applied.get("close_dm_event") == event_id:
        return done()
    event = await _read(desk, item, q.event, event_id)
    transcript = await _read(desk, item, q.newest_transcript, ticket_id)
    link = None
    if transcript is not None and state.ticket.opener_id is not None:
        link = transcript_link(transcript.id, state.ticket.opener_id)
    view = None
    if state.settings.csat_dm and state.ticket.status == "closed" and state.ticket.csat is None:
        from frontdesk.discord.cogs.feedback import csat_view

        view = csat_view(ticket_id)
    http = await rest.client()
    try:
        channel = await dm_channel(http, state.user_id)
        message = await send(http, channel, embed=close_dm_embed(state, event, link), view=view)
    except discord.HTTPException as exc:
        return _refused(exc, item, "close DM")
    await _save(desk, item, ticket_id, applied={"close_dm_event": event_id, "close_dm": {
        "channel_id": channel, "message_id": str(message["id"])}})
    return done()


def close_request_text(state: q.TicketPlace, request: Any) -> str:
    lines = [f"**Can we close ticket #{state.ticket.number}?** The team thinks your question has been answered."]
    if request.comment and request.share_comment:
        lines.append(f"> {request.comment}")
    if request.close_at is not None:
        lines.append(f"Without an answer it closes <t:{int(request.close_at.timestamp())}:R>.")
    if state.place.mode != "forum" and state.user_id:
        lines.insert(0, f"<@{state.user_id}>")
    return "\n".join(lines)


async def _close_request_prompt(desk: Desk, item: OutboxItem) -> Outcome:
    """Ask the opener: in their DMs for forum tickets (the DM relay), else in the ticket's
    channel or thread, with Accept and Deny."""
    ticket_id, request_id = int(item.payload["ticket_id"]), int(item.payload["close_request_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    request = await _read(desk, item, q.close_request, request_id)
    if state is None or request is None or request.status != "pending" or state.place.state != "open":
        return done()
    from frontdesk.discord.cogs.feedback import close_request_view

    http = await rest.client()
    try:
        if state.place.mode == "forum":
            if state.user_id is None:
                return done()
            channel = await dm_channel(http, state.user_id)
        else:
            channel = state.place.channel_id
        message = await send(http, channel, content=close_request_text(state, request),
                             view=close_request_view(ticket_id), mentions=USER_MENTIONS)
    except discord.HTTPException as exc:
        return _refused(exc, item, "close request")
    await _save(desk, item, ticket_id, close_request_message_id=str(message["id"]), applied={"close_request": {
        "id": request_id, "channel_id": channel, "message_id": str(message["id"])}})
    return done()


SETTLED_TEXT = {
    ev.CLOSE_REQUEST_ACCEPTED: "You agreed to close ticket #{number}: it is closed now.",
    ev.CLOSE_REQUEST_DENIED: "Ticket #{number} stays open: the team will get back to you.",
    ev.CLOSE_REQUEST_EXPIRED: "Ticket #{number} was closed: the close request was not answered.",
}


async def _close_request_settled(desk: Desk, item: OutboxItem) -> Outcome:
    """Withdrawn (or cancelled by a close): the prompt is deleted without a word. Answered or
    expired: it is edited to say so, without its buttons."""
    ticket_id, request_id = int(item.payload["ticket_id"]), int(item.payload["close_request_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    if state is None:
        return done()
    prompt = state.place.applied.get("close_request") or {}
    if prompt.get("id") != request_id:
        status = await _read(desk, item, q.outbox_status, close_request_prompt_key(request_id))
        if status == "pending":
            return retry(after=5, error="the close request's message is not posted yet")
        return done()
    http = await rest.client()
    kind = item.payload.get("event")
    try:
        if kind == ev.CLOSE_REQUEST_CANCELLED:
            await http.delete_message(prompt["channel_id"], prompt["message_id"], reason="close request withdrawn")
        else:
            text = SETTLED_TEXT.get(str(kind), "This close request is settled.").format(number=state.ticket.number)
            with handle_message_parameters(content=text, view=None) as params:
                params.payload.pop("tts", None)
                await http.edit_message(prompt["channel_id"], prompt["message_id"], params=params)
    except discord.HTTPException as exc:
        if retryable(exc):
            raise
        log.info("close request message not updated", extra={"ticket_id": ticket_id, "error": describe(exc)})
    await _save(desk, item, ticket_id, close_request_message_id=None, applied={"close_request": None})
    return done()


# --- discord.post ------------------------------------------------------------------------------------------


def author_label(state: q.TicketPlace, message: Any, author: Any) -> str | None:
    if message.author_kind in ("bot", "system") or author is None:
        return None
    if message.anonymous and message.author_kind == "customer":
        return anonymous_identity(state.ticket.id, state.ticket.opener_id).nickname
    if message.anonymous or (message.author_kind == "staff" and state.settings.anonymous_replies):
        return STAFF_ANONYMOUS_NAME
    return str(author.display_name)


ORDER_WAIT_SECONDS = 1.0


async def _earlier_pending(desk: Desk, item: OutboxItem) -> bool:
    """Whether a row of the same kind and lane enqueued before ``item`` is still to be carried
    out: messages of one ticket (and posts of one staff channel) go out in the order written."""
    if item.lane is None:
        return False
    return bool(await _read(desk, item, q.earlier_pending, item.kind, item.lane, item.id))


async def post_message(desk: Desk, item: OutboxItem) -> Outcome:
    if await _earlier_pending(desk, item):
        return defer(ORDER_WAIT_SECONDS)
    what = item.payload.get("what")
    if what == "moved":
        return await _post_moved(desk, item)
    return await _post_message(desk, item)


async def _post_message(desk: Desk, item: OutboxItem) -> Outcome:
    """A public message written outside Discord, in the ticket's place, and for forum tickets
    (the DM relay) also in the opener's DMs when staff or the desk wrote it."""
    ticket_id, message_id = int(item.payload["ticket_id"]), int(item.payload["message_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    found = await _read(desk, item, q.message_with_author, message_id)
    if state is None or found is None:
        return done()
    message, author = found
    if message.visibility != "public" or (message.external_id or "").startswith("discord:"):
        return done()
    label = author_label(state, message, author)
    text = f"**{label}:** {message.body}" if label else message.body
    already = await _read(desk, item, q.copied_to, message_id)
    http = await rest.client()
    targets: list[tuple[str, Callable[[], Awaitable[str]]]] = []
    if state.place.state == "open":
        channel_id = state.place.channel_id
        targets.append(("place", lambda: _const(channel_id)))
    if state.place.mode == "forum" and message.author_kind != "customer" and state.user_id:
        user_id = state.user_id
        targets.append(("dm", lambda: _dm_target(http, state, user_id)))
    for what, where in targets:
        if what == "place" and state.place.channel_id in already:
            continue
        if what == "dm" and state.place.dm_channel_id and state.place.dm_channel_id in already:
            continue
        try:
            channel = await where()
            if channel in already:
                continue
            sent = await send(http, channel, content=text)
        except discord.HTTPException as exc:
            _refused(exc, item, f"message to {what}")
            continue
        await _write(desk, item, lambda tx, c=channel, s=sent: link_message(
            tx, message_id, channel_id=c, discord_message_id=str(s["id"]), kind="copy"))
    return done()


async def _const(value: str) -> str:
    return value


async def _dm_target(http: HTTPClient, state: q.TicketPlace, user_id: str) -> str:
    return state.place.dm_channel_id or await dm_channel(http, user_id)


async def _post_moved(desk: Desk, item: OutboxItem) -> Outcome:
    """A ticket moved to another type says so in its place and pings that type's staff, as
    the welcome message of a new ticket of that type would."""
    ticket_id = int(item.payload["ticket_id"])
    state: q.TicketPlace | None = await _read(desk, item, q.ticket_place, ticket_id)
    if state is None or state.place.state != "open" or state.ticket_type is None:
        return done()
    kind = state.ticket_type
    ping = staff_ping(TypeDiscordSettings.of(kind.settings), [str(r) for r in kind.staff_role_ids or []])
    text = f"This ticket was moved to **{kind.name}**." + (f"\n{ping}" if ping else "")
    http = await rest.client()
    try:
        await send(http, state.place.channel_id, content=text, mentions=ROLE_MENTIONS)
    except discord.HTTPException as exc:
        return _refused(exc, item, "move notice")
    return done()


# --- discord.staff_log -------------------------------------------------------------------------------------


async def _staff_entry(tx: Tx, event_id: int) -> tuple[Any, Any, Any, Any, Any] | None:
    from frontdesk.db.models import Member, Workspace
    from frontdesk.domain.discord import DiscordSettings
    from frontdesk.queries.discord import ticket_card

    found = await q.event(tx, event_id)
    if found is None:
        return None
    workspace = await tx.session.get(Workspace, tx.workspace_id)
    ticket = await q.ticket_of(tx, found.ticket_id)
    card = await ticket_card(tx, ticket) if ticket is not None else None
    place = await q.place_of(tx, found.ticket_id)
    actor = await tx.session.get(Member, found.actor_id) if found.actor_id else None
    settings = DiscordSettings.of(workspace.settings if workspace else None)
    return found, settings, card, place, actor


def staff_embed(event: Any, card: Any, place: Any, actor: Any) -> discord.Embed:
    who = (f"<@{actor.discord_user_id}>" if actor and actor.discord_user_id else
           actor.display_name if actor else "the desk")
    payload = event.payload or {}
    if event.type == ev.ALERT_RAISED:
        embed = discord.Embed(title=clip(f"Manager alert: {str(payload.get('kind', 'alert')).replace('_', ' ')}", 256),
                              colour=0xED4245)
        if payload.get("value") is not None:
            embed.add_field(name="Value", value=str(payload["value"]), inline=True)
        for key in ("count", "rule_name", "message"):
            if payload.get(key):
                embed.add_field(name=key.replace("_", " ").capitalize(), value=clip(str(payload[key]), 1024),
                                inline=True)
        tickets = payload.get("tickets") or []
        if tickets:
            listed = ", ".join(f"#{t.get('ticket_number')}" for t in tickets[:20] if isinstance(t, dict))
            embed.add_field(name="Tickets", value=clip(listed or "-", 1024), inline=False)
        if payload.get("ticket_number"):
            embed.add_field(name="Ticket", value=f"#{payload['ticket_number']}", inline=True)
        return embed
    number = card.number if card else payload.get("ticket_number")
    title = card.title if card else ""
    headline = {ev.TICKET_OPENED: "opened", ev.TICKET_CLAIMED: "claimed", ev.TICKET_CLOSED: "closed",
                ev.TICKET_ESCALATED: "escalated"}.get(event.type, event.type)
    colour = {ev.TICKET_OPENED: 0x3BA55C, ev.TICKET_CLAIMED: 0x5865F2, ev.TICKET_CLOSED: 0x747F8D,
              ev.TICKET_ESCALATED: 0xED4245}.get(event.type, 0x747F8D)
    embed = discord.Embed(title=clip(f"Ticket #{number} {headline}: {title}", 256), colour=colour)
    if event.type == ev.TICKET_OPENED and card is not None:
        embed.add_field(name="Opened by", value=card.opener, inline=True)
        if card.type_name:
            embed.add_field(name="Type", value=card.type_name, inline=True)
    elif event.type == ev.TICKET_CLOSED:
        embed.add_field(name="Closed by", value=who, inline=True)
        embed.add_field(name="Reason", value=str(payload.get("reason") or "-").replace("_", " "), inline=True)
    elif event.type == ev.TICKET_ESCALATED:
        embed.add_field(name="Escalated by", value=who, inline=True)
        if payload.get("reason"):
            embed.add_field(name="Reason", value=clip(str(payload["reason"]), 1024), inline=True)
        if payload.get("note"):
            embed.add_field(name="Note", value=clip(str(payload["note"]), 1024), inline=False)
    else:
        embed.add_field(name="By", value=who, inline=True)
    if place is not None and place.state != "deleted":
        embed.add_field(name="Where", value=f"[Open the ticket]({q.place_url(place)})", inline=False)
    return embed


async def post_staff_log(desk: Desk, item: OutboxItem) -> Outcome:
    """One post in the log, escalation or alerts channel, to the channel set up now."""
    if await _earlier_pending(desk, item):
        return defer(ORDER_WAIT_SECONDS)
    entry = await _read(desk, item, _staff_entry, int(item.payload["event_id"]))
    if entry is None:
        return done()
    event, settings, card, place, actor = entry
    channel = {LOG_CHANNEL: settings.log_channel_id if settings.logging else None,
               ESCALATION_CHANNEL: settings.escalation_channel_id,
               ALERTS_CHANNEL: settings.alerts_channel_id}.get(item.payload.get("channel"))
    if not channel:
        return done()
    http = await rest.client()
    try:
        await send(http, channel, embed=staff_embed(event, card, place, actor))
    except discord.HTTPException as exc:
        return _refused(exc, item, "staff channel post")
    return done()


register(SYNC, _guarded(sync_place), retry=MIRROR_RETRY)
register(POST, _guarded(post_message), retry=MIRROR_RETRY)
register(STAFF_LOG, _guarded(post_staff_log), retry=MIRROR_RETRY)
register(CLOSE, _guarded(close_place), retry=MIRROR_RETRY)
register(DM, _guarded(send_dm), retry=MIRROR_RETRY)
