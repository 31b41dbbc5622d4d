"""Macro shortcuts, contents and categories, pure."""

from __future__ import annotations

import pytest

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.macros import check_content, normalize_category, normalize_shortcut


def test_shortcuts_are_trimmed_and_lower_cased():
    assert normalize_shortcut("  Refund-Policy_2 ") == "refund-policy_2"


@pytest.mark.parametrize("bad", ["", "   ", "refund policy", "x" * 65, "café", "a/b", 12, None])
def test_bad_shortcuts_name_the_field(bad):
    with pytest.raises(ValidationFailed) as caught:
        normalize_shortcut(bad)
    assert caught.value.field == "shortcut"


def test_content_is_checked_as_a_template():
    assert check_content(" Hi {user}, this is {staff}. ") == "Hi {user}, this is {staff}."
    for bad in ("", "x" * 2001, "Hi {customer}", "Hi {user", 5):
        with pytest.raises(ValidationFailed) as caught:
            check_content(bad)
        assert caught.value.field == "content"


def test_categories_are_optional_and_short():
    assert normalize_category("  Billing   faq ") == "Billing faq"
    assert normalize_category("  ") is None
    assert normalize_category(None) is None
    with pytest.raises(ValidationFailed) as caught:
        normalize_category("x" * 51)
    assert caught.value.field == "category"
