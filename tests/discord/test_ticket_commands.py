"""Ticket commands in Discord: used where there is no ticket, they say so and change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Event, Ticket
from frontdesk.discord.cogs.tickets import NOT_A_TICKET
from tests.discord.harness import DiscordHarness, payloads

EPHEMERAL = 1 << 6


async def _counts(desk: Desk) -> tuple[int, int]:
    async with desk.db.reading() as session:
        events = await session.scalar(select(func.count()).select_from(Event))
        tickets = await session.scalar(select(func.count()).select_from(Ticket))
    return events or 0, tickets or 0


async def test_claim_outside_a_ticket_answers_only_the_user_and_changes_nothing(desk: Desk,
                                                                                harness: DiscordHarness) -> None:
    general = None
    staff_user = payloads.user(username="sam")
    guild = payloads.guild(members=[payloads.member(staff_user)])
    general = payloads.text_channel(guild["id"], name="general")
    guild["channels"].append(general)
    await harness.connect([guild])
    before = await _counts(desk)
    requests_before = len(harness.stand_in.requests)

    interaction = harness.slash("claim", guild=guild, channel=general, member=payloads.member(staff_user))
    await harness.drain()

    callbacks = harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/{interaction['token']}/callback")
    assert len(callbacks) == 1
    answer = callbacks[0].json
    assert answer["type"] == 4  # a message in answer to the command
    assert answer["data"]["content"] == NOT_A_TICKET
    assert answer["data"]["flags"] & EPHEMERAL
    assert len(harness.stand_in.requests) == requests_before + 1  # nothing else was sent to Discord
    assert await _counts(desk) == before


async def test_claim_in_a_server_without_a_workspace_yet_is_not_a_ticket(harness: DiscordHarness) -> None:
    user = payloads.user()
    guild = payloads.guild(members=[payloads.member(user)])
    channel = payloads.text_channel(guild["id"])
    # No READY or GUILD_CREATE: the interaction arrives for a server the desk does not know.
    interaction = harness.slash("claim", guild=guild, channel=channel, member=payloads.member(user))
    await harness.drain()
    [callback] = harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/.*/callback")
    assert callback.json["data"]["content"] == NOT_A_TICKET


async def test_claim_inside_a_ticket_is_recognised_and_changes_nothing_yet(desk: Desk,
                                                                          harness: DiscordHarness) -> None:
    from frontdesk.actions import members as m
    from frontdesk.actions.tickets import open_ticket
    from frontdesk.domain.permissions import Actor

    staff_user = payloads.user(username="sam")
    guild = payloads.guild(members=[payloads.member(staff_user)])
    ticket_channel = payloads.text_channel(guild["id"], name="ticket-1")
    guild["channels"].append(ticket_channel)
    await harness.connect([guild])
    workspace_id = harness.bot.workspace_ids[int(guild["id"])]  # type: ignore[attr-defined]
    async with desk.tx(Actor.system(), workspace_id) as tx:
        kind = await m.create_ticket_type(tx, name="General")
        opener = await m.add_member(tx, display_name="Casey", discord_user_id=payloads.user()["id"])
        ticket = await open_ticket(tx, type_id=kind.id, title="Refund", opener_id=opener.id,
                                   channel="discord_channel", external_id=ticket_channel["id"])
        number = ticket.number
    before = await _counts(desk)

    interaction = harness.slash("claim", guild=guild, channel=ticket_channel, member=payloads.member(staff_user))
    await harness.drain()

    [callback] = harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/.*/callback")
    assert callback.json["data"]["content"].startswith(f"Ticket {number}:")
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert await _counts(desk) == before
