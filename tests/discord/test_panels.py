"""Panels in Discord: /panel posts a button per type (a select above four), only for admins
and Manage Channels; a click on a panel opens a ticket, also after the bot restarted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from frontdesk.actions.base import Desk
from frontdesk.db.models import DiscordPanel, DiscordTicket, Ticket
from frontdesk.discord.bot import FrontdeskBot
from tests.discord.harness import DiscordHarness, HarnessFactory
from tests.discord.panels_support import (
    add_type,
    answers,
    channel_creations,
    click,
    counts,
    ephemeral,
    messages_in,
    only,
    only_answer,
    panel_message,
    server,
)


def _slash_panel(h: DiscordHarness, s: Any, who: str, **options: str) -> dict[str, Any]:
    opts = [{"name": k, "type": 3, "value": v} for k, v in options.items()]
    return h.slash("panel", guild=s.guild, channel=s.support, member=s.member(who), options=opts or None)


async def test_a_panel_of_up_to_four_types_has_a_button_per_type(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    ids = [await add_type(s, name, emoji="🧾" if name == "Billing" else None) for name in ("Billing", "Bugs", "Other")]
    interaction = _slash_panel(harness, s, "owner", title="Need help?", types="billing, Other")
    await harness.drain()

    [posted] = messages_in(harness, s.support["id"])
    assert posted["embeds"][0]["title"] == "Need help?"
    [row] = posted["components"]
    assert [(b["type"], b["label"], b["custom_id"]) for b in row["components"]] == [
        (2, "Billing", f"fd:open:{ids[0]}"), (2, "Other", f"fd:open:{ids[2]}")]
    assert row["components"][0]["emoji"]["name"] == "🧾"
    panel = await only(desk, DiscordPanel)
    assert panel.type_ids == [ids[0], ids[2]] and panel.channel_id == s.support["id"]
    assert panel.message_id == [m for m in harness.stand_in.messages.values()
                                if m["channel_id"] == s.support["id"]][0]["id"]
    assert ephemeral(only_answer(harness, interaction))


async def test_a_panel_of_more_than_four_types_is_a_select_menu(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    ids = [await add_type(s, f"Type {n}", description=f"Help with {n}") for n in range(5)]
    _slash_panel(harness, s, "mod")  # every active type, by a moderator with Manage Channels
    await harness.drain()

    [posted] = messages_in(harness, s.support["id"])
    panel = await only(desk, DiscordPanel)
    [[select]] = [row["components"] for row in posted["components"]]
    assert select["type"] == 3 and select["custom_id"] == f"fd:pick:{panel.id}"
    assert [(o["label"], o["value"], o["description"]) for o in select["options"]] == [
        (f"Type {n}", str(ids[n]), f"Help with {n}") for n in range(5)]


async def test_picking_a_type_from_a_panels_select_opens_a_ticket(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    ids = [await add_type(s, f"Type {n}") for n in range(5)]
    _slash_panel(harness, s, "owner")
    await harness.drain()
    panel = await only(desk, DiscordPanel)
    message = harness.stand_in.messages[panel.message_id]

    interaction = click(harness, s, f"fd:pick:{panel.id}", who="casey", message=message, values=[str(ids[3])])
    await harness.drain()

    ticket = await only(desk, Ticket)
    assert ticket.type_id == ids[3]
    assert "Your ticket is open" in answers(harness, interaction)[-1]["content"]


async def test_only_admins_and_manage_channels_post_panels(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    await add_type(s, "Billing")
    before = await counts(desk)
    requests = len(harness.stand_in.requests)

    interaction = _slash_panel(harness, s, "sam")
    await harness.drain()

    answer = only_answer(harness, interaction)
    assert ephemeral(answer) and "Manage Channels" in answer["content"]
    assert messages_in(harness, s.support["id"]) == []
    after = await counts(desk)
    assert after["panels"] == 0 and after["events"] == before["events"]
    # Only the deferral and the answer went to Discord.
    assert len(harness.stand_in.requests) == requests + 2


async def test_an_unknown_type_name_is_named_and_nothing_is_posted(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    await add_type(s, "Billing")
    interaction = _slash_panel(harness, s, "owner", types="Billing, Refunds")
    await harness.drain()
    answer = only_answer(harness, interaction)
    assert "'Refunds'" in answer["content"] and "Billing" in answer["content"]
    assert messages_in(harness, s.support["id"]) == []
    assert (await counts(desk))["panels"] == 0


async def test_a_panel_button_opens_a_ticket_after_a_restart(desk: Desk, harness: DiscordHarness,
                                                             harnesses: HarnessFactory,
                                                             make_bot: Callable[..., FrontdeskBot]) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    _slash_panel(harness, s, "owner")
    await harness.drain()
    message = harness.stand_in.messages[(await only(desk, DiscordPanel)).message_id]

    restarted = await harnesses.start(make_bot(desk))
    await restarted.connect([s.guild])
    interaction = click(restarted, s, f"fd:open:{type_id}", who="casey", message=message)
    await restarted.drain()

    ticket = await only(desk, Ticket)
    place = await only(desk, DiscordTicket)
    assert ticket.type_id == type_id and place.ticket_id == ticket.id
    assert len(channel_creations(restarted)) == 1
    assert f"<#{place.channel_id}>" in answers(restarted, interaction)[-1]["content"]


async def test_a_button_of_a_panel_posted_elsewhere_still_opens_its_type(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    type_id = await add_type(s, "Billing")
    click(harness, s, f"fd:open:{type_id}", who="casey", message=panel_message(s, type_id))
    await harness.drain()
    assert (await only(desk, Ticket)).type_id == type_id


async def test_a_panel_without_ticket_types_says_so(desk: Desk, harness: DiscordHarness) -> None:
    s = await server(harness)
    interaction = _slash_panel(harness, s, "owner")
    await harness.drain()
    answer = only_answer(harness, interaction)
    assert ephemeral(answer) and "no ticket types" in answer["content"]
    assert messages_in(harness, s.support["id"]) == []
    assert (await counts(desk))["panels"] == 0


async def test_a_panel_discord_refuses_to_post_leaves_no_row(desk: Desk, harness: DiscordHarness) -> None:
    from tests.discord.harness import MISSING_PERMISSIONS

    s = await server(harness)
    await add_type(s, "Billing")
    harness.stand_in.script("POST", f"/channels/{s.support['id']}/messages", 403, MISSING_PERMISSIONS)
    interaction = _slash_panel(harness, s, "owner")
    await harness.drain()
    answer = only_answer(harness, interaction)
    assert ephemeral(answer) and "Send Messages" in answer["content"]
    assert (await counts(desk))["panels"] == 0


async def test_a_panel_goes_to_the_channel_named_in_the_command(desk: Desk, harness: DiscordHarness) -> None:
    from tests.discord.harness import payloads

    s = await server(harness)
    await add_type(s, "Billing")
    other = s.threads_parent
    data = payloads.slash_command("panel", application_id=harness.stand_in.application_id, guild_id=s.guild_id,
                                  channel=s.support, member=s.member("owner"),
                                  options=[{"name": "channel", "type": 7, "value": other["id"]}])
    data["data"]["resolved"] = {"channels": {other["id"]: {"id": other["id"], "name": other["name"], "type": 0,
                                                           "permissions": "0", "parent_id": None}}}
    harness.feed("INTERACTION_CREATE", data)
    await harness.drain()
    assert messages_in(harness, s.support["id"]) == []
    assert len(messages_in(harness, other["id"])) == 1
    assert (await only(desk, DiscordPanel)).channel_id == other["id"]
