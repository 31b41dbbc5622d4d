"""Request and response bodies. Separate from the ORM models; the ticket shape is one."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

Priority = Literal["low", "normal", "high", "urgent"]
StatusName = Literal["open", "in_progress", "waiting", "resolved", "closed"]
RoleName = Literal["owner", "admin", "manager", "staff", "customer"]
CloseReasonName = Literal["resolved", "duplicate", "user_unresponsive", "out_of_scope", "spam", "other"]


# Ticket numbers are 32-bit and row ids 64-bit in the database. A larger value cannot name
# anything; refusing it here answers 422 instead of failing in the database driver.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
Number = Annotated[int, Field(ge=1, le=INT32_MAX)]
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]


def unstorable(value: Any) -> str | None:
    """Why ``value`` cannot be stored the same way on both databases, or ``None``.

    PostgreSQL refuses NUL characters in text and non-finite numbers in JSON, where SQLite
    would keep them; refusing them for both keeps the two alike (and the answers valid JSON).
    """
    if isinstance(value, str):
        return "must not contain NUL characters" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "must be a finite number"
    if isinstance(value, dict):
        items = list(value.keys()) + list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return None
    return next((reason for item in items if (reason := unstorable(item)) is not None), None)


class Strict(BaseModel):
    """Request bodies: unknown fields are refused, and so are values no database can store."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        reason = unstorable(value)
        if reason is not None:
            raise PydanticCustomError("unstorable", reason)
        return value


# --- shared output pieces -------------------------------------------------------------------------------------


class MemberRef(BaseModel):
    id: int | None
    display_name: str | None
    anonymous: bool = False


class NamedRef(BaseModel):
    id: int | None
    name: str | None


class SlaOut(BaseModel):
    paused: bool = Field(description="stopped by hand (pause); resumes where it stopped")
    running: bool = Field(description="the clock runs: Open or In progress, not paused, SLAs on")
    first_response_due_at: str | None = Field(description="while no staff member has answered publicly")
    resolution_due_at: str | None
    due_at: str | None = Field(description="the earlier of the two pending due times (queue order)")
    first_response_breached_at: str | None
    resolution_breached_at: str | None
    breached: bool


class TicketOut(BaseModel):
    number: int
    title: str
    channel_name: str | None
    status: StatusName
    priority: Priority
    type: NamedRef | None
    opener: MemberRef | None
    assignee: MemberRef | None
    claimer: MemberRef | None
    team: NamedRef | None
    tags: list[str]
    custom_fields: dict[str, Any]
    intake_answers: list[dict[str, Any]]
    participants: list[MemberRef]
    contacts: list[MemberRef]
    conversation_ids: list[int]
    escalated: bool
    lockdown: bool
    pinned: bool
    anonymous: bool
    merged_into: int | None = Field(description="number of the ticket this one was merged into")
    close_reason: CloseReasonName | None
    close_note: str | None
    closed_at: str | None
    closed_by: MemberRef | None
    csat: Literal["helpful", "not_helpful", "skipped"] | None
    csat_comment: str | None
    first_response_at: str | None
    sla: SlaOut
    close_request_id: int | None = Field(description="the pending close request, if staff asked to close")
    last_message_at: str | None
    created_at: str
    updated_at: str


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    url: str


class MessageEditOut(BaseModel):
    previous_body: str
    edited_at: str


class MessageOut(BaseModel):
    id: int
    conversation_id: int | None
    ticket_number: int | None
    visibility: Literal["public", "internal"]
    author_kind: Literal["customer", "staff", "bot", "system"]
    author: MemberRef | None
    anonymous: bool
    body: str
    reply_to_id: int | None
    external_id: str | None
    attachments: list[AttachmentOut]
    created_at: str
    edited_at: str | None
    edits: list[MessageEditOut]


class MessageList(BaseModel):
    items: list[MessageOut]


class EventOut(BaseModel):
    id: int
    type: str
    ticket_number: int | None
    conversation_id: int | None
    actor_id: int | None
    actor_kind: str
    occurred_at: str
    payload: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None


class BulkItemOut(BaseModel):
    ticket_number: int
    ok: bool
    error_code: str | None = None
    message: str | None = None


class BulkResult(BaseModel):
    succeeded: int
    failed: int
    results: list[BulkItemOut]


