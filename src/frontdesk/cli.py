"""The ``frontdesk`` command.

Each command reads the settings, builds a desk and calls actions inside ``desk.tx`` as the
desk itself (``Actor.system()``); it never writes rows on its own. Domain errors become one
line on stderr and an exit code: 2 invalid input, 3 not found, 4 not permitted, 5 conflict.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk, Tx, get_workspace
from frontdesk.actions.transcripts import purge_expired_transcripts
from frontdesk.bootstrap import (
    build_desk,
    configure_logging,
    describe_database,
    ensure_database,
    schema_status,
)
from frontdesk.config import Settings, load_settings
from frontdesk.db.migrate import head_revision
from frontdesk.db.models import ApiToken, Member, Ticket, Workspace
from frontdesk.domain.errors import Conflict, DomainError, NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.permissions import Actor

app = typer.Typer(help="frontdesk: a self-hosted support desk.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (one per Discord server or team).", no_args_is_help=True)
member_app = typer.Typer(help="Members: staff and customers of a workspace.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (Authorization: Bearer ...).", no_args_is_help=True)
transcripts_app = typer.Typer(help="Closed-ticket transcripts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(workspace_app, name="workspace")
app.add_typer(member_app, name="member")
app.add_typer(token_app, name="token")
app.add_typer(transcripts_app, name="transcripts")

log = logging.getLogger("frontdesk.cli")
console = Console()
T = TypeVar("T")
EXIT_CODES: list[tuple[type[DomainError], int]] = [(ValidationFailed, 2), (NotFound, 3), (NotPermitted, 4),
                                                   (Conflict, 5)]


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reported_errors(settings: Settings | None = None) -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and an exit code."""
    try:
        yield
    except DomainError as exc:
        where = f"{exc.field}: " if exc.field and not exc.message.startswith(exc.field) else ""
        fail(where + exc.message, next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), 1))
    except (OperationalError, DBAPIError, OSError) as exc:
        target = describe_database(settings.database_url) if settings else "the database"
        fail(f"cannot use {target}: {getattr(exc, 'orig', None) or exc}")


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        fail(f"bad configuration: {problems}", 2)


def with_desk(settings: Settings, work: Callable[[Desk], Awaitable[T]]) -> T:
    """Run ``work`` on a fresh desk in its own event loop, and close the database after."""

    async def main() -> T:
        desk = build_desk(settings)
        try:
            return await work(desk)
        finally:
            await desk.db.dispose()

    with reported_errors(settings):
        return asyncio.run(main())


def _sqlite_file_missing(settings: Settings) -> Path | None:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        return None if path.exists() else path
    return None


def require_schema(settings: Settings) -> None:
    """Commands other than ``serve``, ``demo`` and ``db upgrade`` never migrate on their own."""
    missing = _sqlite_file_missing(settings)
    if missing is not None:
        fail(f"no database at {missing}; create it with `frontdesk db upgrade`")
    with reported_errors(settings):
        current, head = asyncio.run(schema_status(settings))
    if current != head:
        fail(f"the database is at revision {current or 'none'}, this frontdesk needs {head}; "
             "run `frontdesk db upgrade`")


