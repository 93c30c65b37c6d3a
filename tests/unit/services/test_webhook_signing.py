"""The pure parts of webhook delivery (services/webhooks/signing.py) and its settings."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from pydantic import ValidationError

from safechat.config import Settings
from safechat.services.webhooks.signing import backoff, signature, verify


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"x"}'
    expected = hmac.new(b"s", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s", 1700000000, body) == "sha256=" + expected
    assert verify("s", "1700000000", body, "sha256=" + expected)
    assert not verify("s", "1700000001", body, "sha256=" + expected)  # timestamp is signed
    assert not verify("t", "1700000000", body, "sha256=" + expected)
    assert not verify("s", "not-a-number", body, "sha256=" + expected)


def test_backoff_is_full_jitter_under_a_doubling_ceiling_and_the_cap() -> None:
    top = [backoff(n, 1.0, 300.0, lambda: 1.0) for n in range(1, 12)]
    assert top == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff(5, 1.0, 300.0, lambda: 0.0) == 0.0
    assert backoff(3, 1.0, 300.0, lambda: 0.5) == 2.0
    assert backoff(10_000, 1.0, 300.0, lambda: 1.0) == 300.0  # no overflow


def test_webhook_settings_come_as_a_pair_and_as_an_http_url() -> None:
    with pytest.raises(ValidationError, match="set together"):
        Settings(webhook_url="https://push.example.com/hook")
    with pytest.raises(ValidationError, match="http"):
        Settings(webhook_url="ftp://push.example.com", webhook_secret="s")
    on = Settings(webhook_url="https://push.example.com/hook", webhook_secret="s")
    assert on.webhooks is True
    assert Settings().webhooks is False
