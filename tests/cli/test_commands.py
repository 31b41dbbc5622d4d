"""Database, workspace, member, token and transcript commands."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from frontdesk.actions import lifecycle, members, tickets
from frontdesk.actions.base import Desk
from frontdesk.clock import ManualClock
from frontdesk.config import normalise_database_url
from frontdesk.db.session import Database
from frontdesk.domain.permissions import Actor
from frontdesk.files import FileStore


def test_db_upgrade_creates_the_tables(cli, tmp_path: Path):
    assert "none" in cli.ok("db", "current").output
    assert not (tmp_path / "frontdesk.db").exists(), "db current must not create the database"

    cli.ok("db", "upgrade")

    tables = {r[0] for r in cli.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"workspaces", "members", "tickets", "messages", "events", "api_tokens", "alembic_version"} <= tables
    assert "up to date" in cli.ok("db", "current").output


def test_commands_refuse_a_database_that_was_never_upgraded(cli, tmp_path: Path):
    result = cli("workspace", "list")

    assert result.exit_code == 1
    assert "frontdesk db upgrade" in result.stderr
    assert not (tmp_path / "frontdesk.db").exists()


def test_workspace_and_member_commands_go_through_actions(cli):
    cli.ok("db", "upgrade")

    created = cli.ok("workspace", "create", "Acme Support", "--timezone", "Europe/Berlin")
    added = cli.ok("member", "add", "--workspace", "1", "--name", "Ann Admin", "--role", "admin",
                   "--email", "ann@acme.example")

    assert "Workspace 1 created" in created.output
    assert "Member 1 added" in added.output
    assert "Acme Support" in cli.ok("workspace", "list").output
    assert cli.rows("SELECT type FROM events ORDER BY id") == [("workspace.created",), ("member.created",)]


def test_unknown_timezone_is_refused_and_nothing_is_written(cli):
    cli.ok("db", "upgrade")

    result = cli("workspace", "create", "Acme", "--timezone", "Mars/Olympus_Mons")

    assert result.exit_code == 2
    assert "Mars/Olympus_Mons" in result.stderr and "timezone" in result.stderr
    assert result.stderr.count("\n") == 1, "one line, not a traceback"
    assert cli.scalar("SELECT count(*) FROM workspaces") == 0
    assert cli.scalar("SELECT count(*) FROM events") == 0


def test_domain_errors_map_to_exit_codes(cli):
    cli.ok("db", "upgrade")
    cli.ok("workspace", "create", "Acme")

    unknown_workspace = cli("member", "add", "--workspace", "9", "--name", "X", "--role", "staff")
    bad_role = cli("member", "add", "--workspace", "1", "--name", "X", "--role", "wizard")
    cli.ok("member", "add", "--workspace", "1", "--name", "X", "--role", "staff", "--email", "x@acme.example")
    duplicate = cli("member", "add", "--workspace", "1", "--name", "Y", "--role", "staff", "--email", "x@acme.example")

    assert (unknown_workspace.exit_code, bad_role.exit_code, duplicate.exit_code) == (3, 2, 5)
    assert "workspace 9 not found" in unknown_workspace.stderr
    assert "owner, admin, manager, staff, customer" in bad_role.stderr
    assert "already exists" in duplicate.stderr


def test_token_create_prints_a_secret_that_only_its_hash_is_stored_for(cli):
    cli.ok("db", "upgrade")
    cli.ok("workspace", "create", "Acme")
    cli.ok("member", "add", "--workspace", "1", "--name", "Zap Bot", "--role", "staff")

    result = cli.ok("token", "create", "--workspace", "1", "--member", "1", "--name", "zapier")

    secret = re.search(r"\bfd_\S+", result.stdout).group(0)
    stored = cli.rows("SELECT id, member_id, name, token_hash, revoked_at FROM api_tokens")
    assert stored == [(1, 1, "zapier", hashlib.sha256(secret.encode()).hexdigest(), None)]

    cli.ok("token", "revoke", "1")
    assert cli.scalar("SELECT revoked_at FROM api_tokens WHERE id = 1") is not None
    assert cli("token", "revoke", "7").exit_code == 3


def test_token_for_a_member_of_another_workspace_is_refused(cli):
    cli.ok("db", "upgrade")
    cli.ok("workspace", "create", "Acme")
    cli.ok("workspace", "create", "Globex")
    cli.ok("member", "add", "--workspace", "2", "--name", "Hank", "--role", "admin")

    result = cli("token", "create", "--workspace", "1", "--member", "1", "--name", "x")

    assert result.exit_code == 2
    assert cli.scalar("SELECT count(*) FROM api_tokens") == 0


def test_transcripts_purge_deletes_only_expired_transcripts(cli, tmp_path: Path):
    cli.ok("db", "upgrade")

    async def close_two_tickets() -> None:
        # One ticket closed long ago (its transcript has expired) and one closed now.
        clock = ManualClock(datetime(2020, 1, 6, 9, 0, tzinfo=UTC))
        desk = Desk(Database(normalise_database_url(cli.url)), clock=clock, files=FileStore(tmp_path / "files"))
        async with desk.tx(Actor.system(), 0) as tx:
            await members.create_workspace(tx, name="Acme", settings={"transcript_retention_days": 30})
            customer = await members.add_member(tx, display_name="Cat", email="cat@example.com")
            general = await members.create_ticket_type(tx, name="General", open_limit_per_user=None)
        for when in (clock.now(), datetime.now(UTC)):
            clock.set(when)
            async with desk.tx(Actor.system(), 1) as tx:
                ticket = await tickets.open_ticket(tx, type_id=general.id, opener_id=customer.id, title="Help")
                await lifecycle.close_ticket(tx, ticket.number, reason="resolved")
        await desk.db.dispose()

    asyncio.run(close_two_tickets())
    assert cli.scalar("SELECT count(*) FROM transcripts") == 2

    result = cli.ok("transcripts", "purge")

    assert "workspace 1 (Acme): 1 transcript purged" in result.output
    assert cli.scalar("SELECT count(*) FROM transcripts") == 1
    assert cli("transcripts", "purge", "--workspace", "5").exit_code == 3
