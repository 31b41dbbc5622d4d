"""Errors as ``application/problem+json`` (RFC 9457), mapped once for the whole API."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from frontdesk.domain.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    NotPermitted,
    ValidationFailed,
)

log = logging.getLogger("frontdesk.api")

PROBLEM = "application/problem+json"

STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (ValidationFailed, 422),
    (NotFound, 404),
    (NotPermitted, 403),
    (NotAuthenticated, 401),
    (Conflict, 409),
]


def status_for(exc: DomainError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return status
    return 400


def problem(status: int, code: str, title: str, detail: str, instance: str,
            errors: list[dict[str, str]] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:frontdesk:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    # Extra members never replace the standard ones.
    body.update({k: v for k, v in extra.items() if k not in body})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        status = status_for(exc)
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        if status == 422 and not errors:
            # Bad input always names what was wrong; without a field it is the request body.
            errors = [{"field": "body", "message": exc.message}]
        extra = {k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)}
        return problem(status, exc.code, exc.title, exc.message, request.url.path, errors, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            message = err.get("msg", "invalid")
            if err.get("type") == "json_invalid":
                # The location is a character offset, not a field: the body as a whole is at fault.
                reason = (err.get("ctx") or {}).get("error") or "invalid"
                where = f" at character {loc[-1]}" if loc and isinstance(loc[-1], int) else ""
                loc, message = ("body",), f"the request body is not valid JSON: {reason}{where}"
            errors.append({"field": _field(loc), "message": message})
        first = errors[0] if errors else {"field": "body", "message": "invalid"}
        return problem(422, "validation_failed", "Invalid input", f"{first['field']}: {first['message']}",
                       request.url.path, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}.get(exc.status_code, "error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "internal_error", "Internal error", "something went wrong on our side; nothing was "
                       "changed by this request", request.url.path)
