"""Suggested macros, pure: normalising staff replies, grouping them, the thresholds, shortcuts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.macro_mining import (
    MiningPolicy,
    StaffReply,
    as_template,
    macro_hash,
    mine,
    normalize_reply,
    normalize_template,
    suggest_shortcut,
    text_hash,
)
from frontdesk.domain.templating import check

TEXT = "Thanks for waiting, we have refunded your order."


def replies(*tickets: int, text: str = TEXT) -> list[StaffReply]:
    return [StaffReply(ticket_number=n, text=text) for n in tickets]


def test_case_whitespace_and_surrounding_punctuation_do_not_matter():
    a = normalize_reply(StaffReply(1, "  Thanks for waiting,\n we have   refunded your order!!! "))
    b = normalize_reply(StaffReply(2, "...thanks for WAITING, we have refunded your order"))
    assert a == b == "thanks for waiting, we have refunded your order"


def test_the_tickets_own_number_and_names_become_placeholders():
    reply = StaffReply(12, "Hi Alice, ticket 12 (#12) is done; see order 120. Sam", opener_name="Alice Customer",
                       staff_name="Sam Staff")
    assert as_template(reply.text, ticket_number=12, opener_name="Alice Customer", staff_name="Sam Staff") == \
        "Hi {user}, ticket {ticket.number} (#{ticket.number}) is done; see order 120. {staff}"
    other = StaffReply(40, "hi Bob, ticket 40 (#40) is done; see order 120. Sky", opener_name="Bob Customer",
                       staff_name="Sky Staff")
    assert normalize_reply(reply) == normalize_reply(other)


def test_a_first_name_in_lower_case_is_an_ordinary_word():
    template = as_template("I will check and get back to you, Will", opener_name="Will Smith")
    assert template == "I will check and get back to you, {user}"


def test_a_full_name_is_replaced_in_any_case_and_other_numbers_stay():
    assert as_template("ALICE CUSTOMER, order 7 is fine", ticket_number=70, opener_name="Alice Customer") == \
        "{user}, order 7 is fine"


def test_literal_braces_are_escaped_so_the_content_is_a_valid_template():
    template = as_template("Use the {code} field, {user}", opener_name="Nobody Here")
    assert template == "Use the {{code}} field, {{user}}"
    check(template)


def test_three_messages_across_two_tickets_are_proposed():
    [found] = mine(replies(1, 1, 2), known_hashes=set(), taken_shortcuts=set())
    assert (found.message_count, found.ticket_count, found.example_ticket_numbers) == (3, 2, [1, 2])
    assert found.content == TEXT
    assert found.text_hash == text_hash(normalize_template(TEXT))


def test_two_messages_in_two_tickets_are_not_enough():
    assert mine(replies(1, 2), known_hashes=set(), taken_shortcuts=set()) == []


def test_three_messages_in_one_ticket_are_not_enough():
    assert mine(replies(5, 5, 5), known_hashes=set(), taken_shortcuts=set()) == []


def test_known_texts_are_not_proposed_again():
    known = {macro_hash(TEXT.upper() + "!")}
    assert mine(replies(1, 2, 3), known_hashes=known, taken_shortcuts=set()) == []


def test_short_texts_are_not_worth_a_macro():
    assert mine(replies(1, 2, 3, text="Thanks!"), known_hashes=set(), taken_shortcuts=set()) == []


def test_the_most_repeated_text_comes_first():
    other = "Please send us a screenshot of the error message."
    found = mine(replies(1, 2, 3) + replies(4, 5, 6, 7, text=other), known_hashes=set(), taken_shortcuts=set())
    assert [f.content for f in found] == [other, TEXT]


def test_the_content_keeps_the_first_replys_wording_with_placeholders():
    group = [StaffReply(3, "Hi Alice, your refund is on its way.", opener_name="Alice Customer"),
             StaffReply(4, "hi Bob,  your refund is on its way", opener_name="Bob Customer"),
             StaffReply(4, "Hi Bob, your refund is on its way!", opener_name="Bob Customer")]
    [found] = mine(group, known_hashes=set(), taken_shortcuts=set())
    assert found.content == "Hi {user}, your refund is on its way."


def test_a_suggested_shortcut_is_a_slug_of_the_first_words_and_unique():
    taken = {"thanks-for-waiting-we"}
    assert suggest_shortcut("thanks for waiting, we have refunded", taken) == "thanks-for-waiting-we-2"
    assert suggest_shortcut("thanks for waiting, we have refunded", taken) == "thanks-for-waiting-we-3"
    assert suggest_shortcut("hi {user}, café ok", set()) == "hi-cafe-ok"
    assert suggest_shortcut("!!!", set()) == "reply"


def test_suggestions_of_one_pass_get_different_shortcuts():
    a = "Thanks for waiting, we have refunded your order."
    b = "Thanks for waiting, we have shipped your order."
    found = mine(replies(1, 2, 3, text=a) + replies(4, 5, 6, text=b), known_hashes=set(), taken_shortcuts=set())
    assert sorted(f.suggested_shortcut for f in found) == ["thanks-for-waiting-we", "thanks-for-waiting-we-2"]


def test_the_mining_setting_defaults_and_checks():
    assert MiningPolicy.parse({}) == MiningPolicy(enabled=True, lookback=timedelta(days=30))
    assert MiningPolicy.parse({"macro_suggestions": {"lookback": "7d", "enabled": False}}) == \
        MiningPolicy(enabled=False, lookback=timedelta(days=7))
    for bad, field in (({"lookback": "soon"}, "lookback"), ({"enabled": "yes"}, "enabled"),
                       ({"every": "1d"}, "every"), ({"lookback": 30}, "lookback")):
        with pytest.raises(ValidationFailed) as caught:
            MiningPolicy.parse({"macro_suggestions": bad})
        assert caught.value.field == f"settings.macro_suggestions.{field}"
