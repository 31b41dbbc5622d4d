"""Staff channels: the log, the escalation feed and manager alerts, each only when set up."""

from __future__ import annotations

from frontdesk.actions import members as m
from frontdesk.actions import tickets as t
from frontdesk.actions.lifecycle import close_ticket
from frontdesk.worker.alerts import manager_alerts
from tests.discord import mirror_support as support
from tests.discord.mirror_support import MirrorWorld, embed_text

mw, mirror_env, rest_client = support.mw, support.mirror_env, support.rest_client  # fixtures
LOG = "1310000000000000001"
ESCALATIONS = "1310000000000000002"
ALERTS = "1310000000000000003"


def _posts(mw: MirrorWorld, channel: str) -> list[str]:
    return [embed_text(r.json) for r in mw.stand_in.seen("POST", f"/channels/{channel}/messages")]


async def test_the_log_channel_gets_opened_claimed_and_closed_when_logging_is_on(mw: MirrorWorld) -> None:
    await mw.discord_settings(logging=True, log_channel_id=LOG)
    placed = await mw.ticket()
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.run("sam", close_ticket, placed.number, reason="resolved")
    await mw.deliver()
    posts = {p.split("\n")[0].split(":")[0]: p for p in _posts(mw, LOG)}  # posted side by side: any order
    assert sorted(posts) == [f"Ticket #{placed.number} {what}" for what in ("claimed", "closed", "opened")]
    assert f"https://discord.com/channels/{mw.guild_id}/{placed.channel_id}" in posts[f"Ticket #{placed.number} opened"]


async def test_nothing_is_logged_when_logging_is_off(mw: MirrorWorld) -> None:
    await mw.discord_settings(logging=False, log_channel_id=LOG)
    placed = await mw.ticket()
    await mw.run("sam", t.claim_ticket, placed.number)
    await mw.deliver()
    assert _posts(mw, LOG) == []


async def test_an_escalation_is_posted_with_a_link_to_the_ticket(mw: MirrorWorld) -> None:
    await mw.discord_settings(escalation_channel_id=ESCALATIONS)
    placed = await mw.ticket()
    await mw.run("sam", t.escalate_ticket, placed.number, note="Customer threatens to leave")
    await mw.deliver()
    [post] = _posts(mw, ESCALATIONS)
    assert f"Ticket #{placed.number} escalated" in post and "Customer threatens to leave" in post
    assert f"https://discord.com/channels/{mw.guild_id}/{placed.channel_id}" in post


async def test_no_escalation_post_without_an_escalation_channel(mw: MirrorWorld) -> None:
    placed = await mw.ticket()
    await mw.run("sam", t.escalate_ticket, placed.number)
    await mw.deliver()
    assert mw.stand_in.seen("POST", r"/channels/\d+/messages") == []


async def test_a_manager_alert_goes_to_the_alerts_channel(mw: MirrorWorld) -> None:
    await mw.discord_settings(alerts_channel_id=ALERTS)
    async with mw.tx() as tx:
        await m.update_workspace(tx, settings={"alerts": {"queue_depth": 1}})
    await mw.ticket()
    await mw.ticket(opener="pat", title="Another one")
    assert await manager_alerts(mw.desk) == 1
    await mw.deliver()
    [post] = _posts(mw, ALERTS)
    assert "Manager alert: queue depth" in post


async def test_no_alert_post_without_an_alerts_channel(mw: MirrorWorld) -> None:
    async with mw.tx() as tx:
        await m.update_workspace(tx, settings={"alerts": {"queue_depth": 1}})
    await mw.ticket()
    await mw.ticket(opener="pat", title="Another one")
    assert await manager_alerts(mw.desk) == 1
    await mw.deliver()
    assert mw.stand_in.seen("POST", r"/channels/\d+/messages") == []
