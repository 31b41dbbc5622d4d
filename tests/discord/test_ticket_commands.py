"""Ticket commands in Discord: /claim, /unclaim, /assign, /lockdown, /unlock; every ticket
command used outside a ticket, or by a customer, answers that user alone and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Event, Ticket
from frontdesk.discord.cogs.tickets import NOT_A_TICKET
from tests.discord.commands_support import (
    BOOLEAN,
    USER,
    World,
    content,
    desk_world,
    group,
    is_ephemeral,
    option,
    sub,
)
from tests.discord.harness import DiscordHarness, payloads

EPHEMERAL = 1 << 6


@pytest.fixture
async def world(desk: Desk, harness: DiscordHarness) -> World:
    return await desk_world(desk, harness)


async def _counts(desk: Desk) -> tuple[int, int]:
    async with desk.db.reading() as session:
        events = await session.scalar(select(func.count()).select_from(Event))
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
    return events or 0, tickets or 0


async def test_claim_in_a_server_without_a_workspace_yet_is_not_a_ticket(harness: DiscordHarness) -> None:
    user = payloads.user()
    guild = payloads.guild(members=[payloads.member(user)])
    channel = payloads.text_channel(guild["id"])
    # No READY or GUILD_CREATE: the interaction arrives for a server the desk does not know.
    interaction = harness.slash("claim", guild=guild, channel=channel, member=payloads.member(user))
    await harness.drain()
    [callback] = harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/.*/callback")
    assert callback.json["data"]["content"] == NOT_A_TICKET


# --- claim -----------------------------------------------------------------------------------------------------


async def test_claim_inside_a_ticket_claims_it_for_the_staff_member_and_says_so_in_the_ticket(world: World) -> None:
    answer = await world.answer(world.command("claim", world.staff))

    ticket = await world.ticket()
    assert ticket.claimer_id == await world.member_id(world.staff)
    assert answer["type"] == 4 and not is_ephemeral(answer)
    assert content(answer) == f"<@{world.staff['id']}> claimed this ticket."
    assert answer["data"]["allowed_mentions"]["parse"] == []  # the mention pings nobody
    assert len(await world.events("ticket.claimed")) == 1


async def test_claiming_your_own_claim_again_answers_only_you_and_records_nothing(world: World) -> None:
    await world.answer(world.command("claim", world.staff))
    before = await world.snapshot()

    answer = await world.answer(world.command("claim", world.staff))

    assert is_ephemeral(answer) and content(answer) == "You have already claimed this ticket."
    assert await world.snapshot() == before


async def test_claim_of_a_ticket_claimed_by_someone_else_is_refused(world: World) -> None:
    await world.answer(world.command("claim", world.manager))
    before = await world.snapshot()

    answer = await world.answer(world.command("claim", world.staff))

    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} is already claimed"
    assert (await world.ticket()).claimer_id == await world.member_id(world.manager)
    assert await world.snapshot() == before


async def test_unclaim_releases_the_claim(world: World) -> None:
    await world.answer(world.command("claim", world.staff))

    answer = await world.answer(world.command("unclaim", world.staff))

    assert (await world.ticket()).claimer_id is None
    assert not is_ephemeral(answer) and "released the claim" in content(answer)
    assert len(await world.events("ticket.unclaimed")) == 1


# --- assign ----------------------------------------------------------------------------------------------------


async def test_assign_gives_the_ticket_to_the_named_staff_member_and_pings_only_them(world: World) -> None:
    answer = await world.answer(world.command("assign", world.staff, option("member", world.manager["id"], USER),
                                              resolved=[world.manager]))

    assert (await world.ticket()).assignee_id == await world.member_id(world.manager)
    assert not is_ephemeral(answer)
    assert content(answer).startswith(f"<@{world.manager['id']}> was assigned this ticket")
    assert answer["data"]["allowed_mentions"]["users"] == [int(world.manager["id"])]


async def test_assign_to_someone_who_is_not_staff_is_refused_and_changes_nothing(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("assign", world.staff, option("member", world.stranger["id"], USER),
                                              resolved=[world.stranger]))

    assert is_ephemeral(answer) and content(answer) == "stranger is not staff for this ticket"
    assert (await world.ticket()).assignee_id is None
    assert await world.snapshot() == before  # not even the stranger's member row


# --- lockdown --------------------------------------------------------------------------------------------------


async def test_lockdown_by_management_restricts_the_ticket(world: World) -> None:
    answer = await world.answer(world.command("lockdown", world.manager))

    assert (await world.ticket()).lockdown is True
    assert not is_ephemeral(answer) and content(answer) == "This ticket is now restricted to management."
    assert len(await world.events("ticket.locked")) == 1


async def test_lockdown_by_regular_staff_is_refused_and_changes_nothing(world: World) -> None:
    await world.answer(world.command("claim", world.staff))  # the staff member is known to the desk
    before = await world.snapshot()

    answer = await world.answer(world.command("lockdown", world.staff))

    assert is_ephemeral(answer) and content(answer) == f"you may not lockdown ticket {world.number}"
    assert (await world.ticket()).lockdown is False
    assert await world.snapshot() == before


async def test_unlock_by_management_lifts_the_lockdown(world: World) -> None:
    await world.answer(world.command("lockdown", world.manager))

    answer = await world.answer(world.command("unlock", world.manager))

    assert (await world.ticket()).lockdown is False
    assert not is_ephemeral(answer) and "lockdown is lifted" in content(answer)


async def test_unlock_by_regular_staff_is_refused(world: World) -> None:
    await world.answer(world.command("lockdown", world.manager))
    before = await world.snapshot()

    answer = await world.answer(world.command("unlock", world.staff))

    # Under lockdown regular staff do not see the ticket at all.
    assert is_ephemeral(answer) and content(answer) == f"ticket {world.number} not found"
    assert (await world.ticket()).lockdown is True
    assert await world.snapshot() == before


# --- every command: outside a ticket, and by a customer -------------------------------------------------------

def _commands(world: World) -> dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]]:
    member = [option("member", world.manager["id"], USER)]
    return {
        "claim": ("claim", [], []),
        "unclaim": ("unclaim", [], []),
        "assign": ("assign", member, [world.manager]),
        "close": ("close", [option("reason", "resolved")], []),
        "reopen": ("reopen", [], []),
        "lockdown": ("lockdown", [], []),
        "unlock": ("unlock", [], []),
        "note": ("ticket", [sub("note", option("text", "a note"))], []),
        "move": ("ticket", [sub("move", option("type", "Billing"))], []),
        "rename": ("ticket", [sub("rename")], []),
        "adduser": ("ticket", [sub("adduser", *member)], [world.manager]),
        "priority": ("ticket", [sub("priority", option("level", "urgent"))], []),
        "pin": ("ticket", [sub("pin")], []),
        "unpin": ("ticket", [sub("unpin")], []),
        "pause": ("ticket", [sub("pause")], []),
        "resume": ("ticket", [sub("resume")], []),
        "tag add": ("ticket", [group("tag", sub("add", option("name", "refund")))], []),
        "tag remove": ("ticket", [group("tag", sub("remove", option("name", "refund")))], []),
        "status": ("ticket", [sub("status", option("value", "waiting"))], []),
        "escalate": ("ticket", [sub("escalate")], []),
        "close-request create": ("close-request", [sub("create", option("share-comment", True, BOOLEAN))], []),
        "close-request delete": ("close-request", [sub("delete")], []),
        "macro": ("macro", [option("name", "refund")], []),
    }


COMMANDS = ["claim", "unclaim", "assign", "close", "reopen", "lockdown", "unlock", "note", "move", "rename",
            "adduser", "priority", "pin", "unpin", "pause", "resume", "tag add", "tag remove", "status", "escalate",
            "close-request create", "close-request delete", "macro"]
# Commands a customer (here: a member of the server who is not on the ticket) may not use.
STAFF_ONLY = [c for c in COMMANDS if c != "macro"]


@pytest.mark.parametrize("which", COMMANDS)
async def test_a_ticket_command_outside_a_ticket_answers_not_a_ticket_and_changes_nothing(
        world: World, which: str) -> None:
    name, options, resolved = _commands(world)[which]
    before = await world.snapshot()
    requests_before = len(world.stand_in.requests)

    answer = await world.answer(world.command(name, world.staff, *options, channel=world.general, resolved=resolved))

    assert answer["type"] == 4 and is_ephemeral(answer)
    assert content(answer) == NOT_A_TICKET
    assert len(world.stand_in.requests) == requests_before + 1  # the answer, nothing else
    assert await world.snapshot() == before


@pytest.mark.parametrize("which", STAFF_ONLY)
async def test_a_staff_command_from_a_customer_is_refused_to_them_alone_and_changes_nothing(
        world: World, which: str) -> None:
    name, options, resolved = _commands(world)[which]
    before = await world.snapshot()
    ticket_before = await world.ticket()
    requests_before = len(world.stand_in.requests)

    answer = await world.answer(world.command(name, world.stranger, *options, resolved=resolved))

    assert answer["type"] == 4 and is_ephemeral(answer)
    assert content(answer) == f"ticket {world.number} not found"  # a stranger to the ticket does not see it
    assert len(world.stand_in.requests) == requests_before + 1
    assert await world.snapshot() == before
    after = await world.ticket()
    assert (after.status, after.claimer_id, after.priority, after.title, after.lockdown, after.pinned) == (
        ticket_before.status, ticket_before.claimer_id, ticket_before.priority, ticket_before.title,
        ticket_before.lockdown, ticket_before.pinned)


@pytest.mark.parametrize("which", ["claim", "assign", "lockdown", "note", "move", "priority", "pin", "tag add",
                                   "status", "close-request create"])
async def test_a_staff_command_from_the_opener_is_refused_as_not_permitted(world: World, which: str) -> None:
    name, options, resolved = _commands(world)[which]
    before = await world.snapshot()

    answer = await world.answer(world.command(name, world.opener, *options, resolved=resolved))

    assert is_ephemeral(answer) and content(answer).startswith("you may not ")
    assert await world.snapshot() == before