# --- ticket input -------------------------------------------------------------------------------------------


class TicketCreate(Strict):
    type_id: Id
    title: str | None = Field(default=None, description="defaults to the intake subject, then the type's name")
    description: str | None = Field(default=None, description="the first message of the conversation")
    answers: dict[str, str] | None = Field(default=None, description="intake answers by question id")
    opener_id: Id | None = Field(default=None, description="staff only: open on behalf of this member")
    priority: Priority = "normal"
    anonymous: bool = False
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None
    team_id: Id | None = None
    channel: str = "api"
    external_id: str | None = None


class TicketPatch(Strict):
    title: str | None = None
    status: StatusName | None = None
    priority: Priority | None = None
    assignee_id: Id | None = None
    team_id: Id | None = None
    type_id: Id | None = None
    pinned: bool | None = None
    tags: list[str] | None = None
    custom_fields: dict[str, Any] | None = None


class AssignIn(Strict):
    assignee_id: Id | None


class StatusIn(Strict):
    status: StatusName


class PriorityIn(Strict):
    priority: Priority


class TagIn(Strict):
    tag: str


class FieldValueIn(Strict):
    value: Any


class RenameIn(Strict):
    title: str


class MoveIn(Strict):
    type_id: Id


class TeamIn(Strict):
    team_id: Id | None


class ParticipantIn(Strict):
    member_id: Id
    kind: Literal["participant", "contact"] = "participant"


class EscalateIn(Strict):
    reason: Literal["user_requested", "staff", "low_confidence", "rule"] = "staff"
    note: str | None = Field(default=None, max_length=1000)


class CloseIn(Strict):
    reason: CloseReasonName
    note: str | None = Field(default=None, description="at most 500 characters")
    share_comment: bool = Field(default=True, description="show the note to the opener (the Discord close DM)")


class RateIn(Strict):
    rating: Literal["helpful", "not_helpful", "skipped"]
    comment: str | None = None


class MergeIn(Strict):
    into: Number = Field(description="number of the ticket that absorbs this one")


class LinkConversationIn(Strict):
    conversation_id: Id


class AttachmentIn(Strict):
    filename: str
    content_type: str = "application/octet-stream"
    url: str | None = None
    size: int | None = Field(default=None, ge=0, le=INT32_MAX)
    content_base64: str | None = Field(default=None, description="the file's bytes, base64-encoded")


class MessageIn(Strict):
    body: str = ""
    anonymous: bool = False
    reply_to_id: Id | None = None
    conversation_id: Id | None = None
    external_id: str | None = None
    attachments: list[AttachmentIn] = []


class NoteIn(Strict):
    body: str = ""
    attachments: list[AttachmentIn] = []


class MessageEditIn(Strict):
    body: str


class BulkIn(Strict):
    numbers: list[Number] = Field(min_length=1)
    operation: Literal["assign", "tag", "status"]
    assignee_id: Id | None = None
    add: list[str] | None = None
    remove: list[str] | None = None
    status: StatusName | None = None
    reason: CloseReasonName | None = None
    note: str | None = None


# --- conversations ------------------------------------------------------------------------------------------


class ConversationCreate(Strict):
    channel: str = "api"
    customer_id: Id | None = None
    subject: str | None = None
    body: str | None = None
    external_id: str | None = None


class ConversationOut(BaseModel):
    id: int
    channel: str
    external_id: str | None
    subject: str | None
    customer: MemberRef | None
    status: Literal["open", "solved"]
    ticket_number: int | None
    created_at: str
    solved_at: str | None
    last_message_at: str | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    next_cursor: str | None


class ConversationMessageIn(Strict):
    body: str
    internal: bool = False


class ConvertIn(Strict):
    type_id: Id
    title: str | None = None
    priority: Priority = "normal"
    tags: list[str] | None = None


# --- workspace configuration --------------------------------------------------------------------------------


class WorkspaceOut(BaseModel):
    id: int
    name: str
    timezone: str
    discord_guild_id: str | None
    settings: dict[str, Any]
    created_at: str


class WorkspacePatch(Strict):
    name: str | None = None
    timezone: str | None = None
    settings: dict[str, Any] | None = None


