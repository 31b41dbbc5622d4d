"""Workspace configuration: the workspace, members, teams, ticket types, custom fields, API tokens."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.db.models import ApiToken, Member, Team, TicketType, Workspace
from frontdesk.domain.errors import Conflict, NotFound, NotPermitted, ValidationFailed
from tests.integration.helpers import assert_event, count, fetch, last_event, table_counts


async def fails(world, who, fn, *args, field=None, error=ValidationFailed, **kwargs):
    """Run an action expected to fail; check the error names ``field`` and nothing was written."""
    before = await table_counts(world)
    with pytest.raises(error) as caught:
        await world.run(who, fn, *args, **kwargs)
    if field is not None:
        assert caught.value.field == field
    assert await table_counts(world) == before
    return caught.value


# --- workspace ----------------------------------------------------------------------------------------------


async def test_creating_a_workspace_records_it(world):
    async with world.desk.tx(world.system, 0) as tx:
        workspace = await m.create_workspace(tx, name="  Beta  ", timezone="America/New_York",
                                             discord_guild_id="900000000000000001")
    assert (workspace.name, workspace.timezone, workspace.next_ticket_number) == ("Beta", "America/New_York", 1)
    rows = await fetch(world, select(Workspace).where(Workspace.discord_guild_id == "900000000000000001"))
    assert len(rows) == 1


async def test_an_unknown_timezone_names_the_field(world):
    for timezone in ("Mars/Olympus", "Europe", "", "../etc/passwd", "CET + 1"):
        async with world.desk.tx(world.system, 0) as tx:
            with pytest.raises(ValidationFailed) as caught:
                await m.create_workspace(tx, name="Beta", timezone=timezone)
        assert caught.value.field == "timezone"
        await fails(world, "admin", m.update_workspace, timezone=timezone, field="timezone")


async def test_a_second_workspace_for_one_discord_server_is_a_conflict(world):
    async with world.desk.tx(world.system, 0) as tx:
        await m.create_workspace(tx, name="One", discord_guild_id="900000000000000001")
    with pytest.raises(Conflict):
        async with world.desk.tx(world.system, 0) as tx:
            await m.create_workspace(tx, name="Two", discord_guild_id="900000000000000001")
    assert await count(world, Workspace) == 2


async def test_admins_update_the_workspace_and_settings_merge_key_by_key(world):
    await world.run("admin", m.update_workspace, name="Acme Help", timezone="Asia/Tokyo",
                    settings={"transcript_retention_days": 90})
    [workspace] = await fetch(world, select(Workspace).where(Workspace.id == world.workspace_id))
    assert (workspace.name, workspace.timezone) == ("Acme Help", "Asia/Tokyo")
    assert workspace.settings["transcript_retention_days"] == 90
    assert workspace.settings["management_role_ids"] == ["333333333333333333"]
    updated = await last_event(world, "workspace.updated")
    assert_event(updated, world, "admin")
    assert (updated.payload["before"]["timezone"], updated.payload["after"]["timezone"]) == (
        "Europe/Berlin", "Asia/Tokyo")


async def test_only_admins_update_the_workspace(world):
    for who in ("manager", "staff", "alice", "mgmtrole"):
        await fails(world, who, m.update_workspace, name="Mine", error=NotPermitted)


async def test_bad_workspace_settings_name_the_field(world):
    for kwargs, field in [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"settings": {"management_role_ids": ["not-a-snowflake"]}}, "settings.management_role_ids"),
        ({"settings": ["a"]}, "settings"),
    ]:
        await fails(world, "owner", m.update_workspace, **kwargs, field=field)


# --- members ------------------------------------------------------------------------------------------------


async def test_admins_add_staff_and_staff_add_customers(world):
    new_staff = await world.run("admin", m.add_member, display_name="Nia New", role="staff",
                                email="NIA@Example.com")
    assert (new_staff.role, new_staff.email) == ("staff", "nia@example.com")
    assert_event(await last_event(world, "member.created"), world, "admin")
    customer = await world.run("staff", m.add_member, display_name="Cal Customer")
    assert customer.role == "customer"
    await fails(world, "staff", m.add_member, display_name="Sneaky", role="admin", error=NotPermitted)
    await fails(world, "alice", m.add_member, display_name="Friend", error=NotPermitted)


async def test_bad_member_input_names_the_field(world):
    for kwargs, field in [
        ({"display_name": ""}, "display_name"),
        ({"display_name": "Ok", "role": "superuser"}, "role"),
        ({"display_name": "Ok", "email": "not-an-email"}, "email"),
        ({"display_name": "Ok", "discord_user_id": "abc"}, "discord_user_id"),
        ({"display_name": "Ok", "discord_role_ids": ["x1"]}, "discord_role_ids"),
        ({"display_name": "Ok", "discord_powers": ["ban_members"]}, "discord_powers"),
    ]:
        await fails(world, "admin", m.add_member, **kwargs, field=field)


async def test_a_duplicate_email_or_discord_id_is_a_conflict(world):
    for duplicate in ({"email": "ALICE@example.com"}, {"discord_user_id": "600000000000000001"}):
        await fails(world, "admin", m.add_member, display_name="Alice Again", **duplicate, error=Conflict)


async def test_members_may_change_their_own_name_and_availability_only(world):
    me = world.member_ids["staff"]
    await world.run("staff", m.update_member, me, {"display_name": "Samuel", "available": False})
    [row] = await fetch(world, select(Member).where(Member.id == me))
    assert (row.display_name, row.available) == ("Samuel", False)
    updated = await last_event(world, "member.updated")
    assert_event(updated, world, "staff", before={"display_name": "Sam Staff", "available": True},
                 after={"display_name": "Samuel", "available": False})
    await fails(world, "staff", m.update_member, me, {"role": "admin"}, error=NotPermitted)
    await fails(world, "staff", m.update_member, world.member_ids["staff2"], {"display_name": "x"},
                error=NotPermitted)


async def test_admins_change_roles_and_discord_data(world):
    bob = world.member_ids["bob"]
    await world.run("admin", m.update_member, bob, {"role": "staff", "discord_role_ids": ["444444444444444444"],
                                                    "discord_powers": ["manage_channels"]})
    [row] = await fetch(world, select(Member).where(Member.id == bob))
    assert (row.role, row.discord_role_ids, row.discord_powers) == (
        "staff", ["444444444444444444"], ["manage_channels"])


async def test_bad_member_changes_name_the_field(world):
    for changes, field in [
        ({"role": "god"}, "role"),
        ({"available": "yes"}, "available"),
        ({"discord_role_ids": ["abc"]}, "discord_role_ids"),
        ({"discord_powers": ["ban_members"]}, "discord_powers"),
        ({"email": "not-an-email"}, "email"),
        ({"created_at": "2020-01-01"}, "created_at"),
    ]:
        await fails(world, "admin", m.update_member, world.member_ids["bob"], changes, field=field)


async def test_changing_an_email_to_one_already_used_is_a_conflict(world):
    await fails(world, "admin", m.update_member, world.member_ids["bob"], {"email": "Alice@Example.com"},
                error=Conflict)


async def test_changing_an_email_stores_it_normalised(world):
    await world.run("admin", m.update_member, world.member_ids["bob"], {"email": " Bob.New@Example.com "})
    [row] = await fetch(world, select(Member).where(Member.id == world.member_ids["bob"]))
    assert row.email == "bob.new@example.com"


async def test_an_unknown_member_names_the_field(world):
    await fails(world, "admin", m.update_member, 999_999, {"display_name": "x"}, field="member_id")


# --- teams --------------------------------------------------------------------------------------------------


async def test_admins_create_teams_with_permissions_and_members(world):
    team = await world.run("admin", m.create_team, name="Billing desk", permissions=["tickets.edit", "sla.pause"],
                           member_ids=[world.member_ids["bob"]])
    assert team.permissions == ["sla.pause", "tickets.edit"]
    created = await last_event(world, "team.created")
    assert_event(created, world, "admin")
    assert created.payload["member_ids"] == [world.member_ids["bob"]]
    await world.run("admin", m.set_team_members, team.id, [world.member_ids["alice"]])
    changed = await last_event(world, "team.members_changed")
    assert_event(changed, world, "admin", before={"member_ids": [world.member_ids["bob"]]},
                 after={"member_ids": [world.member_ids["alice"]]})


async def test_a_duplicate_team_name_is_a_conflict_naming_the_field(world):
    await fails(world, "admin", m.create_team, name="Tier 2", error=Conflict, field="name")


async def test_bad_team_input_names_the_field(world):
    for kwargs, field in [
        ({"name": ""}, "name"),
        ({"name": "Ok", "permissions": ["tickets.delete"]}, "permissions"),
        ({"name": "Ok", "member_ids": [999_999]}, "member_ids"),
    ]:
        await fails(world, "admin", m.create_team, **kwargs, field=field)


async def test_only_admins_manage_teams(world):
    await fails(world, "manager", m.create_team, name="Mine", error=NotPermitted)
    await fails(world, "staff", m.set_team_members, world.team_ids["Tier 2"], [], error=NotPermitted)
    await fails(world, "admin", m.set_team_members, 999_999, [], error=NotFound)


# --- ticket types -------------------------------------------------------------------------------------------


async def test_admins_create_and_update_ticket_types(world):
    created = await world.run("admin", m.create_ticket_type, name="Bug report", emoji="🐛", category="Bugs",
                              staff_role_ids=["444444444444444444"], open_limit_per_user=None,
                              intake_questions=[{"kind": "subject", "label": "Summary"}], discord_mode="forum")
    assert (created.open_limit_per_user, created.discord_mode, created.intake_questions[0]["id"]) == (
        None, "forum", "subject")
    assert_event(await last_event(world, "ticket_type.created"), world, "admin")
    await world.run("admin", m.update_ticket_type, created.id, {"opener_can_close": False, "open_limit_per_user": 2})
    updated = await last_event(world, "ticket_type.updated")
    assert_event(updated, world, "admin", before={"opener_can_close": True, "open_limit_per_user": None},
                 after={"opener_can_close": False, "open_limit_per_user": 2})


async def test_a_new_type_defaults_to_one_open_ticket_per_user(world):
    created = await world.run("admin", m.create_ticket_type, name="Other")
    assert created.open_limit_per_user == 1


async def test_a_duplicate_type_name_is_a_conflict_naming_the_field(world):
    await fails(world, "admin", m.create_ticket_type, name="General", error=Conflict, field="name")
    await fails(world, "admin", m.update_ticket_type, world.type_ids["Billing"], {"name": "General"},
                error=Conflict, field="name")


async def test_bad_ticket_type_input_names_the_field(world):
    for values, field in [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "Ok", "open_limit_per_user": 0}, "open_limit_per_user"),
        ({"name": "Ok", "open_limit_per_user": True}, "open_limit_per_user"),
        ({"name": "Ok", "discord_mode": "carrier"}, "discord_mode"),
        ({"name": "Ok", "staff_role_ids": ["staff"]}, "staff_role_ids"),
        ({"name": "Ok", "allowed_role_ids": ["vip"]}, "allowed_role_ids"),
        ({"name": "Ok", "team_id": 999_999}, "team_id"),
        ({"name": "Ok", "opener_can_close": "no"}, "opener_can_close"),
        ({"name": "Ok", "settings": []}, "settings"),
        ({"name": "Ok", "intake_questions": "subject"}, "intake_questions"),
        ({"name": "Ok", "intake_questions": [{"id": f"q{i}", "label": "Q"} for i in range(6)]}, "intake_questions"),
        ({"name": "Ok", "intake_questions": [{"id": "a", "label": "A"}, {"id": "a", "label": "B"}]},
         "intake_questions[1].id"),
        ({"name": "Ok", "colour": "red"}, "colour"),
        ({"name": "Ok", "description": "d" * 1001}, "description"),
        ({"name": "Ok", "category": "c" * 101}, "category"),
        ({"name": "Ok", "emoji": "e" * 65}, "emoji"),
    ]:
        await fails(world, "admin", m.create_ticket_type, **values, field=field)


async def test_only_admins_manage_ticket_types(world):
    await fails(world, "manager", m.create_ticket_type, name="Mine", error=NotPermitted)
    await fails(world, "staff", m.update_ticket_type, world.type_ids["General"], {"archived": True},
                error=NotPermitted)
    await fails(world, "admin", m.update_ticket_type, 999_999, {"archived": True}, error=NotFound)


async def test_a_type_of_another_workspace_is_not_found(world):
    async with world.desk.tx(world.system, 0) as tx:
        await m.create_workspace(tx, name="Other")
        elsewhere = await m.create_ticket_type(tx, name="Secret")
    await fails(world, "admin", m.update_ticket_type, elsewhere.id, {"name": "Mine"}, error=NotFound)
    [row] = await fetch(world, select(TicketType).where(TicketType.id == elsewhere.id))
    assert row.name == "Secret"


# --- custom fields ------------------------------------------------------------------------------------------


async def test_admins_define_custom_fields(world):
    definition = await world.run("admin", m.define_custom_field, key="severity", label="Severity",
                                 field_type="select", options=["s1", "s2"], required=True)
    assert (definition.key, definition.options, definition.required) == ("severity", ["s1", "s2"], True)
    assert_event(await last_event(world, "custom_field.created"), world, "admin")


async def test_bad_custom_field_definitions_name_the_field(world):
    for kwargs, field in [
        ({"key": "Bad Key", "label": "x", "field_type": "text"}, "key"),
        ({"key": "ok", "label": "x", "field_type": "colour"}, "field_type"),
        ({"key": "ok", "label": "x", "field_type": "select"}, "options"),
        ({"key": "ok", "label": "", "field_type": "text"}, "label"),
    ]:
        await fails(world, "admin", m.define_custom_field, **kwargs, field=field)


async def test_a_duplicate_custom_field_key_is_a_conflict(world):
    await fails(world, "admin", m.define_custom_field, key="plan", label="Plan again", field_type="text",
                error=Conflict, field="key")


async def test_only_admins_define_custom_fields(world):
    await fails(world, "manager", m.define_custom_field, key="x", label="X", field_type="text", error=NotPermitted)


# --- API tokens ---------------------------------------------------------------------------------------------


async def test_a_token_is_shown_once_and_stored_hashed(world):
    token, secret = await world.run("staff", m.create_api_token, member_id=world.member_ids["staff"], name="laptop")
    assert secret.startswith("fd_") and token.prefix == secret[:10]
    [row] = await fetch(world, select(ApiToken).where(ApiToken.id == token.id))
    assert row.token_hash == m.hash_token(secret) and secret not in row.token_hash
    assert_event(await last_event(world, "api_token.created"), world, "staff")


async def test_tokens_for_other_members_need_an_admin(world):
    await fails(world, "staff", m.create_api_token, member_id=world.member_ids["staff2"], name="x",
                error=NotPermitted)
    token, _ = await world.run("admin", m.create_api_token, member_id=world.member_ids["staff2"], name="ci")
    assert token.member_id == world.member_ids["staff2"]
    await fails(world, "admin", m.create_api_token, member_id=world.member_ids["staff2"], name="", field="name")


async def test_revoking_a_token(world, clock):
    token, _ = await world.run("staff", m.create_api_token, member_id=world.member_ids["staff"], name="laptop")
    await fails(world, "staff2", m.revoke_api_token, token.id, error=NotPermitted)
    await world.run("staff", m.revoke_api_token, token.id)
    [row] = await fetch(world, select(ApiToken).where(ApiToken.id == token.id))
    assert row.revoked_at == clock.now()
    assert_event(await last_event(world, "api_token.revoked"), world, "staff")
    await fails(world, "admin", m.revoke_api_token, 999_999, error=NotFound)


async def test_teams_and_types_of_the_world_exist(world):
    # the fixture itself goes through these actions
    assert await count(world, Team) == 1
    assert await count(world, TicketType) == 3
