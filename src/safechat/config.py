"""Settings: CLI options > environment > `.env` > defaults.

Every option has a `SAFECHAT_*` environment name; the ones operators know from
the hosting world (MONGODB_URI, REDIS_URL, CLERK_*, ENCRYPTION_KEYS, ...) are
read under their usual names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    # populate_by_name lets code pass field names (Settings(port=...)); pydantic-settings
    # then also reads the field name from the environment, so prefix it: a stray ENV,
    # HOST or PORT variable must not configure SafeChat.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_prefix="SAFECHAT_",
        extra="ignore",
        populate_by_name=True,
    )

    env: Literal["dev", "production"] = Field("dev", validation_alias=_env("SAFECHAT_ENV"))
    host: str = Field("127.0.0.1", validation_alias=_env("SAFECHAT_HOST"))
    port: int = Field(3001, ge=0, le=65535, validation_alias=_env("SAFECHAT_PORT"))
    data_dir: Path = Field(Path("./var"), validation_alias=_env("SAFECHAT_DATA_DIR"))
    public_url: str | None = Field(None, validation_alias=_env("SAFECHAT_PUBLIC_URL"))
    log_level: str = Field("INFO", validation_alias=_env("SAFECHAT_LOG_LEVEL"))
    log_format: Literal["auto", "console", "json"] = Field(
        "auto", validation_alias=_env("SAFECHAT_LOG_FORMAT")
    )

    # MongoDB: unset -> embedded SecantusDB child process under <data_dir>/db.
    mongodb_uri: str | None = Field(None, validation_alias=_env("MONGODB_URI", "mongodb_uri"))
    mongodb_db: str = Field("safechat", validation_alias=_env("MONGODB_DB", "mongodb_db"))
    embedded_mongo_cmd: str = Field(
        "secantusd-py", validation_alias=_env("SAFECHAT_EMBEDDED_MONGO_CMD")
    )

    # Identity: unset -> dev issuer with a key kept in <data_dir>.
    clerk_jwks_url: str | None = Field(
        None, validation_alias=_env("CLERK_JWKS_URL", "clerk_jwks_url")
    )
    clerk_issuer: str | None = Field(None, validation_alias=_env("CLERK_ISSUER", "clerk_issuer"))
    clerk_jwks_cooldown_seconds: float = Field(
        30.0, ge=0, le=3600, validation_alias=_env("CLERK_JWKS_COOLDOWN_SECONDS")
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ALLOWED_ORIGINS", "allowed_origins")
    )
    auth_leeway_seconds: int = Field(5, ge=0, le=300, validation_alias=_env("AUTH_LEEWAY_SECONDS"))
    auth_reauth_grace_seconds: int = Field(
        1800, ge=0, validation_alias=_env("AUTH_REAUTH_GRACE_SECONDS", "auth_reauth_grace_seconds")
    )

    # Encryption: unset -> a master key generated into <data_dir>.
    encryption_keys: str | None = Field(
        None, validation_alias=_env("ENCRYPTION_KEYS", "encryption_keys")
    )
    legacy_encryption_secret: str | None = Field(
        None, validation_alias=_env("LEGACY_ENCRYPTION_SECRET", "legacy_encryption_secret")
    )

    # Limits (protocol.md section 6).
    max_message_chars: int = Field(4000, ge=1, validation_alias=_env("MAX_MESSAGE_CHARS"))
    max_frame_bytes: int = Field(64 * 1024, ge=1024, validation_alias=_env("MAX_FRAME_BYTES"))
    max_json_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("MAX_JSON_BODY_BYTES")
    )
    db_timeout_ms: int = Field(5000, ge=100, validation_alias=_env("DB_TIMEOUT_MS"))
    websocket_compression: bool = Field(
        False, validation_alias=_env("SAFECHAT_WEBSOCKET_COMPRESSION")
    )

    # Speedups (the `speed` extra; `auto` uses them when installed): uvloop as the event
    # loop of `safechat serve`, orjson as python-socketio's JSON codec.
    event_loop: Literal["auto", "uvloop", "asyncio"] = Field(
        "auto", validation_alias=_env("SAFECHAT_EVENT_LOOP")
    )
    socketio_json: Literal["auto", "orjson", "json"] = Field(
        "auto", validation_alias=_env("SAFECHAT_SOCKETIO_JSON")
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip() for o in value.split(",") if o.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if bool(self.clerk_jwks_url) != bool(self.clerk_issuer):
            raise ValueError("CLERK_JWKS_URL and CLERK_ISSUER must be set together")
        if self.env == "production" and "*" in self.allowed_origins:
            raise ValueError("ALLOWED_ORIGINS='*' is refused outside dev mode")
        return self

    @property
    def dev_issuer(self) -> bool:
        """True when SafeChat signs its own tokens (no Clerk configured)."""
        return not self.clerk_jwks_url

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def issuer(self) -> str:
        if self.clerk_issuer:
            return self.clerk_issuer
        return self.base_url

    @property
    def cors_origins(self) -> list[str] | str:
        """Origins for Socket.IO; dev mode with none configured allows any."""
        if self.allowed_origins:
            return "*" if "*" in self.allowed_origins else list(self.allowed_origins)
        return "*" if self.env == "dev" else []