class MemberIn(Strict):
    display_name: str
    role: RoleName = "customer"
    email: str | None = None
    discord_user_id: str | None = None
    discord_role_ids: list[str] | None = None
    discord_powers: list[Literal["manage_channels", "administrator"]] | None = None
    is_integration: bool = False


class MemberPatch(Strict):
    display_name: str | None = None
    role: RoleName | None = None
    email: str | None = None
    available: bool | None = None
    discord_role_ids: list[str] | None = None
    discord_powers: list[Literal["manage_channels", "administrator"]] | None = None


class MemberOut(BaseModel):
    id: int
    display_name: str
    email: str | None
    discord_user_id: str | None
    role: str
    discord_role_ids: list[str]
    discord_powers: list[str]
    is_integration: bool
    available: bool
    team_ids: list[int]
    created_at: str


class MemberPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None


class TeamIn_(Strict):
    name: str
    permissions: list[str] = []
    member_ids: list[Id] = []


class TeamMembersIn(Strict):
    member_ids: list[Id]


class TeamOut(BaseModel):
    id: int
    name: str
    permissions: list[str]
    member_ids: list[int]
    created_at: str


class TeamList(BaseModel):
    items: list[TeamOut]


class IntakeQuestionIn(Strict):
    id: str | None = None
    label: str
    kind: Literal["subject", "description", "custom"] = "custom"
    required: bool = False
    max_length: int | None = None
    long: bool | None = None


class TicketTypeIn(Strict):
    name: str
    emoji: str | None = None
    description: str | None = None
    category: str | None = None
    staff_role_ids: list[str] | None = None
    allowed_role_ids: list[str] | None = None
    team_id: Id | None = None
    intake_questions: list[IntakeQuestionIn] | None = None
    open_limit_per_user: int | None = Field(default=1, le=INT32_MAX, description="null removes the limit")
    opener_can_close: bool = True
    sequential_names: bool = False
    discord_mode: Literal["channel", "thread", "forum"] = "channel"
    settings: dict[str, Any] | None = None


class TicketTypePatch(Strict):
    name: str | None = None
    emoji: str | None = None
    description: str | None = None
    category: str | None = None
    staff_role_ids: list[str] | None = None
    allowed_role_ids: list[str] | None = None
    team_id: Id | None = None
    intake_questions: list[IntakeQuestionIn] | None = None
    open_limit_per_user: int | None = Field(default=None, le=INT32_MAX)
    opener_can_close: bool | None = None
    sequential_names: bool | None = None
    discord_mode: Literal["channel", "thread", "forum"] | None = None
    settings: dict[str, Any] | None = None
    archived: bool | None = None


class TicketTypeOut(BaseModel):
    id: int
    name: str
    emoji: str | None
    description: str | None
    category: str | None
    staff_role_ids: list[str]
    allowed_role_ids: list[str]
    team_id: int | None
    intake_questions: list[dict[str, Any]]
    open_limit_per_user: int | None
    opener_can_close: bool
    sequential_names: bool
    discord_mode: str
    settings: dict[str, Any]
    archived: bool
    created_at: str


class TicketTypeList(BaseModel):
    items: list[TicketTypeOut]


class CustomFieldIn(Strict):
    key: str
    label: str
    field_type: Literal["text", "number", "integer", "boolean", "date", "select", "multi_select", "url", "email"]
    options: list[str] | None = None
    required: bool = False


class CustomFieldOut(BaseModel):
    id: int
    key: str
    label: str
    field_type: str
    options: list[str]
    required: bool
    created_at: str


class CustomFieldList(BaseModel):
    items: list[CustomFieldOut]


class TokenIn(Strict):
    name: str
    member_id: Id | None = Field(default=None, description="defaults to the caller")


class TokenOut(BaseModel):
    id: int
    name: str
    member_id: int
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown once, store it now")


class TokenList(BaseModel):
    items: list[TokenOut]


class TranscriptOut(BaseModel):
    id: int
    ticket_number: int
    message_count: int
    created_at: str
    expires_at: str | None
    html_url: str
    text_url: str


class TranscriptList(BaseModel):
    items: list[TranscriptOut]


class PurgeOut(BaseModel):
    purged: int


class MeOut(BaseModel):
    workspace_id: int
    member_id: int | None
    display_name: str
    role: str
    is_staff: bool
    is_management: bool
