"""Opening a ticket from a panel: the private channel or thread, who may see it, the intake
modal, the refusals that leave nothing behind, the welcome message, Request human, and
business hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import discord
from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Conversation, DiscordMessageLink, DiscordTicket, Message, Ticket
from frontdesk.discord.bot import FrontdeskBot
from frontdesk.discord.opening import ALREADY_ESCALATED, BLACKLISTED, permission_overwrites
from frontdesk.domain.discord import ticket_overwrites
from tests.discord.harness import MISSING_PERMISSIONS, DiscordHarness, HarnessFactory
from tests.discord.panels_support import (
    Server,
    add_type,
    answers,
    callbacks,
    channel_creations,
    click,
    counts,
    ephemeral,
    messages_in,
    only,
    panel_message,
    server,
    submit,
    workspace_settings,
)

VIEW = discord.Permissions(view_channel=True).value
SEND = discord.Permissions(send_messages=True).value
ROLE, MEMBER = 0, 1
QUESTIONS = [{"kind": "subject", "label": "Subject", "required": True, "max_length": 80},
             {"kind": "description", "label": "What happened?"},
             {"kind": "custom", "id": "order_id", "label": "Order id", "max_length": 20}]


async def _open(h: DiscordHarness, s: Server, type_id: int, *, who: str = "casey") -> dict[str, Any]:
    interaction = click(h, s, f"fd:open:{type_id}", who=who, message=panel_message(s, type_id))
    await h.drain()
    return interaction


def _last_answer(h: DiscordHarness, interaction: dict[str, Any]) -> dict[str, Any]:
    found = answers(h, interaction)
    assert found, "the interaction was not answered"
    return found[-1]


async def _refused(h: DiscordHarness, s: Server, interaction: dict[str, Any], before: dict[str, int],
                   requests: int) -> str:
    """The refusal's text, after checking it was the only thing sent and nothing was written."""
    [answer] = answers(h, interaction)
    assert ephemeral(answer)
    assert len(h.stand_in.requests) == requests + 1  # the answer, nothing else
    assert await counts(s.desk) == before
    return str(answer["content"])


# --- channel mode ---------------------------------------------------------------------------------------------


