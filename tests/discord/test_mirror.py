"""The mirror: changes made outside Discord (actions, the API) show in the ticket's place."""

from __future__ import annotations

import discord
import pytest
from sqlalchemy import event as sa_event

from frontdesk.actions import tickets as t
from frontdesk.actions.discord_mirror import POST, SYNC, resync
from frontdesk.actions.messages import add_note, post_message
from frontdesk.db.models import OutboxItem
from frontdesk.domain.errors import NotPermitted
from tests.discord import mirror_support as support
from tests.discord.harness import MISSING_PERMISSIONS, DiscordHarness, DiscordStandIn, now_iso, payloads
from tests.discord.mirror_support import MirrorWorld, bodies

mw, mirror_env, rest_client = support.mw, support.mirror_env, support.rest_client  # fixtures

VIEW = discord.Permissions(view_channel=True).value


def _overwrite(overwrites: list[dict], target: str) -> dict | None:
    return next((o for o in overwrites if o["id"] == target), None)


def _can_view(overwrite: dict | None) -> bool:
    return overwrite is not None and bool(int(overwrite["allow"]) & VIEW)


async def test_a_claim_through_the_actions_updates_the_welcome_card(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.deliver()
    [edit] = bodies(mw.stand_in, "PATCH", f"/channels/{placed.channel_id}/messages/{placed.welcome_id}")
    fields = {f["name"]: f["value"] for f in edit["embeds"][0]["fields"]}
    assert fields["Claimed by"] == f"<@{mw.users['sam']['id']}>"
    assert "components" not in edit and "content" not in edit  # the buttons stay
    assert mw.stand_in.seen("PATCH", f"/channels/{placed.channel_id}") == []  # nothing else differed
    assert mw.stand_in.messages[placed.welcome_id]["components"]
    assert (await mw.place(placed.ticket_id)).applied["card"]


async def test_a_second_sync_with_nothing_changed_sends_no_changes(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.deliver()
    before = len(mw.stand_in.seen("PATCH"))
    await mw.run("sam", t.set_priority, placed.number, "high")  # the card changes, the channel does not
    await mw.deliver()
    patches = mw.stand_in.seen("PATCH")[before:]
    assert [p.path for p in patches] == [f"/channels/{placed.channel_id}/messages/{placed.welcome_id}"]


async def test_a_rename_renames_the_channel(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.rename_ticket, placed.number, "Refund for order 42")
    await mw.deliver()
    renames = [b for b in bodies(mw.stand_in, "PATCH", f"/channels/{placed.channel_id}") if "name" in b]
    assert renames == [{"name": "refund-for-order-42"}]
    assert mw.channel(placed.channel_id)["name"] == (await mw.ticket_row(placed.ticket_id)).channel_name


async def test_a_rename_refused_with_50013_keeps_the_subject_and_the_item_is_done(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    mw.stand_in.script("PATCH", f"/channels/{placed.channel_id}", 403, MISSING_PERMISSIONS, times=None)
    await mw.run("sam", t.rename_ticket, placed.number, "Refund please")
    await mw.deliver()
    assert (await mw.ticket_row(placed.ticket_id)).title == "Refund please"
    [sync] = await mw.outbox(SYNC)
    assert sync.status == "done" and sync.attempts == 1
    place = await mw.place(placed.ticket_id)
    assert "50013" in place.applied["last_error"]
    assert mw.channel(placed.channel_id)["name"] == "casey"


async def test_a_move_changes_the_category_and_pings_the_new_types_roles(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.move_ticket, placed.number, mw.type_ids["Billing"])
    await mw.deliver()
    assert mw.channel(placed.channel_id)["parent_id"] == mw.billing_category
    [notice] = bodies(mw.stand_in, "POST", f"/channels/{placed.channel_id}/messages")
    assert "moved to **Billing**" in notice["content"]
    assert f"<@&{mw.billing_role}>" in notice["content"]
    assert f"<@&{mw.staff_role}>" not in notice["content"]  # the type pings its subset only
    assert notice["allowed_mentions"]["parse"] == ["roles"]


async def test_lockdown_leaves_management_only_and_unlock_lets_staff_back(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    overwrites = mw.channel(placed.channel_id)["permission_overwrites"]
    assert not _can_view(_overwrite(overwrites, mw.staff_role))
    assert _can_view(_overwrite(overwrites, mw.management_role))
    assert _can_view(_overwrite(overwrites, mw.users["casey"]["id"]))
    assert not _can_view(_overwrite(overwrites, mw.guild_id))  # @everyone stays out
    await mw.run("max", t.unlock_ticket, placed.number)
    await mw.deliver()
    overwrites = mw.channel(placed.channel_id)["permission_overwrites"]
    assert _can_view(_overwrite(overwrites, mw.staff_role))


async def test_adding_a_user_adds_their_overwrite(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.add_participant, placed.number, mw.member_ids["pat"])
    await mw.deliver()
    overwrite = _overwrite(mw.channel(placed.channel_id)["permission_overwrites"], mw.users["pat"]["id"])
    assert _can_view(overwrite) and overwrite["type"] == 1


async def test_adding_a_user_to_a_thread_ticket_adds_them_to_the_thread(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    await mw.run("sam", t.add_participant, placed.number, mw.member_ids["pat"])
    await mw.deliver()
    assert mw.stand_in.seen("PUT", f"/channels/{placed.channel_id}/thread-members/{mw.users['pat']['id']}")


async def test_lockdown_in_thread_mode_takes_staff_who_are_not_management_out_of_the_thread(
        mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    await mw.run("sam", t.add_participant, placed.number, mw.member_ids["pat"])
    await mw.deliver()
    mw.stand_in.join_thread(placed.channel_id, mw.users["max"]["id"])
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "sam", "pat", "max"}
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "pat", "max"}
    [removed] = mw.stand_in.seen("DELETE", f"/channels/{placed.channel_id}/thread-members/\\d+")
    assert removed.path.endswith(mw.users["sam"]["id"])
    [listing] = mw.stand_in.seen("GET", f"/channels/{placed.channel_id}/thread-members")
    assert listing.query["with_member"] == "true"
    place = await mw.place(placed.ticket_id)
    assert place.applied["locked_out"] == [mw.users["sam"]["id"]] and "last_error" not in place.applied
    # A later sync under lockdown finds nobody to take out, and forgets nobody.
    await mw.run("max", t.set_priority, placed.number, "high")
    await mw.deliver()
    assert len(mw.stand_in.seen("DELETE", f"/channels/{placed.channel_id}/thread-members/\\d+")) == 1
    assert (await mw.place(placed.ticket_id)).applied["locked_out"] == [mw.users["sam"]["id"]]


async def test_unlock_in_thread_mode_brings_back_the_staff_the_lockdown_took_out(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert "sam" not in mw.in_thread(placed.channel_id)
    await mw.run("max", t.unlock_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "sam", "max"}
    assert mw.stand_in.seen("PUT", f"/channels/{placed.channel_id}/thread-members/{mw.users['sam']['id']}")
    applied = (await mw.place(placed.ticket_id)).applied
    assert "locked_out" not in applied and "locked" not in applied


async def test_lockdown_in_thread_mode_brings_management_in_without_notifying_them(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    assert "max" not in mw.in_thread(placed.channel_id)
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "max"}
    [notice] = bodies(mw.stand_in, "POST", f"/channels/{placed.channel_id}/messages")
    assert "under lockdown" in notice["content"] and notice["allowed_mentions"]["parse"] == []
    [edit] = [b for b in bodies(mw.stand_in, "PATCH", f"/channels/{placed.channel_id}/messages/\\d+")
              if "content" in b]
    assert f"<@&{mw.management_role}>" in edit["content"]
    assert [str(r) for r in edit["allowed_mentions"]["roles"]] == [mw.management_role]
    assert (await mw.place(placed.ticket_id)).applied["locked"] is True
    # Later syncs under the same lockdown post no second notice.
    await mw.run("max", t.set_priority, placed.number, "high")
    await mw.deliver()
    assert len(bodies(mw.stand_in, "POST", f"/channels/{placed.channel_id}/messages")) == 1


async def test_unlock_does_not_bring_back_someone_who_may_not_see_the_ticket(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    stranger = mw.stranger_in_thread(placed.channel_id, "lee")  # no staff role
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert (await mw.place(placed.ticket_id)).applied["locked_out"] == sorted(
        [mw.users["sam"]["id"], stranger["id"]], key=int)
    await mw.run("max", t.unlock_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "sam", "max"}
    assert not mw.stand_in.seen("PUT", f"/channels/{placed.channel_id}/thread-members/{stranger['id']}")
    assert "locked_out" not in (await mw.place(placed.ticket_id)).applied


async def test_unlock_brings_back_staff_the_desk_has_never_met_by_their_discord_roles(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    helper = mw.stranger_in_thread(placed.channel_id, "helper", roles=[mw.staff_role])  # staff by role
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert helper["id"] not in mw.in_thread(placed.channel_id)
    await mw.run("max", t.unlock_ticket, placed.number)
    await mw.deliver()
    assert helper["id"] in mw.in_thread(placed.channel_id)
    assert mw.stand_in.seen("GET", f"/guilds/{mw.guild_id}/members/{helper['id']}")


async def test_unlock_forgets_someone_who_left_the_server(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    gone = mw.stranger_in_thread(placed.channel_id, "gone", roles=[mw.staff_role])
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    del mw.stand_in.guild_members[mw.guild_id][gone["id"]]
    await mw.run("max", t.unlock_ticket, placed.number)
    await mw.deliver()
    assert gone["id"] not in mw.in_thread(placed.channel_id)
    applied = (await mw.place(placed.ticket_id)).applied
    assert "locked_out" not in applied and "last_error" not in applied


async def test_a_management_role_keeps_someone_the_desk_does_not_know_in_a_locked_thread(
        mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    lead = mw.stranger_in_thread(placed.channel_id, "lead", roles=[mw.management_role])
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "max", lead["id"]}


async def test_roles_discord_reports_now_decide_who_stays_in_a_locked_thread(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    # Sam was made management in Discord; the desk has not heard of it yet.
    mw.stand_in.guild_members[mw.guild_id][mw.users["sam"]["id"]]["roles"] = [mw.management_role]
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert "sam" in mw.in_thread(placed.channel_id)
    assert "locked_out" not in (await mw.place(placed.ticket_id)).applied


async def test_lockdown_in_thread_mode_reads_every_page_of_a_large_thread(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    for i in range(150):
        mw.stranger_in_thread(placed.channel_id, f"fan{i}")
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "max"}
    pages = mw.stand_in.seen("GET", f"/channels/{placed.channel_id}/thread-members")
    assert len(pages) == 2 and pages[1].query["after"] != "0"


async def test_a_lockdown_refused_by_discord_keeps_the_error_and_locks_out_nobody(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    mw.stand_in.script("DELETE", f"/channels/{placed.channel_id}/thread-members/\\d+", 403, MISSING_PERMISSIONS,
                       times=None)
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert "sam" in mw.in_thread(placed.channel_id)
    [sync] = await mw.outbox(SYNC)
    assert sync.status == "done"
    place = await mw.place(placed.ticket_id)
    assert "lock out member" in place.applied["last_error"] and "50013" in place.applied["last_error"]
    assert "locked_out" not in place.applied


async def test_staff_mentioned_into_a_locked_thread_are_taken_out_again(mw: MirrorWorld,
                                                                      harness: DiscordHarness) -> None:
    placed = await mw.ticket("thread")
    thread = mw.channel(placed.channel_id)
    guild = payloads.guild(id=mw.guild_id, threads=[thread], channels=[mw.channel(mw.thread_parent)],
                           members=[payloads.member(u) for u in mw.users.values()])
    await harness.connect([guild])
    await mw.run("max", t.lockdown_ticket, placed.number)
    await mw.deliver()
    assert "sam" not in mw.in_thread(placed.channel_id)
    # Someone mentions the staff role in the thread: Discord brings Sam back in, and says so.
    mw.stand_in.join_thread(placed.channel_id, mw.users["sam"]["id"])
    joined = {"id": placed.channel_id, "user_id": mw.users["sam"]["id"], "join_timestamp": now_iso(), "flags": 0,
              "member": mw.stand_in.guild_members[mw.guild_id][mw.users["sam"]["id"]]}
    harness.feed("THREAD_MEMBERS_UPDATE", {"id": placed.channel_id, "guild_id": mw.guild_id, "member_count": 3,
                                           "added_members": [joined], "removed_member_ids": []})
    await harness.drain()
    await mw.deliver()
    assert mw.in_thread(placed.channel_id) == {"bot", "casey", "max"}
    assert len(mw.stand_in.seen("DELETE", f"/channels/{placed.channel_id}/thread-members/\\d+")) == 2


async def test_someone_joining_an_open_thread_asks_for_no_sync(mw: MirrorWorld, harness: DiscordHarness) -> None:
    placed = await mw.ticket("thread")
    thread = mw.channel(placed.channel_id)
    await harness.connect([payloads.guild(id=mw.guild_id, threads=[thread],
                                          channels=[mw.channel(mw.thread_parent)])])
    before = len(await mw.outbox(SYNC))
    joined = {"id": placed.channel_id, "user_id": mw.users["pat"]["id"], "join_timestamp": now_iso(), "flags": 0}
    harness.feed("THREAD_MEMBERS_UPDATE", {"id": placed.channel_id, "guild_id": mw.guild_id, "member_count": 3,
                                           "added_members": [joined], "removed_member_ids": []})
    await harness.drain()
    assert len(await mw.outbox(SYNC)) == before


async def test_only_the_desk_asks_for_a_discord_sync(mw: MirrorWorld) -> None:
    placed = await mw.ticket("thread")
    before = len(await mw.outbox(SYNC))
    with pytest.raises(NotPermitted):
        await mw.run("max", resync, placed.ticket_id)
    assert len(await mw.outbox(SYNC)) == before
    assert await mw.run("system", resync, placed.ticket_id) is True
    assert len(await mw.outbox(SYNC)) == before + 1


async def test_a_staff_reply_made_outside_discord_is_posted_in_the_channel(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", post_message, placed.number, "We are on it.")
    await mw.deliver()
    [posted] = bodies(mw.stand_in, "POST", f"/channels/{placed.channel_id}/messages")
    assert posted["content"] == "**Sam Staff:** We are on it."
    assert mw.stand_in.seen("POST", "/users/@me/channels") == []  # channel tickets: the user is in the channel


async def test_a_staff_reply_on_a_forum_ticket_is_posted_and_dmed_to_the_user(mw: MirrorWorld) -> None:
    placed = await mw.ticket("forum")
    await mw.run("sam", post_message, placed.number, "We are on it.")
    await mw.deliver()
    assert bodies(mw.stand_in, "POST", f"/channels/{placed.channel_id}/messages")[0]["content"].endswith(
        "We are on it.")
    [dm] = bodies(mw.stand_in, "POST", "/users/@me/channels")
    assert dm["recipient_id"] == mw.users["casey"]["id"]
    dm_posts = [r for r in mw.stand_in.seen("POST", r"/channels/\d+/messages")
                if r.path != f"/channels/{placed.channel_id}/messages"]
    assert len(dm_posts) == 1 and dm_posts[0].json["content"].endswith("We are on it.")


async def test_a_message_that_came_from_discord_is_not_posted_again(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    async with mw.tx() as tx:
        await post_message(tx, placed.number, "typed in Discord", external_id="discord:123456789012345678",
                           author_kind="customer")
    await mw.deliver()
    assert mw.stand_in.seen("POST", r"/channels/\d+/messages") == []
    assert await mw.outbox(POST) == []


async def test_internal_notes_are_never_posted(mw: MirrorWorld) -> None:
    placed = await mw.ticket("forum")
    await mw.run("sam", add_note, placed.number, "customer seems upset")
    await mw.deliver()
    assert mw.stand_in.seen("POST", r"/channels/\d+/messages") == []


async def test_a_429_on_a_mirror_call_is_waited_out_by_discord_py(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    path = f"/channels/{placed.channel_id}/messages/{placed.welcome_id}"
    mw.stand_in.rate_limit("PATCH", path, retry_after=0.01)
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.deliver()
    assert [r.status for r in mw.stand_in.seen("PATCH", path)] == [429, 200]
    [sync] = await mw.outbox(SYNC)
    assert sync.status == "done" and sync.attempts == 1


async def test_a_5xx_makes_the_outbox_item_retry(mw: MirrorWorld, clock) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    placed = await mw.ticket()
    path = f"/channels/{placed.channel_id}/messages/{placed.welcome_id}"
    mw.stand_in.script("PATCH", path, 503, {"message": "upstream unavailable", "code": 0})
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.deliver()
    [sync] = await mw.outbox(SYNC)
    assert sync.status == "pending" and sync.attempts == 1 and "503" in (sync.last_error or "")
    clock.advance(timedelta(minutes=5))
    await mw.deliver()
    [sync] = await mw.outbox(SYNC)
    assert sync.status == "done" and sync.attempts == 2
    assert [r.status for r in mw.stand_in.seen("PATCH", path)] == [503, 200]


async def test_the_action_commits_whatever_discord_answers(mw: MirrorWorld, stand_in: DiscordStandIn) -> None:
    placed = await mw.ticket()
    await stand_in.close()  # Discord unreachable: the claim is not held up
    await mw.run("sam", t.claim_ticket, placed.number)
    assert (await mw.ticket_row(placed.ticket_id)).claimer_id == mw.member_ids["sam"]
    assert len(await mw.outbox(SYNC)) == 1


async def test_one_sync_per_ticket_and_transaction(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    async with mw.tx("sam") as tx:
        await t.claim_ticket(tx, placed.number)
        await t.set_priority(tx, placed.number, "high")
        await t.add_tag(tx, placed.number, "refund")
    syncs = await mw.outbox(SYNC)
    assert len(syncs) == 1 and syncs[0].lane == f"discord:{placed.ticket_id}"


async def test_a_workspace_without_a_discord_server_costs_no_mirror_queries(desk, world) -> None:  # type: ignore[no-untyped-def]
    from frontdesk.actions import hooks

    number = (await world.open("alice", title="Hello")).number

    async def count(with_mirror: bool) -> int:
        statements: list[str] = []
        engine = desk.db.write_engine.sync_engine

        def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        chosen = hooks.default_before_commit()
        desk.before_commit = chosen if with_mirror else [h for h in chosen if h.__name__ != "mirror_to_discord"]
        sa_event.listen(engine, "before_cursor_execute", seen)
        try:
            async with world.tx("staff") as tx:
                await t.set_priority(tx, number, "high" if with_mirror else "low")
        finally:
            sa_event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    without = await count(False)
    with_mirror = await count(True)
    assert with_mirror - without <= 1  # the workspace's server, read once
    async with desk.db.reading() as session:
        from sqlalchemy import func, select
        assert await session.scalar(select(func.count()).select_from(OutboxItem).where(
            OutboxItem.kind.like("discord.%"))) == 0


async def test_with_anonymous_replies_a_staff_reply_is_posted_as_staff(mw: MirrorWorld) -> None:
    await mw.discord_settings(anonymous_replies=True)
    placed = await mw.ticket("forum")
    await mw.run("sam", post_message, placed.number, "We are on it.")
    await mw.deliver()
    posts = [r.json["content"] for r in mw.stand_in.seen("POST", r"/channels/\d+/messages")]
    assert posts == ["**Staff:** We are on it.", "**Staff:** We are on it."]  # the post and the DM


async def test_replies_written_together_are_posted_in_the_order_written(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    async with mw.tx("sam") as tx:
        for n in range(3):
            await post_message(tx, placed.number, f"part {n}")
    await mw.deliver()
    posts = [r.json["content"] for r in mw.stand_in.seen("POST", f"/channels/{placed.channel_id}/messages")]
    assert posts == ["**Sam Staff:** part 0", "**Sam Staff:** part 1", "**Sam Staff:** part 2"]


async def test_a_message_in_a_channel_ticket_from_discord_costs_no_discord_request(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    async with mw.tx() as tx:
        await post_message(tx, placed.number, "typed in Discord", external_id="discord:123456789012345679",
                           author_kind="customer")
    assert await mw.outbox() == []  # nothing to change in the channel: its card shows no activity
