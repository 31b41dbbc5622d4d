"""The close flow in Discord: transcript post, the place closed, the opener's DM."""

from __future__ import annotations

from frontdesk.actions import tickets as t
from frontdesk.actions.discord_mirror import CLOSE, DM
from frontdesk.actions.lifecycle import close_ticket, reopen_ticket
from frontdesk.actions.messages import post_message
from frontdesk.domain.discord import TAG_CLOSED, TAG_OPEN
from tests.discord import mirror_support as support
from tests.discord.harness import CANNOT_DM
from tests.discord.mirror_support import MirrorWorld, custom_ids, dm_posts, embed_text

mw, mirror_env, rest_client = support.mw, support.mirror_env, support.rest_client  # fixtures
TRANSCRIPTS = "1300000000000000001"


async def _closed(mw: MirrorWorld, mode: str = "channel", **close: object) -> support.Placed:
    await mw.discord_settings(transcripts_channel_id=TRANSCRIPTS)
    placed = await mw.ticket(mode)
    await mw.run("casey", post_message, placed.number, "Where is my parcel?")
    await mw.run("sam", close_ticket, placed.number, reason="resolved", **close)
    await mw.deliver()
    return placed


async def test_close_in_channel_mode_posts_the_transcript_and_deletes_the_channel(mw: MirrorWorld) -> None:
    placed = await _closed(mw)
    [post] = mw.stand_in.seen("POST", f"/channels/{TRANSCRIPTS}/messages")
    assert f'filename="ticket-{placed.number}-transcript.html"' in post.json["multipart"]
    assert "Where is my parcel?" in post.json["multipart"]  # the transcript itself is attached
    assert mw.stand_in.seen("DELETE", f"/channels/{placed.channel_id}")
    assert placed.channel_id not in mw.stand_in.channels
    place = await mw.place(placed.ticket_id)
    assert place.state == "deleted"
    assert [i.status for i in await mw.outbox(CLOSE)] == ["done"]


async def test_close_in_thread_mode_locks_and_archives_the_thread(mw: MirrorWorld) -> None:
    placed = await _closed(mw, "thread")
    metadata = mw.channel(placed.channel_id)["thread_metadata"]
    assert metadata["archived"] and metadata["locked"]
    assert mw.stand_in.seen("DELETE", f"/channels/{placed.channel_id}") == []
    assert (await mw.place(placed.ticket_id)).state == "archived"


async def test_close_in_forum_mode_locks_archives_and_tags_the_post_closed(mw: MirrorWorld) -> None:
    placed = await _closed(mw, "forum")
    channel = mw.channel(placed.channel_id)
    assert channel["thread_metadata"]["archived"] and channel["thread_metadata"]["locked"]
    names = {t["id"]: t["name"] for t in mw.channel(mw.forum)["available_tags"]}
    assert TAG_CLOSED in [names[i] for i in channel["applied_tags"]]
    assert TAG_OPEN not in [names[i] for i in channel["applied_tags"]]


async def test_a_lockdown_ticket_closes_without_a_transcript_post(mw: MirrorWorld) -> None:
    await mw.discord_settings(transcripts_channel_id=TRANSCRIPTS)
    placed = await mw.ticket()
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.run("max", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    assert mw.stand_in.seen("POST", f"/channels/{TRANSCRIPTS}/messages") == []
    assert placed.channel_id not in mw.stand_in.channels  # the channel still closes


async def test_the_close_dm_carries_the_note_the_transcript_link_and_three_csat_buttons(mw: MirrorWorld) -> None:
    placed = await _closed(mw, note="Your refund was sent today.")
    [dm] = dm_posts(mw.stand_in, mw.users["casey"]["id"])
    text = embed_text(dm)
    assert "Your refund was sent today." in text
    assert "https://desk.example.com/transcripts/" in text and "sig=" in text
    assert custom_ids(dm) == [f"fd:csat:{placed.ticket_id}:helpful", f"fd:csat:{placed.ticket_id}:not_helpful",
                              f"fd:csat:{placed.ticket_id}:skip"]


async def test_a_note_not_shared_stays_out_of_the_close_dm(mw: MirrorWorld) -> None:
    await _closed(mw, note="internal: customer was rude", share_comment=False)
    [dm] = dm_posts(mw.stand_in, mw.users["casey"]["id"])
    assert "customer was rude" not in embed_text(dm)


async def test_no_csat_buttons_when_the_workspace_turns_the_csat_dm_off(mw: MirrorWorld) -> None:
    await mw.discord_settings(csat_dm=False)
    placed = await mw.ticket()
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    [dm] = dm_posts(mw.stand_in, mw.users["casey"]["id"])
    assert custom_ids(dm) == []


async def test_closed_dms_still_close_the_place(mw: MirrorWorld) -> None:
    mw.stand_in.script("POST", r"/channels/\d+/messages", 403, CANNOT_DM)
    placed = await mw.ticket()
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    assert placed.channel_id not in mw.stand_in.channels
    assert {i.status for i in await mw.outbox(DM)} == {"done"}
    assert (await mw.place(placed.ticket_id)).state == "deleted"


async def test_reopening_a_thread_ticket_unarchives_and_unlocks_it(mw: MirrorWorld) -> None:
    placed = await _closed(mw, "thread")
    await mw.run("sam", reopen_ticket, placed.number)
    await mw.deliver()
    metadata = mw.channel(placed.channel_id)["thread_metadata"]
    assert not metadata["archived"] and not metadata["locked"]
    assert (await mw.place(placed.ticket_id)).state == "open"


async def test_reopening_a_channel_ticket_does_not_bring_the_channel_back(mw: MirrorWorld) -> None:
    placed = await _closed(mw)
    requests = len(mw.stand_in.requests)
    await mw.run("sam", reopen_ticket, placed.number)
    await mw.deliver()
    assert mw.stand_in.requests[requests:] == []
    assert (await mw.place(placed.ticket_id)).state == "deleted"


async def test_a_ticket_merged_into_another_closes_its_place_without_a_transcript_post(mw: MirrorWorld) -> None:
    from frontdesk.actions.merge import merge_tickets

    await mw.discord_settings(transcripts_channel_id=TRANSCRIPTS)
    source = await mw.ticket()
    destination = await mw.ticket(opener="pat", title="The same parcel")
    await mw.run("sam", merge_tickets, source.number, destination.number)
    await mw.deliver()
    assert source.channel_id not in mw.stand_in.channels
    assert destination.channel_id in mw.stand_in.channels
    assert mw.stand_in.seen("POST", f"/channels/{TRANSCRIPTS}/messages") == []
