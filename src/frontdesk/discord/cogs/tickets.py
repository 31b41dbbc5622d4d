"""Staff commands used inside a ticket's channel, thread or forum post: ``/claim``,
``/unclaim``, ``/assign``, ``/close``, ``/reopen``, ``/lockdown``, ``/unlock`` and the
``/ticket`` group.

Each command finds the ticket of the channel it was used in (else answers ``NOT_A_TICKET``),
then calls the action as the member who used it, in one transaction. The actions check the
permissions; a refusal is answered to the user alone and changes nothing. What follows in
Discord (the card, the channel name and category, overwrites, deleting the channel, DMs) is
the mirror's, from the events the actions record: these commands only answer.
docs/discord-commands.md lists every command, who may use it and what it answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from frontdesk.actions import lifecycle, messages, tickets, timers
from frontdesk.actions.base import Tx, ticket_for
from frontdesk.actions.discord import member_for_discord_user
from frontdesk.actions.macros import as_desk
from frontdesk.db.models import Member
from frontdesk.discord.bot import BOT_ACTOR, discord_powers, discord_role_ids
from frontdesk.discord.replies import reporting, say
from frontdesk.domain.discord import CLOSE_NOTE_MAX, clip
from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.permissions import Actor, Capability
from frontdesk.domain.tickets import TAG_MAX, TITLE_MAX, CloseReason, Priority, Status, settable_statuses
from frontdesk.queries.discord import ticket_in_channel
from frontdesk.queries.workspace import list_types

if TYPE_CHECKING:
    from frontdesk.discord.bot import FrontdeskBot

NOT_A_TICKET = "This command only works inside a ticket: use it in the ticket's channel, thread or post."
NOTE_MAX = 4000  # a Discord option holds up to 6000 characters; a note is kept shorter
ESCALATION_NOTE_MAX = 500
AUTOCOMPLETE_MAX = 25  # choices Discord shows at most

CLOSE_REASONS: dict[str, str] = {
    CloseReason.RESOLVED: "Resolved",
    CloseReason.DUPLICATE: "Duplicate",
    CloseReason.USER_UNRESPONSIVE: "User unresponsive",
    CloseReason.OUT_OF_SCOPE: "Out of scope",
    CloseReason.SPAM: "Spam",
    CloseReason.OTHER: "Other",
}
PRIORITIES: dict[str, str] = {Priority.LOW: "Low", Priority.NORMAL: "Normal", Priority.HIGH: "High",
                              Priority.URGENT: "Urgent"}
STATUSES: dict[str, str] = {Status.OPEN: "Open", Status.IN_PROGRESS: "In progress", Status.WAITING: "Waiting",
                            Status.RESOLVED: "Resolved", Status.CLOSED: "Closed"}


# Options with choices are plain strings (not ``Choice``): a value Discord did not offer reaches
# the action, which refuses it in its own words, instead of failing in discord.py's converter.
def _choices(labels: dict[str, str], values: list[str] | None = None) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=label, value=str(value)) for value, label in labels.items()
            if values is None or value in values]


@dataclass(frozen=True)
class Here:
    """The ticket a command was used in."""

    workspace_id: int
    ticket_id: int
    number: int
    title: str


async def ticket_here(bot: FrontdeskBot, interaction: discord.Interaction) -> Here | None:
    """The ticket whose channel, thread or post the interaction came from, if it came from one.
    Read without writing anything (a stranger's first command outside a ticket leaves no trace)."""
    if interaction.guild_id is None or interaction.channel_id is None:
        return None
    workspace_id = await bot.workspace_id_of(interaction.guild_id)
    if workspace_id is None:
        return None
    async with bot.desk.read(Actor.system(BOT_ACTOR), workspace_id) as tx:
        ticket = await ticket_in_channel(tx, interaction.channel_id)
        if ticket is None:
            return None
        return Here(workspace_id=workspace_id, ticket_id=ticket.id, number=ticket.number, title=ticket.title)


async def member_of(tx: Tx, user: discord.abc.User) -> Member:
    """The frontdesk member of a Discord user named in a command (``/assign @x``), found or
    created as the desk within the command's transaction, roles and powers as Discord sent them."""
    return await member_for_discord_user(
        as_desk(tx), user_id=user.id, display_name=getattr(user, "display_name", None) or user.name,
        role_ids=discord_role_ids(user), powers=discord_powers(user))


async def announce(interaction: discord.Interaction, text: str, *, ping: discord.abc.User | None = None) -> None:
    """A public answer in the ticket, mentioning nobody but ``ping``."""
    mentions = discord.AllowedMentions(users=[ping]) if ping is not None else discord.AllowedMentions.none()
    if interaction.response.is_done():
        await interaction.followup.send(clip(text), allowed_mentions=mentions)
    else:
        await interaction.response.send_message(clip(text), allowed_mentions=mentions)


# What a command does inside its transaction: call the action, return the answer's text.
Act = Callable[[Tx, Here], Awaitable[str]]


async def run_in_ticket(bot: FrontdeskBot, interaction: discord.Interaction, act: Act, *, public: bool,
                        unchanged: str | None = None, ping: discord.abc.User | None = None) -> None:
    """Find the ticket, run ``act`` as the member in one transaction, then answer: publicly in
    the ticket when ``public``, else to the member alone. When the action changed nothing (it
    recorded no event: claiming your own claim, pinning a pinned ticket) the answer is
    ``unchanged``, to the member alone. A domain error is answered to the member alone after
    the rollback."""
    here = await ticket_here(bot, interaction)
    if here is None:
        await say(interaction, NOT_A_TICKET)
        return
    async with reporting(interaction):
        async with bot.acting(here.workspace_id, interaction.user) as tx:
            before = len(tx.events)
            text = await act(tx, here)
            changed = len(tx.events) > before
        if not changed and unchanged is not None:
            await say(interaction, unchanged)
        elif public:
            await announce(interaction, text, ping=ping)
        else:
            await say(interaction, text)


class RenameModal(discord.ui.Modal):
    """The subject of the ticket, prefilled; submitting renames it (the mirror renames the channel)."""

    def __init__(self, bot: FrontdeskBot, here: Here) -> None:
        super().__init__(title=clip(f"Rename ticket {here.number}", 45))
        self.bot = bot
        self.subject: discord.ui.TextInput[RenameModal] = discord.ui.TextInput(
            label="Subject", custom_id="subject", default=here.title[:TITLE_MAX], max_length=TITLE_MAX)
        self.add_item(self.subject)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        title = self.subject.value

        async def act(tx: Tx, here: Here) -> str:
            ticket = await tickets.rename_ticket(tx, here.number, title)
            return f"Renamed ticket {ticket.number} to “{ticket.title}”."

        await run_in_ticket(self.bot, interaction, act, public=False, unchanged="The subject is already that.")


class TicketCommands(commands.Cog):
    ticket = app_commands.Group(name="ticket", description="Work on this ticket", guild_only=True)
    tag = app_commands.Group(name="tag", description="Label this ticket", parent=ticket)

    def __init__(self, bot: FrontdeskBot) -> None:
        self.bot = bot

    async def run(self, interaction: discord.Interaction, act: Act, *, public: bool,
                  unchanged: str | None = None, ping: discord.abc.User | None = None) -> None:
        await run_in_ticket(self.bot, interaction, act, public=public, unchanged=unchanged, ping=ping)

    # --- claim and assign ---

    @app_commands.command(name="claim", description="Claim this ticket: you are working on it")
    @app_commands.guild_only()
    async def claim(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.claim_ticket(tx, here.number)
            return f"{interaction.user.mention} claimed this ticket."

        await self.run(interaction, act, public=True, unchanged="You have already claimed this ticket.")

    @app_commands.command(name="unclaim", description="Release your claim on this ticket")
    @app_commands.guild_only()
    async def unclaim(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.unclaim_ticket(tx, here.number)
            return f"{interaction.user.mention} released the claim on this ticket."

        await self.run(interaction, act, public=True, unchanged="Nobody has claimed this ticket.")

    @app_commands.command(name="assign", description="Assign this ticket to a member of staff")
    @app_commands.describe(member="Who will handle it (must be staff for this ticket)")
    @app_commands.guild_only()
    async def assign(self, interaction: discord.Interaction, member: discord.Member) -> None:
        async def act(tx: Tx, here: Here) -> str:
            target = await member_of(tx, member)
            await tickets.assign_ticket(tx, here.number, target.id)
            return f"{member.mention} was assigned this ticket by {interaction.user.mention}."

        await self.run(interaction, act, public=True, unchanged=f"{member.display_name} is already assigned.",
                       ping=member)

    # --- closing ---

    @app_commands.command(name="close", description="Close this ticket with a reason")
    @app_commands.describe(reason="Why the ticket is closing", note=f"A note kept with the close (at most "
                                                                    f"{CLOSE_NOTE_MAX} characters)",
                           share_comment="Send the note to the user with the close message (default: yes)")
    @app_commands.rename(share_comment="share-comment")
    @app_commands.choices(reason=_choices(CLOSE_REASONS))
    @app_commands.guild_only()
    async def close(self, interaction: discord.Interaction, reason: str,
                    note: app_commands.Range[str, 1, CLOSE_NOTE_MAX] | None = None,
                    share_comment: bool = True) -> None:
        async def act(tx: Tx, here: Here) -> str:
            ticket = await lifecycle.close_ticket(tx, here.number, reason=reason, note=note,
                                                  share_comment=share_comment)
            return f"{interaction.user.mention} closed this ticket ({CLOSE_REASONS[ticket.close_reason]})."

        await self.run(interaction, act, public=True)

    @app_commands.command(name="reopen", description="Reopen this closed ticket")
    @app_commands.guild_only()
    async def reopen(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await lifecycle.reopen_ticket(tx, here.number)
            return f"{interaction.user.mention} reopened this ticket."

        await self.run(interaction, act, public=True)

    # --- lockdown ---

    @app_commands.command(name="lockdown", description="Restrict this ticket to management")
    @app_commands.guild_only()
    async def lockdown(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.lockdown_ticket(tx, here.number)
            return "This ticket is now restricted to management."

        await self.run(interaction, act, public=True, unchanged="This ticket is already under lockdown.")

    @app_commands.command(name="unlock", description="Lift the lockdown of this ticket")
    @app_commands.guild_only()
    async def unlock(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.unlock_ticket(tx, here.number)
            return "The lockdown is lifted: staff can see this ticket again."

        await self.run(interaction, act, public=True, unchanged="This ticket is not under lockdown.")

    # --- /ticket ---

    @ticket.command(name="note", description="Add an internal note (staff only see it)")
    @app_commands.describe(text="The note")
    async def note(self, interaction: discord.Interaction, text: app_commands.Range[str, 1, NOTE_MAX]) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await messages.add_note(tx, here.number, text)
            return "Note added. Only staff see it."

        await self.run(interaction, act, public=False)

    @ticket.command(name="move", description="Move this ticket to another type")
    @app_commands.describe(type="The ticket type to move it to")
    async def move(self, interaction: discord.Interaction, type: app_commands.Range[str, 1, 100]) -> None:  # noqa: A002
        async def act(tx: Tx, here: Here) -> str:
            wanted = " ".join(type.split()).casefold()
            found = [t for t in await list_types(tx) if t["name"].casefold() == wanted]
            if not found:
                raise ValidationFailed(f"There is no ticket type named {type!r}.", field="type")
            await tickets.move_ticket(tx, here.number, found[0]["id"])
            return f"{interaction.user.mention} moved this ticket to {found[0]['name']}."

        await self.run(interaction, act, public=True, unchanged="The ticket is already of that type.")

    @move.autocomplete("type")
    async def move_types(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The workspace's ticket types (not archived) whose name contains what was typed."""
        if interaction.guild_id is None:
            return []
        workspace_id = await self.bot.workspace_id_of(interaction.guild_id)
        if workspace_id is None:
            return []
        async with self.bot.desk.read(Actor.system(BOT_ACTOR), workspace_id) as tx:
            types = await list_types(tx)
        typed = current.strip().casefold()
        names = [t["name"] for t in types if typed in t["name"].casefold()]
        return [app_commands.Choice(name=clip(n, 100), value=n[:100]) for n in names[:AUTOCOMPLETE_MAX]]

    @ticket.command(name="rename", description="Give this ticket a new subject")
    async def rename(self, interaction: discord.Interaction) -> None:
        here = await ticket_here(self.bot, interaction)
        if here is None:
            await say(interaction, NOT_A_TICKET)
            return
        async with reporting(interaction):
            # Refused before the modal opens, not after the member has typed a subject.
            async with self.bot.acting(here.workspace_id, interaction.user) as tx:
                ticket = await ticket_for(tx, here.number, Capability.EDIT, for_update=False)
                here = Here(here.workspace_id, ticket.id, ticket.number, ticket.title)
            await interaction.response.send_modal(RenameModal(self.bot, here))

    @ticket.command(name="adduser", description="Add a member to this ticket")
    @app_commands.describe(member="Who to add: they see the ticket and may write in it")
    async def adduser(self, interaction: discord.Interaction, member: discord.Member) -> None:
        async def act(tx: Tx, here: Here) -> str:
            target = await member_of(tx, member)
            await tickets.add_participant(tx, here.number, target.id)
            return f"{interaction.user.mention} added {member.mention} to this ticket."

        await self.run(interaction, act, public=True, unchanged=f"{member.display_name} is already on this ticket.",
                       ping=member)

    @ticket.command(name="priority", description="Change this ticket's priority (it sets the SLA targets)")
    @app_commands.describe(level="The new priority")
    @app_commands.choices(level=_choices(PRIORITIES))
    async def priority(self, interaction: discord.Interaction, level: str) -> None:
        label = PRIORITIES.get(level, level)

        async def act(tx: Tx, here: Here) -> str:
            await tickets.set_priority(tx, here.number, level)
            return f"Priority set to {label}."

        await self.run(interaction, act, public=False, unchanged=f"The priority is already {label}.")

    @ticket.command(name="pin", description="Pin this ticket: it is never closed for inactivity")
    async def pin(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.pin_ticket(tx, here.number)
            return "Pinned: this ticket is not closed for inactivity."

        await self.run(interaction, act, public=False, unchanged="This ticket is already pinned.")

    @ticket.command(name="unpin", description="Unpin this ticket")
    async def unpin(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.unpin_ticket(tx, here.number)
            return "Unpinned: inactivity may close this ticket again."

        await self.run(interaction, act, public=False, unchanged="This ticket is not pinned.")

    @ticket.command(name="pause", description="Pause this ticket's SLA clock")
    async def pause(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await timers.pause_sla(tx, here.number)
            return "The SLA clock is paused. /ticket resume restarts it."

        await self.run(interaction, act, public=False, unchanged="The SLA clock is already paused.")

    @ticket.command(name="resume", description="Restart this ticket's paused SLA clock")
    async def resume(self, interaction: discord.Interaction) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await timers.resume_sla(tx, here.number)
            return "The SLA clock runs again."

        await self.run(interaction, act, public=False, unchanged="The SLA clock is not paused.")

    @tag.command(name="add", description="Add a tag to this ticket")
    @app_commands.describe(name="The tag (stored in lower case)")
    async def tag_add(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, TAG_MAX]) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.add_tag(tx, here.number, name)
            return f"Tagged {name.strip().lower()!r}."

        await self.run(interaction, act, public=False, unchanged="The ticket already has that tag.")

    @tag.command(name="remove", description="Remove a tag from this ticket")
    @app_commands.describe(name="The tag")
    async def tag_remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, TAG_MAX]) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.remove_tag(tx, here.number, name)
            return f"Tag {name.strip().lower()!r} removed."

        await self.run(interaction, act, public=False, unchanged="The ticket does not have that tag.")

    @ticket.command(name="status", description="Set this ticket's status (closing goes through /close)")
    @app_commands.describe(value="The new status")
    @app_commands.choices(value=_choices(STATUSES, [s.value for s in settable_statuses()]))
    async def status(self, interaction: discord.Interaction, value: str) -> None:
        label = STATUSES.get(value, value)

        async def act(tx: Tx, here: Here) -> str:
            await tickets.set_status(tx, here.number, value)
            return f"Status: {label}."

        await self.run(interaction, act, public=True, unchanged=f"The status is already {label}.")

    @ticket.command(name="escalate", description="Mark that this ticket needs a senior look")
    @app_commands.describe(note="Why (staff only see it)")
    async def escalate(self, interaction: discord.Interaction,
                       note: app_commands.Range[str, 1, ESCALATION_NOTE_MAX] | None = None) -> None:
        async def act(tx: Tx, here: Here) -> str:
            await tickets.escalate_ticket(tx, here.number, reason="staff", note=note)
            return f"{interaction.user.mention} escalated this ticket."

        await self.run(interaction, act, public=True, unchanged="This ticket is already escalated.")


async def setup(bot: FrontdeskBot) -> None:
    await bot.add_cog(TicketCommands(bot))
