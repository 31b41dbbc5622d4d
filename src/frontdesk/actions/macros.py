"""Macros: canned replies with a shortcut, created and edited by management, sent by staff.

Who: any staff member (staff on some ticket type) may list, read, preview and send macros;
creating, editing and deleting them is for management (owner, admin, manager, a management
role) or a team granting ``macros.manage``, as the seeds put macros among the settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.actions.base import Tx, get_owned, ticket_and_access
from frontdesk.actions.messages import post_message
from frontdesk.actions.templating import render_for_ticket
from frontdesk.db.models import Macro, Message, Ticket
from frontdesk.domain import events as ev
from frontdesk.domain.errors import NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.macros import check_content, normalize_category, normalize_shortcut
from frontdesk.domain.permissions import Actor, Capability, is_ticket_staff, require_staff
from frontdesk.domain.tickets import AuthorKind

MACROS_MANAGE = "macros.manage"
EDITABLE = ("shortcut", "content", "category", "send_as_staff")


def as_desk(tx: Tx) -> Tx:
    """``tx`` acting as the desk itself: same session, events, locks and time."""
    return replace(tx, actor=Actor.system(tx.actor.display_name or "frontdesk"))


def can_edit_macros(actor: Actor) -> bool:
    return actor.is_management or MACROS_MANAGE in actor.team_permissions


def require_macro_editor(actor: Actor) -> None:
    if not can_edit_macros(actor):
        raise NotPermitted("only management or a team with macros.manage may change macros")


def _send_as_staff(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed("send_as_staff must be true or false", field="send_as_staff")
    return value


async def _shortcut_free(tx: Tx, shortcut: str, *, other_than: int | None = None,
                         field: str = "shortcut") -> None:
    stmt = select(Macro.id).where(Macro.workspace_id == tx.workspace_id, Macro.shortcut == shortcut)
    if other_than is not None:
        stmt = stmt.where(Macro.id != other_than)
    if await tx.session.scalar(stmt) is not None:
        raise ValidationFailed(f"a macro with the shortcut {shortcut!r} already exists", field=field)


async def _flush_unique(tx: Tx, shortcut: str, *, field: str = "shortcut") -> None:
    """Flush in a savepoint: a concurrent transaction that took the shortcut first makes the
    unique constraint fail here, and that is the same 422 as the check before it."""
    try:
        async with tx.session.begin_nested():
            await tx.session.flush()
    except IntegrityError:
        raise ValidationFailed(f"a macro with the shortcut {shortcut!r} already exists", field=field) from None


async def create_macro(tx: Tx, *, shortcut: str, content: str, category: str | None = None,
                       send_as_staff: bool = True, shortcut_field: str = "shortcut") -> Macro:
    """Create a macro. Management or ``macros.manage``. A taken shortcut is a 422 naming
    ``shortcut``; unknown variables in the content a 422 naming ``content``.
    Emits ``macro.created``."""
    require_macro_editor(tx.actor)
    shortcut = normalize_shortcut(shortcut, field=shortcut_field)
    content = check_content(content)
    category = normalize_category(category)
    send_as_staff = _send_as_staff(send_as_staff)
    await _shortcut_free(tx, shortcut, field=shortcut_field)
    macro = Macro(workspace_id=tx.workspace_id, shortcut=shortcut, content=content, category=category,
                  send_as_staff=send_as_staff, created_by_id=tx.actor.member_id, usage_count=0,
                  created_at=tx.now, updated_at=tx.now)
    tx.session.add(macro)
    await _flush_unique(tx, shortcut, field=shortcut_field)
    await tx.record(ev.MACRO_CREATED, macro_id=macro.id, shortcut=shortcut, category=category,
                    send_as_staff=send_as_staff)
    return macro


async def get_macro(tx: Tx, macro_id: int, *, for_update: bool = False) -> Macro:
    return await get_owned(tx, Macro, macro_id, what=f"macro {macro_id}", for_update=for_update)


async def get_macro_by_shortcut(tx: Tx, shortcut: str, *, for_update: bool = False) -> Macro:
    """The workspace's macro with this shortcut (written in any case, with spaces around);
    ``NotFound`` naming the shortcut otherwise. No permission check: callers check theirs."""
    wanted = shortcut.strip().lower() if isinstance(shortcut, str) else ""
    stmt = select(Macro).where(Macro.workspace_id == tx.workspace_id, Macro.shortcut == wanted)
    if for_update:
        stmt = stmt.with_for_update()
    macro = (await tx.session.execute(stmt)).scalar_one_or_none() if wanted else None
    if macro is None:
        raise NotFound(f"macro {shortcut!r} not found")
    return macro


async def update_macro(tx: Tx, macro_id: int, changes: dict[str, Any]) -> Macro:
    """Change a macro's shortcut, content, category or ``send_as_staff``. Management or
    ``macros.manage``. Changing nothing writes nothing. Emits ``macro.updated`` with the
    fields before and after."""
    require_macro_editor(tx.actor)
    for key in changes:
        if key not in EDITABLE:
            raise ValidationFailed(f"{key} cannot be changed; editable: {', '.join(EDITABLE)}", field=key)
    new: dict[str, Any] = {}
    if "shortcut" in changes:
        new["shortcut"] = normalize_shortcut(changes["shortcut"])
    if "content" in changes:
        new["content"] = check_content(changes["content"])
    if "category" in changes:
        new["category"] = normalize_category(changes["category"])
    if "send_as_staff" in changes:
        new["send_as_staff"] = _send_as_staff(changes["send_as_staff"])
    macro = await get_macro(tx, macro_id, for_update=True)
    changed = {k: v for k, v in new.items() if getattr(macro, k) != v}
    if not changed:
        return macro
    if "shortcut" in changed:
        await _shortcut_free(tx, changed["shortcut"], other_than=macro.id)
    before = {k: getattr(macro, k) for k in changed}
    for key, value in changed.items():
        setattr(macro, key, value)
    macro.updated_at = tx.now
    if "shortcut" in changed:
        await _flush_unique(tx, changed["shortcut"])
    await tx.record(ev.MACRO_UPDATED, macro_id=macro.id, shortcut=macro.shortcut, before=before, after=changed)
    return macro


async def delete_macro(tx: Tx, macro_id: int) -> None:
    """Delete a macro. Management or ``macros.manage``. An accepted suggestion keeps its
    record (and so is still never proposed again). Emits ``macro.deleted``."""
    require_macro_editor(tx.actor)
    macro = await get_macro(tx, macro_id, for_update=True)
    await tx.record(ev.MACRO_DELETED, macro_id=macro.id, shortcut=macro.shortcut)
    await tx.session.delete(macro)
    await tx.session.flush()


async def render_macro(tx: Tx, macro: Macro, ticket: Ticket) -> str:
    """The macro's content filled in for ``ticket``; ``{staff}`` is the acting member."""
    return await render_for_ticket(tx, macro.content, ticket)