# --- serve ---------------------------------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: FRONTDESK_HOST, else 127.0.0.1)")]
    = None,
    port: Annotated[int | None, typer.Option(help="Port (default: FRONTDESK_PORT, else 8000)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Create the demo workspace when the database has no "
                                       "workspace yet, and print a fresh API token for its admin")] = False,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="Run no worker sweeps in this process "
                                            "(stateless API replicas; run `frontdesk worker` elsewhere)")] = False,
    no_discord: Annotated[bool, typer.Option("--no-discord", help="Run no Discord bot in this process even "
                                             "when FRONTDESK_DISCORD_TOKEN is set (API replicas)")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Processes serving the API; above 1, each builds "
                                         "its own desk from the environment (use PostgreSQL)")] = 1,
) -> None:
    """Upgrade the database and serve the API (with --demo: and a demo workspace)."""
    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if no_worker:
        overrides["worker"] = False
        os.environ["FRONTDESK_WORKER"] = "false"  # for the processes of --workers N
    settings = settings_or_exit(**overrides)
    try:
        configure_logging(settings)
    except ValueError as exc:
        fail(f"bad logging configuration: {exc}", 2)
    with reported_errors(settings):
        revision = ensure_database(settings)
    log.info("database ready", extra={"database": describe_database(settings.database_url), "revision": revision})
    run_discord = settings.discord_token is not None and not no_discord
    if run_discord and workers > 1:
        log.warning("the Discord bot does not run under --workers; run `frontdesk discord` beside the API")
        run_discord = False
    log.info("serve options", extra={"worker": "on" if settings.worker else "off",
                                     "discord": "on" if run_discord else "off", "workers": workers})
    token_line = with_desk(settings, _prepare_demo) if demo else None
    typer.echo(f"frontdesk on http://{settings.host}:{settings.port}  (API docs: /docs, spec: /openapi.json)")
    if token_line:
        typer.echo(token_line)
    import uvicorn

    if workers > 1:
        if make_url(settings.database_url).get_backend_name() == "sqlite":
            log.warning("several processes on one SQLite file queue for its single writer; use PostgreSQL")
        uvicorn.run("frontdesk.bootstrap:create_app_from_environment", factory=True, host=settings.host,
                    port=settings.port, workers=workers, log_config=None)
        return
    from frontdesk.api.app import create_app

    desk = build_desk(settings)
    api = create_app(desk, max_attachment_bytes=settings.max_attachment_bytes, run_worker=settings.worker)
    if not run_discord:
        uvicorn.run(api, host=settings.host, port=settings.port, log_config=None)
        return
    from frontdesk.discord.runner import serve_with_bot

    assert settings.discord_token is not None
    server = uvicorn.Server(uvicorn.Config(api, host=settings.host, port=settings.port, log_config=None))
    asyncio.run(serve_with_bot(server, desk, settings.discord_token.get_secret_value()))


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every sweep once until nothing is due, print "
                                       "what each did as JSON, and exit")] = False,
) -> None:
    """Run the worker's sweeps alone (SLA breaches, inactivity, nudges, follow-ups, close
    requests, manager alerts), for scale-out beside `serve --no-worker`. Any number may run."""
    settings = settings_or_exit()
    try:
        configure_logging(settings)
    except ValueError as exc:
        fail(f"bad logging configuration: {exc}", 2)
    require_schema(settings)
    from frontdesk.worker.runner import Worker

    if once:
        done = with_desk(settings, lambda desk: Worker(desk).run_once())
        typer.echo(json.dumps(done, sort_keys=True))
        return

    async def forever(desk: Desk) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        log.info("worker started", extra={"database": describe_database(settings.database_url)})
        await Worker(desk).run_forever(stop)
        log.info("worker stopped")

    with_desk(settings, forever)


@app.command("discord")
def discord_bot(
    shard_ids: Annotated[str | None, typer.Option("--shard-ids", help="Run only these shards, comma-separated "
                                                   "(e.g. 0,1); needs --shard-count")] = None,
    shard_count: Annotated[int | None, typer.Option("--shard-count", min=1, help="How many shards there are "
                                                     "in all (default: as many as Discord recommends)")] = None,
    invite: Annotated[bool, typer.Option("--invite", help="Print the URL that adds the bot to a server, "
                                         "and exit")] = False,
) -> None:
    """Run the Discord bot alone (the gateway client), for scale-out beside `serve --no-discord`.
    Needs FRONTDESK_DISCORD_TOKEN."""
    settings = settings_or_exit()
    try:
        configure_logging(settings)
    except ValueError as exc:
        fail(f"bad logging configuration: {exc}", 2)
    if settings.discord_token is None:
        fail("set FRONTDESK_DISCORD_TOKEN to the bot's token (README, \"Discord\")", 2)
    from frontdesk.discord.runner import describe_failure, parse_shards, run_bot

    if invite:
        from frontdesk.discord.bot import application_id_from_token, invite_url

        application_id = application_id_from_token(settings.discord_token.get_secret_value())
        if application_id is None:
            fail("FRONTDESK_DISCORD_TOKEN does not look like a bot token", 2)
        typer.echo(invite_url(application_id))
        return
    with reported_errors(settings):
        ids, count = parse_shards(shard_ids, shard_count)
    require_schema(settings)
    token = settings.discord_token.get_secret_value()
    log.info("discord starting", extra={"shard_ids": ids, "shard_count": count})
    try:
        with_desk(settings, lambda desk: run_bot(desk, token, shard_ids=ids, shard_count=count))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # the bot's own failures (token, intents), not the database's
        import discord

        if isinstance(exc, discord.DiscordException):
            fail(describe_failure(exc), 1)
        raise


