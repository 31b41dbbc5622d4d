"""Dependencies shared by every route, declared once as annotated types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from frontdesk.actions.base import Desk
from frontdesk.api.auth import Caller, authenticate


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


async def get_caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <API token>")] = None,
) -> Caller:
    return await authenticate(get_desk(request), authorization)


DeskDep = Annotated[Desk, Depends(get_desk)]
CallerDep = Annotated[Caller, Depends(get_caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255,
           description="Repeat a creating POST safely: the same key returns the first answer"),
]
