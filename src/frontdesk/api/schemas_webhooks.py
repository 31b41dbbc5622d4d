"""Request and response bodies of /api/v1/webhooks."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from frontdesk.api.schemas import Strict
from frontdesk.domain import webhooks as wh


class WebhookIn(Strict):
    name: str = Field(max_length=wh.NAME_MAX)
    url: str = Field(max_length=wh.URL_MAX, description="https:// (http only when the server allows it)")
    events: list[str] = Field(description="event names, or [\"*\"] for every event")
    enabled: bool = True
    description: str | None = Field(default=None, max_length=wh.DESCRIPTION_MAX)
    secret: str | None = Field(default=None, description="whsec_ + base64 of 24 to 64 bytes; generated when absent")


class WebhookPatch(Strict):
    name: str | None = Field(default=None, max_length=wh.NAME_MAX)
    url: str | None = Field(default=None, max_length=wh.URL_MAX)
    events: list[str] | None = None
    enabled: bool | None = None
    description: str | None = Field(default=None, max_length=wh.DESCRIPTION_MAX)


class RotateSecretIn(Strict):
    secret: str | None = Field(default=None, description="the new secret; generated when absent")
    overlap: str = Field(default="24h", description="how long the old secret keeps signing too (at most 7d; 0s: not)")


class WebhookOut(BaseModel):
    id: int
    name: str
    url: str
    enabled: bool
    events: list[str]
    description: str | None
    disabled_reason: str | None = Field(description="why the desk disabled it (the endpoint answered 410)")
    previous_secret_valid_until: str | None = Field(description="until when the old secret signs too")
    created_at: str
    updated_at: str


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="shown this once")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class EventNames(BaseModel):
    items: list[str]


class AttemptOut(BaseModel):
    attempt: int
    started_at: str
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the webhook-id header: the same on every attempt and redelivery")
    event_type: str
    event_id: int | None
    status: Literal["pending", "retrying", "succeeded", "failed"]
    next_attempt_at: str | None
    last_error: str | None
    created_at: str
    body: dict[str, Any]
    attempts: list[AttemptOut]


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class DeliveryQueued(BaseModel):
    delivery_id: int
    webhook_id: str