async def _prepare_demo(desk: Desk) -> str | None:
    from frontdesk.demo import build_demo, find_demo

    async with desk.db.reading() as session:
        has_workspace = (await session.scalar(select(func.count()).select_from(Workspace)) or 0) > 0
    if not has_workspace:
        with console.status("Building the demo workspace ..."):
            summary = await build_demo(desk)
        typer.echo(f"Demo workspace {summary.workspace_id} ({summary.workspace_name}): {summary.tickets} tickets")
    found = await find_demo(desk)
    if found is None or found[1] is None:
        typer.echo("The database already has workspaces and none is the demo; no demo token printed.")
        return None
    workspace, admin = found
    async with desk.tx(Actor.system(), workspace.id) as tx:
        _, secret = await m.create_api_token(tx, member_id=admin.id, name="frontdesk serve --demo")
    return f"API token for {admin.display_name.split()[0]} (admin): {secret}"


# --- db ------------------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    settings = settings_or_exit()
    with reported_errors(settings):
        revision = ensure_database(settings)
    typer.echo(f"{describe_database(settings.database_url)} is at revision {revision} (head)")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one this frontdesk has."""
    settings = settings_or_exit()
    missing = _sqlite_file_missing(settings)
    if missing is not None:
        current, head = None, head_revision()
    else:
        with reported_errors(settings):
            current, head = asyncio.run(schema_status(settings))
    typer.echo(f"current: {current or 'none'}")
    typer.echo(f"head:    {head}")
    typer.echo("up to date" if current == head else "behind: run `frontdesk db upgrade`")


# --- workspaces and members ----------------------------------------------------------------------------------


@workspace_app.command("create")
def workspace_create(
    name: Annotated[str, typer.Argument(help="Display name, e.g. 'Acme Support'")],
    timezone: Annotated[str, typer.Option(help="IANA timezone for business hours")] = "UTC",
) -> None:
    """Create a workspace."""
    settings = settings_or_exit()
    require_schema(settings)

    async def work(desk: Desk) -> Workspace:
        async with desk.tx(Actor.system(), 0) as tx:
            return await m.create_workspace(tx, name=name, timezone=timezone)

    workspace = with_desk(settings, work)
    typer.echo(f"Workspace {workspace.id} created: {workspace.name} ({workspace.timezone})")


@workspace_app.command("list")
def workspace_list() -> None:
    """List workspaces with their member and ticket counts."""
    settings = settings_or_exit()
    require_schema(settings)

    async def work(desk: Desk) -> list[Any]:
        members = select(func.count()).where(Member.workspace_id == Workspace.id).scalar_subquery()
        tickets = select(func.count()).where(Ticket.workspace_id == Workspace.id).scalar_subquery()
        async with desk.db.reading() as session:
            return list((await session.execute(select(Workspace, members, tickets).order_by(Workspace.id))).all())

    rows = with_desk(settings, work)
    if not rows:
        typer.echo("No workspaces yet. Create one with `frontdesk workspace create NAME` or `frontdesk demo`.")
        return
    table = Table("id", "name", "timezone", "members", "tickets", "created")
    for workspace, member_count, ticket_count in rows:
        table.add_row(str(workspace.id), workspace.name, workspace.timezone, str(member_count), str(ticket_count),
                      workspace.created_at.strftime("%Y-%m-%d"))
    console.print(table)


def in_workspace(settings: Settings, workspace_id: int, work: Callable[[Any], Awaitable[T]], *,
                 read_only: bool = False) -> T:
    """Run one action (or, ``read_only``, one query) as the desk itself inside an existing
    workspace."""
    require_schema(settings)

    async def run(desk: Desk) -> T:
        unit = desk.read if read_only else desk.tx
        async with unit(Actor.system(), workspace_id) as tx:
            try:
                await get_workspace(tx)
            except NotFound:
                raise NotFound(f"workspace {workspace_id} not found") from None
            return await work(tx)

    return with_desk(settings, run)


WorkspaceOpt = Annotated[int, typer.Option("--workspace", help="Workspace id (see `frontdesk workspace list`)")]


@member_app.command("add")
def member_add(
    workspace: WorkspaceOpt,
    name: Annotated[str, typer.Option(help="Display name")],
    role: Annotated[str, typer.Option(help="owner, admin, manager, staff or customer")],
    email: Annotated[str | None, typer.Option(help="Email address")] = None,
    discord_id: Annotated[str | None, typer.Option(help="Discord user id")] = None,
) -> None:
    """Add a member to a workspace."""
    settings = settings_or_exit()
    member = in_workspace(settings, workspace, lambda tx: m.add_member(
        tx, display_name=name, role=role, email=email, discord_user_id=discord_id))
    typer.echo(f"Member {member.id} added to workspace {workspace}: {member.display_name} ({member.role})")


# --- tokens --------------------------------------------------------------------------------------------------


@token_app.command("create")
def token_create(
    workspace: WorkspaceOpt,
    member: Annotated[int, typer.Option(help="Member id the token acts as (it gets their permissions)")],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'zapier'")],
) -> None:
    """Create an API token. The secret is printed once; only its hash is stored."""
    settings = settings_or_exit()
    token, secret = in_workspace(settings, workspace, lambda tx: m.create_api_token(tx, member_id=member, name=name))
    typer.echo(f"Token {token.id} ({token.name}) for member {member} in workspace {workspace}:")
    typer.echo(secret)
    typer.echo("Copy it now; it is not shown again.", err=True)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[int, typer.Argument(help="Token id")]) -> None:
    """Revoke an API token; it stops working at once."""
    settings = settings_or_exit()
    require_schema(settings)

    async def work(desk: Desk) -> ApiToken:
        async with desk.db.reading() as session:
            found = await session.get(ApiToken, token_id)
        if found is None:
            raise NotFound(f"token {token_id} not found")
        async with desk.tx(Actor.system(), found.workspace_id) as tx:
            return await m.revoke_api_token(tx, token_id)

    token = with_desk(settings, work)
    typer.echo(f"Token {token.id} ({token.name}) revoked")


# --- demo and transcripts ------------------------------------------------------------------------------------


@app.command()
def demo(reset: Annotated[bool, typer.Option("--reset", help="Delete the demo workspace and build it again")]
         = False) -> None:
    """Build the demo workspace (Nimbus Cloud Support) with three weeks of tickets."""
    from frontdesk.demo import build_demo, find_demo, remove_demo

    settings = settings_or_exit()
    with reported_errors(settings):
        ensure_database(settings)

    async def work(desk: Desk) -> None:
        found = await find_demo(desk)
        if found is not None and not reset:
            typer.echo(f"The demo workspace already exists (workspace {found[0].id}); "
                       "`frontdesk demo --reset` rebuilds it.")
            return
        if found is not None:
            await remove_demo(desk, found[0].id)
            typer.echo(f"Removed the old demo workspace {found[0].id}")
        with console.status("Building the demo workspace ..."):
            summary = await build_demo(desk)
        typer.echo(f"Demo workspace {summary.workspace_id} ({summary.workspace_name}) built: "
                   f"{summary.tickets} tickets.")
        typer.echo(f"For an API token as its admin: frontdesk token create --workspace {summary.workspace_id} "
                   f"--member {summary.admin_member_id} --name me")

    with_desk(settings, work)


@transcripts_app.command("purge")
def transcripts_purge(
    workspace: Annotated[int | None, typer.Option("--workspace", help="Only this workspace")] = None,
) -> None:
    """Delete transcripts past their workspace's retention period."""
    settings = settings_or_exit()
    require_schema(settings)

    async def work(desk: Desk) -> list[tuple[int, str, int]]:
        async with desk.db.reading() as session:
            stmt = select(Workspace.id, Workspace.name).order_by(Workspace.id)
            if workspace is not None:
                stmt = stmt.where(Workspace.id == workspace)
            targets = list((await session.execute(stmt)).all())
        if workspace is not None and not targets:
            raise NotFound(f"workspace {workspace} not found")
        counts = []
        for workspace_id, name in targets:
            async with desk.tx(Actor.system(), workspace_id) as tx:
                counts.append((workspace_id, name, await purge_expired_transcripts(tx)))
        return counts

    for workspace_id, name, count in with_desk(settings, work):
        typer.echo(f"workspace {workspace_id} ({name}): {count} transcript{'s' if count != 1 else ''} purged")


@app.command("analytics")
def analytics_report(
    workspace: WorkspaceOpt,
    start: Annotated[str | None, typer.Option("--from", help="Start, inclusive: ISO date (midnight UTC) or datetime; "
                                              "default 30 days before --to")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End, exclusive: ISO date or datetime; default now")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (one section per metric) instead of JSON")] = False,
) -> None:
    """Print a workspace's analytics over [from, to), at most 366 days: open now, first-response
    and resolution times, top types and tags, per-staff figures and CSAT."""
    from frontdesk.queries.analytics import Analytics, parse_range, render_csv, workspace_analytics

    settings = settings_or_exit()

    async def work(tx: Tx) -> Analytics:
        start_at, end_at = parse_range(start, end, now=tx.now)
        assert tx.db is not None
        return await workspace_analytics(tx.session, workspace, start=start_at, end=end_at, now=tx.now,
                                         dialect=tx.db.dialect)

    result = in_workspace(settings, workspace, work, read_only=True)
    if as_csv:
        typer.echo(render_csv(result, line_end="\n"), nl=False)
    else:
        typer.echo(json.dumps(result.as_json(), indent=2, ensure_ascii=False))


if __name__ == "__main__":  # pragma: no cover
    app()
