"""Pure domain rules: ticket vocabulary, custom fields and intake questions, transcripts, errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from frontdesk.domain import events as ev
from frontdesk.domain.errors import (
    AlreadyClaimed,
    BulkItemResult,
    Conflict,
    DomainError,
    FieldProblem,
    MergeRefused,
    NotFound,
    NotPermitted,
    OpenLimitReached,
    TicketClosed,
    TicketNotClosed,
    UnmergeRefused,
    ValidationFailed,
)
from frontdesk.domain.fields import (
    FieldSpec,
    FieldType,
    IntakeQuestion,
    check_definition,
    check_intake_answers,
    coerce_value,
    parse_intake_questions,
)
from frontdesk.domain.tickets import (
    Priority,
    Status,
    anonymous_nickname,
    channel_name_for,
    normalize_tag,
    settable_statuses,
)
from frontdesk.domain.transcripts import (
    TranscriptAttachment,
    TranscriptMessage,
    TranscriptTicket,
    excerpt,
    render_html,
    render_text,
)

# --- tickets.py ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("Refund", "refund"),
    ("  refund  ", "refund"),
    ("Needs  Engineering", "needs-engineering"),
    ("two\twords", "two-words"),
    ("already-dashed", "already-dashed"),
    ("", ""),
])
def test_normalize_tag_trims_lowercases_and_dashes_inner_spaces(raw: str, expected: str) -> None:
    assert normalize_tag(raw) == expected


def test_channel_name_is_sequential_when_the_type_asks_for_it() -> None:
    assert channel_name_for(42, "Alice Customer", sequential=True) == "ticket-42"


def test_channel_name_follows_the_opener_otherwise() -> None:
    assert channel_name_for(7, "Alice Customer", sequential=False) == "alice-customer"
    assert channel_name_for(7, "  Zoë's   Shop!! ", sequential=False) == "zoe-s-shop"
    assert channel_name_for(7, "Chloé Dubois", sequential=False) == "chloe-dubois"
    assert channel_name_for(7, "under_score-dash", sequential=False) == "under_score-dash"


@pytest.mark.parametrize("name", [None, "", "!!!", "😀😀"])
def test_channel_name_falls_back_to_the_number_when_nothing_usable_is_left(name: str | None) -> None:
    assert channel_name_for(9, name, sequential=False) == "ticket-9"


def test_channel_name_is_capped_to_a_discord_friendly_length() -> None:
    assert len(channel_name_for(1, "a" * 300, sequential=False)) == 90


@pytest.mark.parametrize(("status", "counts"), [
    (Status.OPEN, True),
    (Status.IN_PROGRESS, True),
    (Status.WAITING, False),
    (Status.RESOLVED, False),
    (Status.CLOSED, False),
])
def test_only_open_and_in_progress_count_toward_sla(status: Status, counts: bool) -> None:
    assert status.counts_toward_sla is counts


def test_every_status_but_closed_is_active_and_settable() -> None:
    assert [s for s in Status if s.is_active] == settable_statuses()
    assert Status.CLOSED not in settable_statuses()


def test_priorities_rank_from_low_to_urgent() -> None:
    assert sorted(Priority, key=lambda p: p.rank) == [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]


def test_anonymous_nickname_is_stable_for_one_ticket_and_member() -> None:
    first = anonymous_nickname(12, 34)
    assert first == anonymous_nickname(12, 34)
    adjective, animal = first.split(" ")
    assert adjective[0].isupper() and animal[0].isupper()


def test_anonymous_nickname_differs_across_tickets() -> None:
    names = {anonymous_nickname(ticket_id, 34) for ticket_id in range(1, 50)}
    assert len(names) > 10


def test_event_names_are_dotted_past_tense_and_collected() -> None:
    assert ev.TICKET_OPENED in ev.ALL and ev.CSAT_NEGATIVE in ev.ALL and ev.TICKET_CLOSED in ev.ALL
    assert all(name.count(".") == 1 and name == name.lower() for name in ev.ALL)


# --- custom fields ------------------------------------------------------------------------------------------

GOOD_VALUES = [
    (FieldSpec("note", FieldType.TEXT), "hello", "hello"),
    (FieldSpec("note", FieldType.TEXT), "", ""),
    (FieldSpec("amount", FieldType.NUMBER), 12.5, 12.5),
    (FieldSpec("amount", FieldType.NUMBER), 3, 3),
    (FieldSpec("count", FieldType.INTEGER), 7, 7),
    (FieldSpec("flag", FieldType.BOOLEAN), False, False),
    (FieldSpec("due", FieldType.DATE), "2026-02-28", "2026-02-28"),
    (FieldSpec("plan", FieldType.SELECT, ("free", "plus")), "plus", "plus"),
    (FieldSpec("areas", FieldType.MULTI_SELECT, ("a", "b", "c")), ["c", "a", "c"], ["a", "c"]),
    (FieldSpec("areas", FieldType.MULTI_SELECT, ("a", "b", "c")), [], []),
    (FieldSpec("link", FieldType.URL), "https://jira.example.com/browse/X-1", "https://jira.example.com/browse/X-1"),
    (FieldSpec("mail", FieldType.EMAIL), "a@b.io", "a@b.io"),
    (FieldSpec("note", FieldType.TEXT), None, None),
]


@pytest.mark.parametrize(("spec", "value", "stored"), GOOD_VALUES,
                         ids=[f"{s.field_type.value}-{v!r}" for s, v, _ in GOOD_VALUES])
def test_custom_field_accepts_good_values_in_stored_form(spec: FieldSpec, value: object, stored: object) -> None:
    assert coerce_value(spec, value, field=f"custom_fields.{spec.key}") == stored


BAD_VALUES = [
    (FieldSpec("note", FieldType.TEXT), 5),
    (FieldSpec("note", FieldType.TEXT), "x" * 2001),
    (FieldSpec("amount", FieldType.NUMBER), "12"),
    (FieldSpec("amount", FieldType.NUMBER), True),
    (FieldSpec("amount", FieldType.NUMBER), float("nan")),
    (FieldSpec("amount", FieldType.NUMBER), float("inf")),
    (FieldSpec("count", FieldType.INTEGER), 1.5),
    (FieldSpec("count", FieldType.INTEGER), False),
    (FieldSpec("flag", FieldType.BOOLEAN), "yes"),
    (FieldSpec("flag", FieldType.BOOLEAN), 1),
    (FieldSpec("due", FieldType.DATE), "2026-02-30"),
    (FieldSpec("due", FieldType.DATE), "tomorrow"),
    (FieldSpec("due", FieldType.DATE), 20260101),
    (FieldSpec("plan", FieldType.SELECT, ("free", "plus")), "gold"),
    (FieldSpec("plan", FieldType.SELECT, ("free", "plus")), ["free"]),
    (FieldSpec("areas", FieldType.MULTI_SELECT, ("a", "b")), "a"),
    (FieldSpec("areas", FieldType.MULTI_SELECT, ("a", "b")), ["a", "z"]),
    (FieldSpec("link", FieldType.URL), "ftp://example.com/x"),
    (FieldSpec("link", FieldType.URL), "not a url"),
    (FieldSpec("mail", FieldType.EMAIL), "nobody"),
    (FieldSpec("mail", FieldType.EMAIL), "two@@example.com"),
    (FieldSpec("note", FieldType.TEXT, required=True), None),
]


@pytest.mark.parametrize(("spec", "value"), BAD_VALUES, ids=[f"{s.field_type.value}-{v!r}"[:40] for s, v in BAD_VALUES])
def test_custom_field_rejects_bad_values_naming_the_field(spec: FieldSpec, value: object) -> None:
    with pytest.raises(ValidationFailed) as caught:
        coerce_value(spec, value, field=f"custom_fields.{spec.key}")
    assert caught.value.field == f"custom_fields.{spec.key}"
    assert spec.key in caught.value.message
    assert caught.value.problems == [FieldProblem(f"custom_fields.{spec.key}", caught.value.message)]


def test_field_definition_accepts_every_type() -> None:
    for kind in FieldType:
        check_definition("some_key", kind.value, ["x"])


@pytest.mark.parametrize(("key", "field_type", "options", "bad_field"), [
    ("Vendor", "text", None, "key"),
    ("1st", "text", None, "key"),
    ("", "text", None, "key"),
    ("ok_key", "colour", None, "field_type"),
    ("ok_key", "select", [], "options"),
    ("ok_key", "multi_select", None, "options"),
])
def test_field_definition_problems_name_the_field(key: str, field_type: str, options: list[str] | None,
                                                  bad_field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_definition(key, field_type, options)
    assert caught.value.field == bad_field


def test_field_definition_reports_every_problem_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_definition("Bad Key", "colour", None)
    assert [p.field for p in caught.value.problems] == ["key", "field_type"]


# --- intake questions ---------------------------------------------------------------------------------------


def q(**kwargs: object) -> dict[str, object]:
    return {"label": "Question", **kwargs}


def test_intake_questions_parse_with_defaults_per_kind() -> None:
    parsed = parse_intake_questions([q(kind="subject", label="Subject"), q(kind="description", label="Details"),
                                     q(id="order_id", label="Order", required=True)])
    assert [(x.id, x.kind, x.max_length, x.long, x.required) for x in parsed] == [
        ("subject", "subject", 200, False, False),
        ("description", "description", 1000, True, False),
        ("order_id", "custom", 1000, False, True),
    ]
    assert parsed[2].as_json()["id"] == "order_id"


def test_at_most_five_intake_questions() -> None:
    five = [q(id=f"q{i}") for i in range(5)]
    assert len(parse_intake_questions(five)) == 5
    with pytest.raises(ValidationFailed) as caught:
        parse_intake_questions([*five, q(id="q5")])
    assert caught.value.field == "intake_questions"


def test_duplicate_intake_question_ids_are_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_intake_questions([q(id="order"), q(id="order")])
    assert caught.value.field == "intake_questions[1].id"
    assert "duplicate" in caught.value.message


def test_only_one_subject_question() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_intake_questions([q(kind="subject"), q(kind="subject", id="subject2")])
    assert caught.value.field == "intake_questions[1].kind"


@pytest.mark.parametrize(("item", "bad_field"), [
    ("not an object", "intake_questions[0]"),
    (q(kind="essay"), "intake_questions[0].kind"),
    (q(), "intake_questions[0].id"),
    (q(id="Has Spaces"), "intake_questions[0].id"),
    (q(id="ok", label=""), "intake_questions[0].label"),
    (q(id="ok", label="x" * 46), "intake_questions[0].label"),
    (q(id="ok", max_length=0), "intake_questions[0].max_length"),
    (q(id="ok", max_length=4001), "intake_questions[0].max_length"),
])
def test_bad_intake_questions_name_the_field(item: object, bad_field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_intake_questions([item])  # type: ignore[list-item]
    assert caught.value.field == bad_field


QUESTIONS = [
    IntakeQuestion("subject", "Subject", "subject", required=True, max_length=20),
    IntakeQuestion("description", "Details", "description"),
    IntakeQuestion("order_id", "Order id", "custom", max_length=10),
]


def test_intake_answers_are_stored_in_question_order_and_trimmed() -> None:
    stored = check_intake_answers(QUESTIONS, {"order_id": " A-1 ", "subject": "Broken"})
    assert stored == [
        {"id": "subject", "label": "Subject", "kind": "subject", "value": "Broken"},
        {"id": "order_id", "label": "Order id", "kind": "custom", "value": "A-1"},
    ]


def test_a_required_answer_must_be_given() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_intake_answers(QUESTIONS, {"subject": "   "})
    assert caught.value.field == "answers.subject"


def test_an_answer_longer_than_its_question_allows_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_intake_answers(QUESTIONS, {"subject": "ok", "order_id": "x" * 11})
    assert caught.value.field == "answers.order_id"
    assert "10" in caught.value.message


def test_an_answer_to_an_unknown_question_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_intake_answers(QUESTIONS, {"subject": "ok", "favourite_colour": "blue"})
    assert caught.value.field == "answers.favourite_colour"


# --- transcripts --------------------------------------------------------------------------------------------

OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HEAD = TranscriptTicket(workspace="Acme <Support>", number=7, title="Login <b>broken</b>", type_name="General",
                        opener="Alice & Co", opened_at=OPENED, closed_at=datetime(2026, 1, 6, 10, 30, tzinfo=UTC),
                        close_reason="resolved", close_note="Fixed in <v2>", tags=("login", "urgent-ish"))
MESSAGES = [
    TranscriptMessage("Alice & Co", "customer", "Hi <script>alert(1)</script>\nsecond line", OPENED),
    TranscriptMessage("Sam Staff", "staff", "Try resetting", OPENED.replace(minute=5), edited=True,
                      reply_to_excerpt="Hi <script>alert(1)</script> second line",
                      attachments=(TranscriptAttachment("steps <1>.png", 2048, "https://cdn.example.com/a?x=1&y=2"),
                                   TranscriptAttachment("log.txt", 12))),
]


def test_html_transcript_escapes_everything_users_wrote() -> None:
    html = render_html(HEAD, MESSAGES)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>broken</b>" not in html and "Login &lt;b&gt;broken&lt;/b&gt;" in html
    assert "Acme &lt;Support&gt;" in html and "Alice &amp; Co" in html
    assert "Fixed in &lt;v2&gt;" in html
    assert "steps &lt;1&gt;.png" in html
    assert 'href="https://cdn.example.com/a?x=1&amp;y=2"' in html


def test_html_transcript_shows_reply_excerpts_attachments_and_edits() -> None:
    html = render_html(HEAD, MESSAGES)
    assert html.count('<div class="msg ') == 2
    assert '<div class="reply">Hi &lt;script&gt;' in html
    assert "log.txt (12 B)" in html and "(2 KB)" in html
    assert "edited" in html
    assert '<span class="tag">login</span>' in html


def test_html_transcript_without_messages_says_so() -> None:
    assert "No messages." in render_html(HEAD, [])


def test_text_transcript_has_each_message_with_its_author_and_lines() -> None:
    text = render_text(HEAD, MESSAGES)
    assert "Acme <Support> - ticket #7: Login <b>broken</b>" in text
    assert "Messages: 2" in text
    assert "Alice & Co (customer):" in text
    assert "Sam Staff (staff) (edited):" in text
    assert "  Hi <script>alert(1)</script>\n  second line" in text
    assert "  > Hi <script>alert(1)</script> second line" in text
    assert "  [attachment] steps <1>.png (2 KB)" in text
    assert "  [attachment] log.txt (12 B)" in text
    assert "Reason: resolved" in text and "Close note: Fixed in <v2>" in text
    assert "Tags: login, urgent-ish" in text
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_text_transcript_of_an_open_ticket_has_no_close_line() -> None:
    head = TranscriptTicket("Acme", 1, "t", None, "Bob", OPENED, None, None, None)
    text = render_text(head, [])
    assert "Closed:" not in text and "Type: -" in text and "Messages: 0" in text


def test_excerpt_flattens_whitespace_and_cuts_long_text() -> None:
    assert excerpt("a\n  b\tc") == "a b c"
    cut = excerpt("x" * 200, limit=10)
    assert len(cut) == 10 and cut.endswith("\u2026")


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "code", "parent"), [
    (ValidationFailed, "validation_failed", DomainError),
    (NotFound, "not_found", DomainError),
    (NotPermitted, "not_permitted", DomainError),
    (Conflict, "conflict", DomainError),
    (TicketClosed, "ticket_closed", Conflict),
    (TicketNotClosed, "ticket_not_closed", Conflict),
    (OpenLimitReached, "open_limit_reached", Conflict),
    (AlreadyClaimed, "already_claimed", Conflict),
    (MergeRefused, "merge_refused", Conflict),
    (UnmergeRefused, "unmerge_refused", Conflict),
])
def test_every_domain_error_has_a_stable_code_and_family(error: type[DomainError], code: str,
                                                        parent: type[DomainError]) -> None:
    exc = error("went wrong", field="thing", extra_info=3)
    assert isinstance(exc, parent)
    assert exc.code == code
    assert (exc.message, exc.field, exc.extra) == ("went wrong", "thing", {"extra_info": 3})
    assert str(exc) == "went wrong"


def test_an_error_without_a_field_has_no_field_problems() -> None:
    assert NotFound("gone").problems == []
    assert ValidationFailed("bad").problems == []


def test_validation_failed_can_carry_several_problems() -> None:
    problems = [FieldProblem("a", "bad a"), FieldProblem("b", "bad b")]
    assert ValidationFailed("bad a", field="a", problems=problems).problems == problems


def test_bulk_item_result_defaults_to_no_changes() -> None:
    assert BulkItemResult(3, True).changed == {}
