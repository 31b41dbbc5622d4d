"""Workspaces, members, teams, ticket types, custom field definitions and API tokens:
the configuration a workspace's admins manage."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from frontdesk.actions.base import Tx, get_member, get_type, get_workspace
from frontdesk.actions.timers import SLA_KEYS, load_policies, resync_open_tickets
from frontdesk.actions.transcripts import apply_retention_setting
from frontdesk.db.models import (
    ApiToken,
    CustomFieldDefinition,
    Member,
    Team,
    TeamMember,
    TicketType,
    Workspace,
)
from frontdesk.domain.discord import DiscordSettings
from frontdesk.domain.errors import Conflict, NotFound, ValidationFailed
from frontdesk.domain.fields import check_definition, parse_intake_questions
from frontdesk.domain.macro_mining import MiningPolicy
from frontdesk.domain.permissions import (
    ADMINISTRATOR,
    MANAGE_CHANNELS,
    TEAM_PERMISSIONS,
    Actor,
    Role,
    require_workspace_admin,
)
from frontdesk.domain.policies import Policies, check_type_settings
from frontdesk.domain.tickets import DiscordMode

TOKEN_PREFIX = "fd_"
# A hundred years: longer would overflow date arithmetic, and means "keep for ever" anyway.
RETENTION_MAX_DAYS = 36_500
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SNOWFLAKE = re.compile(r"^\d{1,20}$")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"{value!r} is not an IANA timezone such as Europe/Berlin", field="timezone") from None
    return value


def _name(value: str, field: str = "name", limit: int = 100) -> str:
    name = (value or "").strip()
    if not name or len(name) > limit:
        raise ValidationFailed(f"{field} must be 1 to {limit} characters", field=field)
    return name


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValidationFailed(f"role must be one of {', '.join(r.value for r in Role)}", field="role") from None


def _email(value: str | None) -> str | None:
    if value is None:
        return None
    email = str(value).strip().lower()
    if not _EMAIL.match(email) or len(email) > 254:
        raise ValidationFailed("email is not an email address", field="email")
    return email


def _powers(values: list[str] | None) -> list[str]:
    powers = sorted(set(values or []))
    for power in powers:
        if power not in (MANAGE_CHANNELS, ADMINISTRATOR):
            raise ValidationFailed(f"discord_powers may hold {MANAGE_CHANNELS} and {ADMINISTRATOR}",
                                   field="discord_powers")
    return powers


def _text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(f"{field} must be text of at most {limit} characters", field=field)
    return value.strip() or None


def _snowflakes(values: list[Any] | None, field: str) -> list[str]:
    out = []
    for v in values or []:
        s = str(v)
        if not _SNOWFLAKE.match(s):
            raise ValidationFailed(f"{s!r} is not a Discord id", field=field)
        out.append(s)
    return sorted(set(out))


async def actor_for_member(tx: Tx, member: Member, *, workspace_settings: dict[str, Any] | None = None) -> Actor:
    """The permission view of a member: their role, Discord roles and powers, and teams.
    ``workspace_settings`` saves a lookup when the caller already has them."""
    return (await actors_for_members(tx, [member], workspace_settings=workspace_settings))[0]


async def actors_for_members(tx: Tx, members: list[Member], *,
                             workspace_settings: dict[str, Any] | None = None) -> list[Actor]:
    """``actor_for_member`` for many members of one workspace (in their order), reading all
    their teams at once: what a transaction acting as many people needs (the Discord relay's
    group commit)."""
    if not members:
        return []
    workspace_id = members[0].workspace_id
    if any(m.workspace_id != workspace_id for m in members):
        raise ValidationFailed("the members are not all of one workspace", field="members")
    teams: dict[int, list[tuple[int, Any]]] = {m.id: [] for m in members}
    for member_id, team_id, permissions in await tx.session.execute(
            select(TeamMember.member_id, Team.id, Team.permissions).join(TeamMember, TeamMember.team_id == Team.id)
            .where(TeamMember.member_id.in_(list(teams)))):
        teams[member_id].append((team_id, permissions))
    if workspace_settings is None:
        workspace = await tx.session.get(Workspace, workspace_id)
        workspace_settings = (workspace.settings or {}) if workspace else {}
    management_roles = frozenset(workspace_settings.get("management_role_ids", []))
    type_roles: list[set[str]] | None = None
    actors = []
    for member in members:
        discord_roles = frozenset(member.discord_role_ids or ())
        if discord_roles and type_roles is None:
            type_roles = [set(roles or ()) for roles in (await tx.session.execute(
                select(TicketType.staff_role_ids).where(TicketType.workspace_id == workspace_id,
                                                        TicketType.archived.is_(False)))).scalars()]
        rows = teams[member.id]
        actors.append(Actor(
            member_id=member.id,
            role=Role(member.role),
            discord_role_ids=discord_roles,
            discord_powers=frozenset(member.discord_powers or ()),
            team_ids=frozenset(r[0] for r in rows),
            team_permissions=frozenset(p for r in rows for p in (r[1] or ())),
            management_role_ids=management_roles,
            display_name=member.display_name,
            staffs_a_type=bool(discord_roles) and any(discord_roles & roles for roles in type_roles or ()),
        ))
    return actors


async def create_workspace(tx: Tx, *, name: str, timezone: str = "UTC", discord_guild_id: str | None = None,
                           settings: dict[str, Any] | None = None) -> Workspace:
    """Create a workspace (a Discord server or a team). Called by the desk itself (CLI, bot
    joining a guild); ``tx.workspace_id`` is set to the new workspace. Emits ``workspace.created``."""
    Policies.parse(settings, timezone=_timezone(timezone))
    workspace = Workspace(
        name=_name(name),
        timezone=_timezone(timezone),
        discord_guild_id=discord_guild_id,
        settings=settings or {},
        next_ticket_number=1,
        created_at=tx.now,
    )
    tx.session.add(workspace)
    try:
        await tx.session.flush()
    except IntegrityError:
        raise Conflict("a workspace for this Discord server already exists") from None
    tx.workspace_id = workspace.id
    tx.workspace_written = True
    await tx.record("workspace.created", name=workspace.name)
    return workspace


async def update_workspace(tx: Tx, *, name: str | None = None, timezone: str | None = None,
                           settings: dict[str, Any] | None = None) -> Workspace:
    """Change the workspace's name, timezone or settings (merged key by key). Admins only.
    Emits ``workspace.updated``."""
    require_workspace_admin(tx.actor, "change workspace settings")
    workspace = await get_workspace(tx)
    tx.workspace_written = True
    before = {"name": workspace.name, "timezone": workspace.timezone, "settings": workspace.settings}
    if name is not None:
        workspace.name = _name(name)
    if timezone is not None:
        workspace.timezone = _timezone(timezone)
        tx.policies = None
    if settings is not None:
        if not isinstance(settings, dict):
            raise ValidationFailed("settings must be an object", field="settings")
        merged = dict(workspace.settings or {})
        merged.update(settings)
        retention = merged.get("transcript_retention_days")
        if retention is not None and (not isinstance(retention, int) or isinstance(retention, bool)
                                      or not 1 <= retention <= RETENTION_MAX_DAYS):
            raise ValidationFailed(f"transcript_retention_days must be a whole number of days, 1 to "
                                   f"{RETENTION_MAX_DAYS}", field="settings.transcript_retention_days")
        merged["management_role_ids"] = _snowflakes(merged.get("management_role_ids"),
                                                    "settings.management_role_ids")
        # Policies (hours, SLA, assignment, inactivity, follow-ups, alerts): checked in full.
        Policies.parse(merged, timezone=workspace.timezone)
        MiningPolicy.parse(merged)  # suggested macros (issue 4)
        DiscordSettings.parse(merged.get("discord"))  # the Discord server (issue 5)
        old_settings = workspace.settings or {}
        old_retention = old_settings.get("transcript_retention_days")
        workspace.settings = merged
        tx.policies = None
        if retention != old_retention:
            # Transcripts already kept follow the new retention, not the one they were made under.
            await apply_retention_setting(tx)
        if any(old_settings.get(k) != merged.get(k) for k in SLA_KEYS):
            # Open tickets follow the new targets and hours from now on.
            await resync_open_tickets(tx)
    await tx.record("workspace.updated", before=before,
                    after={"name": workspace.name, "timezone": workspace.timezone, "settings": workspace.settings})
    return workspace


async def add_member(
    tx: Tx,
    *,
    display_name: str,
    role: str = "customer",
    email: str | None = None,
    discord_user_id: str | None = None,
    discord_role_ids: list[str] | None = None,
    discord_powers: list[str] | None = None,
    is_integration: bool = False,
) -> Member:
    """Add a person (or an integration) to the workspace. Admins only, except that staff may
    add customers. Emits ``member.created``."""
    member_role = _role(role)
    if member_role is not Role.CUSTOMER or is_integration:
        require_workspace_admin(tx.actor, "add staff members")
    elif not tx.actor.is_staff_anywhere:
        require_workspace_admin(tx.actor, "add members")
    email = _email(email)
    if discord_user_id is not None and not _SNOWFLAKE.match(str(discord_user_id)):
        raise ValidationFailed("discord_user_id is not a Discord id", field="discord_user_id")
    powers = _powers(discord_powers)
    member = Member(
        workspace_id=tx.workspace_id,
        display_name=_name(display_name, "display_name"),
        role=member_role,
        email=email,
        discord_user_id=str(discord_user_id) if discord_user_id is not None else None,
        discord_role_ids=_snowflakes(discord_role_ids, "discord_role_ids"),
        discord_powers=powers,
        is_integration=is_integration,
        available=True,
        created_at=tx.now,
    )
    try:
        async with tx.session.begin_nested():
            tx.session.add(member)
            await tx.session.flush()
    except IntegrityError:
        raise Conflict("a member with this email or Discord id already exists") from None
    await tx.record("member.created", member_id=member.id, role=member.role)
    return member


async def update_member(tx: Tx, member_id: int, changes: dict[str, Any]) -> Member:
    """Change a member's name, role, Discord roles and powers, or availability. Admins only;
    a member may change their own name and availability. Emits ``member.updated``."""
    member = await get_member(tx, member_id)
    own = tx.actor.member_id == member.id
    allowed_own = {"display_name", "available"}
    if not (own and set(changes) <= allowed_own):
        require_workspace_admin(tx.actor, "change members")
    before: dict[str, Any] = {}
    for key, value in changes.items():
        before[key] = getattr(member, key, None)
        if key == "display_name":
            member.display_name = _name(value, "display_name")
        elif key == "role":
            member.role = _role(value)
        elif key == "available":
            if not isinstance(value, bool):
                raise ValidationFailed("available must be true or false", field="available")
            member.available = value
        elif key == "discord_role_ids":
            member.discord_role_ids = _snowflakes(value, "discord_role_ids")
        elif key == "discord_powers":
            member.discord_powers = _powers(value)
        elif key == "email":
            member.email = _email(value)
        else:
            raise ValidationFailed(f"{key} cannot be changed", field=key)
    try:
        async with tx.session.begin_nested():
            await tx.session.flush()
    except IntegrityError:
        raise Conflict("a member with this email already exists", field="email") from None
    await tx.record("member.updated", member_id=member.id, before=before,
                    after={k: getattr(member, k) for k in changes})
    return member


async def create_team(tx: Tx, *, name: str, permissions: list[str] | None = None,
                      member_ids: list[int] | None = None) -> Team:
    """Create a team with team permissions (such as ``tickets.edit``). Admins only.
    Emits ``team.created``."""
    require_workspace_admin(tx.actor, "create teams")
    perms = sorted(set(permissions or []))
    for perm in perms:
        if perm not in TEAM_PERMISSIONS:
            raise ValidationFailed(f"unknown team permission {perm!r}; known: {', '.join(sorted(TEAM_PERMISSIONS))}",
                                   field="permissions")
    team = Team(workspace_id=tx.workspace_id, name=_name(name), permissions=perms, created_at=tx.now)
    try:
        async with tx.session.begin_nested():
            tx.session.add(team)
            await tx.session.flush()
    except IntegrityError:
        raise Conflict(f"a team named {name!r} already exists", field="name") from None
    for member_id in member_ids or []:
        await get_member(tx, member_id, field="member_ids")
        tx.session.add(TeamMember(team_id=team.id, member_id=member_id))
    await tx.record("team.created", team_id=team.id, name=team.name, permissions=perms,
                    member_ids=sorted(member_ids or []))
    return team


async def set_team_members(tx: Tx, team_id: int, member_ids: list[int]) -> Team:
    """Replace a team's members. Admins only. Emits ``team.members_changed``."""
    require_workspace_admin(tx.actor, "change teams")
    team = await tx.session.get(Team, team_id)
    if team is None or team.workspace_id != tx.workspace_id:
        raise NotFound(f"team {team_id} not found")
    current = set((await tx.session.execute(
        select(TeamMember.member_id).where(TeamMember.team_id == team.id))).scalars())
    wanted = set(member_ids)
    for member_id in wanted - current:
        await get_member(tx, member_id, field="member_ids")
        tx.session.add(TeamMember(team_id=team.id, member_id=member_id))
    for member_id in current - wanted:
        await tx.session.delete(await tx.session.get(TeamMember, (team.id, member_id)))
    await tx.record("team.members_changed", team_id=team.id, before={"member_ids": sorted(current)},
                    after={"member_ids": sorted(wanted)})
    return team