async def test_channel_mode_creates_a_private_channel_in_the_types_category(desk: Desk,
                                                                            harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", staff_role_ids=[s.staff_role, s.other_staff_role])
    interaction = await _open(harness, s, type_id)

    [created] = channel_creations(harness)
    body = created.json
    assert body["type"] == 0 and str(body["parent_id"]) == s.category["id"]
    assert body["name"] == "casey-jones"
    overwrites = {(str(o["id"]), o["type"]): o for o in body["permission_overwrites"]}
    everyone = overwrites[(s.guild_id, ROLE)]
    assert int(everyone["deny"]) & VIEW and not int(everyone["allow"]) & VIEW
    opener = overwrites[(s.users["casey"]["id"], MEMBER)]
    assert int(opener["allow"]) & VIEW and int(opener["allow"]) & SEND
    for role in (s.staff_role, s.other_staff_role, s.management_role):
        assert int(overwrites[(role, ROLE)]["allow"]) & VIEW
    assert int(overwrites[(harness.stand_in.bot_user["id"], MEMBER)]["allow"]) & VIEW
    assert (s.vip_role, ROLE) not in overwrites

    [channel_id] = [c["id"] for c in harness.stand_in.channels.values() if c.get("name") == body["name"]]
    ticket, place, conversation = await only(desk, Ticket), await only(desk, DiscordTicket), \
        await only(desk, Conversation)
    assert body["name"] == ticket.channel_name  # what the mirror keeps it at
    assert (place.mode, place.channel_id, place.parent_id, place.user_id, place.guild_id) == (
        "channel", channel_id, s.category["id"], s.users["casey"]["id"], s.guild_id)
    assert (conversation.channel, conversation.external_id, conversation.ticket_id) == (
        "discord_channel", channel_id, ticket.id)
    [welcome] = messages_in(harness, channel_id)
    assert place.welcome_message_id is not None
    assert f"<#{channel_id}>" in _last_answer(harness, interaction)["content"]
    assert ephemeral(_last_answer(harness, interaction))
    assert welcome["embeds"][0]["title"] == f"Ticket #{ticket.number}: {ticket.title}"


async def test_sequential_names_give_ticket_n(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", sequential_names=True, open_limit_per_user=None)
    await _open(harness, s, type_id)
    await _open(harness, s, type_id)
    async with desk.db.reading() as session:
        numbers = sorted((await session.scalars(select(Ticket.number))).all())
    assert [c.json["name"] for c in channel_creations(harness)] == [f"ticket-{n}" for n in numbers]


async def test_two_opens_at_once_each_get_the_channel_of_their_number(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", sequential_names=True)
    message = panel_message(s, type_id)
    click(harness, s, f"fd:open:{type_id}", who="casey", message=message)
    click(harness, s, f"fd:open:{type_id}", who="vic", message=message)
    await harness.drain()
    async with desk.db.reading() as session:
        placed = (await session.execute(select(Ticket.number, DiscordTicket.channel_id).join(
            DiscordTicket, DiscordTicket.ticket_id == Ticket.id))).all()
    assert len(placed) == 2
    # Whatever order the two took, each channel ends up named after its own ticket.
    assert {harness.stand_in.channels[channel]["name"] for _, channel in placed} == {
        f"ticket-{number}" for number, _ in placed}


async def test_a_type_without_a_category_gets_a_channel_at_the_top(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Loose", settings={})
    await _open(harness, s, type_id)
    [created] = channel_creations(harness)
    assert created.json.get("parent_id") is None
    assert (await only(desk, DiscordTicket)).parent_id is None


async def test_lockdown_overwrites_keep_only_management(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    guild = harness.bot.get_guild(int(s.guild_id))
    assert guild is not None
    overwrites = permission_overwrites(guild, ticket_overwrites(
        guild_id=s.guild_id, bot_user_id=harness.stand_in.bot_user["id"], opener_user_id=s.users["casey"]["id"],
        staff_role_ids=[s.staff_role], management_role_ids=[s.management_role], lockdown=True))
    by_id = {target.id: (type(target).__name__, ow) for target, ow in overwrites.items()}
    assert int(s.staff_role) not in by_id
    kind, management = by_id[int(s.management_role)]
    assert kind == "Role" and management.view_channel is True
    assert by_id[int(s.guild_id)][1].view_channel is False
    assert by_id[int(s.users["casey"]["id"])][1].view_channel is True


async def test_a_deleted_staff_role_is_left_out_of_the_overwrites(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", staff_role_ids=[s.staff_role, "123456789012345678"])
    await _open(harness, s, type_id)
    [created] = channel_creations(harness)
    assert "123456789012345678" not in {str(o["id"]) for o in created.json["permission_overwrites"]}
    assert (await counts(desk))["tickets"] == 1


# --- thread mode ----------------------------------------------------------------------------------------------


async def test_thread_mode_creates_a_private_thread_and_adds_the_opener(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Bugs", discord_mode="thread", sequential_names=True,
                             settings={"discord": {"parent_channel_id": s.threads_parent["id"]}})
    interaction = await _open(harness, s, type_id)

    [made] = harness.stand_in.seen("POST", f"/channels/{s.threads_parent['id']}/threads")
    assert made.json["type"] == 12 and made.json["invitable"] is False
    ticket, place = await only(desk, Ticket), await only(desk, DiscordTicket)
    assert made.json["name"] == f"ticket-{ticket.number}"
    thread_id = place.channel_id
    assert harness.stand_in.seen("PUT", f"/channels/{thread_id}/thread-members/{s.users['casey']['id']}")
    assert (place.mode, place.parent_id) == ("thread", s.threads_parent["id"])
    conversation = await only(desk, Conversation)
    assert (conversation.channel, conversation.external_id) == ("discord_thread", thread_id)
    [welcome] = messages_in(harness, thread_id)
    assert f"<@&{s.staff_role}>" in welcome["content"]  # the ping brings staff into the private thread
    assert channel_creations(harness) == []
    assert f"<#{thread_id}>" in _last_answer(harness, interaction)["content"]


async def test_thread_mode_without_a_parent_channel_says_so_and_opens_nothing(desk: Desk,
                                                                              harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Bugs", discord_mode="thread", settings={})
    before = await counts(desk)
    interaction = await _open(harness, s, type_id)
    answer = _last_answer(harness, interaction)
    assert ephemeral(answer) and "no channel for their threads" in answer["content"]
    assert harness.stand_in.seen("POST", r"/channels/\d+/threads") == []
    assert (await counts(desk))["tickets"] == before["tickets"] == 0


# --- the intake modal -----------------------------------------------------------------------------------------


async def test_the_intake_modal_asks_the_types_questions(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS)
    before = await counts(desk)
    interaction = await _open(harness, s, type_id)

    [modal] = callbacks(harness, interaction)
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"fd:intake:{type_id}"
    inputs = [row["components"][0] for row in modal["data"]["components"]]
    assert [(i["custom_id"], i["label"], i["style"], i["required"], i.get("max_length")) for i in inputs] == [
        ("subject", "Subject", 1, True, 80), ("description", "What happened?", 2, False, 1000),
        ("order_id", "Order id", 1, False, 20)]
    assert await counts(desk) == before  # showing the modal writes nothing


async def test_intake_answers_land_in_the_ticket_and_its_welcome(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS)
    await _open(harness, s, type_id)
    interaction = submit(harness, s, f"fd:intake:{type_id}", {"subject": "Refund please", "description":
                         "I was charged twice", "order_id": "A-17"}, who="casey")
    await harness.drain()

    ticket = await only(desk, Ticket)
    assert ticket.title == "Refund please"
    assert [(a["id"], a["value"]) for a in ticket.intake_answers] == [
        ("subject", "Refund please"), ("description", "I was charged twice"), ("order_id", "A-17")]
    async with desk.db.reading() as session:
        bodies = (await session.scalars(select(Message.body))).all()
    assert bodies == ["I was charged twice"]
    place = await only(desk, DiscordTicket)
    [welcome] = messages_in(harness, place.channel_id)
    fields = {f["name"]: f["value"] for f in welcome["embeds"][0]["fields"]}
    assert fields["Order id"] == "A-17" and fields["What happened?"] == "I was charged twice"
    # The welcome message shows the description: it is that message's copy in Discord.
    link = await only(desk, DiscordMessageLink)
    description = await only(desk, Message)
    assert (link.message_id, link.channel_id, link.discord_message_id, link.kind) == (
        description.id, place.channel_id, place.welcome_message_id, "copy")
    assert "Your ticket is open" in _last_answer(harness, interaction)["content"]


async def test_a_modal_shown_before_a_restart_opens_its_ticket_after_it(desk: Desk, harness: DiscordHarness,
                                                                        harnesses: HarnessFactory,
                                                                        make_bot: Callable[..., FrontdeskBot]) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS)
    await _open(harness, s, type_id)
    restarted = await harnesses.start(make_bot(desk))
    await restarted.connect([s.guild])
    submit(restarted, s, f"fd:intake:{type_id}", {"subject": "After restart"}, who="casey")
    await restarted.drain()
    assert (await only(desk, Ticket)).title == "After restart"


async def test_a_missing_required_answer_is_named_and_opens_nothing(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS)
    before = await counts(desk)
    interaction = submit(harness, s, f"fd:intake:{type_id}", {"subject": "  ", "order_id": "A-1"}, who="casey")
    await harness.drain()
    answer = _last_answer(harness, interaction)
    assert ephemeral(answer) and "'Subject' is required" in answer["content"]
    assert channel_creations(harness) == []
    assert await counts(desk) == before


# --- refusals -------------------------------------------------------------------------------------------------


async def test_a_type_restricted_to_roles_refuses_others_and_creates_nothing(desk: Desk,
                                                                             harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "VIP", allowed_role_ids=[s.vip_role])
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id, who="casey")
    text = await _refused(harness, s, interaction, before, requests)
    assert "allowed role" in text and "VIP" in text

    await _open(harness, s, type_id, who="vic")  # holds the role
    assert (await counts(desk))["tickets"] == 1


async def test_the_open_limit_refuses_a_second_ticket_and_creates_nothing(desk: Desk,
                                                                          harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", open_limit_per_user=1)
    await _open(harness, s, type_id)
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id)
    text = await _refused(harness, s, interaction, before, requests)
    assert "the limit is 1" in text
    assert len(channel_creations(harness)) == 1


async def test_the_open_limit_is_checked_before_the_modal(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS, open_limit_per_user=1)
    await _open(harness, s, type_id)
    submit(harness, s, f"fd:intake:{type_id}", {"subject": "First"}, who="casey")
    await harness.drain()
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id)
    assert [c["type"] for c in callbacks(harness, interaction)] == [4]  # no modal
    assert "the limit is 1" in await _refused(harness, s, interaction, before, requests)


async def test_a_blacklisted_user_is_told_and_gets_no_ticket(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await workspace_settings(s, {"discord": {"blacklist_user_ids": [s.users["casey"]["id"]]}})
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id)
    assert await _refused(harness, s, interaction, before, requests) == BLACKLISTED


async def test_a_blacklisted_role_is_told_and_gets_no_ticket(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await workspace_settings(s, {"discord": {"blacklist_role_ids": [s.vip_role]}})
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id, who="vic")
    assert await _refused(harness, s, interaction, before, requests) == BLACKLISTED


async def test_an_archived_type_is_no_longer_available(desk: Desk, harness: DiscordHarness) -> None:
    from frontdesk.actions import members as m
    from frontdesk.domain.permissions import Actor

    s = await server(harness)
    type_id = await add_type(s, "Old")
    async with desk.tx(Actor.system(), s.workspace_id) as tx:
        await m.update_ticket_type(tx, type_id, {"archived": True})
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id)
    assert "no longer available" in await _refused(harness, s, interaction, before, requests)


# --- Discord failures -----------------------------------------------------------------------------------------


async def test_missing_manage_channels_is_explained_and_nothing_is_recorded(desk: Desk,
                                                                            harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    harness.stand_in.script("POST", r"/guilds/\d+/channels", 403, MISSING_PERMISSIONS)
    before = await counts(desk)
    interaction = await _open(harness, s, type_id)
    answer = _last_answer(harness, interaction)
    assert ephemeral(answer)
    assert "Manage Channels" in answer["content"] and "General Tickets" in answer["content"]
    assert await counts(desk) == before


async def test_a_failure_after_the_channel_was_made_deletes_it(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    harness.stand_in.script("POST", r"/channels/\d+/messages", 403, MISSING_PERMISSIONS)
    before = await counts(desk)
    interaction = await _open(harness, s, type_id)
    [created] = channel_creations(harness)
    made = [r for r in harness.stand_in.seen("DELETE", r"/channels/\d+")]
    assert len(made) == 1
    assert made[0].path.split("/")[-1] not in harness.stand_in.channels  # gone
    assert ephemeral(_last_answer(harness, interaction))
    assert await counts(desk) == before


async def test_a_rate_limited_channel_creation_is_waited_out(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    harness.stand_in.rate_limit("POST", r"/guilds/\d+/channels", retry_after=0.01)
    await _open(harness, s, type_id)
    assert [c.status for c in channel_creations(harness)] == [429, 201]
    assert (await counts(desk))["discord_tickets"] == 1


# --- the welcome message --------------------------------------------------------------------------------------


async def test_the_welcome_pings_the_types_role_subset_and_the_opener(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", staff_role_ids=[s.staff_role, s.other_staff_role],
                             discord={"ping_role_ids": [s.other_staff_role], "welcome_message": "Hi {user}!"})
    await _open(harness, s, type_id)
    place = await only(desk, DiscordTicket)
    [welcome] = messages_in(harness, place.channel_id)
    content = welcome["content"]
    assert content.startswith(f"<@&{s.other_staff_role}> <@{s.users['casey']['id']}>")
    assert f"<@&{s.staff_role}>" not in content
    assert "Hi Casey Jones!" in content
    assert [str(r) for r in welcome["allowed_mentions"]["roles"]] == [s.other_staff_role]
    assert [str(u) for u in welcome["allowed_mentions"]["users"]] == [s.users["casey"]["id"]]
    [row] = welcome["components"]
    assert [b["custom_id"] for b in row["components"]] == [f"fd:human:{place.ticket_id}"]
    assert place.welcome_message_id == [m for m in harness.stand_in.messages.values()
                                        if m["channel_id"] == place.channel_id][0]["id"]


async def test_the_welcome_pings_nobody_when_the_type_says_so(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing", discord={"ping_staff": False})
    await _open(harness, s, type_id)
    [welcome] = messages_in(harness, (await only(desk, DiscordTicket)).channel_id)
    assert "<@&" not in welcome["content"]
    assert welcome["allowed_mentions"]["roles"] == []


# --- Request human --------------------------------------------------------------------------------------------


async def _welcome(h: DiscordHarness, desk: Desk) -> tuple[dict[str, Any], dict[str, Any]]:
    place = await only(desk, DiscordTicket)
    return h.stand_in.messages[place.welcome_message_id], h.stand_in.channels[place.channel_id]


async def test_request_human_escalates_and_says_so_in_the_ticket(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await _open(harness, s, type_id)
    message, channel = await _welcome(harness, desk)
    ticket_id = (await only(desk, Ticket)).id

    interaction = click(harness, s, f"fd:human:{ticket_id}", who="casey", message=message, channel=channel)
    await harness.drain()
    ticket = await only(desk, Ticket)
    assert ticket.escalated
    [answer] = answers(harness, interaction)
    assert not ephemeral(answer) and "asked for a human" in answer["content"]

    again = click(harness, s, f"fd:human:{ticket_id}", who="casey", message=message, channel=channel)
    await harness.drain()
    [second] = answers(harness, again)
    assert ephemeral(second) and second["content"] == ALREADY_ESCALATED


async def test_request_human_works_after_a_restart(desk: Desk, harness: DiscordHarness, harnesses: HarnessFactory,
                                                   make_bot: Callable[..., FrontdeskBot]) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await _open(harness, s, type_id)
    message, channel = await _welcome(harness, desk)
    ticket_id = (await only(desk, Ticket)).id
    restarted = await harnesses.start(make_bot(desk))
    await restarted.connect([s.guild])
    click(restarted, s, f"fd:human:{ticket_id}", who="sam", message=message, channel=channel)
    await restarted.drain()
    assert (await only(desk, Ticket)).escalated


async def test_request_human_by_someone_outside_the_ticket_changes_nothing(desk: Desk,
                                                                          harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await _open(harness, s, type_id)
    message, channel = await _welcome(harness, desk)
    s.add_user("stranger")
    before = await counts(desk)
    interaction = click(harness, s, f"fd:human:{(await only(desk, Ticket)).id}", who="stranger",
                        message=message, channel=channel)
    await harness.drain()
    [answer] = answers(harness, interaction)
    assert ephemeral(answer) and "not found" in answer["content"]
    assert not (await only(desk, Ticket)).escalated
    assert (await counts(desk))["events"] == before["events"]


# --- business hours -------------------------------------------------------------------------------------------

# The test clock stands at Monday 2026-01-05 09:00 UTC: before these hours.
HOURS = {"weekly": {"mon": ["12:00-17:00"]}}
NEXT_OPEN = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


async def test_outside_hours_the_welcome_carries_the_away_message(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "General", intake_questions=QUESTIONS)
    await workspace_settings(s, {"business_hours": HOURS, "away_message": {"enabled": True}})
    await _open(harness, s, type_id)
    submit(harness, s, f"fd:intake:{type_id}", {"subject": "Late", "description": "Anyone there?"}, who="casey")
    await harness.drain()

    place = await only(desk, DiscordTicket)
    [welcome] = messages_in(harness, place.channel_id)
    assert "We're away right now" in welcome["content"] and "Monday 05 January at 12:00" in welcome["content"]
    # open_ticket wrote the away message into the conversation: the welcome message is its copy.
    async with desk.db.reading() as session:
        away = await session.scalar(select(Message).where(Message.author_kind == "bot"))
        link = await session.scalar(select(DiscordMessageLink))
    assert away is not None and link is not None
    assert (link.message_id, link.discord_message_id, link.kind) == (away.id, place.welcome_message_id, "copy")


async def test_outside_hours_without_creation_the_user_is_told_when_it_opens(desk: Desk,
                                                                            harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await workspace_settings(s, {"business_hours": HOURS, "allow_tickets_outside_hours": False})
    before, requests = await counts(desk), len(harness.stand_in.requests)
    interaction = await _open(harness, s, type_id)
    text = await _refused(harness, s, interaction, before, requests)
    assert f"<t:{int(NEXT_OPEN.timestamp())}:F>" in text


async def test_inside_hours_the_welcome_has_no_away_message(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    await workspace_settings(s, {"business_hours": {"weekly": {"mon": ["08:00-17:00"]}},
                                 "away_message": {"enabled": True}})
    await _open(harness, s, type_id)
    [welcome] = messages_in(harness, (await only(desk, DiscordTicket)).channel_id)
    assert "away" not in welcome["content"]


async def test_a_thread_lets_in_the_staff_it_does_not_ping_without_notifying_them(desk: Desk,
                                                                                  harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Bugs", discord_mode="thread",
                             settings={"discord": {"parent_channel_id": s.threads_parent["id"], "ping_staff": False}})
    await _open(harness, s, type_id)
    place = await only(desk, DiscordTicket)
    [posted] = messages_in(harness, place.channel_id)
    assert "<@&" not in posted["content"]
    [edit] = harness.stand_in.seen("PATCH", f"/channels/{place.channel_id}/messages/{place.welcome_message_id}")
    assert edit.json["content"].endswith(f"-# Staff: <@&{s.staff_role}>")
    assert [str(r) for r in edit.json["allowed_mentions"]["roles"]] == [s.staff_role]
