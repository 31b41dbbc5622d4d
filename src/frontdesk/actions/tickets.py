"""Opening tickets and changing their fields.

Every function here runs inside a caller's ``Tx``: it checks permission, validates, changes
rows and appends its events. None of them commits; the unit of work does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from frontdesk.actions.assignment import auto_assign
from frontdesk.actions.away import send_away_message_if_closed
from frontdesk.actions.base import (
    Tx,
    get_member,
    get_type,
    ticket_access,
    ticket_for,
    touch,
    type_access,
)
from frontdesk.actions.quality import QualityFlagKind, flag_ticket
from frontdesk.actions.timers import sync_sla, write_deadlines
from frontdesk.db.models import (
    Conversation,
    CustomFieldDefinition,
    Member,
    Message,
    Team,
    Ticket,
    TicketParticipant,
    TicketTag,
    TicketType,
    Workspace,
)
from frontdesk.domain import events as ev
from frontdesk.domain.errors import (
    AlreadyClaimed,
    DeskClosed,
    NotPermitted,
    OpenLimitReached,
    TicketClosed,
    ValidationFailed,
)
from frontdesk.domain.fields import (
    FieldSpec,
    FieldType,
    check_intake_answers,
    coerce_value,
    parse_intake_questions,
)
from frontdesk.domain.permissions import Capability, can_open, is_ticket_staff, is_type_staff
from frontdesk.domain.policies import Policies
from frontdesk.domain.tickets import (
    TAG_MAX,
    TITLE_MAX,
    AuthorKind,
    ConversationChannel,
    Priority,
    Status,
    channel_name_for,
    normalize_tag,
    settable_statuses,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _priority(value: str, field: str = "priority") -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise ValidationFailed(f"priority must be one of {', '.join(p.value for p in Priority)}",
                               field=field) from None


def _title(value: str, field: str = "title") -> str:
    title = (value or "").strip()
    if not title:
        raise ValidationFailed("title must not be empty", field=field)
    if len(title) > TITLE_MAX:
        raise ValidationFailed(f"title must be at most {TITLE_MAX} characters", field=field)
    return title


def _tag(value: str, field: str = "tag") -> str:
    tag = normalize_tag(value or "")
    if not tag:
        raise ValidationFailed("tag must not be empty", field=field)
    if len(tag) > TAG_MAX:
        raise ValidationFailed(f"tag must be at most {TAG_MAX} characters", field=field)
    return tag


async def field_specs(tx: Tx) -> dict[str, FieldSpec]:
    rows = (
        await tx.session.execute(
            select(CustomFieldDefinition).where(CustomFieldDefinition.workspace_id == tx.workspace_id)
        )
    ).scalars()
    return {
        d.key: FieldSpec(d.key, FieldType(d.field_type), tuple(d.options or ()), d.required) for d in rows
    }


async def _check_custom_fields(tx: Tx, values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    specs = await field_specs(tx)
    stored: dict[str, Any] = {}
    for key, value in values.items():
        spec = specs.get(key)
        if spec is None:
            raise ValidationFailed(f"no custom field {key!r} is defined", field=f"custom_fields.{key}")
        coerced = coerce_value(spec, value, field=f"custom_fields.{key}")
        if coerced is not None:
            stored[key] = coerced
    if creating:
        for key, spec in specs.items():
            if spec.required and key not in stored:
                raise ValidationFailed(f"{key} is required", field=f"custom_fields.{key}")
    return stored


async def _allocate_number(tx: Tx) -> int:
    """Take the next ticket number of the workspace.

    On PostgreSQL the counter is taken in a transaction of its own, so the workspace row is
    locked for one statement instead of for the whole open: ticket creations in a workspace
    then run side by side. The price is a gap in the numbers if the open fails after this
    point (only a database error can: validation is done before). On SQLite the write lock
    is already ours, so the counter is taken inside the transaction and never leaves a gap.
    """
    statement = (
        update(Workspace)
        .where(Workspace.id == tx.workspace_id)
        .values(next_ticket_number=Workspace.next_ticket_number + 1)
        .returning(Workspace.next_ticket_number)
    )
    if tx.db is not None and not tx.db.is_sqlite and not tx.workspace_written:
        return int(await tx.db.take_counter(statement)) - 1
    return int((await tx.session.execute(statement)).scalar_one()) - 1


async def open_ticket(
    tx: Tx,
    *,
    type_id: int,
    title: str | None = None,
    description: str | None = None,
    answers: dict[str, str] | None = None,
    opener_id: int | None = None,
    priority: str = "normal",
    anonymous: bool = False,
    tags: list[str] | None = None,
    custom_fields: dict[str, Any] | None = None,
    channel: str = ConversationChannel.API,
    external_id: str | None = None,
    team_id: int | None = None,
    conversation: Conversation | None = None,
) -> Ticket:
    """Open a ticket of a type, with its conversation and first message.

    Who: anyone allowed to open the type (its allowed roles, or staff); staff may open on
    behalf of another member with ``opener_id``. The type's open-ticket limit per user is
    enforced against the opener. Emits ``ticket.opened`` (and ``message.created`` for the
    description).
    """
    actor = tx.actor
    # The type, the opener and whether required custom fields exist, in one round trip.
    wanted_opener = opener_id if opener_id is not None else actor.member_id
    required_fields = select(CustomFieldDefinition.id).where(
        CustomFieldDefinition.workspace_id == tx.workspace_id, CustomFieldDefinition.required.is_(True)).exists()
    row = (await tx.session.execute(
        select(TicketType, Member, required_fields, Workspace.settings, Workspace.timezone)
        .join(Workspace, Workspace.id == TicketType.workspace_id)
        .outerjoin(Member, and_(Member.id == wanted_opener, Member.workspace_id == tx.workspace_id))
        .where(TicketType.id == type_id, TicketType.workspace_id == tx.workspace_id)
    )).first()
    if row is None:
        raise ValidationFailed(f"ticket type {type_id} does not exist in this workspace", field="type_id")
    ticket_type, opener, has_required_fields, workspace_settings, workspace_timezone = row
    tx.types[ticket_type.id] = ticket_type
    if tx.policies is None:
        tx.policies = Policies.parse(workspace_settings, timezone=workspace_timezone)
    policies = tx.policies
    if not policies.allow_tickets_outside_hours and not policies.is_open(tx.now) and not actor.is_system \
            and not is_type_staff(actor, type_access(ticket_type)):
        hours = policies.business_hours
        raise DeskClosed("new tickets can be opened during business hours only",
                         next_open=_iso(hours.next_opening(tx.now)) if hours is not None else None)
    if ticket_type.archived:
        raise ValidationFailed("this ticket type is archived", field="type_id")
    if opener_id is None or opener_id == actor.member_id:
        if actor.member_id is None:
            raise ValidationFailed("opener_id is required when the desk opens a ticket", field="opener_id")
        opener_id = actor.member_id
        if not can_open(actor, type_access(ticket_type)):
            raise NotPermitted(f"only members with an allowed role may open {ticket_type.name} tickets")
    elif not is_type_staff(actor, type_access(ticket_type)):
        raise NotPermitted("only staff may open a ticket on behalf of someone else")
    if opener is None:
        raise ValidationFailed(f"member {opener_id} does not exist in this workspace", field="opener_id")
    if ticket_type.open_limit_per_user is not None:
        # Lock the opener so two simultaneous opens cannot both slip under the limit.
        await tx.session.execute(select(Member.id).where(Member.id == opener.id).with_for_update())

    questions = parse_intake_questions(ticket_type.intake_questions or [])
    given = dict(answers or {})
    if title is not None:
        title = _title(title)
    subject_question = next((q for q in questions if q.kind == "subject"), None)
    if title is not None and subject_question is not None and not (given.get(subject_question.id) or "").strip():
        # A title given directly (API, conversion, staff) answers the subject question; a
        # problem with it is a problem with the title the caller sent.
        if len(title) > subject_question.max_length:
            raise ValidationFailed(f"title must be at most {subject_question.max_length} characters",
                                   field="title")
        given[subject_question.id] = title
    stored_answers = check_intake_answers(questions, given)
    subject = next((a["value"] for a in stored_answers if a["kind"] == "subject"), None)
    intake_description = next((a["value"] for a in stored_answers if a["kind"] == "description"), None)
    final_title = _title(title if title is not None else (subject or f"{ticket_type.name} request"))
    body = description if description is not None else intake_description
    prio = _priority(priority)
    tag_list = sorted({_tag(t, "tags") for t in tags or []})
    fields: dict[str, Any] = {}
    if custom_fields or has_required_fields:
        fields = await _check_custom_fields(tx, custom_fields or {}, creating=True)
    if team_id is not None:
        team = await tx.session.get(Team, team_id)
        if team is None or team.workspace_id != tx.workspace_id:
            raise ValidationFailed(f"team {team_id} does not exist", field="team_id")
    try:
        conv_channel = ConversationChannel(channel)
    except ValueError:
        raise ValidationFailed("unknown conversation channel", field="channel") from None

    if ticket_type.open_limit_per_user is not None:
        open_count = await tx.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.opener_id == opener_id, Ticket.type_id == type_id, Ticket.status != Status.CLOSED)
        )
        if (open_count or 0) >= ticket_type.open_limit_per_user:
            raise OpenLimitReached(
                f"{opener.display_name} already has {open_count} open {ticket_type.name} ticket(s); "
                f"the limit is {ticket_type.open_limit_per_user}",
                limit=ticket_type.open_limit_per_user,
            )

    first_message = body.strip() if body and body.strip() else None
    number = await _allocate_number(tx)
    ticket = Ticket(
        workspace_id=tx.workspace_id,
        number=number,
        title=final_title,
        # An anonymous ticket's channel must not be named after the person it hides.
        channel_name=channel_name_for(number, None if anonymous else opener.display_name,
                                      ticket_type.sequential_names),
        status=Status.OPEN,
        priority=prio,
        type_id=ticket_type.id,
        opener_id=opener.id,
        team_id=team_id if team_id is not None else ticket_type.team_id,
        anonymous=anonymous,
        custom_fields=fields,
        intake_answers=stored_answers,
        escalated=False,
        lockdown=False,
        pinned=False,
        last_message_at=tx.now if first_message else None,
        last_customer_message_at=tx.now if first_message else None,
        activity_at=tx.now,
        customer_activity_at=tx.now,
        sla_paused=False,
        sla_used_minutes=0.0,
        created_at=tx.now,
        updated_at=tx.now,
    )
    await sync_sla(tx, ticket)
    tx.session.add(ticket)
    await tx.session.flush()
    tx.locked_tickets[number] = ticket
    await write_deadlines(tx, ticket, {})
    if conversation is None:
        conversation = Conversation(
            workspace_id=tx.workspace_id,
            channel=conv_channel,
            external_id=external_id,
            subject=final_title,
            customer_id=opener.id,
            status="open",
            created_at=tx.now,
        )
        tx.session.add(conversation)
    conversation.ticket_id = ticket.id
    tx.forget_ticket_reads()
    if first_message:
        conversation.last_message_at = tx.now
    for tag in tag_list:
        tx.session.add(TicketTag(ticket_id=ticket.id, tag=tag))
    await tx.session.flush()
    message = None
    if first_message:
        message = Message(
            workspace_id=tx.workspace_id,
            conversation_id=conversation.id,
            visibility="public",
            author_kind=AuthorKind.CUSTOMER if opener.id == opener_id else AuthorKind.STAFF,
            author_id=opener.id,
            anonymous=anonymous,
            body=first_message,
            created_at=tx.now,
        )
        tx.session.add(message)
        await tx.session.flush()
    # Both events are recorded after the inserts they name, so they go out as one INSERT.
    await tx.record(
        ev.TICKET_OPENED,
        ticket=ticket,
        conversation_id=conversation.id,
        type_id=ticket_type.id,
        type_name=ticket_type.name,
        opener_id=opener.id,
        priority=prio.value,
        title=final_title,
        tags=tag_list,
        channel=conv_channel.value,
    )
    if message is not None:
        await tx.record(ev.MESSAGE_CREATED, ticket=ticket, conversation_id=conversation.id,
                        message_id=message.id, author_kind=message.author_kind, visibility="public")
    await auto_assign(tx, ticket, ticket_type)
    if message is not None and message.author_kind == AuthorKind.CUSTOMER:
        await send_away_message_if_closed(tx, ticket, conversation)
    return ticket


async def claim_ticket(tx: Tx, number: int) -> Ticket:
    """Claim a ticket: "I'm working this". Staff only. A ticket claimed by someone else is a
    conflict; claiming your own claim again changes nothing. Emits ``ticket.claimed``."""
    ticket = await ticket_for(tx, number, Capability.CLAIM)
    _refuse_closed(ticket)
    if ticket.claimer_id == tx.actor.member_id:
        return ticket
    if ticket.claimer_id is not None:
        raise AlreadyClaimed(f"ticket {number} is already claimed", claimer_id=ticket.claimer_id)
    if tx.actor.member_id is None:
        raise ValidationFailed("the desk itself cannot claim tickets", field="actor")
    ticket.claimer_id = tx.actor.member_id
    touch(tx, ticket)
    await tx.record(ev.TICKET_CLAIMED, ticket=ticket, before={"claimer_id": None},
                    after={"claimer_id": ticket.claimer_id})
    return ticket


async def unclaim_ticket(tx: Tx, number: int) -> Ticket:
    """Release a claim. The claimer or staff. Emits ``ticket.unclaimed``; unclaimed stays quiet."""
    ticket = await ticket_for(tx, number, Capability.UNCLAIM)
    if ticket.claimer_id is None:
        return ticket
    before = ticket.claimer_id
    ticket.claimer_id = None
    touch(tx, ticket)
    await tx.record(ev.TICKET_UNCLAIMED, ticket=ticket, before={"claimer_id": before}, after={"claimer_id": None})
    return ticket


async def assign_ticket(tx: Tx, number: int, assignee_id: int | None) -> Ticket:
    """Assign (or, with ``None``, unassign) a ticket: "you'll handle this". Staff only; the
    assignee must be staff for the ticket's type. Emits ``ticket.assigned`` or
    ``ticket.unassigned``."""
    ticket = await ticket_for(tx, number, Capability.ASSIGN)
    _refuse_closed(ticket)
    if assignee_id == ticket.assignee_id:
        return ticket
    if assignee_id is not None:
        member = await get_member(tx, assignee_id, field="assignee_id")
        from frontdesk.actions.members import actor_for_member

        # Staff on this very ticket: of its type or its team, and management under lockdown.
        if not is_ticket_staff(await actor_for_member(tx, member), await ticket_access(tx, ticket)):
            raise ValidationFailed(f"{member.display_name} is not staff for this ticket",
                                   field="assignee_id")
    before = ticket.assignee_id
    ticket.assignee_id = assignee_id
    touch(tx, ticket)
    await tx.record(ev.TICKET_ASSIGNED if assignee_id is not None else ev.TICKET_UNASSIGNED, ticket=ticket,
                    before={"assignee_id": before}, after={"assignee_id": assignee_id})
    return ticket


def _refuse_closed(ticket: Ticket) -> None:
    if ticket.status == Status.CLOSED:
        raise TicketClosed(f"ticket {ticket.number} is closed; reopen it first")


async def set_status(tx: Tx, number: int, status: str) -> Ticket:
    """Move a ticket between Open, In progress, Waiting and Resolved. Staff only. Closing
    needs a reason and goes through ``close_ticket``. Emits ``ticket.status_changed``."""
    try:
        new = Status(status)
    except ValueError:
        raise ValidationFailed(f"status must be one of {', '.join(s.value for s in Status)}",
                               field="status") from None
    if new not in settable_statuses():
        raise ValidationFailed("closing needs a reason: use the close action", field="status")
    ticket = await ticket_for(tx, number, Capability.EDIT)
    _refuse_closed(ticket)
    return await apply_status(tx, ticket, new)


async def apply_status(tx: Tx, ticket: Ticket, new: Status, **payload: Any) -> Ticket:
    """Change the status of an already loaded and checked ticket (shared with messages)."""
    if ticket.status == new:
        return ticket
    before = ticket.status
    ticket.status = new
    await sync_sla(tx, ticket)
    touch(tx, ticket)
    await tx.record(ev.TICKET_STATUS_CHANGED, ticket=ticket, before={"status": before},
                    after={"status": new.value}, **payload)
    return ticket


async def set_priority(tx: Tx, number: int, priority: str) -> Ticket:
    """Change priority (it drives SLA targets and queue order). Staff only.
    Emits ``ticket.priority_changed``."""
    new = _priority(priority)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    _refuse_closed(ticket)
    if ticket.priority == new:
        return ticket
    before = ticket.priority
    ticket.priority = new
    await sync_sla(tx, ticket)
    touch(tx, ticket)
    await tx.record(ev.TICKET_PRIORITY_CHANGED, ticket=ticket, before={"priority": before},
                    after={"priority": new.value})
    return ticket


async def add_tag(tx: Tx, number: int, tag: str) -> Ticket:
    """Add a free-form label (normalised to lower case). Staff only. Emits ``ticket.tag_added``;
    a tag already on the ticket changes nothing."""
    value = _tag(tag)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    current = await _tags_of(tx, ticket)
    if value not in current:
        tx.session.add(TicketTag(ticket_id=ticket.id, tag=value))
        touch(tx, ticket)
        await tx.record(ev.TICKET_TAG_ADDED, ticket=ticket, tag=value, before={"tags": current},
                        after={"tags": sorted([*current, value])})
    return ticket


async def _tags_of(tx: Tx, ticket: Ticket) -> list[str]:
    return list((await tx.session.execute(
        select(TicketTag.tag).where(TicketTag.ticket_id == ticket.id).order_by(TicketTag.tag))).scalars())


async def remove_tag(tx: Tx, number: int, tag: str) -> Ticket:
    """Remove a label. Staff only. Emits ``ticket.tag_removed`` when the tag was there."""
    value = _tag(tag)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    current = await _tags_of(tx, ticket)
    if value in current:
        await tx.session.execute(delete(TicketTag).where(TicketTag.ticket_id == ticket.id, TicketTag.tag == value))
        touch(tx, ticket)
        await tx.record(ev.TICKET_TAG_REMOVED, ticket=ticket, tag=value, before={"tags": current},
                        after={"tags": [t for t in current if t != value]})
    return ticket


async def set_custom_field(tx: Tx, number: int, key: str, value: Any) -> Ticket:
    """Set (or with ``None`` clear) a custom field, validated against its definition.
    Staff only. Emits ``ticket.field_set`` with before and after."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    specs = await field_specs(tx)
    spec = specs.get(key)
    if spec is None:
        raise ValidationFailed(f"no custom field {key!r} is defined", field=f"custom_fields.{key}")
    coerced = coerce_value(spec, value, field=f"custom_fields.{key}")
    current = dict(ticket.custom_fields or {})
    before = current.get(key)
    if before == coerced:
        return ticket
    if coerced is None:
        current.pop(key, None)
    else:
        current[key] = coerced
    ticket.custom_fields = current
    touch(tx, ticket)
    await tx.record(ev.TICKET_FIELD_SET, ticket=ticket, key=key, before={key: before}, after={key: coerced})
    return ticket


