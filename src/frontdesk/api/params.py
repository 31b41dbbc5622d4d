"""Path and query parameters shared by the routers, with the bounds the database can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Request

from frontdesk.api.schemas import INT32_MAX, INT64_MAX
from frontdesk.domain.errors import ValidationFailed

TicketNumber = Annotated[int, Path(ge=1, le=INT32_MAX, description="the ticket's number in the workspace")]
ConversationId = Annotated[int, Path(ge=1, le=INT64_MAX)]
MemberId = Annotated[int, Path(ge=1, le=INT64_MAX)]
MessageId = Annotated[int, Path(ge=1, le=INT64_MAX)]
AttachmentId = Annotated[int, Path(ge=1, le=INT64_MAX)]
TranscriptId = Annotated[int, Path(ge=1, le=INT64_MAX)]
TeamId = Annotated[int, Path(ge=1, le=INT64_MAX)]
TypeId = Annotated[int, Path(ge=1, le=INT64_MAX)]
TokenId = Annotated[int, Path(ge=1, le=INT64_MAX)]
FlagId = Annotated[int, Path(ge=1, le=INT64_MAX)]
RuleId = Annotated[int, Path(ge=1, le=INT64_MAX)]

IdFilter = Annotated[int | None, Query(ge=1, le=INT64_MAX)]


async def reject_nul_characters(request: Request) -> None:
    """Refuse NUL characters in path and query parameters, naming the parameter:
    PostgreSQL cannot hold them in text and SQLite would, so neither gets them."""
    params = list(request.path_params.items()) + list(request.query_params.multi_items())
    for name, value in params:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationFailed(f"{name} must not contain NUL characters", field=name)
