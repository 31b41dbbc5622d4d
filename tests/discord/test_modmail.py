"""The DM relay: a DM opens a ticket in a forum post, later DMs flow into it, staff replies in
the post go back to the user's DMs."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Conversation, Ticket
from frontdesk.discord.bot import FrontdeskBot
from frontdesk.discord.modmail import BLACKLISTED, MESSAGE_SENT, NO_SERVER, WRITE_FIRST, start_dm_intake
from frontdesk.domain.discord import DM_PICK_SERVER, DM_PICK_TYPE, anonymous_identity
from tests.discord.harness import MISSING_PERMISSIONS, DiscordHarness, HarnessFactory, payloads
from tests.discord.modmail_support import (
    connect,
    counts,
    dm,
    dm_posts,
    embed_of,
    links,
    messages,
    open_by_dm,
    pick,
    placed,
    sent_message,
    server,
    texts,
)


async def test_a_dm_with_one_shared_server_opens_a_forum_post_and_says_message_sent(
        desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey", global_name="Casey Jones")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s])
    channel = payloads.dm_channel(user)

    first = dm(harness, user, "My invoice is wrong\nIt says 40 instead of 20", channel_id=channel["id"])
    await harness.drain()

    [created] = harness.stand_in.seen("POST", f"/channels/{s.forum['id']}/threads")
    assert created.json["name"].endswith("My invoice is wrong")
    starter = created.json["message"]
    assert starter["content"] == "My invoice is wrong\nIt says 40 instead of 20"
    assert f"<@{user['id']}>" in str(starter["embeds"][0])
    tag_ids = {t["name"]: t["id"] for t in s.forum["available_tags"]}
    assert sorted(created.json["applied_tags"]) == sorted([tag_ids["Open"], tag_ids["Unanswered"]])
    assert texts(dm_posts(harness.stand_in, channel["id"])) == [MESSAGE_SENT]
    [row] = await placed(desk)
    post_id = row.channel_id
    assert row.mode == "forum" and row.dm_channel_id == channel["id"] and row.user_id == user["id"]
    assert row.parent_id == s.forum["id"] and row.welcome_message_id == post_id
    async with desk.db.reading() as session:
        ticket = await session.get(Ticket, row.ticket_id)
        conversation = await session.scalar(select(Conversation).where(Conversation.ticket_id == row.ticket_id))
    assert ticket is not None and ticket.title == "My invoice is wrong"
    assert created.json["name"] == f"#{ticket.number} My invoice is wrong"
    assert conversation is not None and conversation.channel == "discord_forum" and conversation.external_id == post_id
    [message] = await messages(desk)
    assert message.author_kind == "customer" and message.external_id == f"discord:{first['id']}"
    assert await links(desk, message.id) == [("origin", channel["id"], first["id"]), ("copy", post_id, post_id)]


async def test_later_dms_flow_into_the_post(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    later = dm(harness, opened.user, "Any news?", channel_id=opened.dm_channel["id"])
    await harness.drain()

    [copy] = dm_posts(harness.stand_in, opened.post_id)
    assert embed_of(copy)["description"] == "Any news?"
    assert embed_of(copy)["author"]["name"] == "Casey Jones"
    assert len(await placed(desk)) == 1
    stored = (await messages(desk))[-1]
    assert stored.body == "Any news?" and stored.author_kind == "customer"
    copy_id = harness.stand_in.messages[[k for k, v in harness.stand_in.messages.items()
                                         if v["channel_id"] == opened.post_id and k != opened.post_id][0]]["id"]
    assert await links(desk, stored.id) == [("origin", opened.dm_channel["id"], later["id"]),
                                            ("copy", opened.post_id, copy_id)]


async def test_a_dm_from_a_member_of_several_servers_asks_which_server(desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    acme, globex = server("Acme", members=[payloads.member(user)]), server("Globex", members=[payloads.member(user)])
    await connect(harness, desk, [acme, globex])
    channel = payloads.dm_channel(user)

    dm(harness, user, "Hello", channel_id=channel["id"])
    await harness.drain()

    [question] = dm_posts(harness.stand_in, channel["id"])
    [select_menu] = question.json["components"][0]["components"]
    assert select_menu["custom_id"] == DM_PICK_SERVER
    assert [o["label"] for o in select_menu["options"]] == ["Acme", "Globex"]
    assert not await placed(desk)

    pick(harness, sent_message(harness.stand_in, question), DM_PICK_SERVER, globex.id, user=user, dm_channel=channel)
    await harness.drain()

    [row] = await placed(desk)
    assert row.guild_id == globex.id and row.parent_id == globex.forum["id"]
    assert not harness.stand_in.seen("POST", f"/channels/{acme.forum['id']}/threads")
    assert texts(dm_posts(harness.stand_in, channel["id"]))[-1] == MESSAGE_SENT
    assert (await messages(desk))[0].body == "Hello"


async def test_a_server_with_several_types_asks_which_type(desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s], types=("Billing", "Bugs"))
    channel = payloads.dm_channel(user)

    dm(harness, user, "The app crashes", channel_id=channel["id"])
    await harness.drain()
    [question] = dm_posts(harness.stand_in, channel["id"])
    [select_menu] = question.json["components"][0]["components"]
    assert select_menu["custom_id"] == DM_PICK_TYPE.format(guild_id=s.id)
    assert [o["label"] for o in select_menu["options"]] == ["Billing", "Bugs"]

    pick(harness, sent_message(harness.stand_in, question), select_menu["custom_id"], str(s.type_ids[1]),
         user=user, dm_channel=channel)
    await harness.drain()

    [row] = await placed(desk)
    async with desk.db.reading() as session:
        ticket = await session.get(Ticket, row.ticket_id)
    assert ticket is not None and ticket.type_id == s.type_ids[1]
    assert texts(dm_posts(harness.stand_in, channel["id"]))[-1] == MESSAGE_SENT


async def test_server_and_type_picks_work_after_a_restart(desk: Desk, harnesses: HarnessFactory,
                                                          make_bot: Callable[..., FrontdeskBot]) -> None:
    user = payloads.user(username="casey")
    acme, globex = server("Acme", members=[payloads.member(user)]), server("Globex", members=[payloads.member(user)])
    first_bot = await harnesses.start(make_bot(desk))
    await connect(first_bot, desk, [acme, globex], types=("Billing", "Bugs"))
    channel = payloads.dm_channel(user)
    dm(first_bot, user, "Refund please", channel_id=channel["id"])
    await first_bot.drain()
    [question] = dm_posts(first_bot.stand_in, channel["id"])
    await first_bot.close()

    second = await harnesses.start(make_bot(desk))
    await second.connect([acme.guild, globex.guild])
    pick(second, sent_message(second.stand_in, question), DM_PICK_SERVER, acme.id, user=user, dm_channel=channel)
    await second.drain()
    [edit] = second.stand_in.seen("POST", r"/interactions/\d+/.+/callback")
    assert edit.json["type"] == 7  # the picker message now asks for the type
    [type_menu] = edit.json["data"]["components"][0]["components"]
    clicked = {**sent_message(second.stand_in, question), "components": edit.json["data"]["components"]}
    pick(second, clicked, type_menu["custom_id"], str(acme.type_ids[0]), user=user, dm_channel=channel)
    await second.drain()

    [row] = await placed(desk)
    assert row.guild_id == acme.id
    assert (await messages(desk))[0].body == "Refund please"  # read back from Discord after the restart


async def test_an_anonymous_ticket_shows_staff_a_generated_name_and_never_the_user(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk, settings={"anonymous_tickets": True})
    dm(harness, opened.user, "Still there?", channel_id=opened.dm_channel["id"])
    await harness.drain()

    async with desk.db.reading() as session:
        opener_id = (await session.get(Ticket, opened.ticket_id)).opener_id  # type: ignore[union-attr]
    identity = anonymous_identity(opened.ticket_id, opener_id)
    posted = [r for r in harness.stand_in.requests if opened.post_id in r.path or opened.server.forum["id"] in r.path]
    [edited] = harness.stand_in.seen("PATCH", f"/channels/{opened.post_id}/messages/{opened.post_id}")
    assert identity.nickname in str(edited.json)
    [copy] = dm_posts(harness.stand_in, opened.post_id)
    assert embed_of(copy)["author"] == {"name": identity.nickname, "icon_url": identity.avatar_url}
    for request in posted:
        for secret in (opened.user["id"], opened.user["username"], opened.user["global_name"]):
            assert secret not in str(request.json)
    async with desk.db.reading() as session:
        ticket = await session.get(Ticket, opened.ticket_id)
    assert ticket is not None and ticket.anonymous


async def test_a_blacklisted_user_is_told_and_nothing_is_created(desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="troll")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s], settings={"blacklist_user_ids": [user["id"]]})
    before = await counts(desk)
    channel = payloads.dm_channel(user)

    dm(harness, user, "hi", channel_id=channel["id"])
    await harness.drain()

    assert texts(dm_posts(harness.stand_in, channel["id"])) == [BLACKLISTED.format(guild="Acme")]
    assert not harness.stand_in.seen("POST", r"/channels/\d+/threads")
    assert await counts(desk) == before and not await placed(desk)


async def test_a_member_with_a_blacklisted_role_is_told_and_nothing_is_created(desk: Desk,
                                                                              harness: DiscordHarness) -> None:
    user = payloads.user(username="troll")
    muted = payloads.role("0", name="Muted")
    s = server("Acme", members=[payloads.member(user, roles=[muted["id"]])], roles=[muted])
    await connect(harness, desk, [s], settings={"blacklist_role_ids": [muted["id"]]})
    before = await counts(desk)
    channel = payloads.dm_channel(user)

    dm(harness, user, "hi", channel_id=channel["id"])
    await harness.drain()

    assert texts(dm_posts(harness.stand_in, channel["id"])) == [BLACKLISTED.format(guild="Acme")]
    assert not harness.stand_in.seen("POST", r"/channels/\d+/threads")
    assert await counts(desk) == before and not await placed(desk)


async def test_a_member_not_in_the_cache_is_fetched_from_discord(desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    s = server("Acme")  # not among the members GUILD_CREATE carried
    await connect(harness, desk, [s])
    harness.stand_in.script("GET", f"/guilds/{s.id}/members/{user['id']}", 200, payloads.member(user), times=None)
    channel = payloads.dm_channel(user)

    dm(harness, user, "hi", channel_id=channel["id"])
    await harness.drain()

    assert len(await placed(desk)) == 1
    assert texts(dm_posts(harness.stand_in, channel["id"])) == [MESSAGE_SENT]


async def test_a_user_sharing_no_server_that_takes_dm_tickets_is_told_so(desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    s = server("Acme")
    await connect(harness, desk, [s])  # the user is not a member: Discord answers 404 Unknown Member
    channel = payloads.dm_channel(user)

    dm(harness, user, "hi", channel_id=channel["id"])
    await harness.drain()

    assert texts(dm_posts(harness.stand_in, channel["id"])) == [NO_SERVER]
    assert not await placed(desk)


async def test_a_panel_hands_over_with_the_type_and_the_next_dm_opens_the_ticket(
        desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s], types=("Billing", "Bugs"))
    channel = payloads.dm_channel(user)
    harness.stand_in.channels[channel["id"]] = channel
    discord_user = harness.bot.get_user(int(user["id"]))
    assert discord_user is not None

    await start_dm_intake(harness.bot, discord_user, guild_id=int(s.id), type_id=s.type_ids[1])  # type: ignore[arg-type]
    assert texts(dm_posts(harness.stand_in, channel["id"])) == [WRITE_FIRST.format(guild="Acme", type="Bugs")]
    assert not await placed(desk)

    dm(harness, user, "The app crashes on start", channel_id=channel["id"])
    await harness.drain()

    [row] = await placed(desk)
    async with desk.db.reading() as session:
        ticket = await session.get(Ticket, row.ticket_id)
    assert ticket is not None and ticket.type_id == s.type_ids[1]
    assert texts(dm_posts(harness.stand_in, channel["id"]))[-1] == MESSAGE_SENT


async def test_a_forum_the_bot_cannot_write_in_tells_the_user_and_creates_nothing(
        desk: Desk, harness: DiscordHarness) -> None:
    user = payloads.user(username="casey")
    s = server("Acme", members=[payloads.member(user)])
    await connect(harness, desk, [s])
    harness.stand_in.script("POST", f"/channels/{s.forum['id']}/threads", 403, MISSING_PERMISSIONS)
    before = await counts(desk)
    channel = payloads.dm_channel(user)

    dm(harness, user, "hi", channel_id=channel["id"])
    await harness.drain()

    [told] = texts(dm_posts(harness.stand_in, channel["id"]))
    assert "can't be written to" in told
    assert await counts(desk) == before and not await placed(desk)


async def test_a_dm_after_the_ticket_closed_starts_a_new_ticket(desk: Desk, harness: DiscordHarness) -> None:
    from frontdesk.actions.lifecycle import close_ticket
    from frontdesk.domain.permissions import Actor

    opened = await open_by_dm(harness, desk)
    async with desk.tx(Actor.system(), opened.server.workspace_id) as tx:
        await close_ticket(tx, opened.number, reason="resolved")

    dm(harness, opened.user, "New problem", channel_id=opened.dm_channel["id"])
    await harness.drain()

    assert len(await placed(desk)) == 2
    assert not dm_posts(harness.stand_in, opened.post_id)  # nothing went into the old post
