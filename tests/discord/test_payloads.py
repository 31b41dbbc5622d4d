"""The harness's payloads go through discord.py as Discord's do: events reach listeners,
persistent and dynamic buttons and modals get their interactions. A plain discord.py bot
(no desk, no database) checks the harness alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from frontdesk.discord.bot import bot_intents
from tests.discord.harness import DiscordHarness, HarnessFactory, payloads


class Seen:
    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []


class OpenButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"test:open:(?P<type_id>\d+)"):
    seen: Seen

    def __init__(self, type_id: int) -> None:
        super().__init__(discord.ui.Button(label="Open", custom_id=f"test:open:{type_id}"))
        self.type_id = type_id

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button[Any],
                             match: re.Match[str]) -> OpenButton:
        return cls(int(match["type_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        OpenButton.seen.items.append(("open", self.type_id))
        await interaction.response.send_message("opening", ephemeral=True)


class Panel(discord.ui.View):
    def __init__(self, seen: Seen) -> None:
        super().__init__(timeout=None)
        self.seen = seen

    @discord.ui.select(custom_id="test:pick", options=[discord.SelectOption(label="A", value="a"),
                                                       discord.SelectOption(label="B", value="b")])
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        self.seen.items.append(("picked", select.values))
        await interaction.response.defer()


class Intake(discord.ui.Modal, title="New ticket"):
    subject: discord.ui.TextInput[Any] = discord.ui.TextInput(label="Subject", custom_id="subject")

    def __init__(self, seen: Seen) -> None:
        super().__init__(custom_id="test:intake")
        self.seen = seen

    async def on_submit(self, interaction: discord.Interaction) -> None:
        self.seen.items.append(("submitted", self.subject.value))
        await interaction.response.send_message("thanks", ephemeral=True)


@pytest.fixture
async def plain(harnesses: HarnessFactory) -> AsyncIterator[tuple[DiscordHarness, Seen]]:
    seen = Seen()
    OpenButton.seen = seen
    bot = commands.Bot(command_prefix="!", intents=bot_intents(), guild_ready_timeout=0.01,
                       chunk_guilds_at_startup=False)

    @bot.tree.command(name="intake", description="open the intake form")
    async def intake(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Intake(seen))

    @bot.tree.command(name="echo", description="say it back")
    @app_commands.describe(text="what to say")
    async def echo(interaction: discord.Interaction, text: str, times: int = 1) -> None:
        await interaction.response.send_message(text * times)

    async def remember(name: str, value: Any) -> None:
        seen.items.append((name, value))

    async def on_message(message: discord.Message) -> None:
        await remember("message", message.content)

    async def on_member_join(member: discord.Member) -> None:
        await remember("member", member.id)

    async def on_guild_channel_create(channel: discord.abc.GuildChannel) -> None:
        await remember("channel", channel.name)

    async def on_thread_create(thread: discord.Thread) -> None:
        await remember("thread", (thread.name, thread.is_private()))

    for listener in (on_message, on_member_join, on_guild_channel_create, on_thread_create):
        bot.add_listener(listener)
    harness = await harnesses.start(bot)
    bot.add_view(Panel(seen))
    bot.add_dynamic_items(OpenButton)
    yield harness, seen


def _world() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    user = payloads.user(username="casey")
    member = payloads.member(user)
    guild = payloads.guild(members=[member])
    channel = payloads.text_channel(guild["id"], name="help")
    guild["channels"].append(channel)
    return guild, channel, user, member


async def test_gateway_events_reach_the_listeners(plain: tuple[DiscordHarness, Seen]) -> None:
    harness, seen = plain
    guild, channel, user, member = _world()
    await harness.connect([guild])
    harness.feed("MESSAGE_CREATE", payloads.message(channel["id"], user, "hello", guild_id=guild["id"],
                                                    member=member))
    newcomer = payloads.user(username="newcomer")
    harness.feed("GUILD_MEMBER_ADD", payloads.member(newcomer, guild_id=guild["id"]))
    harness.feed("CHANNEL_CREATE", payloads.text_channel(guild["id"], name="ticket-1"))
    harness.feed("THREAD_CREATE", payloads.thread(guild["id"], channel["id"], name="ticket-2", newly_created=True))
    await harness.drain()
    assert seen.items == [("message", "hello"), ("member", int(newcomer["id"])), ("channel", "ticket-1"),
                          ("thread", ("ticket-2", True))]
    assert harness.bot.get_guild(int(guild["id"])).get_member(int(newcomer["id"])) is not None  # type: ignore[union-attr]


async def test_a_slash_command_gets_its_options(plain: tuple[DiscordHarness, Seen]) -> None:
    harness, _ = plain
    guild, channel, _, member = _world()
    await harness.connect([guild])
    interaction = harness.slash("echo", guild=guild, channel=channel, member=member,
                                options=[{"name": "text", "type": 3, "value": "hi"},
                                         {"name": "times", "type": 4, "value": 2}])
    await harness.drain()
    [answer] = harness.stand_in.seen("POST", f"/interactions/{interaction['id']}/.*/callback")
    assert answer.json["data"]["content"] == "hihi"


async def test_persistent_and_dynamic_components_get_their_clicks(plain: tuple[DiscordHarness, Seen]) -> None:
    harness, seen = plain
    guild, channel, user, member = _world()
    await harness.connect([guild])
    panel = payloads.message(channel["id"], harness.stand_in.bot_user, "Open a ticket", guild_id=guild["id"],
                             components=[payloads.action_row(payloads.button("test:open:7")),
                                         payloads.action_row(payloads.string_select("test:pick", ["a", "b"]))])
    common = {"application_id": harness.stand_in.application_id, "guild_id": guild["id"], "channel": channel,
              "member": member, "message": panel}
    harness.feed("INTERACTION_CREATE", payloads.component("test:open:7", **common))
    harness.feed("INTERACTION_CREATE", payloads.component("test:pick", component_type=3, values=["b"], **common))
    await harness.drain()
    assert seen.items == [("open", 7), ("picked", ["b"])]
    answers = [r.json["type"] for r in harness.stand_in.seen("POST", r"/interactions/\d+/.*/callback")]
    assert answers == [4, 6]  # a message; a deferred update


async def test_a_modal_sent_in_answer_to_a_command_gets_its_submission(plain: tuple[DiscordHarness, Seen]) -> None:
    harness, seen = plain
    guild, channel, _, member = _world()
    await harness.connect([guild])
    harness.slash("intake", guild=guild, channel=channel, member=member)
    await harness.drain()
    [opened] = harness.stand_in.seen("POST", r"/interactions/\d+/.*/callback")
    assert opened.json["type"] == 9 and opened.json["data"]["custom_id"] == "test:intake"
    harness.feed("INTERACTION_CREATE", payloads.modal_submit(
        "test:intake", {"subject": "Refund please"}, application_id=harness.stand_in.application_id,
        guild_id=guild["id"], channel=channel, member=member))
    await harness.drain()
    assert seen.items == [("submitted", "Refund please")]


async def test_a_message_the_bot_posted_can_be_clicked_as_stored(plain: tuple[DiscordHarness, Seen]) -> None:
    harness, seen = plain
    guild, channel, _, member = _world()
    harness.stand_in.channels[channel["id"]] = channel
    await harness.connect([guild])
    view = discord.ui.View(timeout=None)
    view.add_item(OpenButton(3))
    sent = await harness.bot.get_channel(int(channel["id"])).send("Open a ticket", view=view)  # type: ignore[union-attr]
    posted = harness.stand_in.messages[str(sent.id)]
    harness.feed("INTERACTION_CREATE", payloads.component(
        "test:open:3", message=posted, application_id=harness.stand_in.application_id, guild_id=guild["id"],
        channel=channel, member=member))
    await harness.drain()
    assert seen.items == [("open", 3)]


async def test_a_handler_that_raises_fails_the_drain(plain: tuple[DiscordHarness, Seen]) -> None:
    from tests.discord.harness import HandlerFailed

    harness, _ = plain
    guild, channel, user, member = _world()
    await harness.connect([guild])

    async def on_message(message: discord.Message) -> None:
        raise RuntimeError("broken handler")

    harness.bot.add_listener(on_message)
    harness.feed("MESSAGE_CREATE", payloads.message(channel["id"], user, "x", guild_id=guild["id"], member=member))
    with pytest.raises(HandlerFailed) as failure:
        await harness.drain()
    assert isinstance(failure.value.__cause__, RuntimeError)
