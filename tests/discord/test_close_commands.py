"""/close, /reopen and /close-request in a ticket's channel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.close_requests import create_close_request
from frontdesk.actions.tickets import open_ticket
from frontdesk.db.models import CloseRequest
from frontdesk.domain.permissions import Actor
from tests.discord.commands_support import BOOLEAN, World, content, desk_world, is_ephemeral, option, sub
from tests.discord.harness import DiscordHarness, payloads


@pytest.fixture
async def world(desk: Desk, harness: DiscordHarness) -> World:
    return await desk_world(desk, harness)


async def _requests(world: World) -> list[CloseRequest]:
    async with world.desk.db.reading() as session:
        return list((await session.scalars(select(CloseRequest).where(CloseRequest.ticket_id == world.ticket_id)
                                           .order_by(CloseRequest.id))).all())


# --- /close ----------------------------------------------------------------------------------------------------


async def test_close_with_a_reason_and_a_note_closes_the_ticket_with_both(world: World) -> None:
    answer = await world.answer(world.command("close", world.staff, option("reason", "duplicate"),
                                              option("note", "same as #7")))

    ticket = await world.ticket()
    assert (ticket.status, ticket.close_reason, ticket.close_note) == ("closed", "duplicate", "same as #7")
    assert ticket.closed_by_id == await world.member_id(world.staff)
    assert not is_ephemeral(answer)
    assert content(answer) == f"<@{world.staff['id']}> closed this ticket (Duplicate)."
    [closed] = await world.events("ticket.closed")
    assert closed.payload["reason"] == "duplicate"
    assert closed.payload["share_comment"] is True


async def test_close_with_share_comment_off_records_that_the_note_stays_with_staff(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved"),
                                     option("note", "internal only"), option("share-comment", False, BOOLEAN)))
    [closed] = await world.events("ticket.closed")
    assert closed.payload["share_comment"] is False
    assert (await world.ticket()).close_note == "internal only"


async def test_close_offers_exactly_the_domain_reasons_and_limits_the_note_to_500_characters(
        world: World) -> None:
    command = world.harness.bot.tree.get_command("close")  # type: ignore[attr-defined]
    declared = {o["name"]: o for o in command.to_dict(world.harness.bot.tree)["options"]}  # type: ignore[attr-defined]
    assert [c["value"] for c in declared["reason"]["choices"]] == [
        "resolved", "duplicate", "user_unresponsive", "out_of_scope", "spam", "other"]
    assert declared["reason"]["required"] is True
    assert (declared["note"]["min_length"], declared["note"]["max_length"], declared["note"]["required"]) == (
        1, 500, False)


async def test_a_close_note_over_500_characters_that_reaches_the_bot_is_refused_by_the_action(
        world: World) -> None:
    # Discord enforces the option's length; a payload that skipped it meets the action's own check.
    before = await world.snapshot()

    answer = await world.answer(world.command("close", world.staff, option("reason", "resolved"),
                                              option("note", "x" * 501)))

    assert is_ephemeral(answer) and content(answer) == "note must be at most 500 characters"
    assert (await world.ticket()).status == "open"
    assert await world.snapshot() == before


async def test_a_close_reason_outside_the_choices_is_refused_and_changes_nothing(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("close", world.staff, option("reason", "bored")))

    assert is_ephemeral(answer) and content(answer).startswith("reason must be one of resolved, duplicate")
    assert (await world.ticket()).status == "open"
    assert await world.snapshot() == before


async def test_close_of_a_closed_ticket_is_refused(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved")))
    before = await world.snapshot()

    answer = await world.answer(world.command("close", world.staff, option("reason", "spam")))

    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} is already closed"
    assert (await world.ticket()).close_reason == "resolved"
    assert await world.snapshot() == before


async def test_close_by_the_opener_of_a_type_that_keeps_closing_to_staff_is_refused(desk: Desk,
                                                                                    world: World) -> None:
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        await m.update_ticket_type(tx, world.type_id, {"opener_can_close": False})
    before = await world.snapshot()

    answer = await world.answer(world.command("close", world.opener, option("reason", "resolved")))

    assert is_ephemeral(answer) and content(answer) == f"you may not close ticket {world.number}"
    assert (await world.ticket()).status == "open"
    assert await world.snapshot() == before


async def test_close_by_the_opener_is_allowed_when_the_type_lets_openers_close(world: World) -> None:
    answer = await world.answer(world.command("close", world.opener, option("reason", "resolved")))

    assert not is_ephemeral(answer)
    assert (await world.ticket()).status == "closed"


# --- /reopen ---------------------------------------------------------------------------------------------------


async def test_reopen_reopens_a_closed_ticket(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved")))

    answer = await world.answer(world.command("reopen", world.staff))

    ticket = await world.ticket()
    assert (ticket.status, ticket.close_reason) == ("open", None)
    assert not is_ephemeral(answer) and content(answer) == f"<@{world.staff['id']}> reopened this ticket."
    assert len(await world.events("ticket.reopened")) == 1


async def test_reopen_of_an_open_ticket_is_refused(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("reopen", world.staff))

    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} is not closed"
    assert await world.snapshot() == before


async def test_reopen_by_the_opener_is_refused(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved")))
    before = await world.snapshot()

    answer = await world.answer(world.command("reopen", world.opener))

    assert is_ephemeral(answer) and content(answer) == f"you may not reopen ticket {world.number}"
    assert (await world.ticket()).status == "closed"
    assert await world.snapshot() == before


# --- /close-request --------------------------------------------------------------------------------------------


async def test_close_request_create_stores_a_pending_request_with_comment_sharing_and_due_time(
        world: World) -> None:
    answer = await world.answer(world.command("close-request", world.staff, sub(
        "create", option("comment", "All sorted?"), option("share-comment", False, BOOLEAN),
        option("close-time", "24h"))))

    [req] = await _requests(world)
    assert (req.status, req.comment, req.share_comment) == ("pending", "All sorted?", False)
    assert req.requested_by_id == await world.member_id(world.staff)
    assert req.close_at is not None and req.created_at is not None
    assert req.close_at - req.created_at == timedelta(hours=24)
    assert is_ephemeral(answer) and content(answer).startswith("Close request sent to the opener.")
    assert "closes by itself <t:" in content(answer)
    assert len(await world.events("close_request.created")) == 1


async def test_close_request_create_without_options_shares_nothing_and_has_no_due_time(world: World) -> None:
    answer = await world.answer(world.command("close-request", world.staff, sub("create")))

    [req] = await _requests(world)
    assert (req.comment, req.share_comment, req.close_at) == (None, True, None)
    assert content(answer) == "Close request sent to the opener."


async def test_close_request_with_a_bad_close_time_is_refused_and_stores_nothing(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("close-request", world.staff, sub(
        "create", option("close-time", "tomorrow"))))

    assert is_ephemeral(answer) and "'tomorrow' is not a duration" in content(answer)
    assert await _requests(world) == []
    assert await world.snapshot() == before


async def test_a_second_close_request_while_one_is_pending_is_refused(world: World) -> None:
    await world.answer(world.command("close-request", world.staff, sub("create")))
    before = await world.snapshot()

    answer = await world.answer(world.command("close-request", world.staff, sub("create")))

    assert is_ephemeral(answer) and "already has a pending close request" in content(answer)
    assert await world.snapshot() == before


async def test_close_request_delete_withdraws_the_pending_request(world: World) -> None:
    await world.answer(world.command("close-request", world.staff, sub("create", option("close-time", "2d"))))

    answer = await world.answer(world.command("close-request", world.staff, sub("delete")))

    [req] = await _requests(world)
    assert req.status == "cancelled"
    assert is_ephemeral(answer) and content(answer) == "Close request withdrawn."
    assert len(await world.events("close_request.cancelled")) == 1


async def test_close_request_delete_without_a_pending_request_is_refused(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("close-request", world.staff, sub("delete")))

    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} has no pending close request"
    assert await world.snapshot() == before


async def test_close_request_on_a_closed_ticket_is_refused(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved")))
    before = await world.snapshot()

    answer = await world.answer(world.command("close-request", world.staff, sub("create")))

    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} is closed"
    assert await world.snapshot() == before


async def test_close_request_commands_in_another_ticket_touch_only_that_ticket(desk: Desk, world: World) -> None:
    other_channel = payloads.text_channel(world.guild["id"], name="ticket-2")
    world.harness.feed("CHANNEL_CREATE", other_channel)
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        opener = await m.add_member(tx, display_name="Other", discord_user_id=payloads.user()["id"])
        other = await open_ticket(tx, type_id=world.type_id, title="Other", opener_id=opener.id,
                                  channel="discord_channel", external_id=other_channel["id"])
        await create_close_request(tx, world.number)
        other_number = other.number

    answer = await world.answer(world.command("close-request", world.staff, sub("delete"), channel=other_channel))

    assert content(answer) == f"ticket {other_number} has no pending close request"
    [mine] = await _requests(world)
    assert mine.status == "pending"
