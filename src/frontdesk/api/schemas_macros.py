"""Request and response bodies of the macro and suggested-macro routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, StrictBool

from frontdesk.api.schemas import MessageOut, Number, Strict


class MacroIn(Strict):
    shortcut: str = Field(description="1-64 of a-z, 0-9, - and _; stored lower-cased")
    content: str = Field(description="up to 2,000 characters, with ticket variables such as {user}")
    category: str | None = Field(default=None, description="up to 50 characters")
    send_as_staff: StrictBool = Field(default=True, description="post under the sender's name; false: as the bot")


class MacroPatch(Strict):
    shortcut: str | None = None
    content: str | None = None
    category: str | None = None
    send_as_staff: StrictBool | None = None


class MacroOut(BaseModel):
    id: int
    shortcut: str
    content: str
    category: str | None
    send_as_staff: bool
    variables: list[str]
    created_by_id: int | None
    usage_count: int
    last_used_at: str | None
    created_at: str
    updated_at: str


class MacroList(BaseModel):
    items: list[MacroOut]
    next_cursor: str | None


class PreviewIn(Strict):
    ticket: Number = Field(description="the number of the ticket to fill the variables from")


class PreviewOut(BaseModel):
    macro_id: int
    ticket_number: int
    text: str


class MacroSent(BaseModel):
    macro: MacroOut
    message: MessageOut


class SuggestionOut(BaseModel):
    id: int
    content: str
    suggested_shortcut: str
    message_count: int
    ticket_count: int
    example_ticket_numbers: list[int]
    status: Literal["pending", "accepted", "dismissed"]
    macro_id: int | None
    decided_by_id: int | None
    decided_at: str | None
    created_at: str


class SuggestionList(BaseModel):
    items: list[SuggestionOut]
    next_cursor: str | None


class AcceptIn(Strict):
    shortcut: str = Field(description="the macro's shortcut (the suggested one, or another)")
    category: str | None = None
    content: str | None = Field(default=None, description="edited content; the suggestion's when left out")


class Accepted(BaseModel):
    suggestion: SuggestionOut
    macro: MacroOut
