"""Templates with variables (macros, rule messages)."""

from __future__ import annotations

import pytest

from frontdesk.domain import templating
from frontdesk.domain.errors import ValidationFailed


def test_render_fills_in_dotted_variables():
    text = templating.render("Hi {user}, ticket #{ticket.number} is with {staff}.",
                             {"user": "Alice", "ticket.number": 42, "staff": "Sam"})
    assert text == "Hi Alice, ticket #42 is with Sam."


def test_double_braces_are_literal_braces():
    assert templating.render("{{user}} is {user}", {"user": "Ann"}) == "{user} is Ann"


def test_render_leaves_a_variable_without_value_as_written_and_none_empty():
    assert templating.render("{user} {ticket.title} [{staff}]", {"user": "Ann", "staff": None}) == \
        "Ann {ticket.title} []"


def test_render_never_reaches_attributes():
    # A name is looked up whole; nothing like str.format's attribute access happens.
    assert templating.render("{user.__class__}", {"user": "Ann"}) == "{user.__class__}"


def test_check_accepts_known_variables_and_names_them():
    assert templating.check("{user} {ticket.number} {user}") == ["user", "ticket.number"]


@pytest.mark.parametrize(("template", "says"), [
    ("Hi {customer}", "unknown variable {customer}"),
    ("Hi {user", "unmatched '{'"),
    ("Hi user}", "unmatched '}'"),
    ("Hi {User Name}", "is not a variable name"),
])
def test_check_refuses_unknown_variables_and_stray_braces(template, says):
    with pytest.raises(ValidationFailed) as caught:
        templating.check(template, field="content")
    assert caught.value.field == "content"
    assert says in caught.value.message
