"""Messages written in a ticket's place: stored as their author's, and in a DM-relay post
forwarded to the user (automatically, or with ``-r`` / a mention), through /send, anonymously,
as replies; closed DMs and rate limits."""

from __future__ import annotations

from sqlalchemy import select

from frontdesk.actions import members as m
from frontdesk.actions.base import Desk
from frontdesk.actions.discord import place_ticket
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.actions.tickets import lockdown_ticket, open_ticket
from frontdesk.db.models import Ticket
from frontdesk.discord.send import NEEDS_USER, NOT_THE_OPENER
from frontdesk.domain.discord import STAFF_ANONYMOUS_NAME
from tests.discord.harness import CANNOT_DM, DiscordHarness, payloads
from tests.discord.modmail_support import (
    EPHEMERAL,
    SYSTEM,
    OpenTicket,
    connect,
    counts,
    dm,
    dm_posts,
    embed_of,
    in_post,
    links,
    messages,
    open_by_dm,
    server,
)


def _callback(harness: DiscordHarness, interaction: dict) -> list:  # type: ignore[type-arg]
    return harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/{interaction['token']}/callback")


def _answers(harness: DiscordHarness, interaction: dict) -> list[str]:  # type: ignore[type-arg]
    """What the user of a deferred interaction was told (its follow-ups)."""
    return [(r.json or {}).get("content") or "" for r in harness.stand_in.seen(
        "POST", f"/webhooks/{harness.stand_in.application_id}/{interaction['token']}")]


def _send(harness: DiscordHarness, opened: OpenTicket, *, channel: dict | None = None,  # type: ignore[type-arg]
          member: dict | None = None, **options: object) -> dict:  # type: ignore[type-arg]
    kinds = {"message": 3, "user": 6, "anonym-override": 5}
    post = channel or payloads.thread(opened.server.id, opened.server.forum["id"], id=opened.post_id)
    data = payloads.slash_command("send", application_id=harness.stand_in.application_id,
                                  guild_id=opened.server.id, channel=post,
                                  member=member or opened.server.staff_member(),
                                  options=[{"name": k, "type": kinds[k], "value": v} for k, v in options.items()])
    if "user" in options:  # Discord sends the users an option names, resolved
        data["data"]["resolved"] = {"users": {opened.user["id"]: opened.user}}
    harness.feed("INTERACTION_CREATE", data)
    return data


async def test_a_staff_message_in_the_post_is_forwarded_to_the_user_automatically(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    written = in_post(harness, opened.server, opened.post_id, "We're on it")
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]  # after "Message sent"
    assert embed_of(forward)["description"] == "We're on it"
    assert embed_of(forward)["author"]["name"] == opened.server.staff["global_name"]
    stored = (await messages(desk))[-1]
    assert stored.author_kind == "staff" and stored.anonymous is False
    assert stored.external_id == f"discord:{written['id']}"
    kinds = [kind for kind, _, _ in await links(desk, stored.id)]
    assert kinds == ["origin", "copy"]


async def test_with_forwarding_off_a_staff_message_is_stored_but_not_forwarded(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk, settings={"forward_automatically": False})

    in_post(harness, opened.server, opened.post_id, "Internal thinking out loud")
    await harness.drain()

    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1  # only "Message sent"
    stored = (await messages(desk))[-1]
    assert stored.body == "Internal thinking out loud" and stored.author_kind == "staff"
    assert [kind for kind, _, _ in await links(desk, stored.id)] == ["origin"]


async def test_with_forwarding_off_a_leading_dash_r_forwards_without_the_prefix(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk, settings={"forward_automatically": False})

    in_post(harness, opened.server, opened.post_id, "-r hi, how can I help?")
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["description"] == "hi, how can I help?"
    assert (await messages(desk))[-1].body == "hi, how can I help?"


async def test_with_forwarding_off_a_leading_mention_of_the_bot_forwards_without_it(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk, settings={"forward_automatically": False})

    in_post(harness, opened.server, opened.post_id, f"<@{harness.stand_in.bot_user['id']}> hi there")
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["description"] == "hi there"
    assert (await messages(desk))[-1].body == "hi there"


