"""Request and response shapes of /api/v1/integrations and /api/v1/tickets/{n}/links."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from frontdesk.api.schemas import Id

KindName = Literal["jira", "linear", "slack"]


class IntegrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: KindName
    name: str = Field(max_length=200)
    enabled: bool = True
    config: dict[str, Any] = Field(default_factory=dict, description=(
        "Jira: base_url, email, project_key, issue_type, status_map {our status: Jira status name}, "
        "inbound_status_map {Jira status name: our status}. Linear: api_url, team_id, state_map "
        "{our status: workflow state id}, inbound_state_map. Slack: api_base, channel_id, thread_on_open, "
        "mirror [status, notes]."))
    credentials: dict[str, str | None] = Field(default_factory=dict, description=(
        "Write-only. Jira: api_token, webhook_secret. Linear: api_key, webhook_secret. Slack: bot_token, "
        "signing_secret."))


class IntegrationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None
    config: dict[str, Any] | None = Field(default=None, description="merged key by key into the current settings")
    credentials: dict[str, str | None] | None = Field(default=None, description=(
        "a value replaces that credential, null removes an optional one; the others stay"))


class IntegrationOut(BaseModel):
    id: int
    kind: KindName
    name: str
    enabled: bool
    config: dict[str, Any]
    credentials: dict[str, bool] = Field(description="which credentials are set; their values are never shown")
    member_id: int | None = Field(description="the integration member that changes from the other side act as")
    created_at: str
    updated_at: str


class IntegrationPage(BaseModel):
    items: list[IntegrationOut]
    next_cursor: str | None


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connection_id: Id
    push: bool = Field(default=False, description="create the issue (Jira, Linear) or the thread (Slack)")
    key: str | None = Field(default=None, max_length=100, description="link an existing issue by key (ENG-42)")
    url: str | None = Field(default=None, max_length=2000, description="link an existing issue by its address")


class LinkOut(BaseModel):
    id: int
    ticket_number: int
    connection_id: int
    kind: KindName | None
    external_id: str | None
    key: str | None
    url: str | None
    external_status: str | None
    sync_state: Literal["pending", "linked", "failed"]
    last_error: str | None
    created_by_id: int | None
    created_at: str
    last_synced_at: str | None


class LinkList(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None = None


class InboundOut(BaseModel):
    result: str = Field(description="what the call did: applied, unchanged, unmapped, unknown_issue, ignored, "
                                    "duplicate, noted")
    challenge: str | None = None
    detail: str | None = None