TYPE_FIELDS = {
    "name", "emoji", "description", "category", "staff_role_ids", "allowed_role_ids", "team_id",
    "intake_questions", "open_limit_per_user", "opener_can_close", "sequential_names", "discord_mode",
    "settings", "archived",
}


_TYPE_TEXT_LIMITS = {"emoji": 64, "description": 1000, "category": 100}


async def _apply_type_fields(tx: Tx, ticket_type: TicketType, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in TYPE_FIELDS:
            raise ValidationFailed(f"{key} is not a ticket type field", field=key)
        if key == "name":
            value = _name(value)
        elif key in _TYPE_TEXT_LIMITS:
            value = _text(value, key, _TYPE_TEXT_LIMITS[key])
        elif key in ("staff_role_ids", "allowed_role_ids"):
            value = _snowflakes(value, key)
        elif key == "intake_questions":
            if not isinstance(value, list):
                raise ValidationFailed("intake_questions must be a list", field=key)
            value = [q.as_json() for q in parse_intake_questions(value)]
        elif key == "open_limit_per_user":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValidationFailed("open_limit_per_user must be at least 1, or null for no limit", field=key)
        elif key == "discord_mode":
            try:
                value = DiscordMode(value).value
            except ValueError:
                raise ValidationFailed("discord_mode must be channel, thread or forum", field=key) from None
        elif key == "team_id" and value is not None:
            team = await tx.session.get(Team, value)
            if team is None or team.workspace_id != tx.workspace_id:
                raise ValidationFailed(f"team {value} does not exist", field=key)
        elif key in ("opener_can_close", "sequential_names", "archived") and not isinstance(value, bool):
            raise ValidationFailed(f"{key} must be true or false", field=key)
        elif key == "settings":
            value = check_type_settings(value, await load_policies(tx))
        setattr(ticket_type, key, value)


async def create_ticket_type(tx: Tx, **values: Any) -> TicketType:
    """Create a ticket type (what users pick: "Billing", "Bug report"). Admins only.
    Emits ``ticket_type.created``."""
    require_workspace_admin(tx.actor, "create ticket types")
    if "name" not in values:
        raise ValidationFailed("name is required", field="name")
    ticket_type = TicketType(
        workspace_id=tx.workspace_id, staff_role_ids=[], allowed_role_ids=[], intake_questions=[],
        open_limit_per_user=1, opener_can_close=True, sequential_names=False, discord_mode="channel",
        settings={}, archived=False, created_at=tx.now,
    )
    await _apply_type_fields(tx, ticket_type, values)
    try:
        async with tx.session.begin_nested():
            tx.session.add(ticket_type)
            await tx.session.flush()
    except IntegrityError:
        raise Conflict(f"a ticket type named {values['name']!r} already exists", field="name") from None
    await tx.record("ticket_type.created", type_id=ticket_type.id, name=ticket_type.name)
    return ticket_type


async def update_ticket_type(tx: Tx, type_id: int, values: dict[str, Any]) -> TicketType:
    """Change a ticket type. Admins only. Emits ``ticket_type.updated``."""
    require_workspace_admin(tx.actor, "change ticket types")
    try:
        ticket_type = await get_type(tx, type_id)
    except ValidationFailed:
        raise NotFound(f"ticket type {type_id} not found") from None
    before = {k: getattr(ticket_type, k) for k in values if k in TYPE_FIELDS}
    old_sla = (ticket_type.settings or {}).get("sla")
    await _apply_type_fields(tx, ticket_type, values)
    if (ticket_type.settings or {}).get("sla") != old_sla:
        await resync_open_tickets(tx, type_id=ticket_type.id)
    try:
        async with tx.session.begin_nested():
            await tx.session.flush()
    except IntegrityError:
        raise Conflict("another ticket type already has this name", field="name") from None
    await tx.record("ticket_type.updated", type_id=ticket_type.id, before=before,
                    after={k: getattr(ticket_type, k) for k in before})
    return ticket_type


async def define_custom_field(tx: Tx, *, key: str, label: str, field_type: str,
                              options: list[str] | None = None, required: bool = False) -> CustomFieldDefinition:
    """Define a workspace custom field (``vendor_ticket_id``, ...). Admins only.
    Emits ``custom_field.created``."""
    require_workspace_admin(tx.actor, "define custom fields")
    check_definition(key, field_type, options)
    definition = CustomFieldDefinition(
        workspace_id=tx.workspace_id, key=key, label=_name(label, "label"), field_type=field_type,
        options=list(options or []), required=required, created_at=tx.now,
    )
    try:
        async with tx.session.begin_nested():
            tx.session.add(definition)
            await tx.session.flush()
    except IntegrityError:
        raise Conflict(f"a custom field {key!r} already exists", field="key") from None
    await tx.record("custom_field.created", key=key, field_type=field_type)
    return definition


async def create_api_token(tx: Tx, *, member_id: int, name: str) -> tuple[ApiToken, str]:
    """Create an API token acting as a member. Returns the row and the secret, which is shown
    once and stored only as a hash. Admins, or a member for themselves.
    Emits ``api_token.created``."""
    member = await get_member(tx, member_id)
    if tx.actor.member_id != member.id:
        require_workspace_admin(tx.actor, "create tokens for other members")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=tx.workspace_id, member_id=member.id, name=_name(name),
        prefix=secret[:10], token_hash=hash_token(secret), created_at=tx.now,
    )
    tx.session.add(token)
    await tx.session.flush()
    await tx.record("api_token.created", token_id=token.id, member_id=member.id, name=token.name)
    return token, secret


async def revoke_api_token(tx: Tx, token_id: int) -> ApiToken:
    """Revoke a token; it stops working at once. Admins, or the token's own member.
    Emits ``api_token.revoked``."""
    token = await tx.session.get(ApiToken, token_id)
    if token is None or token.workspace_id != tx.workspace_id:
        raise NotFound(f"token {token_id} not found")
    if tx.actor.member_id != token.member_id:
        require_workspace_admin(tx.actor, "revoke other members' tokens")
    if token.revoked_at is None:
        token.revoked_at = tx.now
        await tx.record("api_token.revoked", token_id=token.id)
    return token
