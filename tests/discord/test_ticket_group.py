"""/ticket note|move|rename|adduser|priority|pin|unpin|pause|resume|tag|status|escalate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.db.models import Message, TicketParticipant, TicketTag, TicketType
from frontdesk.domain.permissions import Actor
from tests.discord.commands_support import (
    AUTOCOMPLETE_RESULT,
    MODAL,
    USER,
    World,
    content,
    desk_world,
    group,
    is_ephemeral,
    option,
    sub,
)
from tests.discord.harness import DiscordHarness


@pytest.fixture
async def world(desk: Desk, harness: DiscordHarness) -> World:
    return await desk_world(desk, harness)


def ticket(name: str, *options: dict) -> dict:  # type: ignore[type-arg]
    return sub(name, *options)


async def _tags(world: World) -> list[str]:
    async with world.desk.db.reading() as session:
        return sorted((await session.scalars(select(TicketTag.tag).where(
            TicketTag.ticket_id == world.ticket_id))).all())


# --- note ------------------------------------------------------------------------------------------------------


async def test_note_adds_an_internal_note_and_answers_only_the_staff_member(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket("note", option("text", "Called them"))))

    async with world.desk.db.reading() as session:
        [note] = (await session.scalars(select(Message).where(Message.ticket_id == world.ticket_id,
                                                              Message.visibility == "internal"))).all()
    assert note.body == "Called them" and note.author_id == await world.member_id(world.staff)
    assert is_ephemeral(answer) and content(answer) == "Note added. Only staff see it."


# --- move ------------------------------------------------------------------------------------------------------


async def test_move_autocomplete_lists_the_ticket_types_matching_what_was_typed(desk: Desk, world: World) -> None:
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        await m.create_ticket_type(tx, name="Bug report")
        archived = await m.create_ticket_type(tx, name="Billing (old)")
        await m.update_ticket_type(tx, archived.id, {"archived": True})

    everything = await world.answer(world.autocomplete("ticket", world.staff, ticket(
        "move", option("type", "", focused=True))))
    billing = await world.answer(world.autocomplete("ticket", world.staff, ticket(
        "move", option("type", "bil", focused=True))))

    assert everything["type"] == AUTOCOMPLETE_RESULT
    assert [c["name"] for c in everything["data"]["choices"]] == ["General", "Billing", "Bug report"]
    assert billing["data"]["choices"] == [{"name": "Billing", "value": "Billing"}]


async def test_move_moves_the_ticket_to_the_named_type_and_says_so_in_the_ticket(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket("move", option("type", "billing"))))

    async with world.desk.db.reading() as session:
        billing = await session.scalar(select(TicketType.id).where(TicketType.workspace_id == world.workspace_id,
                                                                   TicketType.name == "Billing"))
    assert (await world.ticket()).type_id == billing
    assert not is_ephemeral(answer) and content(answer) == f"<@{world.staff['id']}> moved this ticket to Billing."
    assert len(await world.events("ticket.moved")) == 1


async def test_move_to_an_unknown_type_is_refused_and_changes_nothing(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff, ticket("move", option("type", "Sales"))))

    assert is_ephemeral(answer) and content(answer) == "There is no ticket type named 'Sales'."
    assert (await world.ticket()).type_id == world.type_id
    assert await world.snapshot() == before


# --- rename ----------------------------------------------------------------------------------------------------


async def test_rename_opens_a_modal_prefilled_with_the_current_subject(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket("rename")))

    assert answer["type"] == MODAL
    [row] = answer["data"]["components"]
    [field] = row["components"]
    assert (field["custom_id"], field["value"]) == ("subject", "Refund for order 42")
    assert (await world.ticket()).title == "Refund for order 42"


async def test_submitting_the_rename_modal_renames_the_ticket(world: World) -> None:
    modal = await world.answer(world.command("ticket", world.staff, ticket("rename")))

    submitted = world.modal_submit(modal["data"]["custom_id"], {"subject": "Refund: order 42, card"}, world.staff)
    answer = await world.answer(submitted)

    renamed = await world.ticket()
    assert renamed.title == "Refund: order 42, card"
    assert is_ephemeral(answer) and content(answer) == f"Renamed ticket {world.number} to “Refund: order 42, card”."
    assert len(await world.events("ticket.renamed")) == 1


async def test_rename_by_a_customer_is_refused_before_any_modal(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.opener, ticket("rename")))

    assert answer["type"] == 4 and is_ephemeral(answer)
    assert content(answer) == f"you may not edit ticket {world.number}"
    assert await world.snapshot() == before


# --- adduser ---------------------------------------------------------------------------------------------------


async def test_adduser_adds_the_member_to_the_ticket_and_pings_them(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket(
        "adduser", option("member", world.stranger["id"], USER)), resolved=[world.stranger]))

    stranger = await world.member_id(world.stranger)
    async with world.desk.db.reading() as session:
        people = (await session.scalars(select(TicketParticipant.member_id).where(
            TicketParticipant.ticket_id == world.ticket_id))).all()
    assert list(people) == [stranger]
    assert not is_ephemeral(answer)
    assert content(answer) == f"<@{world.staff['id']}> added <@{world.stranger['id']}> to this ticket."
    assert answer["data"]["allowed_mentions"]["users"] == [int(world.stranger["id"])]


async def test_adduser_of_someone_already_on_the_ticket_answers_only_you(world: World) -> None:
    command = ("ticket", world.staff, ticket("adduser", option("member", world.stranger["id"], USER)))
    await world.answer(world.command(*command, resolved=[world.stranger]))
    before = await world.snapshot()

    answer = await world.answer(world.command(*command, resolved=[world.stranger]))

    assert is_ephemeral(answer) and content(answer) == "stranger is already on this ticket."
    assert await world.snapshot() == before


# --- priority, pin, status ---------------------------------------------------------------------------------------


async def test_priority_changes_the_priority(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket("priority", option("level", "urgent"))))

    assert (await world.ticket()).priority == "urgent"
    assert is_ephemeral(answer) and content(answer) == "Priority set to Urgent."
    assert len(await world.events("ticket.priority_changed")) == 1


async def test_priority_offers_the_four_levels(world: World) -> None:
    command = world.harness.bot.tree.get_command("ticket").get_command("priority")  # type: ignore[attr-defined]
    [level] = command.to_dict(world.harness.bot.tree)["options"]  # type: ignore[attr-defined]
    assert [c["value"] for c in level["choices"]] == ["low", "normal", "high", "urgent"]


async def test_a_priority_outside_the_choices_is_refused_and_changes_nothing(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff, ticket("priority", option("level", "asap"))))

    assert is_ephemeral(answer) and "priority must be one of low, normal, high, urgent" in content(answer)
    assert (await world.ticket()).priority == "normal"
    assert await world.snapshot() == before


async def test_pin_pins_and_unpin_unpins(world: World) -> None:
    pinned = await world.answer(world.command("ticket", world.staff, ticket("pin")))
    assert (await world.ticket()).pinned is True
    assert is_ephemeral(pinned) and content(pinned).startswith("Pinned")

    unpinned = await world.answer(world.command("ticket", world.staff, ticket("unpin")))
    assert (await world.ticket()).pinned is False
    assert is_ephemeral(unpinned) and content(unpinned).startswith("Unpinned")


async def test_status_sets_a_status_staff_may_choose(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket("status", option("value", "waiting"))))

    assert (await world.ticket()).status == "waiting"
    assert not is_ephemeral(answer) and content(answer) == "Status: Waiting."


async def test_status_offers_every_status_but_closed(world: World) -> None:
    command = world.harness.bot.tree.get_command("ticket").get_command("status")  # type: ignore[attr-defined]
    [value] = command.to_dict(world.harness.bot.tree)["options"]  # type: ignore[attr-defined]
    assert [c["value"] for c in value["choices"]] == ["open", "in_progress", "waiting", "resolved"]


async def test_status_closed_is_refused_because_closing_needs_a_reason(world: World) -> None:
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff, ticket("status", option("value", "closed"))))

    assert is_ephemeral(answer) and content(answer) == "closing needs a reason: use the close action"
    assert (await world.ticket()).status == "open"
    assert await world.snapshot() == before


# --- pause and resume ------------------------------------------------------------------------------------------


async def test_pause_and_resume_stop_and_restart_the_sla_clock(world: World) -> None:
    paused = await world.answer(world.command("ticket", world.manager, ticket("pause")))
    assert (await world.ticket()).sla_paused is True
    assert is_ephemeral(paused) and content(paused).startswith("The SLA clock is paused")

    resumed = await world.answer(world.command("ticket", world.manager, ticket("resume")))
    assert (await world.ticket()).sla_paused is False
    assert is_ephemeral(resumed) and content(resumed) == "The SLA clock runs again."
    assert len(await world.events("sla.paused")) == len(await world.events("sla.resumed")) == 1


async def test_pause_by_staff_whose_team_does_not_grant_it_is_refused(world: World) -> None:
    await world.answer(world.command("claim", world.staff))
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff, ticket("pause")))

    assert is_ephemeral(answer) and content(answer) == f"you may not pause_sla ticket {world.number}"
    assert (await world.ticket()).sla_paused is False
    assert await world.snapshot() == before


# --- tags ------------------------------------------------------------------------------------------------------


async def test_tag_add_and_remove_change_the_tickets_tags(world: World) -> None:
    added = await world.answer(world.command("ticket", world.staff, group("tag", sub("add", option("name", "Refund")))))
    assert await _tags(world) == ["refund"]
    assert is_ephemeral(added) and content(added) == "Tagged 'refund'."

    removed = await world.answer(world.command("ticket", world.staff,
                                               group("tag", sub("remove", option("name", "refund")))))
    assert await _tags(world) == []
    assert is_ephemeral(removed) and content(removed) == "Tag 'refund' removed."


async def test_removing_a_tag_the_ticket_does_not_have_changes_nothing(world: World) -> None:
    await world.answer(world.command("ticket", world.staff, sub("pin")))  # the staff member is known to the desk
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff,
                                              group("tag", sub("remove", option("name", "vip")))))

    assert is_ephemeral(answer) and content(answer) == "The ticket does not have that tag."
    assert await world.snapshot() == before


# --- escalate --------------------------------------------------------------------------------------------------


async def test_escalate_marks_the_ticket_with_the_note_and_says_so(world: World) -> None:
    answer = await world.answer(world.command("ticket", world.staff, ticket(
        "escalate", option("note", "needs a refund approval"))))

    assert (await world.ticket()).escalated is True
    [event] = await world.events("ticket.escalated")
    assert (event.payload["reason"], event.payload["note"]) == ("staff", "needs a refund approval")
    assert not is_ephemeral(answer) and content(answer) == f"<@{world.staff['id']}> escalated this ticket."
    assert "refund approval" not in content(answer)  # the note is for staff


async def test_escalating_an_escalated_ticket_answers_only_you(world: World) -> None:
    await world.answer(world.command("ticket", world.staff, ticket("escalate")))
    before = await world.snapshot()

    answer = await world.answer(world.command("ticket", world.staff, ticket("escalate")))

    assert is_ephemeral(answer) and content(answer) == "This ticket is already escalated."
    assert await world.snapshot() == before
