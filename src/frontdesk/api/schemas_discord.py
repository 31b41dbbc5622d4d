"""Request and response bodies of the Discord routes (panels)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from frontdesk.api.schemas import Id, Strict


class PanelIn(Strict):
    channel_id: str = Field(description="the Discord text channel to post the panel in (a snowflake)")
    title: str = Field(description="the panel's heading, 1 to 256 characters")
    description: str | None = Field(default=None, description="text under the heading, up to 4,000 characters")
    type_ids: list[Id] = Field(description="1 to 25 ticket types, in the order shown: a button each for up "
                                           "to four, a select menu above that")


class PanelOut(BaseModel):
    id: int
    channel_id: str
    message_id: str | None = Field(description="the Discord message, once the worker has posted it")
    posted: bool
    title: str
    description: str | None
    type_ids: list[int]
    created_by_id: int | None
    created_at: str


class PanelList(BaseModel):
    items: list[PanelOut]
    next_cursor: str | None
