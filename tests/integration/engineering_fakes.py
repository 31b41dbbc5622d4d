"""A local stand-in for Jira Cloud, Linear and Slack, served by uvicorn on loopback.

It speaks the documented request and response shapes (Jira REST v3 issue create, search and
transitions; Linear's GraphQL issueCreate / issueUpdate / issue; Slack's chat.postMessage),
checks each service's authentication, records every request, and can be told to answer the
next requests with a failure, or to do the work and then lose the answer.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

JIRA_EMAIL = "bot@example.com"
JIRA_TOKEN = "jira-api-token-123"
LINEAR_KEY = "lin_api_key_456"
SLACK_TOKEN = "xoxb-slack-token-789"

JIRA_TRANSITIONS = [
    {"id": "11", "name": "Back to do", "to": {"id": "1", "name": "To Do"}},
    {"id": "21", "name": "Start work", "to": {"id": "3", "name": "In Progress"}},
    {"id": "31", "name": "Finish", "to": {"id": "10001", "name": "Done"}},
]


@dataclass
class Scripted:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    lose_answer: bool = False  # do the work, then answer 502 as if the answer was lost


@dataclass
class Engineering:
    base_url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    jira_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    linear_issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    slack_posts: list[dict[str, Any]] = field(default_factory=list)
    script: dict[str, list[Scripted]] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(10000))

    def fail_next(self, route: str, *answers: Scripted) -> None:
        """Answer the next requests to ``route`` (jira.create, jira.search, jira.transitions,
        jira.transition, linear, slack, slack.history) with these, in order."""
        self.script.setdefault(route, []).extend(answers)

    def seen(self, route: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["route"] == route]

    def _scripted(self, route: str) -> Scripted | None:
        queue = self.script.get(route)
        return queue.pop(0) if queue else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _basic_ok(request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return False
    return base64.b64decode(header[6:]).decode() == f"{JIRA_EMAIL}:{JIRA_TOKEN}"


def build_app(fake: Engineering) -> FastAPI:
    app = FastAPI()

    async def note(route: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        entry = {"route": route, "path": request.url.path, "headers": dict(request.headers),
                 "json": (await request.json()) if body else None}
        fake.requests.append(entry)
        return entry

    def answer(scripted: Scripted) -> Response:
        if scripted.body is None:
            return Response(status_code=scripted.status, headers=scripted.headers)
        return JSONResponse(scripted.body, status_code=scripted.status, headers=scripted.headers)

    # --- Jira ---

    @app.post("/rest/api/3/issue")
    async def jira_create(request: Request) -> Response:
        entry = await note("jira.create", request)
        if not _basic_ok(request):
            return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
        scripted = fake._scripted("jira.create")
        if scripted and not scripted.lose_answer:
            return answer(scripted)
        fields = entry["json"]["fields"]
        doc = fields["description"]
        if not (doc.get("type") == "doc" and doc.get("version") == 1 and isinstance(doc.get("content"), list)):
            return JSONResponse({"errors": {"description": "not ADF"}}, status_code=400)
        number = len(fake.jira_issues) + 42
        issue_id = str(next(fake._ids))
        key = f"{fields['project']['key']}-{number}"
        fake.jira_issues[key] = {"id": issue_id, "key": key, "fields": fields, "status": "To Do",
                                 "labels": fields.get("labels", [])}
        if scripted and scripted.lose_answer:
            return Response(status_code=502)
        return JSONResponse({"id": issue_id, "key": key, "self": f"{fake.base_url}/rest/api/3/issue/{issue_id}"},
                            status_code=201)

    @app.post("/rest/api/3/search/jql")
    async def jira_search(request: Request) -> Response:
        entry = await note("jira.search", request)
        if not _basic_ok(request):
            return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
        label = re.search(r'labels = "([^"]+)"', entry["json"]["jql"])
        found = [i for i in fake.jira_issues.values() if label and label.group(1) in i["labels"]]
        return JSONResponse({"issues": [{"id": i["id"], "key": i["key"], "fields": {"status": {"name": i["status"]}}}
                                        for i in found[:1]]})

    def jira_issue(ref: str) -> dict[str, Any] | None:
        return fake.jira_issues.get(ref) or next((i for i in fake.jira_issues.values() if i["id"] == ref), None)

    @app.get("/rest/api/3/issue/{ref}/transitions")
    async def jira_transitions(ref: str, request: Request) -> Response:
        await note("jira.transitions", request)
        if not _basic_ok(request):
            return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
        if (scripted := fake._scripted("jira.transitions")) is not None:
            return answer(scripted)
        if jira_issue(ref) is None:
            return JSONResponse({"errorMessages": ["Issue does not exist"]}, status_code=404)
        return JSONResponse({"transitions": JIRA_TRANSITIONS})

    @app.post("/rest/api/3/issue/{ref}/transitions")
    async def jira_transition(ref: str, request: Request) -> Response:
        entry = await note("jira.transition", request)
        if not _basic_ok(request):
            return JSONResponse({"errorMessages": ["unauthorized"]}, status_code=401)
        if (scripted := fake._scripted("jira.transition")) is not None:
            return answer(scripted)
        issue = jira_issue(ref)
        chosen = next((t for t in JIRA_TRANSITIONS if t["id"] == entry["json"]["transition"]["id"]), None)
        if issue is None or chosen is None:
            return JSONResponse({"errorMessages": ["bad transition"]}, status_code=400)
        issue["status"] = chosen["to"]["name"]
        return Response(status_code=204)

    # --- Linear ---

    @app.post("/graphql")
    async def linear(request: Request) -> Response:
        entry = await note("linear", request)
        if request.headers.get("authorization") != LINEAR_KEY:
            return JSONResponse({"errors": [{"message": "Authentication required, not authenticated",
                                             "extensions": {"type": "authentication error",
                                                            "code": "AUTHENTICATION_ERROR"}}]}, status_code=400)
        scripted = fake._scripted("linear")
        if scripted and not scripted.lose_answer:
            return answer(scripted)
        query, variables = entry["json"]["query"], entry["json"].get("variables") or {}
        if "issueCreate" in query:
            fields = variables["input"]
            if fields["id"] in fake.linear_issues:
                return JSONResponse({"errors": [{"message": "Entity already exists"}]}, status_code=400)
            number = len(fake.linear_issues) + 7
            identifier = f"ENG-{number}"
            state = fields.get("stateId") or "state-todo"
            issue = {"id": fields["id"], "identifier": identifier, "url": f"https://linear.app/acme/issue/{identifier}",
                     "state": {"id": state, "name": state}, "input": fields}
            fake.linear_issues[fields["id"]] = issue
            if scripted and scripted.lose_answer:
                return Response(status_code=502)
            return JSONResponse({"data": {"issueCreate": {"success": True, "issue": _public(issue)}}})
        if "issueUpdate" in query:
            issue = fake.linear_issues.get(variables["id"])
            if issue is None:
                return JSONResponse({"errors": [{"message": "Entity not found"}]}, status_code=400)
            state = variables["input"]["stateId"]
            issue["state"] = {"id": state, "name": state}
            return JSONResponse({"data": {"issueUpdate": {"success": True, "issue": _public(issue)}}})
        issue = fake.linear_issues.get(variables.get("id", ""))
        if issue is None:
            return JSONResponse({"data": None, "errors": [{"message": "Entity not found"}]}, status_code=200)
        return JSONResponse({"data": {"issue": _public(issue)}})

    # --- Slack ---

    @app.post("/api/chat.postMessage")
    async def slack_post(request: Request) -> Response:
        entry = await note("slack", request)
        if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        scripted = fake._scripted("slack")
        if scripted is not None and not scripted.lose_answer:
            return answer(scripted)
        ts = f"{time.time():.0f}.{next(fake._ids):06d}"
        fake.slack_posts.append({**entry["json"], "ts": ts})
        if scripted is not None:
            return Response(status_code=502)
        return JSONResponse({"ok": True, "channel": entry["json"]["channel"], "ts": ts,
                             "message": {"text": entry["json"]["text"]}})

    @app.get("/api/conversations.history")
    async def slack_history(request: Request) -> Response:
        """Newest first, ``limit`` per page, ``cursor`` an offset; metadata only when asked for."""
        await note("slack.history", request)
        if request.headers.get("authorization") != f"Bearer {SLACK_TOKEN}":
            return JSONResponse({"ok": False, "error": "invalid_auth"})
        if (scripted := fake._scripted("slack.history")) is not None:
            return answer(scripted)
        query = request.query_params
        oldest = float(query.get("oldest", "0"))
        posts = [p for p in reversed(fake.slack_posts)
                 if p["channel"] == query["channel"] and "thread_ts" not in p and float(p["ts"]) > oldest]
        start, limit = int(query.get("cursor") or 0), int(query.get("limit", "100"))
        page = posts[start:start + limit]
        with_metadata = query.get("include_all_metadata") == "true"
        messages = [{"type": "message", "ts": p["ts"], "text": p["text"],
                     **({"metadata": p["metadata"]} if with_metadata and "metadata" in p else {})} for p in page]
        more = start + limit < len(posts)
        return JSONResponse({"ok": True, "messages": messages, "has_more": more,
                             "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

    return app


def _public(issue: dict[str, Any]) -> dict[str, Any]:
    return {k: issue[k] for k in ("id", "identifier", "url", "state")}


@asynccontextmanager
async def serve_engineering() -> AsyncIterator[Engineering]:
    fake = Engineering()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(fake), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    fake.base_url = f"http://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        server.should_exit = True
        await task
