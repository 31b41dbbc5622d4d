"""Connection settings, status mapping, issue keys, signatures and descriptions: pure rules."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from frontdesk.domain.errors import ValidationFailed
from frontdesk.domain.integrations import (
    Kind,
    adf_description,
    check_config,
    check_credentials,
    inbound_status,
    issue_description,
    issue_key,
    jira_signature_ok,
    key_from_url,
    linear_signature_ok,
    outbound_status,
    slack_signature_ok,
)
from frontdesk.domain.tickets import Status

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
JIRA = {"base_url": "https://acme.atlassian.net/", "email": "Bot@Example.com", "project_key": "ENG",
        "status_map": {"open": "To Do", "resolved": "Done", "closed": "Done"}}


def hexmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_jira_settings_are_normalised_and_the_inbound_map_defaults_to_the_outbound_one_backwards():
    config = check_config(Kind.JIRA, JIRA, allow_http=False)
    assert config["base_url"] == "https://acme.atlassian.net"
    assert config["issue_type"] == "Task"
    assert config["inbound_status_map"] == {"To Do": "open", "Done": "resolved"}


@pytest.mark.parametrize(("change", "field"), [
    ({"base_url": "http://acme.atlassian.net"}, "config.base_url"),
    ({"base_url": "https://user:pw@acme.atlassian.net"}, "config.base_url"),
    ({"base_url": "https://acme.atlassian.net?x=1"}, "config.base_url"),
    ({"project_key": "1ENG"}, "config.project_key"),
    ({"status_map": ["To Do"]}, "config.status_map"),
    ({"status_map": {"open": ""}}, "config.status_map.open"),
    ({"inbound_status_map": {"Done": "gone"}}, "config.inbound_status_map.Done"),
    ({"surprise": True}, "config.surprise"),
])
def test_bad_jira_settings_name_the_field(change, field):
    with pytest.raises(ValidationFailed) as failed:
        check_config(Kind.JIRA, {**JIRA, **change}, allow_http=False)
    assert failed.value.field == field


def test_http_is_accepted_only_when_allowed():
    assert check_config(Kind.JIRA, {**JIRA, "base_url": "http://127.0.0.1:9000"}, allow_http=True)["base_url"] \
        == "http://127.0.0.1:9000"


def test_linear_and_slack_defaults():
    linear = check_config(Kind.LINEAR, {"team_id": "T1", "state_map": {"open": "s1"}}, allow_http=False)
    assert linear["api_url"] == "https://api.linear.app/graphql"
    slack = check_config(Kind.SLACK, {"channel_id": "C0123ABC"}, allow_http=False)
    assert (slack["api_base"], slack["thread_on_open"], slack["mirror"]) == (
        "https://slack.com/api", False, ["notes", "status"])
    with pytest.raises(ValidationFailed) as failed:
        check_config(Kind.SLACK, {"channel_id": "C0123ABC", "mirror": ["everything"]}, allow_http=False)
    assert failed.value.field == "config.mirror"


def test_credentials_are_merged_and_required_ones_cannot_be_removed():
    held = check_credentials(Kind.JIRA, {"api_token": "t", "webhook_secret": "s"})
    assert check_credentials(Kind.JIRA, {"webhook_secret": None}, current=held) == {"api_token": "t"}
    assert check_credentials(Kind.JIRA, {"api_token": "new"}, current=held)["api_token"] == "new"
    for given, field in (({"api_token": None}, "credentials.api_token"), ({"api_token": ""}, "credentials.api_token"),
                         ({"token": "x"}, "credentials.token")):
        with pytest.raises(ValidationFailed) as failed:
            check_credentials(Kind.JIRA, given, current=held)
        assert failed.value.field == field


def test_statuses_map_both_ways_without_regard_to_case():
    config = check_config(Kind.JIRA, JIRA, allow_http=False)
    assert outbound_status(Kind.JIRA, config, "resolved") == "Done"
    assert outbound_status(Kind.JIRA, config, "waiting") is None
    assert inbound_status(Kind.JIRA, config, None, "done") is Status.RESOLVED
    assert inbound_status(Kind.JIRA, config, "3", "Blocked") is None
    linear = check_config(Kind.LINEAR, {"team_id": "T", "state_map": {"open": "s-open"},
                                        "inbound_state_map": {"Started": "in_progress"}}, allow_http=False)
    assert inbound_status(Kind.LINEAR, linear, "s-unknown", "Started") is Status.IN_PROGRESS


def test_issue_keys_from_keys_and_addresses():
    assert issue_key(" eng-42 ") == "ENG-42"
    assert key_from_url("https://acme.atlassian.net/browse/ENG-42") == "ENG-42"
    assert key_from_url("https://linear.app/acme/issue/ENG-7/checkout-fails") == "ENG-7"
    for bad in ("https://acme.atlassian.net/jira/your-work", "not a url"):
        with pytest.raises(ValidationFailed):
            key_from_url(bad)


def test_a_jira_signature_is_an_hmac_of_the_body():
    body = b'{"webhookEvent":"jira:issue_updated"}'
    good = f"sha256={hexmac('s3cret', body)}"
    assert jira_signature_ok("s3cret", body, good)
    assert not jira_signature_ok("s3cret", body + b" ", good)
    assert not jira_signature_ok("other", body, good)
    assert not jira_signature_ok(None, body, good)
    assert not jira_signature_ok("s3cret", body, None)


def test_a_linear_signature_must_be_fresh():
    body = b'{"type":"Issue"}'
    signature = hexmac("lin", body)
    now_ms = NOW.timestamp() * 1000
    assert linear_signature_ok("lin", body, signature, now_ms - 59_000, NOW)
    assert not linear_signature_ok("lin", body, signature, now_ms - 61_000, NOW)
    assert not linear_signature_ok("lin", body, signature, "soon", NOW)
    assert not linear_signature_ok("lin", body, "0" * 64, now_ms, NOW)


def test_a_slack_signature_covers_its_timestamp_and_must_be_within_five_minutes():
    body = b"payload"
    ts = str(int(NOW.timestamp()))
    signature = "v0=" + hexmac("slack", f"v0:{ts}:".encode() + body)
    assert slack_signature_ok("slack", body, ts, signature, NOW)
    assert slack_signature_ok("slack", body, ts, signature, NOW + timedelta(minutes=5))
    assert not slack_signature_ok("slack", body, ts, signature, NOW + timedelta(minutes=5, seconds=1))
    assert not slack_signature_ok("slack", body, str(int(ts) + 1), signature, NOW)
    assert not slack_signature_ok("slack", body, "abc", signature, NOW)


def test_descriptions_carry_the_first_message_and_the_link_back():
    doc = adf_description("Line one\nline two\n\nSecond paragraph", 42, "https://desk/tickets/42")
    assert doc["content"][0]["content"] == [{"type": "text", "text": "Line one"}, {"type": "hardBreak"},
                                            {"type": "text", "text": "line two"}]
    assert doc["content"][1]["content"] == [{"type": "text", "text": "Second paragraph"}]
    assert doc["content"][2]["content"][0]["marks"][0]["attrs"]["href"] == "https://desk/tickets/42"
    assert adf_description(None, 7, None)["content"] == [
        {"type": "paragraph", "content": [{"type": "text", "text": "Support ticket #7"}]}]
    assert issue_description("Broken", 7, None) == "Broken\n\nSupport ticket #7"