async def test_the_anonymous_replies_setting_hides_the_staff_name_from_the_user(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk, settings={"anonymous_replies": True})

    in_post(harness, opened.server, opened.post_id, "We're on it")
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["author"]["name"] == STAFF_ANONYMOUS_NAME
    assert opened.server.staff["global_name"] not in str(forward.json)
    assert (await messages(desk))[-1].anonymous is True


async def test_a_staff_reply_to_a_users_message_is_a_reply_to_their_dm(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    question = dm(harness, opened.user, "Is it the March invoice?", channel_id=opened.dm_channel["id"])
    await harness.drain()
    [copy] = [k for k, v in harness.stand_in.messages.items() if v["channel_id"] == opened.post_id
              and k != opened.post_id]

    in_post(harness, opened.server, opened.post_id, "Yes, March", reference=copy)
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert str(forward.json["message_reference"]["message_id"]) == question["id"]
    stored = await messages(desk)
    assert stored[-1].reply_to_id == stored[-2].id


async def test_send_in_a_post_dms_the_user_and_shows_a_webhook_message_with_the_staff_name(
        desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    interaction = _send(harness, opened, message="Your refund is on its way")
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["description"] == "Your refund is on its way"
    [hook] = harness.stand_in.seen("POST", f"/channels/{opened.server.forum['id']}/webhooks")
    assert hook.json["name"] == "frontdesk"
    [shown] = harness.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    assert shown.query["thread_id"] == opened.post_id and shown.query["wait"] in ("true", "1")
    assert shown.json["username"] == opened.server.staff["global_name"]
    assert shown.json["content"] == "Your refund is on its way"
    [callback] = _callback(harness, interaction)
    assert callback.json["data"]["flags"] & EPHEMERAL
    assert _answers(harness, interaction) == [f"Sent to <@{opened.user['id']}>."]
    stored = (await messages(desk))[-1]
    assert stored.author_kind == "staff" and stored.external_id == f"discord:interaction:{interaction['id']}"
    assert [kind for kind, _, _ in await links(desk, stored.id)] == ["copy", "copy"]


async def test_send_with_anonym_override_hides_the_staff_name(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    _send(harness, opened, message="Sorted", **{"anonym-override": True})
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["author"]["name"] == STAFF_ANONYMOUS_NAME
    assert opened.server.staff["global_name"] not in str(forward.json)
    assert (await messages(desk))[-1].anonymous is True


async def test_send_without_a_message_opens_a_modal_and_its_submit_sends(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    interaction = _send(harness, opened)
    await harness.drain()
    [callback] = _callback(harness, interaction)
    assert callback.json["type"] == 9
    modal = callback.json["data"]
    [[text_input]] = [row["components"] for row in modal["components"]]
    submit = payloads.modal_submit(modal["custom_id"], {text_input["custom_id"]: "A longer answer"},
                                   application_id=harness.stand_in.application_id, guild_id=opened.server.id,
                                   channel=payloads.thread(opened.server.id, opened.server.forum["id"],
                                                           id=opened.post_id),
                                   member=opened.server.staff_member())
    harness.feed("INTERACTION_CREATE", submit)
    await harness.drain()

    [forward] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(forward)["description"] == "A longer answer"
    assert (await messages(desk))[-1].body == "A longer answer"


async def test_closed_dms_tell_staff_and_keep_the_message(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    harness.stand_in.script("POST", f"/channels/{opened.dm_channel['id']}/messages", 403, CANNOT_DM)

    written = in_post(harness, opened.server, opened.post_id, "Hello?")
    await harness.drain()

    [error] = dm_posts(harness.stand_in, opened.post_id)
    assert "closed their DMs" in error.json["content"]
    assert str(error.json["message_reference"]["message_id"]) == written["id"]
    stored = (await messages(desk))[-1]
    assert stored.body == "Hello?"
    assert [kind for kind, _, _ in await links(desk, stored.id)] == ["origin"]  # not delivered


async def test_send_to_closed_dms_answers_the_error_and_keeps_the_message(desk: Desk,
                                                                          harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    harness.stand_in.script("POST", f"/channels/{opened.dm_channel['id']}/messages", 403, CANNOT_DM)

    interaction = _send(harness, opened, message="Hello?")
    await harness.drain()

    [answer] = _answers(harness, interaction)
    assert "closed their DMs" in answer
    assert not harness.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    stored = (await messages(desk))[-1]
    assert stored.body == "Hello?" and await links(desk, stored.id) == []


async def test_a_rate_limited_forward_is_retried_and_arrives_once(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    harness.stand_in.rate_limit("POST", f"/channels/{opened.dm_channel['id']}/messages", retry_after=0.01)

    in_post(harness, opened.server, opened.post_id, "We're on it")
    await harness.drain()

    attempts = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert [a.status for a in attempts] == [429, 200]
    stored = (await messages(desk))[-1]
    assert [kind for kind, _, _ in await links(desk, stored.id)] == ["origin", "copy"]


async def test_a_message_in_a_channel_mode_ticket_is_stored_as_its_author_and_linked(
        desk: Desk, harness: DiscordHarness) -> None:
    customer = payloads.user(username="casey")
    s = server("Acme", members=[payloads.member(customer)])
    channel = payloads.text_channel(s.id, name="ticket-1")
    s.guild["channels"].append(channel)
    await connect(harness, desk, [s])
    async with desk.tx(SYSTEM, s.workspace_id) as tx:
        kind = await m.create_ticket_type(tx, name="Channel help", staff_role_ids=[s.staff_role["id"]])
        opener = await m.add_member(tx, display_name="Casey", discord_user_id=customer["id"])
        ticket = await open_ticket(tx, type_id=kind.id, title="Help", opener_id=opener.id,
                                   channel="discord_channel", external_id=channel["id"])
        await place_ticket(tx, ticket, guild_id=s.id, mode="channel", channel_id=channel["id"],
                           user_id=customer["id"])

    from_customer = in_post(harness, s, channel["id"], "It broke again", author=customer)
    from_staff = in_post(harness, s, channel["id"], "Looking", attachments=[{
        "id": payloads.user()["id"], "filename": "log.txt", "size": 3, "url": "https://cdn.example/log.txt",
        "proxy_url": "https://cdn.example/log.txt"}])
    await harness.drain()

    first, second = (await messages(desk))[-2:]
    assert (first.body, first.author_kind, first.external_id) == ("It broke again", "customer",
                                                                  f"discord:{from_customer['id']}")
    assert second.author_kind == "staff" and second.body == "Looking\nhttps://cdn.example/log.txt"
    assert await links(desk, second.id) == [("origin", channel["id"], from_staff["id"])]
    assert not harness.stand_in.seen("POST", r"/channels/\d+/messages")  # channel mode: nothing relayed


async def test_the_bots_own_and_webhook_messages_in_a_post_are_ignored(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    before = await counts(desk)

    in_post(harness, opened.server, opened.post_id, "a copy", author=harness.stand_in.bot_user)
    hook_user = payloads.user(username="Sam", bot=True)
    in_post(harness, opened.server, opened.post_id, "a /send copy", author=hook_user, webhook_id=hook_user["id"])
    await harness.drain()

    assert await counts(desk) == before
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1


async def test_a_message_in_a_closed_tickets_post_is_ignored(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        await close_ticket(tx, opened.number, reason="resolved")
    before = await counts(desk)

    in_post(harness, opened.server, opened.post_id, "one more thing")
    await harness.drain()

    assert await counts(desk) == before
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1


async def test_under_lockdown_a_regular_staff_message_in_the_post_is_neither_stored_nor_forwarded(
        desk: Desk, harness: DiscordHarness) -> None:
    # Discord shows a forum post to everyone who sees the forum; the desk still keeps regular
    # staff out of a locked ticket (docs/decisions.md, "Lockdown in Discord, mode by mode").
    opened = await open_by_dm(harness, desk)
    async with desk.tx(SYSTEM, opened.server.workspace_id) as tx:
        await lockdown_ticket(tx, opened.number)
    before = await counts(desk)

    in_post(harness, opened.server, opened.post_id, "psst, what is this about?")
    await harness.drain()

    assert await counts(desk) == before
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1  # "Message sent" only


async def test_send_outside_a_ticket_dms_the_user_and_records_nothing(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    general = payloads.text_channel(opened.server.id, name="general")
    before = await counts(desk)

    interaction = _send(harness, opened, channel=general, user=opened.user["id"], message="Hi from the team")
    await harness.drain()

    [answer] = _answers(harness, interaction)
    assert "not part of any ticket" in answer
    [plain] = dm_posts(harness.stand_in, opened.dm_channel["id"])[1:]
    assert embed_of(plain)["description"] == "Hi from the team"
    assert (await counts(desk))[::2] == before[::2]  # no ticket, no message


async def test_send_outside_a_ticket_without_a_user_says_so(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    general = payloads.text_channel(opened.server.id, name="general")
    before = await counts(desk)

    interaction = _send(harness, opened, channel=general, message="Hi")
    await harness.drain()

    assert _answers(harness, interaction) == [NEEDS_USER]
    assert await counts(desk) == before


async def test_send_by_a_member_who_is_not_staff_is_refused(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    stranger = payloads.user(username="mallory")
    before = await counts(desk)

    interaction = _send(harness, opened, member=payloads.member(stranger), message="Give me your password")
    await harness.drain()

    [answer] = _answers(harness, interaction)
    assert "only staff" in answer
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1
    assert (await counts(desk))[2] == before[2]
    async with desk.db.reading() as session:
        assert (await session.scalar(select(Ticket.status))) == "open"


async def test_a_users_reply_to_a_staff_dm_is_a_reply_in_the_post(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    answer = in_post(harness, opened.server, opened.post_id, "Which invoice?")
    await harness.drain()
    [forwarded] = [k for k, v in harness.stand_in.messages.items() if v["channel_id"] == opened.dm_channel["id"]
                   and v["embeds"] and v["embeds"][0].get("description") == "Which invoice?"]

    dm(harness, opened.user, "The March one", channel_id=opened.dm_channel["id"], reference=forwarded)
    await harness.drain()

    [copy] = dm_posts(harness.stand_in, opened.post_id)
    assert str(copy.json["message_reference"]["message_id"]) == answer["id"]


async def test_system_messages_and_messages_outside_tickets_are_not_taken_in(desk: Desk,
                                                                            harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    general = payloads.text_channel(opened.server.id, name="general")
    before = await counts(desk)

    in_post(harness, opened.server, opened.post_id, "", type=6)  # "pinned a message"
    in_post(harness, opened.server, general["id"], "just chatting")
    await harness.drain()

    assert await counts(desk) == before
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1


async def test_a_second_send_reuses_the_relay_webhook(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)

    _send(harness, opened, message="First")
    await harness.drain()
    _send(harness, opened, message="Second")
    await harness.drain()

    assert len(harness.stand_in.seen("POST", f"/channels/{opened.server.forum['id']}/webhooks")) == 1
    shown = harness.stand_in.seen("POST", r"/webhooks/\d+/wtoken-\d+")
    assert [r.json["content"] for r in shown] == ["First", "Second"]


async def test_send_in_a_ticket_to_another_user_is_refused(desk: Desk, harness: DiscordHarness) -> None:
    opened = await open_by_dm(harness, desk)
    other = payloads.user(username="someone-else")
    before = await counts(desk)

    data = payloads.slash_command("send", application_id=harness.stand_in.application_id, guild_id=opened.server.id,
                                  channel=payloads.thread(opened.server.id, opened.server.forum["id"],
                                                          id=opened.post_id),
                                  member=opened.server.staff_member(),
                                  options=[{"name": "user", "type": 6, "value": other["id"]},
                                           {"name": "message", "type": 3, "value": "Hi"}])
    data["data"]["resolved"] = {"users": {other["id"]: other}}
    harness.feed("INTERACTION_CREATE", data)
    await harness.drain()

    assert _answers(harness, data) == [NOT_THE_OPENER]
    assert await counts(desk) == before
    assert len(dm_posts(harness.stand_in, opened.dm_channel["id"])) == 1
