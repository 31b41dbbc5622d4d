"""What the bot records: members for Discord users, where tickets live, message links."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.discord import link_message, member_for_discord_user, place_ticket
from frontdesk.actions.messages import post_message
from frontdesk.actions.tickets import open_ticket
from frontdesk.db.models import DiscordTicket, Member
from frontdesk.domain.errors import NotPermitted, ValidationFailed
from frontdesk.domain.permissions import MANAGE_CHANNELS, Actor
from tests.discord.harness import snowflake

SYSTEM = Actor.system()


async def _workspace(desk: Desk) -> int:
    async with desk.tx(SYSTEM, 0) as tx:
        workspace = await m.create_workspace(tx, name="Discord records")
        return workspace.id


async def test_a_discord_user_becomes_a_customer_once_and_keeps_up_with_roles(desk: Desk) -> None:
    ws = await _workspace(desk)
    user, role = snowflake(), snowflake()
    async with desk.tx(SYSTEM, ws) as tx:
        first = await member_for_discord_user(tx, user_id=user, display_name="Casey", role_ids=[role],
                                              powers=[MANAGE_CHANNELS, "kick_members"])
        assert first.role == "customer"
        assert first.discord_role_ids == [role] and first.discord_powers == [MANAGE_CHANNELS]
    async with desk.tx(SYSTEM, ws) as tx:
        again = await member_for_discord_user(tx, user_id=user, display_name="Casey B", role_ids=None,
                                              powers=[])
        assert again.id == first.id
        assert again.display_name == "Casey B"
        assert again.discord_role_ids == [role]  # a DM carries no roles: kept
        assert again.discord_powers == []


async def test_the_same_new_discord_user_from_two_transactions_is_one_member(desk: Desk) -> None:
    ws = await _workspace(desk)
    user = snowflake()

    async def register() -> int:
        async with desk.tx(SYSTEM, ws) as tx:
            return (await member_for_discord_user(tx, user_id=user, display_name="Racer")).id

    ids = await asyncio.gather(register(), register())
    assert ids[0] == ids[1]
    async with desk.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(Member).where(
            Member.discord_user_id == user)) == 1


async def test_only_the_desk_registers_discord_users(desk: Desk, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotPermitted):
        async with world.tx("alice") as tx:
            await member_for_discord_user(tx, user_id=snowflake(), display_name="Sneaky")


async def test_a_bad_discord_id_is_refused_by_name(desk: Desk) -> None:
    ws = await _workspace(desk)
    with pytest.raises(ValidationFailed) as caught:
        async with desk.tx(SYSTEM, ws) as tx:
            await member_for_discord_user(tx, user_id="not-an-id", display_name="X")
    assert caught.value.field == "discord_user_id"


async def test_a_ticket_placed_in_discord_and_its_messages_linked_once(desk: Desk) -> None:
    ws = await _workspace(desk)
    channel, dm, discord_message = snowflake(), snowflake(), snowflake()
    async with desk.tx(SYSTEM, ws) as tx:
        kind = await m.create_ticket_type(tx, name="Help", discord_mode="forum")
        opener = await member_for_discord_user(tx, user_id=snowflake(), display_name="Casey")
        ticket = await open_ticket(tx, type_id=kind.id, title="Hi", opener_id=opener.id,
                                   channel="discord_forum", external_id=channel)
        placed = await place_ticket(tx, ticket, guild_id=snowflake(), mode="forum", channel_id=channel,
                                    user_id=opener.discord_user_id, dm_channel_id=dm)
        message = await post_message(tx, ticket.number, "hello", external_id=f"discord:{discord_message}",
                                     author_kind="customer")
        first = await link_message(tx, message.id, channel_id=dm, discord_message_id=discord_message, kind="origin")
        second = await link_message(tx, message.id, channel_id=dm, discord_message_id=discord_message, kind="copy")
        assert first.id == second.id and second.kind == "origin"
        assert placed.state == "open"
    with pytest.raises(ValidationFailed) as caught:
        async with desk.tx(SYSTEM, ws) as tx:
            await place_ticket(tx, ticket, guild_id=snowflake(), mode="voice", channel_id=snowflake())
    assert caught.value.field == "mode"
    async with desk.db.reading() as session:
        assert await session.scalar(select(func.count()).select_from(DiscordTicket)) == 1


async def test_workspace_and_type_settings_validate_their_discord_part(desk: Desk) -> None:
    ws = await _workspace(desk)
    with pytest.raises(ValidationFailed) as caught:
        async with desk.tx(SYSTEM, ws) as tx:
            await m.update_workspace(tx, settings={"discord": {"log_channel_id": "nope"}})
    assert caught.value.field == "settings.discord.log_channel_id"
    with pytest.raises(ValidationFailed) as caught:
        async with desk.tx(SYSTEM, ws) as tx:
            await m.create_ticket_type(tx, name="T", settings={"discord": {"category_id": 5}})
    assert caught.value.field == "settings.discord.category_id"
    async with desk.tx(SYSTEM, ws) as tx:
        await m.update_workspace(tx, settings={"discord": {"forward_automatically": False}})


async def test_a_ticket_card_shows_claimer_and_answers_and_hides_an_anonymous_opener(desk: Desk) -> None:
    from frontdesk.actions.tickets import claim_ticket
    from frontdesk.discord.embeds import ticket_embed
    from frontdesk.queries.discord import ticket_card

    ws = await _workspace(desk)
    opener_user, staff_user = snowflake(), snowflake()
    async with desk.tx(SYSTEM, ws) as tx:
        kind = await m.create_ticket_type(tx, name="Billing", open_limit_per_user=None, intake_questions=[
            {"kind": "subject", "label": "Subject"}, {"id": "order", "label": "Order number"}])
        opener = await member_for_discord_user(tx, user_id=opener_user, display_name="Casey")
        staff = await m.add_member(tx, display_name="Sam", role="staff", discord_user_id=staff_user)
        plain = await open_ticket(tx, type_id=kind.id, opener_id=opener.id,
                                  answers={"subject": "Refund", "order": "A-1"})
        hidden = await open_ticket(tx, type_id=kind.id, opener_id=opener.id, anonymous=True,
                                   answers={"subject": "Secret", "order": "B-2"})
    async with desk.tx(SYSTEM, ws) as tx:
        tx.actor = await m.actor_for_member(tx, staff)
        await claim_ticket(tx, plain.number)
    async with desk.read(SYSTEM, ws) as tx:
        card = await ticket_card(tx, await tx.session.get(type(plain), plain.id))
        anon = await ticket_card(tx, await tx.session.get(type(hidden), hidden.id))
    assert card.opener == f"<@{opener_user}>" and card.claimer == f"<@{staff_user}>"
    assert card.answers == (("Subject", "Refund"), ("Order number", "A-1"))
    assert opener_user not in anon.opener and anon.claimer is None
    embed = ticket_embed(card)
    fields = {f.name: f.value for f in embed.fields}
    assert embed.title == f"Ticket #{plain.number}: Refund"
    assert fields["Claimed by"] == f"<@{staff_user}>" and fields["Order number"] == "A-1"
