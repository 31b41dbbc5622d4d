"""The OpenAPI document: every route described, every /api/v1 route behind bearer auth."""

from __future__ import annotations

import importlib
import pkgutil
import re

from fastapi import APIRouter
from fastapi.routing import APIRoute

import frontdesk.api.routers
from tests.api.helpers import ok

METHODS = {"get", "post", "put", "patch", "delete"}


def declared_routes() -> set[tuple[str, str]]:
    """Every (method, path) the router modules declare."""
    found = set()
    for info in pkgutil.iter_modules(frontdesk.api.routers.__path__):
        module = importlib.import_module(f"frontdesk.api.routers.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found |= {(m, r.path) for r in router.routes if isinstance(r, APIRoute) for m in r.methods}
    return found


async def test_openapi_lists_every_route_with_a_summary(api):
    spec = ok(await api(None).get("/openapi.json"))
    operations = {(method.upper(), path): op for path, item in spec["paths"].items()
                  for method, op in item.items() if method in METHODS}
    assert declared_routes() | {("GET", "/healthz")} == set(operations)
    assert ("POST", "/api/v1/tickets") in operations
    undescribed = [key for key, op in operations.items() if not (op.get("summary") or op.get("description"))]
    assert undescribed == []


async def test_every_api_v1_route_requires_bearer_auth(api):
    spec = ok(await api(None).get("/openapi.json"))
    schemes = spec["components"]["securitySchemes"]
    bearer = [name for name, scheme in schemes.items()
              if scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"]
    assert len(bearer) == 1
    open_routes = []
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, op in item.items():
            # Calls from Jira, Linear and Slack are authenticated by their signature instead.
            signed = op.get("x-frontdesk-auth") == "signature"
            if method in METHODS and not signed and {bearer[0]: []} not in op.get("security", []):
                open_routes.append((method, path))
    assert open_routes == []
    # The token is not also described as a plain header parameter.
    headers = {p["name"].lower() for item in spec["paths"].values() for op in item.values()
               if isinstance(op, dict) for p in op.get("parameters", []) if p["in"] == "header"}
    assert "authorization" not in headers


async def test_every_api_v1_route_refuses_a_request_without_a_token(api):
    spec = ok(await api(None).get("/openapi.json"))
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in item:
            if method in METHODS:
                r = await api(None).request(method.upper(), concrete, json={})
                assert r.status_code == 401, (method, path, r.status_code)


async def test_healthz_answers_without_a_token(api, world):
    health = ok(await api(None).get("/healthz"))
    assert health["status"] == "ok"
    assert health["database"] in ("sqlite", "postgresql")


async def test_the_root_page_says_the_desk_runs_and_links_the_api_reference(api, world):
    response = await api(None).get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in response.text and 'href="/healthz"' in response.text
    assert ("on sqlite" in response.text) or ("on postgresql" in response.text)
