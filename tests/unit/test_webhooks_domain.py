"""Webhooks without I/O: URLs, addresses, secrets, signatures and what an answer means."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from frontdesk.domain import webhooks as wh
from frontdesk.domain.errors import ValidationFailed


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
                                     "0.0.0.0", "224.0.0.251", "255.255.255.255", "100.64.1.1", "198.18.0.1",
                                     "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:10.0.0.1",
                                     "::ffff:127.0.0.1", "2002:7f00:1::1", "2001:db8::1", "64:ff9b::a00:1"])
def test_internal_addresses_are_not_public(address):
    assert not wh.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.215.14"])
def test_global_addresses_are_public(address):
    assert wh.is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://example.com/x", "https"), ("http://example.com/x", "https only"), ("https:///x", "host"),
    ("https://user:pass@example.com/x", "user name"), ("https://example.com/x#frag", "fragment"),
    ("https://example.com:99999/x", "not a URL"), ("", "1 to"),
])
def test_malformed_urls_are_refused_naming_url(url, reason):
    with pytest.raises(ValidationFailed) as refused:
        wh.check_url(url, allow_http=False)
    assert refused.value.field == "url" and reason in refused.value.message


def test_http_is_accepted_only_when_allowed():
    assert wh.check_url("http://example.com/x", allow_http=True).port == 80
    target = wh.check_url("https://Example.com:8443/x?y=1", allow_http=False)
    assert (target.host, target.port, target.scheme) == ("example.com", 8443, "https")


def test_a_generated_secret_has_the_standard_shape_and_signs_like_the_reference_library():
    secret = wh.generate_secret()
    key = wh.secret_key(secret)
    assert secret.startswith("whsec_") and len(key) == 32
    body = b'{"type":"ticket.opened"}'
    timestamp = int(datetime.now(UTC).timestamp())
    header = wh.signature_header([key], "msg_1", timestamp, body)
    assert header == Webhook(secret).sign("msg_1", datetime.fromtimestamp(timestamp, UTC), body.decode())
    Webhook(secret).verify(body, {"webhook-id": "msg_1", "webhook-timestamp": str(timestamp),
                                  "webhook-signature": header})


def test_two_keys_give_two_space_separated_signatures():
    keys = [wh.secret_key(wh.generate_secret()), wh.secret_key(wh.generate_secret())]
    header = wh.signature_header(keys, "msg_2", 1700000000, b"{}")
    assert [part.split(",")[0] for part in header.split(" ")] == ["v1", "v1"]


@pytest.mark.parametrize("secret", ["whsec_", "whsec_" + "A" * 31, "whsec_" + "QUFB" * 7, "whsec_" + "QUFB" * 22,
                                    "sk_" + "QUFB" * 10, "whsec_QUFB*QUFB"])
def test_secrets_outside_24_to_64_bytes_of_base64_are_refused(secret):
    with pytest.raises(ValidationFailed) as refused:
        wh.secret_key(secret)
    assert refused.value.field == "secret"


def test_event_selection():
    assert wh.check_events(["ticket.closed", "ticket.opened", "ticket.opened"]) == ["ticket.closed", "ticket.opened"]
    assert wh.check_events(["*"]) == ["*"]
    assert wh.check_events([]) == []
    assert wh.subscribes(["*"], "anything.new") and not wh.subscribes(["ticket.closed"], "ticket.opened")


@pytest.mark.parametrize(("status", "attempt", "verdict"), [
    (200, 1, "done"), (204, 3, "done"), (500, 14, "retry"), (503, 1, "retry"), (429, 2, "retry"),
    (408, 1, "retry"), (410, 1, "dead"), (404, 1, "retry"), (404, 8, "dead"), (301, 1, "retry"),
    (302, 8, "dead"), (400, 7, "retry"),
])
def test_what_an_answer_means(status, attempt, verdict):
    judged = wh.judge(status, attempt)
    assert judged.status == verdict
    assert judged.gone is (status == 410)


def test_retry_after_in_seconds_or_as_a_date_capped_at_twelve_hours():
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert wh.parse_retry_after("120") == 120
    assert wh.parse_retry_after("Mon, 05 Jan 2026 09:02:00 GMT", now=now) == 120
    assert wh.parse_retry_after("999999") == wh.RETRY_AFTER_MAX
    assert wh.parse_retry_after("soon") is None and wh.parse_retry_after(None) is None
    assert wh.judge(503, 1, "30").after == 30