async def rename_ticket(tx: Tx, number: int, title: str) -> Ticket:
    """Give the ticket a custom subject. The title is kept exactly as written; the channel
    name follows it in Discord's form. Staff only. Emits ``ticket.renamed``."""
    new_title = _title(title)
    ticket = await ticket_for(tx, number, Capability.EDIT)
    if ticket.title == new_title:
        return ticket
    before = {"title": ticket.title, "channel_name": ticket.channel_name}
    ticket.title = new_title
    ticket.channel_name = channel_name_for(ticket.number, new_title, sequential=False)
    touch(tx, ticket)
    await tx.record(ev.TICKET_RENAMED, ticket=ticket, before=before,
                    after={"title": ticket.title, "channel_name": ticket.channel_name})
    return ticket


async def move_ticket(tx: Tx, number: int, type_id: int) -> Ticket:
    """Move a ticket to another type (the opener picked the wrong one). Staff of the current
    type only. Emits ``ticket.moved`` with both types."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    _refuse_closed(ticket)
    destination = await get_type(tx, type_id)
    if destination.archived:
        raise ValidationFailed("the destination type is archived", field="type_id")
    if ticket.type_id == destination.id:
        return ticket
    before = ticket.type_id
    ticket.type_id = destination.id
    if destination.team_id is not None:
        ticket.team_id = destination.team_id
    await sync_sla(tx, ticket)
    touch(tx, ticket)
    await tx.record(ev.TICKET_MOVED, ticket=ticket, before={"type_id": before},
                    after={"type_id": destination.id}, type_name=destination.name)
    return ticket


async def set_team(tx: Tx, number: int, team_id: int | None) -> Ticket:
    """Route the ticket to a team (or none). Staff only. Emits ``ticket.team_changed``."""
    ticket = await ticket_for(tx, number, Capability.EDIT)
    if team_id is not None:
        team = await tx.session.get(Team, team_id)
        if team is None or team.workspace_id != tx.workspace_id:
            raise ValidationFailed(f"team {team_id} does not exist", field="team_id")
    if ticket.team_id == team_id:
        return ticket
    before = ticket.team_id
    ticket.team_id = team_id
    touch(tx, ticket)
    await tx.record(ev.TICKET_TEAM_CHANGED, ticket=ticket, before={"team_id": before}, after={"team_id": team_id})
    return ticket


async def add_participant(tx: Tx, number: int, member_id: int, *, kind: str = "participant") -> Ticket:
    """Add a member to the ticket (``participant``: they see it and may write in it) or link
    a contact (``contact``: who is affected). Staff only. Emits ``ticket.participant_added``
    or ``ticket.contact_added``."""
    if kind not in ("participant", "contact"):
        raise ValidationFailed("kind must be participant or contact", field="kind")
    ticket = await ticket_for(tx, number, Capability.EDIT)
    member = await get_member(tx, member_id)
    current = await _people_of(tx, ticket, kind)
    if member.id not in current:
        tx.session.add(TicketParticipant(ticket_id=ticket.id, member_id=member.id, kind=kind, added_at=tx.now))
        tx.forget_ticket_reads()
        touch(tx, ticket)
        await tx.record(ev.TICKET_PARTICIPANT_ADDED if kind == "participant" else ev.TICKET_CONTACT_ADDED,
                        ticket=ticket, member_id=member.id, before={f"{kind}_ids": current},
                        after={f"{kind}_ids": sorted([*current, member.id])})
    return ticket


async def _people_of(tx: Tx, ticket: Ticket, kind: str) -> list[int]:
    return list((await tx.session.execute(
        select(TicketParticipant.member_id).where(TicketParticipant.ticket_id == ticket.id,
                                                  TicketParticipant.kind == kind)
        .order_by(TicketParticipant.member_id))).scalars())


async def remove_participant(tx: Tx, number: int, member_id: int, *, kind: str = "participant") -> Ticket:
    """Remove a participant or unlink a contact. Staff only. Emits ``ticket.participant_removed``
    or ``ticket.contact_removed`` when there was one."""
    if kind not in ("participant", "contact"):
        raise ValidationFailed("kind must be participant or contact", field="kind")
    ticket = await ticket_for(tx, number, Capability.EDIT)
    current = await _people_of(tx, ticket, kind)
    if member_id in current:
        await tx.session.execute(
            delete(TicketParticipant).where(
                TicketParticipant.ticket_id == ticket.id,
                TicketParticipant.member_id == member_id,
                TicketParticipant.kind == kind,
            )
        )
        tx.forget_ticket_reads()
        touch(tx, ticket)
        await tx.record(ev.TICKET_PARTICIPANT_REMOVED if kind == "participant" else ev.TICKET_CONTACT_REMOVED,
                        ticket=ticket, member_id=member_id, before={f"{kind}_ids": current},
                        after={f"{kind}_ids": [m for m in current if m != member_id]})
    return ticket


async def _set_flag(tx: Tx, number: int | Ticket, capability: Capability, attr: str, value: bool,
                    on: str, off: str, **payload: Any) -> Ticket:
    ticket = number if isinstance(number, Ticket) else await ticket_for(tx, number, capability)
    if getattr(ticket, attr) == value:
        return ticket
    setattr(ticket, attr, value)
    touch(tx, ticket)
    await tx.record(on if value else off, ticket=ticket, before={attr: not value}, after={attr: value}, **payload)
    return ticket


async def pin_ticket(tx: Tx, number: int) -> Ticket:
    """Pin: exempt from inactivity auto-close. Staff only. Emits ``ticket.pinned``."""
    return await _set_flag(tx, number, Capability.EDIT, "pinned", True, ev.TICKET_PINNED, ev.TICKET_UNPINNED)


async def unpin_ticket(tx: Tx, number: int) -> Ticket:
    """Unpin. Staff only. Emits ``ticket.unpinned``."""
    return await _set_flag(tx, number, Capability.EDIT, "pinned", False, ev.TICKET_PINNED, ev.TICKET_UNPINNED)


ESCALATION_REASONS = ("user_requested", "staff", "low_confidence", "rule")


async def escalate_ticket(tx: Tx, number: int, *, reason: str = "staff", note: str | None = None) -> Ticket:
    """Mark that the ticket needs a human. Staff, or the opener ("Request human").
    Emits ``ticket.escalated`` with the reason and raises an ``escalated`` quality flag
    (``quality_flag.created``) unless one is open; an escalated ticket stays quiet."""
    if reason not in ESCALATION_REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(ESCALATION_REASONS)}", field="reason")
    ticket = await ticket_for(tx, number, Capability.ESCALATE)
    _refuse_closed(ticket)
    if ticket.escalated:
        return ticket
    await _set_flag(tx, ticket, Capability.ESCALATE, "escalated", True, ev.TICKET_ESCALATED,
                    ev.TICKET_ESCALATED, reason=reason, note=note)
    await flag_ticket(tx, ticket, QualityFlagKind.ESCALATED, reason=reason, note=note)
    return ticket


async def lockdown_ticket(tx: Tx, number: int) -> Ticket:
    """Restrict the ticket to management: regular staff lose access. Management only.
    Emits ``ticket.locked``."""
    return await _set_flag(tx, number, Capability.LOCKDOWN, "lockdown", True, ev.TICKET_LOCKED, ev.TICKET_UNLOCKED)


async def unlock_ticket(tx: Tx, number: int) -> Ticket:
    """Lift lockdown. Management only. Emits ``ticket.unlocked``."""
    return await _set_flag(tx, number, Capability.LOCKDOWN, "lockdown", False, ev.TICKET_LOCKED,
                           ev.TICKET_UNLOCKED)


async def update_ticket(tx: Tx, number: int, changes: dict[str, Any]) -> Ticket:
    """Apply a plain field edit (``PATCH``) by calling the action for each field, so an edit
    writes exactly the events the single actions would."""
    handlers = {
        "title": lambda v: rename_ticket(tx, number, v),
        "status": lambda v: set_status(tx, number, v),
        "priority": lambda v: set_priority(tx, number, v),
        "assignee_id": lambda v: assign_ticket(tx, number, v),
        "team_id": lambda v: set_team(tx, number, v),
        "type_id": lambda v: move_ticket(tx, number, v),
        "pinned": lambda v: (pin_ticket if v else unpin_ticket)(tx, number),
    }
    ticket: Ticket | None = None
    for key, value in changes.items():
        if key == "custom_fields":
            if not isinstance(value, dict):
                raise ValidationFailed("custom_fields must be an object", field="custom_fields")
            for field_key, field_value in value.items():
                ticket = await set_custom_field(tx, number, field_key, field_value)
            continue
        if key == "tags":
            ticket = await _replace_tags(tx, number, value)
            continue
        handler = handlers.get(key)
        if handler is None:
            raise ValidationFailed(f"{key} cannot be changed here", field=key)
        ticket = await handler(value)
    if ticket is None:
        ticket = await ticket_for(tx, number, Capability.VIEW, for_update=False)
    return ticket


async def _replace_tags(tx: Tx, number: int, tags: list[str]) -> Ticket:
    if not isinstance(tags, list):
        raise ValidationFailed("tags must be a list", field="tags")
    wanted = {_tag(t, "tags") for t in tags}
    ticket = await ticket_for(tx, number, Capability.EDIT)
    current = set((await tx.session.execute(select(TicketTag.tag).where(TicketTag.ticket_id == ticket.id))).scalars())
    for tag in sorted(current - wanted):
        await remove_tag(tx, number, tag)
    for tag in sorted(wanted - current):
        await add_tag(tx, number, tag)
    return ticket


__all__ = [
    "add_participant",
    "add_tag",
    "assign_ticket",
    "claim_ticket",
    "escalate_ticket",
    "lockdown_ticket",
    "move_ticket",
    "open_ticket",
    "pin_ticket",
    "remove_participant",
    "remove_tag",
    "rename_ticket",
    "set_custom_field",
    "set_priority",
    "set_status",
    "set_team",
    "unclaim_ticket",
    "unlock_ticket",
    "unpin_ticket",
    "update_ticket",
]
