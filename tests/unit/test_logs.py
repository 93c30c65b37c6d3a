"""Log output (logs.py): an exception logged without a terminal is a plain traceback,
cheap to render under load and never showing the frames' local variables."""

from __future__ import annotations

import pytest
import structlog

from safechat.logs import configure_logging
from tests.conftest import TEST_LOGGING


@pytest.fixture(autouse=True)
def _restore_structlog() -> object:
    yield None
    configure_logging(*TEST_LOGGING)


def test_exceptions_are_plain_tracebacks_without_locals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "console", "dev")
    try:
        secret_token = "eyJ-not-for-logs"
        raise ValueError(f"boom {len(secret_token)}")
    except ValueError:
        structlog.get_logger("t").exception("send_batch_failed")
    err = capsys.readouterr().err
    assert "send_batch_failed" in err
    assert "Traceback (most recent call last)" in err
    assert "ValueError: boom 16" in err
    assert "eyJ-not-for-logs" not in err  # no locals
    assert "╭" not in err  # not rich's boxed rendering


def test_json_format_keeps_the_exception(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json", "production")
    try:
        raise RuntimeError("db down")
    except RuntimeError:
        structlog.get_logger("t").exception("send_batch_failed")
    err = capsys.readouterr().err
    assert '"event": "send_batch_failed"' in err
    assert "RuntimeError: db down" in err
