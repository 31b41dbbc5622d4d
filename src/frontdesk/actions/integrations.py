"""Connections to Jira Cloud, Linear and Slack: created, changed and removed by management.

A connection keeps its secrets (API token, signing secret) encrypted with the secret box and
never gives them back; the API only says which are set. Each connection has an integration
member of its own: changes that arrive from the other side (a Jira status, a Slack reply)
are made as that member, so they write the same events as anyone's and say where they came
from.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from frontdesk import secretbox
from frontdesk.actions.base import Tx, get_owned
from frontdesk.actions.members import actor_for_member
from frontdesk.config import load_settings
from frontdesk.db.models import IntegrationConnection, Member, TicketLink
from frontdesk.domain import events as ev
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from frontdesk.domain.integrations import Kind, check_config, check_credentials, credential_names, parse_kind
from frontdesk.domain.permissions import Actor, Role

NAME_MAX = 100


def require_management(actor: Actor, what: str) -> None:
    """Owners, admins, managers and holders of the workspace's management roles."""
    if not actor.is_management:
        raise NotPermitted(f"only management may {what}")


def allow_http() -> bool:
    return load_settings().integrations_allow_http


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > NAME_MAX:
        raise ValidationFailed(f"name must be 1 to {NAME_MAX} characters", field="name")
    return value.strip()


def secrets_of(connection: IntegrationConnection) -> dict[str, str]:
    """The connection's decrypted credentials (for the worker's handlers and signature checks)."""
    return dict(json.loads(secretbox.decrypt(connection.credentials)))


def _seal(values: dict[str, str]) -> str:
    return secretbox.encrypt(json.dumps(values, sort_keys=True))


def credentials_set(connection: IntegrationConnection) -> list[str]:
    """Which credentials the connection holds, by name (never their values)."""
    held = secrets_of(connection)
    return [name for name in credential_names(Kind(connection.kind)) if name in held]


def _facts(connection: IntegrationConnection, held: dict[str, str]) -> dict[str, Any]:
    # What events say about a connection: everything but the secrets.
    return {"connection_id": connection.id, "kind": connection.kind, "name": connection.name,
            "enabled": connection.enabled, "config": connection.config,
            "credentials_set": sorted(held)}


async def get_connection(tx: Tx, connection_id: int, *, for_update: bool = False) -> IntegrationConnection:
    return await get_owned(tx, IntegrationConnection, connection_id, what=f"integration {connection_id}",
                           for_update=for_update)


async def _flush_unique(tx: Tx, connection: IntegrationConnection) -> None:
    try:
        async with tx.session.begin_nested():
            tx.session.add(connection)
            await tx.session.flush()
    except IntegrityError:
        raise Conflict(f"an integration named {connection.name!r} already exists") from None


async def create_connection(tx: Tx, *, kind: str, name: str, config: dict[str, Any] | None = None,
                            credentials: dict[str, Any] | None = None, enabled: bool = True) -> IntegrationConnection:
    """Connect the workspace to Jira Cloud, Linear or Slack. Management only. Creates the
    connection's integration member too. Emits ``member.created`` and ``integration.created``
    (which names the credentials set, never their values)."""
    require_management(tx.actor, "connect integrations")
    which = parse_kind(kind)
    label = _name(name)
    checked = check_config(which, config or {}, allow_http=allow_http())
    held = check_credentials(which, credentials)
    if not isinstance(enabled, bool):
        raise ValidationFailed("enabled must be true or false", field="enabled")
    member = Member(workspace_id=tx.workspace_id, display_name=f"{label} ({which.value})"[:NAME_MAX],
                    role=Role.STAFF, is_integration=True, available=False, created_at=tx.now)
    tx.session.add(member)
    await tx.session.flush()
    await tx.record("member.created", member_id=member.id, role=member.role)
    connection = IntegrationConnection(workspace_id=tx.workspace_id, kind=which.value, name=label, enabled=enabled,
                                       config=checked, credentials=_seal(held), member_id=member.id,
                                       created_at=tx.now, updated_at=tx.now)
    await _flush_unique(tx, connection)
    await tx.record(ev.INTEGRATION_CREATED, **_facts(connection, held))
    return connection


UPDATABLE = frozenset({"name", "enabled", "config", "credentials"})


async def update_connection(tx: Tx, connection_id: int, changes: dict[str, Any]) -> IntegrationConnection:
    """Rename, enable or disable a connection, change settings (merged key by key, then
    checked whole) or credentials (a value replaces, ``null`` removes an optional one).
    The kind cannot change. Management only. Emits ``integration.updated``."""
    require_management(tx.actor, "change integrations")
    for name in changes:
        if name not in UPDATABLE:
            raise ValidationFailed(f"{name} cannot be changed (changeable: {', '.join(sorted(UPDATABLE))})",
                                   field=name)
    connection = await get_connection(tx, connection_id, for_update=True)
    kind = Kind(connection.kind)
    held = secrets_of(connection)
    before = _facts(connection, held)
    if "name" in changes:
        connection.name = _name(changes["name"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ValidationFailed("enabled must be true or false", field="enabled")
        connection.enabled = changes["enabled"]
    if changes.get("config") is not None:
        if not isinstance(changes["config"], dict):
            raise ValidationFailed("config must be an object", field="config")
        merged = {**_editable(kind, connection.config), **changes["config"]}
        connection.config = check_config(kind, merged, allow_http=allow_http())
    if "credentials" in changes:
        held = check_credentials(kind, changes["credentials"], current=held)
        connection.credentials = _seal(held)
    connection.updated_at = tx.now
    await _flush_unique(tx, connection)
    await tx.record(ev.INTEGRATION_UPDATED, before=before, after=_facts(connection, held),
                    connection_id=connection.id)
    return connection


def _editable(kind: Kind, config: dict[str, Any]) -> dict[str, Any]:
    # A derived inbound map is derived again from the new outbound one unless it was given.
    out = dict(config)
    outbound, inbound = (("status_map", "inbound_status_map") if kind is Kind.JIRA
                         else ("state_map", "inbound_state_map"))
    if outbound in out and inbound in out:
        derived = {}
        for ours, theirs in (out[outbound] or {}).items():
            derived.setdefault(theirs, ours)
        if out[inbound] == derived:
            out.pop(inbound)
    return out


async def delete_connection(tx: Tx, connection_id: int) -> None:
    """Remove a connection and its ticket links (their issues and threads stay where they
    are). Management only. Emits ``integration.deleted``."""
    require_management(tx.actor, "remove integrations")
    connection = await get_connection(tx, connection_id, for_update=True)
    facts = _facts(connection, secrets_of(connection))
    await tx.session.execute(delete(TicketLink).where(TicketLink.connection_id == connection.id))
    await tx.session.delete(connection)
    await tx.session.flush()
    await tx.record(ev.INTEGRATION_DELETED, **facts)


async def act_as_integration(tx: Tx, connection: IntegrationConnection) -> None:
    """Make ``tx`` act as the connection's integration member (a system transaction opened
    for a call from the other side, once its signature checked out)."""
    member = await tx.session.get(Member, connection.member_id) if connection.member_id else None
    if member is None:
        raise NotFound(f"integration {connection.id} has no member to act as")
    tx.actor = await actor_for_member(tx, member)
