"""``Idempotency-Key`` on creating POSTs.

The first request with a key runs and its answer is stored in the same transaction as the
change it made, so a retry after a lost answer gets the stored answer and changes nothing.
Reusing a key with a different body is a conflict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.actions.base import Tx
from frontdesk.api.auth import Caller
from frontdesk.db.models import IdempotencyKey
from frontdesk.domain.errors import IdempotencyConflict


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


async def _stored(tx: Tx, caller: Caller, key: str) -> IdempotencyKey | None:
    return (await tx.session.execute(select(IdempotencyKey).where(
        IdempotencyKey.workspace_id == caller.workspace_id,
        IdempotencyKey.member_id == caller.actor.member_id,
        IdempotencyKey.key == key,
    ))).scalar_one_or_none()


def _replay(row: IdempotencyKey, print_: str) -> JSONResponse:
    if row.fingerprint != print_:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    return JSONResponse(row.response_body, status_code=row.response_status, headers={"Idempotent-Replayed": "true"})


def shaped(response_model: type[BaseModel], body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as ``response_model`` serialises it, so a created resource has exactly the shape
    a later read of it has."""
    return response_model.model_validate(body).model_dump(mode="json")


async def run_creating(
    caller: Caller,
    request: Request,
    key: str | None,
    request_body: Any,
    create: Callable[[Tx], Awaitable[dict[str, Any]]],
    *,
    response_model: type[BaseModel],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` in one transaction, honouring ``key`` when one was sent. A replay must
    match the first request's method, path and ``request_body``."""
    if not key:
        async with caller.tx() as tx:
            body = shaped(response_model, await create(tx))
        return JSONResponse(body, status_code=status_code)
    print_ = fingerprint(request.method, request.url.path, request_body)
    try:
        async with caller.tx() as tx:
            row = await _stored(tx, caller, key)
            if row is not None:
                return _replay(row, print_)
            # Claim the key before doing the work: a concurrent request with the same key then
            # waits on the unique index until this transaction ends, and replays its answer
            # (or, if this one failed, runs itself).
            row = IdempotencyKey(
                workspace_id=caller.workspace_id, member_id=caller.actor.member_id, key=key,
                fingerprint=print_, response_status=status_code, response_body={}, created_at=tx.now,
            )
            tx.session.add(row)
            await tx.session.flush()
            body = shaped(response_model, await create(tx))
            row.response_body = body
            await tx.session.flush()
    except IntegrityError:
        # Another request with the same key committed first; answer as it did.
        async with caller.read() as tx:
            row = await _stored(tx, caller, key)
        if row is None:
            raise
        return _replay(row, print_)
    return JSONResponse(body, status_code=status_code)
