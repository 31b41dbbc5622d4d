"""The tables. Every row belongs to one workspace; timestamps are aware UTC.

Models are plain mapped classes without behaviour: rules live in ``domain/`` and state
changes in ``actions/``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from frontdesk.db.types import BigId, Json, UtcDateTime

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: Json, list[Any]: Json}


def partial_index(name: str, columns: list[str], where: str, *, unique: bool = False) -> Index:
    """An index over the rows matching ``where``, on both databases."""
    return Index(name, *columns, unique=unique, sqlite_where=text(where), postgresql_where=text(where))


def ws_fk() -> Mapped[int]:
    return mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    discord_guild_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_ticket_number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        UniqueConstraint("workspace_id", "discord_user_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    discord_user_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16), default="customer")
    discord_role_ids: Mapped[list[Any]] = mapped_column(default=list)
    discord_powers: Mapped[list[Any]] = mapped_column(default=list)
    is_integration: Mapped[bool] = mapped_column(Boolean, default=False)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    name: Mapped[str] = mapped_column(String(100))
    permissions: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]


class TeamMember(Base):
    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(BigId, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TicketType(Base):
    __tablename__ = "ticket_types"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    name: Mapped[str] = mapped_column(String(100))
    emoji: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(1000))
    category: Mapped[str | None] = mapped_column(String(100))
    staff_role_ids: Mapped[list[Any]] = mapped_column(default=list)
    allowed_role_ids: Mapped[list[Any]] = mapped_column(default=list)
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"))
    intake_questions: Mapped[list[Any]] = mapped_column(default=list)
    # None means no limit. No column default: the ORM would put it in place of an explicit None.
    open_limit_per_user: Mapped[int | None] = mapped_column(Integer)
    opener_can_close: Mapped[bool] = mapped_column(Boolean, default=True)
    sequential_names: Mapped[bool] = mapped_column(Boolean, default=False)
    discord_mode: Mapped[str] = mapped_column(String(16), default="channel")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class CustomFieldDefinition(Base):
    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    field_type: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[Any]] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("workspace_id", "number"),
        Index("ix_tickets_ws_status_number", "workspace_id", "status", "number"),
        Index("ix_tickets_opener_type_status", "opener_id", "type_id", "status"),
        # Sweeps and the staff queue read these through partial indexes, so their cost follows
        # the number of due rows, not the number of tickets. (SLA targets pending a breach are in
        # ``sla_deadlines``; no index covers the breach columns, so recording a breach can be an
        # update in place.)
        partial_index("ix_tickets_queue", ["workspace_id", "sla_due_at"], "status <> 'closed'"),
        partial_index("ix_tickets_activity", ["workspace_id", "activity_at"], "status <> 'closed'"),
        partial_index("ix_tickets_customer_activity", ["workspace_id", "customer_activity_at"],
                      "status <> 'closed'"),
        partial_index("ix_tickets_follow_up_due", ["follow_up_due_at"], "follow_up_due_at IS NOT NULL"),
        # Analytics reads a date range of tickets; on PostgreSQL these indexes carry the columns
        # it needs, so the range is read from the index alone.
        Index("ix_tickets_ws_created_at", "workspace_id", "created_at",
              postgresql_include=["id", "priority", "type_id", "first_responder_id", "first_response_at"]),
        Index("ix_tickets_ws_closed_at", "workspace_id", "closed_at",
              postgresql_include=["created_at", "assignee_id", "claimer_id", "csat", "merged_into_id"]),
        partial_index("ix_tickets_ws_rated_at", ["workspace_id", "rated_at"], "rated_at IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    channel_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="open")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    type_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("ticket_types.id", ondelete="SET NULL"))
    opener_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    claimer_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id", ondelete="SET NULL"))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    lockdown: Mapped[bool] = mapped_column(Boolean, default=False)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="SET NULL"))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    intake_answers: Mapped[list[Any]] = mapped_column(default=list)
    close_reason: Mapped[str | None] = mapped_column(String(32))
    close_note: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    csat: Mapped[str | None] = mapped_column(String(16))
    csat_comment: Mapped[str | None] = mapped_column(String(1000))
    rated_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    last_customer_message_at: Mapped[datetime | None]
    last_staff_message_at: Mapped[datetime | None]
    # Who sent the first public staff message (analytics: first response per staff member).
    first_responder_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    # The SLA clock: minutes of target time used up to ``sla_running_since`` (None while stopped).
    sla_paused: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_used_minutes: Mapped[float] = mapped_column(Float, default=0.0)
    sla_running_since: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    # The earlier pending due time of the two: the staff queue sorts by it.
    sla_due_at: Mapped[datetime | None]
    first_response_breached_at: Mapped[datetime | None]
    resolution_breached_at: Mapped[datetime | None]
    # Inactivity: the last public customer or staff message (or the open), and the time the
    # customer's turn began (their last message, or the first staff reply after it).
    activity_at: Mapped[datetime]
    customer_activity_at: Mapped[datetime]
    inactivity_warned_at: Mapped[datetime | None]
    nudged_at: Mapped[datetime | None]
    # The post-close "was this solved?" follow-up.
    follow_up_due_at: Mapped[datetime | None]
    follow_up_sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketTag(Base):
    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag", "tag"),)

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)


class TicketParticipant(Base):
    """A person added to a ticket (``/ticket adduser``) or a linked contact (who's affected)."""

    __tablename__ = "ticket_participants"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # "participant" or "contact"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    added_at: Mapped[datetime]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_ws_external", "workspace_id", "channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    channel: Mapped[str] = mapped_column(String(24))
    external_id: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(String(200))
    customer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    ticket_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime]
    solved_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    # When the customer was last told the desk is closed (one away message per closed spell).
    away_sent_at: Mapped[datetime | None]


