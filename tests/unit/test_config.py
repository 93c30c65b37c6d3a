"""Settings: environment names, .env file, validation and derived properties."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from safechat.config import Settings

CLERK_URL = "https://clerk.example.test/.well-known/jwks.json"
CLERK_ISS = "https://clerk.example.test"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env from the repo, and none of the variables Settings reads."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(("SAFECHAT_", "CLERK_", "MONGODB_", "ENCRYPTION_", "LEGACY_")) or (
            upper
            in {
                "ALLOWED_ORIGINS",
                "MAX_MESSAGE_CHARS",
                "MAX_FRAME_BYTES",
                "MAX_JSON_BODY_BYTES",
                "DB_TIMEOUT_MS",
                "AUTH_REAUTH_GRACE_SECONDS",
                "AUTH_LEEWAY_SECONDS",
                "AUTH_MAX_TOKEN_LIFETIME_SECONDS",
                "MAX_REACTIONS_PER_MESSAGE",
                "RATE_GROUP_CREATE_PER_MINUTE",
                "RATE_GROUP_CREATE_BURST",
                "ENV",
                "HOST",
                "PORT",
                "DATA_DIR",
                "PUBLIC_URL",
                "LOG_LEVEL",
                "LOG_FORMAT",
            }
        ):
            monkeypatch.delenv(name, raising=False)


def test_defaults() -> None:
    s = Settings()
    assert s.env == "dev"
    assert s.host == "127.0.0.1"
    assert s.port == 3001
    assert s.data_dir == Path("./var")
    assert s.mongodb_uri is None
    assert s.mongodb_db == "safechat"
    assert s.allowed_origins == []
    assert s.dev_issuer is True
    assert s.max_message_chars == 4000
    assert s.auth_leeway_seconds == 5


def test_env_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SAFECHAT_PORT", "4123")
    monkeypatch.setenv("SAFECHAT_HOST", "0.0.0.0")
    monkeypatch.setenv("SAFECHAT_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("SAFECHAT_ENV", "production")
    monkeypatch.setenv("SAFECHAT_ALLOW_DEV_ISSUER", "true")
    monkeypatch.setenv("SAFECHAT_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example.test:27017")
    monkeypatch.setenv("MONGODB_DB", "chat_prod")
    monkeypatch.setenv("ENCRYPTION_KEYS", "k1:abc")
    monkeypatch.setenv("LEGACY_ENCRYPTION_SECRET", "old")
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "500")
    monkeypatch.setenv("AUTH_REAUTH_GRACE_SECONDS", "60")
    monkeypatch.setenv("AUTH_LEEWAY_SECONDS", "2")
    s = Settings()
    assert s.port == 4123
    assert s.host == "0.0.0.0"
    assert s.data_dir == tmp_path / "d"
    assert s.env == "production"
    assert s.log_level == "DEBUG"
    assert s.mongodb_uri == "mongodb://db.example.test:27017"
    assert s.mongodb_db == "chat_prod"
    assert s.encryption_keys == "k1:abc"
    assert s.legacy_encryption_secret == "old"
    assert s.max_message_chars == 500
    assert s.auth_reauth_grace_seconds == 60
    assert s.auth_leeway_seconds == 2
    assert s.allow_dev_issuer is True


def test_env_names_are_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("safechat_port", "4999")
    assert Settings().port == 4999


def test_generic_shell_variables_are_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # ENV is the POSIX sh start-up file variable; HOST/PORT/DATA_DIR belong to other
    # programs. Only the documented SAFECHAT_* names configure SafeChat.
    monkeypatch.setenv("ENV", "/home/someone/.shrc")
    monkeypatch.setenv("HOST", "build-box-17")
    monkeypatch.setenv("PORT", "8080")
    monkeypatch.setenv("DATA_DIR", "/somewhere/else")
    monkeypatch.setenv("LOG_LEVEL", "nonsense")
    s = Settings()
    assert s.env == "dev"
    assert s.host == "127.0.0.1"
    assert s.port == 3001
    assert s.data_dir == Path("./var")
    assert s.log_level == "INFO"


def test_keyword_arguments_by_field_name() -> None:
    s = Settings(port=5000, host="::", data_dir=Path("/tmp/x"), mongodb_uri="mongodb://h")
    assert (s.port, s.host, s.data_dir, s.mongodb_uri) == (
        5000,
        "::",
        Path("/tmp/x"),
        "mongodb://h",
    )


def test_keyword_arguments_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECHAT_PORT", "4123")
    assert Settings(port=5000).port == 5000


def test_dotenv_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "SAFECHAT_PORT=4555\nMONGODB_DB=from_dotenv\nSOMETHING_ELSE=ignored\n"
    )
    s = Settings()
    assert s.port == 4555
    assert s.mongodb_db == "from_dotenv"
    monkeypatch.setenv("SAFECHAT_PORT", "4666")
    assert Settings().port == 4666


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_invalid_port(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("SAFECHAT_PORT", port)
    with pytest.raises(ValidationError):
        Settings()


def test_invalid_env_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECHAT_ENV", "staging")
    with pytest.raises(ValidationError):
        Settings()


def test_clerk_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLERK_JWKS_URL", CLERK_URL)
    monkeypatch.setenv("CLERK_ISSUER", CLERK_ISS)
    s = Settings()
    assert s.clerk_jwks_url == CLERK_URL
    assert s.clerk_issuer == CLERK_ISS
    assert s.dev_issuer is False
    assert s.issuer == CLERK_ISS


@pytest.mark.parametrize("name", ["CLERK_JWKS_URL", "CLERK_ISSUER"])
def test_clerk_settings_go_together(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, CLERK_URL if name == "CLERK_JWKS_URL" else CLERK_ISS)
    with pytest.raises(ValidationError, match="set together"):
        Settings()


def test_allowed_origins_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ALLOWED_ORIGINS", " https://app.example.test ,https://admin.example.test,, "
    )
    s = Settings()
    assert s.allowed_origins == ["https://app.example.test", "https://admin.example.test"]
    assert s.cors_origins == ["https://app.example.test", "https://admin.example.test"]


def test_allowed_origins_single_value_is_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.test")
    assert Settings().allowed_origins == ["https://app.example.test"]


def test_allowed_origins_as_list_argument() -> None:
    assert Settings(allowed_origins=["https://a.test"]).allowed_origins == ["https://a.test"]


def test_wildcard_origin_in_dev(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "*")
    s = Settings()
    assert s.allowed_origins == ["*"]
    assert s.cors_origins == "*"


def test_wildcard_origin_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECHAT_ENV", "production")
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.test,*")
    with pytest.raises(ValidationError, match=r"\*"):
        Settings()


def test_cors_origins_when_none_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origins == "*"
    monkeypatch.setenv("SAFECHAT_ENV", "production")
    monkeypatch.setenv("SAFECHAT_ALLOW_DEV_ISSUER", "true")
    assert Settings().cors_origins == []


def test_base_url_and_dev_issuer() -> None:
    assert Settings(port=4000).base_url == "http://127.0.0.1:4000"
    assert Settings(host="0.0.0.0", port=4000).base_url == "http://127.0.0.1:4000"
    assert Settings(host="::", port=4000).base_url == "http://127.0.0.1:4000"
    assert Settings(host="chat.local", port=80).base_url == "http://chat.local:80"
    s = Settings(public_url="https://chat.example.test/", port=4000)
    assert s.base_url == "https://chat.example.test"
    assert s.issuer == "https://chat.example.test"
    assert Settings(port=4001).issuer == "http://127.0.0.1:4001"


def test_public_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFECHAT_PUBLIC_URL", "https://proxy.example.test")
    assert Settings().issuer == "https://proxy.example.test"


# --- production needs an identity provider (issue 9) ----------------------------------------


def test_production_without_an_identity_provider_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFECHAT_ENV", "production")
    with pytest.raises(ValidationError, match="CLERK_JWKS_URL") as info:
        Settings()
    assert "SAFECHAT_ALLOW_DEV_ISSUER" in str(info.value)
    monkeypatch.setenv("SAFECHAT_ALLOW_DEV_ISSUER", "false")
    with pytest.raises(ValidationError, match="identity provider"):
        Settings()


def test_production_with_clerk_or_an_explicit_dev_issuer_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAFECHAT_ENV", "production")
    monkeypatch.setenv("CLERK_JWKS_URL", CLERK_URL)
    monkeypatch.setenv("CLERK_ISSUER", CLERK_ISS)
    assert Settings().dev_issuer is False
    monkeypatch.delenv("CLERK_JWKS_URL")
    monkeypatch.delenv("CLERK_ISSUER")
    monkeypatch.setenv("SAFECHAT_ALLOW_DEV_ISSUER", "true")
    s = Settings()
    assert (s.dev_issuer, s.allow_dev_issuer) == (True, True)
    # Dev mode needs no permission: the dev issuer is its default.
    monkeypatch.setenv("SAFECHAT_ENV", "dev")
    monkeypatch.delenv("SAFECHAT_ALLOW_DEV_ISSUER")
    assert Settings().dev_issuer is True


def test_hardening_settings_defaults_and_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings()
    assert s.auth_max_token_lifetime_seconds == 86400
    assert s.max_reactions_per_message == 50
    assert (s.rate_group_create_per_minute, s.rate_group_create_burst) == (10, 20)
    monkeypatch.setenv("AUTH_MAX_TOKEN_LIFETIME_SECONDS", "3600")
    monkeypatch.setenv("MAX_REACTIONS_PER_MESSAGE", "12")
    monkeypatch.setenv("RATE_GROUP_CREATE_PER_MINUTE", "3")
    monkeypatch.setenv("RATE_GROUP_CREATE_BURST", "4")
    s = Settings()
    assert s.auth_max_token_lifetime_seconds == 3600
    assert s.max_reactions_per_message == 12
    assert (s.rate_group_create_per_minute, s.rate_group_create_burst) == (3, 4)


def test_transport_deadlines_and_caps_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.http_header_timeout_seconds, defaults.http_body_timeout_seconds) == (10, 60)
    assert (defaults.max_pending_sockets, defaults.socket_handshake_timeout_seconds) == (1000, 10)
    monkeypatch.setenv("HTTP_HEADER_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("HTTP_BODY_TIMEOUT_SECONDS", "120")
    monkeypatch.setenv("MAX_PENDING_SOCKETS", "50")
    monkeypatch.setenv("SOCKET_HANDSHAKE_TIMEOUT_SECONDS", "3")
    s = Settings()
    assert (s.http_header_timeout_seconds, s.http_body_timeout_seconds) == (2.5, 120)
    assert (s.max_pending_sockets, s.socket_handshake_timeout_seconds) == (50, 3)
