"""The DM relay: a DM opens a ticket in a forum post, later DMs flow into it, staff replies in
the post go back to the user's DMs."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions.base import Desk
from frontdesk.db.models import Conversation, Ticket
from frontdesk.discord.modmail import MESSAGE_SENT
from tests.discord.harness import DiscordHarness, payloads
from tests.discord.modmail_support import connect, dm, dm_posts, embed_of, links, messages, open_by_dm, placed, \
    server, texts


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
    assert "It says 40 instead of 20" in starter["embeds"][1]["description"]
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