async def _staffed_ticket(tx: Tx, number: int, *, for_update: bool) -> Ticket:
    ticket, access = await ticket_and_access(tx, number, Capability.REPLY, for_update=for_update)
    if not (tx.actor.is_system or is_ticket_staff(tx.actor, access)):
        raise NotPermitted(f"only staff on ticket {number} may use macros there")
    return ticket


async def preview_macro(tx: Tx, macro_id: int, number: int) -> str:
    """The text the macro would send in ticket ``number``, for inserting into a reply. Staff
    on that ticket. Changes nothing and emits nothing."""
    require_staff(tx.actor, "use macros")
    macro = await get_macro(tx, macro_id)
    ticket = await _staffed_ticket(tx, number, for_update=False)
    return await render_macro(tx, macro, ticket)


async def send_macro(tx: Tx, number: int, shortcut: str) -> tuple[Macro, Message]:
    """Post the macro as a public message in ticket ``number``, through ``post_message``: in
    the staff member's name when the macro is sent as staff, else by the desk as the bot (the
    desk itself always posts as the bot). Staff on the ticket. Counts a use. Emits
    ``macro.used`` (naming the sender) besides the message's own events (``message.created``,
    ...)."""
    require_staff(tx.actor, "use macros")
    # The ticket is locked before the macro, as post_message would lock it anyway.
    ticket = await _staffed_ticket(tx, number, for_update=True)
    macro = await get_macro_by_shortcut(tx, shortcut, for_update=True)
    text = await render_macro(tx, macro, ticket)
    if macro.send_as_staff or tx.actor.is_system:
        message = await post_message(tx, number, text)
    else:
        # Posted by the desk itself, as the bot (only the desk chooses that author kind), in
        # this same transaction; the sender is named by ``macro.used``.
        message = await post_message(as_desk(tx), number, text, author_kind=AuthorKind.BOT.value)
    macro.usage_count = (macro.usage_count or 0) + 1
    macro.last_used_at = tx.now
    await tx.record(ev.MACRO_USED, ticket=ticket, conversation_id=message.conversation_id, macro_id=macro.id,
                    shortcut=macro.shortcut, message_id=message.id, author_kind=message.author_kind)
    return macro, message