class Message(Base):
    """A public message in a conversation, or an internal note on a ticket or conversation."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        Index("ix_messages_ticket_id_id", "ticket_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("conversations.id", ondelete="CASCADE"))
    # Set for internal notes on a ticket; notes stay on the ticket, not the conversation.
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    visibility: Mapped[str] = mapped_column(String(8), default="public")
    author_kind: Mapped[str] = mapped_column(String(8))
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    reply_to_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("messages.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    edited_at: Mapped[datetime | None]


class MessageEdit(Base):
    """The text a message had before an edit; edits are kept, never overwritten."""

    __tablename__ = "message_edits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    previous_body: Mapped[str] = mapped_column(Text)
    editor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    edited_at: Mapped[datetime]


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    message_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # Where the bytes are: a key in frontdesk's file store, or an external URL.
    storage_key: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime]


class Event(Base):
    """Append-only: rows are inserted by actions and never updated or deleted."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ticket_id_id", "ticket_id", "id"),
        Index("ix_events_workspace_id_id", "workspace_id", "id"),
        Index("ix_events_type_occurred_at", "type", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(BigId)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    actor_kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Transcript(Base):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    message_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """The stored answer to a creating POST, replayed when the same key comes again."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("workspace_id", "member_id", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("members.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(index=True)


# PostgreSQL storage parameters of the tables used as queues, whose rows are written, changed
# and deleted all day (sla_deadlines, outbox): vacuumed after every thousand dead rows rather
# than a share of the table, with index cleanup.
QUEUE_STORAGE = (("vacuum_index_cleanup", "on"), ("autovacuum_vacuum_scale_factor", "0"),
                 ("autovacuum_vacuum_threshold", "1000"))


class SlaDeadline(Base):
    """An SLA target of a ticket that runs and has not been breached, with its due time: what
    the breach sweep reads. Kept by the same code that writes the ticket's due times."""

    __tablename__ = "sla_deadlines"
    __table_args__ = (
        Index("ix_sla_deadlines_target_due_at", "target", "due_at"),
        # A queue: every breach and every stopped clock deletes a row. On PostgreSQL vacuum
        # it after a thousand dead rows, whatever the table's size, and always clean its index
        # (vacuum otherwise skips index cleanup while few pages hold dead rows, and the sweep's
        # bitmap scan would keep visiting the dead entries). Set by migration 0007.
        {"postgresql_with": dict(QUEUE_STORAGE)},
    )

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    # first_response or resolution
    target: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    due_at: Mapped[datetime]


class CloseRequest(Base):
    """Staff asking the opener whether a ticket may close; at most one pending per ticket."""

    __tablename__ = "close_requests"
    __table_args__ = (
        partial_index("uq_close_requests_pending_ticket", ["ticket_id"], "status = 'pending'", unique=True),
        partial_index("ix_close_requests_close_at", ["close_at"], "status = 'pending' AND close_at IS NOT NULL"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    comment: Mapped[str | None] = mapped_column(String(1000))
    share_comment: Mapped[bool] = mapped_column(Boolean, default=True)
    # When the ticket closes by itself if the opener has not answered; None waits forever.
    close_at: Mapped[datetime | None]
    # pending, accepted, denied, cancelled, expired
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))


class QualityFlag(Base):
    """A ticket that needs review (negative CSAT, escalation, a low-confidence bot reply)."""

    __tablename__ = "quality_flags"
    __table_args__ = (
        partial_index("uq_quality_flags_open_ticket_kind", ["ticket_id", "kind"], "resolved_at IS NULL",
                      unique=True),
        Index("ix_quality_flags_ws_resolved_at", "workspace_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    resolution_note: Mapped[str | None] = mapped_column(String(500))


class AssignmentCursor(Base):
    """Where round robin stands for one scope (a ticket type, or the whole workspace). The row
    is also the lock that makes concurrent automatic assignments take turns."""

    __tablename__ = "assignment_cursors"

    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_member_id: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime]


class AlertState(Base):
    """Whether a manager alert condition currently holds, so it fires once per crossing."""

    __tablename__ = "alert_states"

    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    value: Mapped[float | None] = mapped_column(Float)
    changed_at: Mapped[datetime]


# --- macros and suggested macros (issue 4) ---


class Macro(Base):
    """A canned reply staff send by its shortcut (``/macro refund-policy``)."""

    __tablename__ = "macros"
    __table_args__ = (
        UniqueConstraint("workspace_id", "shortcut"),
        Index("ix_macros_ws_category", "workspace_id", "category"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    # Lower case letters, digits, - and _; normalised on save.
    shortcut: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    # True: posted as a staff reply under the sender's name; False: posted by the bot.
    send_as_staff: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    last_used_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MacroSuggestion(Base):
    """A staff reply repeated often enough to be proposed as a macro. Its normalised text's
    hash is kept whatever staff decide, so a dismissed text is never proposed again."""

    __tablename__ = "macro_suggestions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "text_hash"),
        Index("ix_macro_suggestions_ws_status_id", "workspace_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    text_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)
    suggested_shortcut: Mapped[str] = mapped_column(String(64))
    message_count: Mapped[int] = mapped_column(Integer)
    ticket_count: Mapped[int] = mapped_column(Integer)
    example_ticket_numbers: Mapped[list[Any]] = mapped_column(default=list)
    # pending, accepted or dismissed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    macro_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("macros.id", ondelete="SET NULL"))
    decided_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class MacroMiningState(Base):
    """When a workspace's staff replies were last mined: the row a worker claims, with a
    conditional update, before mining, so any number of workers mine once a day."""

    __tablename__ = "macro_mining_states"

    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    last_mined_at: Mapped[datetime | None]
# --- automation rules (issue 4) ---


class AutomationRule(Base):
    """A rule: trigger, conditions and actions (``definition``, checked by ``domain.rules``).
    ``version`` grows with every change, so a parsed copy cached by (id, version) stays right
    in every process."""

    __tablename__ = "automation_rules"
    # Ids are never reused (SQLite would reuse the highest after a delete): the parsed-rule
    # cache is keyed by (id, version).
    __table_args__ = (Index("ix_automation_rules_ws_position", "workspace_id", "position"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(32))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))


class AutomationRuleSet(Base):
    """One row per workspace that has (or had) rules: ``version`` grows with every change to
    any of its rules (a create, change, reorder or delete, in the same transaction), so the
    automation hook reads one row to learn whether its cached list of rules is current."""

    __tablename__ = "automation_rule_sets"

    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"),
                                              primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class RuleRun(Base):
    """One rule that matched one event: what each action did, the error that undid them, or
    why the chain stopped. Kept when the rule is deleted (``rule_id`` becomes null)."""

    __tablename__ = "rule_runs"
    __table_args__ = (
        Index("ix_rule_runs_ticket_id_id", "ticket_id", "id"),
        Index("ix_rule_runs_rule_id_id", "rule_id", "id"),
        Index("ix_rule_runs_workspace_id_id", "workspace_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("automation_rules.id", ondelete="SET NULL"))
    rule_name: Mapped[str] = mapped_column(String(100))
    ticket_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(BigId)
    event_type: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(32))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[list[Any]] = mapped_column(default=list)
    error: Mapped[str | None] = mapped_column(Text)
    stopped: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime]


# --- outbox and webhooks (issue 4) ---


class OutboxItem(Base):
    """A side effect outside the database, decided by a committed transaction and carried out
    by the worker: a webhook delivery, a push to Jira, a Slack post. ``kind`` picks the handler;
    ``key`` makes enqueueing idempotent. A claimed row has ``lease_until`` (and
    ``next_attempt_at``) pushed past the time its worker needs; if the worker dies, the row
    falls due again once the lease has passed."""

    __tablename__ = "outbox"
    __table_args__ = (
        partial_index("ix_outbox_pending_next_attempt_at", ["next_attempt_at"], "status = 'pending'"),
        # What the retention sweep reads: finished rows, oldest first.
        partial_index("ix_outbox_finished_done_at", ["done_at"], "status != 'pending'"),
        # Vacuumed as the queue it is (migration 0009): the claims' and the retention sweep's
        # index scans do not wade through dead entries.
        {"postgresql_with": dict(QUEUE_STORAGE)},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Rows that go to the same receiver ("webhook:12"): a worker carries out only so many of
    # one lane at a time, so one slow receiver cannot hold up the others.
    lane: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # pending, done, dead
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # When it finished: done, or given up on (dead).
    done_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """Where a workspace's events are sent. Signing secrets are stored encrypted (secretbox);
    during a rotation's overlap the previous one signs too."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(BigId, ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Event names, or ["*"] for every event.
    events: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(String(500))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    # Why the desk disabled it by itself (410 Gone); None when enabled or disabled by a person.
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One message to one endpoint: its ``webhook-id`` and body are fixed when it is written,
    so every attempt and every redelivery sends the same. Its state is the outbox row's."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    endpoint_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    # The latest outbox row carrying it (a redelivery enqueues a new one); the handler finds
    # the delivery by it.
    outbox_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    message_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(BigId)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, as the delivery log shows it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_id_attempt", "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(BigId, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


# --- engineering links: Jira, Linear, Slack (issue 4) ---


class IntegrationConnection(Base):
    """A workspace's connection to Jira Cloud, Linear or Slack. ``config`` holds the settings
    that are not secret (site URL, project key, status mapping, channel); ``credentials`` is
    one JSON object of the secret ones, encrypted with the secret box, never shown again.
    ``member_id`` is the integration member that changes made from the other side act as."""

    __tablename__ = "integration_connections"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    credentials: Mapped[str] = mapped_column(Text)
    member_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketLink(Base):
    """A ticket's link to an issue in Jira or Linear, or to its thread in a Slack channel.
    ``external_id`` is the other side's id (Jira issue id or key, Linear issue id, Slack
    thread ts), empty while a push is pending; ``key`` is what people say (ENG-42)."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        Index("ix_ticket_links_connection_id_key", "connection_id", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("integration_connections.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str | None] = mapped_column(String(2000))
    external_status: Mapped[str | None] = mapped_column(String(100))
    # pending, linked, failed
    sync_state: Mapped[str] = mapped_column(String(8), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    last_synced_at: Mapped[datetime | None]


class IntegrationReceipt(Base):
    """An inbound call already handled (Slack's event_id, a webhook delivery id): a retry of
    the same call finds its receipt and changes nothing."""

    __tablename__ = "integration_receipts"

    connection_id: Mapped[int] = mapped_column(BigId, ForeignKey("integration_connections.id", ondelete="CASCADE"),
                                               primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    received_at: Mapped[datetime]


# --- Discord (issue 5) -----------------------------------------------------------------------------------------

class DiscordTicket(Base):
    """Where a ticket lives in Discord: its private channel, private thread or forum post, and
    what the bot last made of it there (the mirror compares against this to change only what
    differs). A ticket opened elsewhere (API, e-mail) has no row."""

    __tablename__ = "discord_tickets"
    # The DM relay finds a user's open ticket by who they are, on every DM.
    __table_args__ = (partial_index("ix_discord_tickets_open_user", ["user_id"], "state = 'open'"),)

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    guild_id: Mapped[str] = mapped_column(String(32))
    # channel, thread or forum (a post with the DM relay)
    mode: Mapped[str] = mapped_column(String(16))
    # The ticket's channel, thread or post (a post is a thread of the forum).
    channel_id: Mapped[str] = mapped_column(String(32), unique=True)
    # The category (channel mode), text channel (thread mode) or forum (forum mode) it is in.
    parent_id: Mapped[str | None] = mapped_column(String(32))
    # The opener's Discord user id, and their DM channel with the bot (the DM relay).
    user_id: Mapped[str | None] = mapped_column(String(32))
    dm_channel_id: Mapped[str | None] = mapped_column(String(32))
    welcome_message_id: Mapped[str | None] = mapped_column(String(32))
    # The DM of a pending close request (deleted quietly when the request is withdrawn).
    close_request_message_id: Mapped[str | None] = mapped_column(String(32))
    # What the mirror last applied: {"name": ..., "parent_id": ..., "lockdown": ..., "tags": [...], ...}
    applied: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # open, archived (thread and forum modes, after close) or deleted (channel mode, after close)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DiscordMessageLink(Base):
    """A frontdesk message and a Discord message that shows it: where it was written
    (``origin``) or a copy the bot posted (``copy``: the user's DM of a staff reply, the post's
    copy of a DM). Replies are mirrored through it, and a message the bot posted is never
    taken in again as a new one."""

    __tablename__ = "discord_message_links"
    __table_args__ = (UniqueConstraint("channel_id", "discord_message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    discord_message_id: Mapped[str] = mapped_column(String(32))
    # origin or copy
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]


class DiscordPanel(Base):
    """A panel posted in a channel: a button per ticket type, or a select menu above four."""

    __tablename__ = "discord_panels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = ws_fk()
    channel_id: Mapped[str] = mapped_column(String(32))
    # None until Discord has the message (the worker posts panels made through the API).
    message_id: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(String(4000))
    type_ids: Mapped[list[Any]] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
