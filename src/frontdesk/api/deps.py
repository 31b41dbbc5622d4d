"""Dependencies shared by every route, declared once as annotated types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from frontdesk.actions.base import Desk
from frontdesk.api.auth import Caller, authenticate


def get_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


# Declares the bearer requirement in the OpenAPI document. It does not refuse requests itself:
# ``authenticate`` reads the header, so a missing token and a malformed header each get a
# problem+json answer of their own.
bearer = HTTPBearer(auto_error=False, bearerFormat="API token",
                    description="An API token, sent as `Authorization: Bearer <token>`")


async def get_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
) -> Caller:
    return await authenticate(get_desk(request), request.headers.get("authorization"),
                              request.app.state.actor_cache)


DeskDep = Annotated[Desk, Depends(get_desk)]
CallerDep = Annotated[Caller, Depends(get_caller)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255,
           description="Repeat a creating POST safely: the same key returns the first answer"),
]
