"""The Discord settings, names, forum tags and anonymous identities (domain/discord.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.domain.discord import (
    TAG_AWAITING_RESPONSE,
    TAG_CLOSE_REQUESTED,
    TAG_CLOSED,
    TAG_OPEN,
    TAG_UNANSWERED,
    TAG_USER_RESPONDED,
    DiscordSettings,
    TypeDiscordSettings,
    anonymous_identity,
    channel_slug,
    clip,
    forum_post_name,
    forum_tags,
    staff_ping,
    ticket_channel_name,
)
from frontdesk.domain.errors import ValidationFailed

ROLE_A = "111111111111111111"
ROLE_B = "222222222222222222"
USER = "333333333333333333"


def test_workspace_discord_settings_default_to_automatic_forwarding_and_no_anonymity() -> None:
    settings = DiscordSettings.parse(None)
    assert settings.forward_automatically is True
    assert settings.anonymous_replies is False
    assert settings.anonymous_tickets is False
    assert settings.csat_dm is True
    assert settings.log_channel_id is None


def test_workspace_discord_settings_name_the_unknown_key() -> None:
    with pytest.raises(ValidationFailed) as caught:
        DiscordSettings.parse({"forward_automaticaly": False})
    assert caught.value.field == "settings.discord.forward_automaticaly"
    assert "unknown setting" in caught.value.message


@pytest.mark.parametrize("raw, field", [
    ({"log_channel_id": "general"}, "settings.discord.log_channel_id"),
    ({"anonymous_replies": "yes"}, "settings.discord.anonymous_replies"),
    ({"blacklist_user_ids": USER}, "settings.discord.blacklist_user_ids"),
    ({"blacklist_role_ids": ["12"]}, "settings.discord.blacklist_role_ids"),
])
def test_workspace_discord_settings_refuse_bad_values(raw: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        DiscordSettings.parse(raw)
    assert caught.value.field == field


def test_blacklist_covers_users_and_roles() -> None:
    settings = DiscordSettings.parse({"blacklist_user_ids": [USER], "blacklist_role_ids": [ROLE_A]})
    assert settings.blacklisted(USER)
    assert settings.blacklisted("444444444444444444", [ROLE_B, ROLE_A])
    assert not settings.blacklisted("444444444444444444", [ROLE_B])


def test_type_pings_all_staff_roles_unless_a_subset_is_given() -> None:
    assert staff_ping(TypeDiscordSettings.parse({}), [ROLE_B, ROLE_A]) == f"<@&{ROLE_A}> <@&{ROLE_B}>"
    subset = TypeDiscordSettings.parse({"ping_role_ids": [ROLE_B]})
    assert staff_ping(subset, [ROLE_A, ROLE_B]) == f"<@&{ROLE_B}>"
    assert staff_ping(TypeDiscordSettings.parse({"ping_staff": False}), [ROLE_A]) is None
    assert staff_ping(TypeDiscordSettings.parse({}), []) is None


def test_type_discord_settings_refuse_a_long_welcome_message() -> None:
    with pytest.raises(ValidationFailed) as caught:
        TypeDiscordSettings.parse({"welcome_message": "x" * 1501}, where="settings.discord")
    assert caught.value.field == "settings.discord.welcome_message"


def test_channels_are_named_after_the_opener_or_sequentially() -> None:
    assert ticket_channel_name(number=7, opener_name="Zoë Smith!", sequential=False) == "zoe-smith"
    assert ticket_channel_name(number=7, opener_name="Zoë Smith!", sequential=True) == "ticket-7"
    assert ticket_channel_name(number=7, opener_name="Zoë", sequential=False, anonymous=True) == "ticket-7"
    assert ticket_channel_name(number=8, opener_name="🙂🙂", sequential=False) == "ticket-8"
    assert len(ticket_channel_name(number=123, opener_name="a" * 200, sequential=False)) <= 100
    assert channel_slug("  Hello   World  ") == "hello-world"


def test_forum_post_names_carry_the_number_and_fit_discord() -> None:
    assert forum_post_name(number=3, title="Cannot   log in") == "#3 Cannot log in"
    assert len(forum_post_name(number=3, title="x" * 300)) == 100


def test_forum_tags_follow_status_and_who_spoke_last() -> None:
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    later = t0 + timedelta(minutes=5)
    assert forum_tags(status="open", close_requested=False, last_customer_message_at=t0,
                      last_staff_message_at=None) == (TAG_OPEN, TAG_UNANSWERED)
    assert forum_tags(status="open", close_requested=False, last_customer_message_at=later,
                      last_staff_message_at=t0) == (TAG_OPEN, TAG_USER_RESPONDED)
    assert forum_tags(status="waiting", close_requested=True, last_customer_message_at=t0,
                      last_staff_message_at=later) == (TAG_CLOSE_REQUESTED, TAG_AWAITING_RESPONSE)
    assert forum_tags(status="closed", close_requested=True, last_customer_message_at=t0,
                      last_staff_message_at=later)[0] == TAG_CLOSED


def test_anonymous_identity_is_the_api_nickname_stable_per_ticket_and_differs_between_tickets() -> None:
    from frontdesk.domain.tickets import anonymous_nickname

    first = anonymous_identity(10, 3)
    assert first == anonymous_identity(10, 3)
    assert first.nickname == anonymous_nickname(10, 3)  # the name the API and transcripts show
    names = {anonymous_identity(n, 3).nickname for n in range(1, 50)}
    assert len(names) > 20
    assert first.avatar_url.startswith("https://cdn.discordapp.com/embed/avatars/")


def test_clip_marks_cut_text() -> None:
    assert clip("short") == "short"
    cut = clip("x" * 2100)
    assert len(cut) == 2000 and cut.endswith("…")


def test_ticket_channel_is_private_to_opener_staff_and_the_bot() -> None:
    from frontdesk.domain.discord import MEMBER_ALLOW, ticket_overwrites

    guild, bot, opener, guest, staff, boss = "1" * 18, "2" * 18, "3" * 18, "4" * 18, "5" * 18, "6" * 18
    rows = {o.target_id: o for o in ticket_overwrites(
        guild_id=guild, bot_user_id=bot, opener_user_id=opener, participant_user_ids=[guest],
        staff_role_ids=[staff], management_role_ids=[boss])}
    assert rows[guild].deny == {"view_channel"} and not rows[guild].allow
    assert rows[opener].allow == MEMBER_ALLOW and rows[opener].kind == "member"
    assert rows[guest].allow == MEMBER_ALLOW
    assert rows[staff].kind == "role" and rows[staff].allow == MEMBER_ALLOW
    assert "manage_channels" in rows[bot].allow


def test_lockdown_takes_the_channel_from_staff_roles_and_leaves_management() -> None:
    from frontdesk.domain.discord import ticket_overwrites

    guild, bot, opener, staff, boss = "1" * 18, "2" * 18, "3" * 18, "5" * 18, "6" * 18
    targets = {o.target_id for o in ticket_overwrites(
        guild_id=guild, bot_user_id=bot, opener_user_id=opener, staff_role_ids=[staff],
        management_role_ids=[boss], lockdown=True)}
    assert staff not in targets
    assert {guild, bot, opener, boss} <= targets
