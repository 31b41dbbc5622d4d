"""One ticket's whole life in Discord, every part together: a member opens it from a panel, the
channel is made, both sides write, staff claim it with a command and the card follows (the
mirror, from outbox rows), staff close it, the channel goes, the transcript is posted, and the
opener rates the help from the DM after a restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.db.models import DiscordTicket, Message, Ticket
from frontdesk.discord.mirror import ORDER_WAIT_SECONDS
from frontdesk.worker import outbox as ob
from tests.discord import mirror_support
from tests.discord.harness import DiscordHarness, HarnessFactory, payloads
from tests.discord.panels_support import add_type, channel_creations, click, panel_message, server, workspace_settings

mirror_env = mirror_support.mirror_env  # fixture: secret key, data dir, public URL


async def _deliver(desk: Desk) -> None:
    """Outbox passes (the worker) until a pass finds nothing due now."""
    for _ in range(20):
        if not await ob.deliver_due(desk, limit=200):
            desk.clock.advance(timedelta(seconds=ORDER_WAIT_SECONDS * 2))  # type: ignore[attr-defined]
            if not await ob.deliver_due(desk, limit=200):
                return


async def _ticket(desk: Desk) -> Ticket:
    async with desk.db.reading() as session:
        [ticket] = (await session.scalars(select(Ticket))).all()
        return ticket


async def test_a_ticket_from_panel_to_rating_goes_through_every_part(
        desk: Desk, harness: DiscordHarness, harnesses: HarnessFactory, make_bot: Callable[..., Any],
        mirror_env: None) -> None:
    s = await server(harness)
    transcripts = payloads.text_channel(s.guild_id, name="ticket-transcripts")
    harness.stand_in.channels[transcripts["id"]] = transcripts
    await workspace_settings(s, {"discord": {"transcripts_channel_id": transcripts["id"]}})
    type_id = await add_type(s, "General")

    # A member opens a ticket from the panel: a private channel in the type's category.
    click(harness, s, f"fd:open:{type_id}", who="casey", message=panel_message(s, type_id))
    await harness.drain()
    [made] = channel_creations(harness)
    [channel] = [c for c in harness.stand_in.channels.values() if c.get("name") == made.json["name"]]
    ticket = await _ticket(desk)
    assert made.json["name"] == ticket.channel_name

    # Both sides write in the channel; the relay stores each as its author.
    harness.feed("MESSAGE_CREATE", payloads.message(channel["id"], s.users["casey"], "My order never came",
                                                    guild_id=s.guild_id, member=s.member("casey")))
    harness.feed("MESSAGE_CREATE", payloads.message(channel["id"], s.users["sam"], "Looking into it",
                                                    guild_id=s.guild_id, member=s.member("sam")))
    await harness.drain()
    async with desk.db.reading() as session:
        kinds = (await session.execute(select(Message.body, Message.author_kind).where(
            Message.body.in_(["My order never came", "Looking into it"])).order_by(Message.id))).all()
    assert [tuple(k) for k in kinds] == [("My order never came", "customer"), ("Looking into it", "staff")]

    # Staff claim with the command; the worker updates the card in the welcome message.
    harness.slash("claim", guild=s.guild, channel=channel, member=s.member("sam"))
    await harness.drain()
    assert (await _ticket(desk)).claimer_id is not None
    async with desk.db.reading() as session:
        place = await session.scalar(select(DiscordTicket))
    assert place is not None and place.welcome_message_id
    await _deliver(desk)
    card_edits = harness.stand_in.seen("PATCH", f"/channels/{channel['id']}/messages/{place.welcome_message_id}")
    assert card_edits and f"<@{s.users['sam']['id']}>" in str(card_edits[-1].json)

    # Staff close with a reason; the worker posts the transcript, DMs the opener, deletes the channel.
    harness.slash("close", guild=s.guild, channel=channel, member=s.member("sam"),
                  options=[{"name": "reason", "type": 3, "value": "resolved"}])
    await harness.drain()
    assert (await _ticket(desk)).status == "closed"
    await _deliver(desk)
    assert harness.stand_in.seen("POST", f"/channels/{transcripts['id']}/messages")
    assert harness.stand_in.seen("DELETE", f"/channels/{channel['id']}$")
    dm = next(c for c in harness.stand_in.channels.values() if c.get("type") == 1
              and c["recipients"][0]["id"] == s.users["casey"]["id"])
    prompt = [m for m in harness.stand_in.messages.values() if m["channel_id"] == dm["id"]][-1]
    assert "https://desk.example.com/" in str(prompt)

    # After a restart, the opener's click on Helpful rates the ticket.
    await harness.close()
    second = await harnesses.start(make_bot(desk))
    await second.connect([])
    second.feed("INTERACTION_CREATE", payloads.component(
        f"fd:csat:{ticket.id}:helpful", message=prompt, application_id=second.stand_in.application_id,
        guild_id=None, channel=dm, user=s.users["casey"]))
    await second.drain()
    assert (await _ticket(desk)).csat == "helpful"


async def test_a_thread_ticket_under_lockdown_is_left_to_management_and_given_back_to_staff_on_unlock(
        desk: Desk, harness: DiscordHarness, mirror_env: None) -> None:
    s = await server(harness)
    s.add_user("max", roles=[s.management_role])
    for who, user in s.users.items():  # the members Discord brings into a thread by their roles
        harness.stand_in.add_guild_member(s.guild_id, user, roles=s.roles_of.get(who, []))
    type_id = await add_type(s, "Bugs", discord_mode="thread",
                             settings={"discord": {"parent_channel_id": s.threads_parent["id"]}})
    click(harness, s, f"fd:open:{type_id}", who="casey", message=panel_message(s, type_id))
    await harness.drain()
    async with desk.db.reading() as session:
        place = await session.scalar(select(DiscordTicket))
    assert place is not None and place.mode == "thread"
    thread = harness.stand_in.channels[place.channel_id]
    ids = {u["id"]: who for who, u in s.users.items()} | {harness.stand_in.bot_user["id"]: "bot"}

    def in_thread() -> set[str]:
        return {ids[u] for u in harness.stand_in.thread_members[thread["id"]]}

    # The welcome message's staff ping brought Sam in.
    assert in_thread() == {"bot", "casey", "sam"}

    harness.slash("lockdown", guild=s.guild, channel=thread, member=s.member("max"))
    await harness.drain()
    assert (await _ticket(desk)).lockdown is True
    await _deliver(desk)
    assert in_thread() == {"bot", "casey", "max"}

    harness.slash("unlock", guild=s.guild, channel=thread, member=s.member("max"))
    await harness.drain()
    await _deliver(desk)
    assert in_thread() == {"bot", "casey", "max", "sam"}
