"""/macro and the ?name shortcode in a ticket's channel: stored first, posted by the bot (or
through a webhook in the staff member's name), then linked so the mirror never posts it again."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.macros import create_macro
from frontdesk.db.models import DiscordMessageLink, Macro, Message
from frontdesk.domain.permissions import Actor
from tests.discord.commands_support import (
    AUTOCOMPLETE_RESULT,
    DEFERRED,
    World,
    content,
    desk_world,
    is_ephemeral,
    option,
)
from tests.discord.harness import MISSING_PERMISSIONS, DiscordHarness, payloads

REFUND = "Hi {user}, your refund for ticket {ticket.number} is on its way."


@pytest.fixture
async def world(desk: Desk, harness: DiscordHarness) -> World:
    world = await desk_world(desk, harness)
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        await create_macro(tx, shortcut="refund", content=REFUND, category="Billing", send_as_staff=False)
        await create_macro(tx, shortcut="reset-password", content="Use the link on the login page.",
                           category="Account", send_as_staff=False)
        await create_macro(tx, shortcut="thanks", content="Thank you for waiting!", send_as_staff=True)
    return world


async def _public_messages(world: World) -> list[Message]:
    async with world.desk.db.reading() as session:
        return list((await session.scalars(select(Message).where(
            Message.workspace_id == world.workspace_id, Message.visibility == "public",
            Message.author_kind != "customer").order_by(Message.id))).all())


async def _links(world: World) -> list[DiscordMessageLink]:
    async with world.desk.db.reading() as session:
        return list((await session.scalars(select(DiscordMessageLink).where(
            DiscordMessageLink.workspace_id == world.workspace_id))).all())


def _posts(world: World) -> list:  # type: ignore[type-arg]
    return world.stand_in.seen("POST", f"/channels/{world.channel['id']}/messages")


async def _left_to_the_relay(world: World, text: str, requests_before: int) -> None:
    """The shortcode handler let the message pass: no trigger deleted, no macro posted, and
    the relay stored it as the plain message it is."""
    from frontdesk.db.models import Message

    later = world.stand_in.requests[requests_before:]
    assert not [r for r in later if r.method == "DELETE"]
    assert not [r for r in later if r.method == "POST" and "/messages" in r.path]
    async with world.desk.db.reading() as session:
        bodies = list((await session.scalars(select(Message.body).where(
            Message.workspace_id == world.workspace_id))).all())
    assert bodies.count(text) == 1


# --- autocomplete ----------------------------------------------------------------------------------------------


async def test_macro_autocomplete_shows_each_matching_macro_with_its_category(world: World) -> None:
    answer = await world.answer(world.autocomplete("macro", world.staff, option("name", "re", focused=True)))

    assert answer["type"] == AUTOCOMPLETE_RESULT
    assert answer["data"]["choices"] == [{"name": "refund — Billing", "value": "refund"},
                                         {"name": "reset-password — Account", "value": "reset-password"}]


async def test_macro_autocomplete_with_nothing_typed_lists_all_and_names_macros_without_a_category_alone(
        world: World) -> None:
    answer = await world.answer(world.autocomplete("macro", world.staff, option("name", "", focused=True)))

    assert [c["name"] for c in answer["data"]["choices"]] == ["refund — Billing", "reset-password — Account",
                                                              "thanks"]


async def test_macro_autocomplete_offers_at_most_25(desk: Desk, world: World) -> None:
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        for i in range(30):
            await create_macro(tx, shortcut=f"faq-{i:02d}", content=f"Answer {i}", category="FAQ")

    answer = await world.answer(world.autocomplete("macro", world.staff, option("name", "faq", focused=True)))

    assert len(answer["data"]["choices"]) == 25


async def test_macro_autocomplete_shows_a_customer_nothing(world: World) -> None:
    answer = await world.answer(world.autocomplete("macro", world.stranger, option("name", "", focused=True)))

    assert answer["type"] == AUTOCOMPLETE_RESULT and answer["data"]["choices"] == []


# --- /macro ----------------------------------------------------------------------------------------------------


async def test_macro_posts_the_rendered_text_in_the_ticket_and_links_it_to_the_stored_message(
        world: World) -> None:
    interaction = world.command("macro", world.staff, option("name", "Refund"))
    answer = await world.answer(interaction)

    [post] = _posts(world)
    expected = f"Hi casey, your refund for ticket {world.number} is on its way."
    assert post.json["content"] == expected
    [stored] = await _public_messages(world)
    assert (stored.body, stored.author_kind) == (expected, "bot")
    [discord_id] = [i for i, message in world.stand_in.messages.items() if message["content"] == expected]
    assert stored.external_id == f"discord:{discord_id}"
    [link] = await _links(world)
    assert (link.message_id, link.channel_id, link.discord_message_id, link.kind) == (
        stored.id, world.channel["id"], discord_id, "origin")
    assert answer["type"] == DEFERRED and is_ephemeral(answer)
    [followup] = await world.followups(interaction)
    assert followup["content"] == "Sent the macro 'refund'." and followup["flags"] & 64
    async with world.desk.db.reading() as session:
        assert await session.scalar(select(Macro.usage_count).where(Macro.shortcut == "refund")) == 1


async def test_a_macro_sent_as_staff_is_posted_through_the_webhook_under_the_staff_members_name(
        world: World) -> None:
    await world.answer(world.command("macro", world.staff, option("name", "thanks")))
    await world.answer(world.command("macro", world.staff, option("name", "thanks")))

    [created] = world.stand_in.seen("POST", f"/channels/{world.channel['id']}/webhooks")
    assert created.json["name"] == "frontdesk"
    executed = world.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    assert len(executed) == 2  # the webhook is created once and used again
    assert executed[0].json["content"] == "Thank you for waiting!"
    assert executed[0].json["username"] == "sam"
    assert executed[0].json["avatar_url"].startswith("https://cdn.discordapp.com/")
    assert executed[0].query["wait"] in ("1", "true")
    assert _posts(world) == []  # not also as the bot
    stored = await _public_messages(world)
    assert [s.author_kind for s in stored] == ["staff", "staff"]
    staff_id = await world.member_id(world.staff)
    assert all(s.author_id == staff_id for s in stored)
    links = await _links(world)
    assert sorted(link.message_id for link in links) == sorted(s.id for s in stored)
    assert all(s.external_id == f"discord:{link.discord_message_id}" for s, link in
               zip(stored, sorted(links, key=lambda k: k.message_id), strict=True))


async def test_a_macro_sent_as_staff_is_posted_by_the_bot_when_the_webhook_cannot_be_made(world: World) -> None:
    world.stand_in.script("POST", f"/channels/{world.channel['id']}/webhooks", 403, MISSING_PERMISSIONS)

    await world.answer(world.command("macro", world.staff, option("name", "thanks")))

    [post] = _posts(world)
    assert post.json["content"] == "Thank you for waiting!"
    [stored] = await _public_messages(world)
    [link] = await _links(world)
    assert link.message_id == stored.id and stored.external_id == f"discord:{link.discord_message_id}"


async def test_a_macro_that_cannot_be_posted_stays_stored_and_the_staff_member_is_told(world: World) -> None:
    world.stand_in.script("POST", f"/channels/{world.channel['id']}/messages", 403, MISSING_PERMISSIONS)
    interaction = world.command("macro", world.staff, option("name", "refund"))

    await world.answer(interaction)

    [stored] = await _public_messages(world)
    assert stored.external_id is None  # not shown in Discord: nothing claims it is
    assert await _links(world) == []
    [followup] = await world.followups(interaction)
    assert followup["content"].startswith("The macro is stored in the ticket, but posting it here failed")
    assert followup["flags"] & 64


async def test_an_unknown_macro_is_refused_and_nothing_is_sent_or_stored(world: World) -> None:
    before = await world.snapshot()
    requests_before = len(world.stand_in.requests)

    answer = await world.answer(world.command("macro", world.staff, option("name", "refnud")))

    assert is_ephemeral(answer) and content(answer) == "There is no macro named 'refnud'."
    assert len(world.stand_in.requests) == requests_before + 1
    assert await world.snapshot() == before


async def test_macro_from_a_customer_is_refused_and_nothing_is_sent_or_stored(world: World) -> None:
    before = await world.snapshot()
    requests_before = len(world.stand_in.requests)

    answer = await world.answer(world.command("macro", world.opener, option("name", "refund")))

    assert is_ephemeral(answer) and content(answer) == "only staff may use macros"
    assert len(world.stand_in.requests) == requests_before + 1
    assert await world.snapshot() == before


async def test_macro_in_a_closed_ticket_is_refused(world: World) -> None:
    await world.answer(world.command("close", world.staff, option("reason", "resolved")))
    before = await world.snapshot()

    answer = await world.answer(world.command("macro", world.staff, option("name", "refund")))

    assert is_ephemeral(answer) and "is closed" in content(answer)
    assert _posts(world) == []
    assert await world.snapshot() == before


# --- ?name -----------------------------------------------------------------------------------------------------


async def test_a_shortcode_deletes_the_trigger_and_posts_the_macro(world: World) -> None:
    trigger = world.message(world.staff, "?refund")
    await world.settle()

    [deleted] = world.stand_in.seen("DELETE", r"/channels/\d+/messages/\d+")
    assert deleted.path == f"/channels/{world.channel['id']}/messages/{trigger['id']}"
    [post] = _posts(world)
    assert post.json["content"] == f"Hi casey, your refund for ticket {world.number} is on its way."
    [stored] = await _public_messages(world)
    [link] = await _links(world)
    assert link.message_id == stored.id and stored.external_id == f"discord:{link.discord_message_id}"


async def test_a_shortcode_in_any_case_with_spaces_around_is_still_a_shortcode(world: World) -> None:
    world.message(world.staff, "  ?Refund ")
    await world.settle()

    assert len(world.stand_in.seen("DELETE", r"/channels/\d+/messages/\d+")) == 1
    assert len(_posts(world)) == 1


async def test_a_shortcode_of_a_custom_command_is_left_alone(desk: Desk, world: World) -> None:
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        await m.update_workspace(tx, settings={"discord": {"custom_commands": ["Refund", "?rules"]}})
    requests_before = len(world.stand_in.requests)

    world.message(world.staff, "?refund")
    await world.settle()

    await _left_to_the_relay(world, "?refund", requests_before)


async def test_an_unknown_shortcode_is_left_alone(world: World) -> None:
    requests_before = len(world.stand_in.requests)

    world.message(world.staff, "?unknown")
    await world.settle()

    await _left_to_the_relay(world, "?unknown", requests_before)


async def test_a_shortcode_followed_by_more_text_is_a_normal_message(world: World) -> None:
    requests_before = len(world.stand_in.requests)

    world.message(world.staff, "?refund please check this")
    await world.settle()

    assert len(world.stand_in.requests) == requests_before


async def test_a_shortcode_from_a_customer_is_left_alone(world: World) -> None:
    requests_before = len(world.stand_in.requests)

    world.message(world.opener, "?refund")
    await world.settle()

    await _left_to_the_relay(world, "?refund", requests_before)


async def test_a_shortcode_outside_a_ticket_is_left_alone(world: World) -> None:
    requests_before = len(world.stand_in.requests)

    world.message(world.staff, "?refund", channel=world.general)
    await world.settle()

    assert len(world.stand_in.requests) == requests_before


async def test_a_shortcode_without_manage_messages_still_posts_the_macro(world: World,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    world.stand_in.script("DELETE", r"/channels/\d+/messages/\d+", 403, MISSING_PERMISSIONS)

    with caplog.at_level("WARNING", logger="frontdesk.discord"):
        world.message(world.staff, "?refund")
        await world.settle()

    [refused] = world.stand_in.seen("DELETE", r"/channels/\d+/messages/\d+")
    assert refused.status == 403
    assert len(_posts(world)) == 1
    assert len(await _links(world)) == 1
    assert any("Manage Messages" in r.getMessage() for r in caplog.records)


async def test_a_shortcode_in_a_thread_ticket_posts_through_the_parents_webhook_into_the_thread(
        desk: Desk, world: World) -> None:
    from frontdesk.actions.tickets import open_ticket

    thread = payloads.thread(world.guild["id"], world.general["id"], name="ticket-2", newly_created=True)
    world.harness.feed("THREAD_CREATE", thread)
    async with desk.tx(Actor.system(), world.workspace_id) as tx:
        opener = await m.add_member(tx, display_name="Dana", discord_user_id=payloads.user()["id"])
        await open_ticket(tx, type_id=world.type_id, title="Thread one", opener_id=opener.id,
                          channel="discord_thread", external_id=thread["id"])

    world.message(world.staff, "?thanks", channel=thread)
    await world.settle()

    assert len(world.stand_in.seen("POST", f"/channels/{world.general['id']}/webhooks")) == 1
    [executed] = world.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    assert executed.query["thread_id"] == thread["id"]
    [link] = await _links(world)
    assert link.channel_id == thread["id"]


async def test_while_the_bot_posts_a_macro_the_stored_message_is_already_marked_as_shown_in_discord(
        world: World) -> None:
    # The mirror skips messages whose external id starts with "discord:"; between the commit
    # of the macro and its link it must already be marked, or the mirror could post it too.
    seen_while_posting: list[str | None] = []
    answer = world.stand_in._answer

    async def answer_reading_the_desk(recorded):  # type: ignore[no-untyped-def]
        if recorded.method == "POST" and recorded.path == f"/channels/{world.channel['id']}/messages":
            [stored] = await _public_messages(world)
            seen_while_posting.append(stored.external_id)
        return await answer(recorded)

    world.stand_in._answer = answer_reading_the_desk  # type: ignore[method-assign]

    await world.answer(world.command("macro", world.staff, option("name", "refund")))

    assert seen_while_posting == ["discord:pending"]
    [stored] = await _public_messages(world)
    assert stored.external_id.startswith("discord:") and stored.external_id != "discord:pending"


# --- the custom_commands setting -------------------------------------------------------------------------------


def test_custom_commands_are_names_of_1_to_32_characters_kept_in_lower_case_without_the_question_mark() -> None:
    from frontdesk.domain.discord import DiscordSettings
    from frontdesk.domain.errors import ValidationFailed

    assert DiscordSettings.parse({}).custom_commands == ()
    assert DiscordSettings.parse({"custom_commands": ["Rules", "?faq", "rules"]}).custom_commands == ("faq", "rules")
    for bad in (["x" * 33], [""], ["two words"], [3], "rules"):
        with pytest.raises(ValidationFailed) as caught:
            DiscordSettings.parse({"custom_commands": bad})
        assert caught.value.field == "settings.discord.custom_commands"


async def test_a_macro_posted_into_a_rate_limit_is_posted_once_after_the_wait(world: World) -> None:
    world.stand_in.rate_limit("POST", f"/channels/{world.channel['id']}/messages", retry_after=0.01)

    await world.answer(world.command("macro", world.staff, option("name", "refund")))

    assert [r.status for r in _posts(world)] == [429, 200]
    [stored] = await _public_messages(world)
    [link] = await _links(world)
    assert link.message_id == stored.id


async def test_a_restarted_bot_uses_the_webhook_it_made_before_instead_of_making_another(world: World) -> None:
    hook = {"id": "1" * 18, "type": 1, "token": "wtoken-1", "channel_id": world.channel["id"],
            "guild_id": world.guild["id"], "name": "frontdesk", "avatar": None,
            "application_id": world.stand_in.application_id, "user": world.stand_in.bot_user}
    stranger_hook = {**hook, "id": "2" * 18, "token": "wtoken-2", "user": payloads.user(username="other-bot")}
    world.stand_in.script("GET", f"/channels/{world.channel['id']}/webhooks", 200, [stranger_hook, hook])

    await world.answer(world.command("macro", world.staff, option("name", "thanks")))

    assert world.stand_in.seen("POST", f"/channels/{world.channel['id']}/webhooks") == []
    [executed] = world.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    assert executed.path == f"/webhooks/{'1' * 18}/wtoken-1"
