"""Settings: CLI options > environment > `.env` > defaults.

Every option has a `SAFECHAT_*` environment name; the ones operators know from
the hosting world (MONGODB_URI, REDIS_URL, CLERK_*, ENCRYPTION_KEYS, ...) are
read under their usual names.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def is_loopback_host(host: str) -> bool:
    """A listen address (or a peer's) that only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    # Connections for the send path's writes to the embedded database, which is fastest
    # serving one write at a time (reads have their own pool).
    embedded_write_connections: int = Field(
        1, ge=1, le=100, validation_alias=_env("EMBEDDED_WRITE_CONNECTIONS")
    )
    # Journal fsynced before a write is answered: acknowledged = stored, power loss too.
    embedded_sync_on_commit: bool = Field(True, validation_alias=_env("EMBEDDED_SYNC_ON_COMMIT"))
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
    # Tokens living longer than this (exp - iat, or exp - now without iat) are refused.
    auth_max_token_lifetime_seconds: int = Field(
        86400, ge=60, validation_alias=_env("AUTH_MAX_TOKEN_LIFETIME_SECONDS")
    )
    # Production signs no tokens of its own unless this says so (a demo or test stack).
    allow_dev_issuer: bool = Field(False, validation_alias=_env("SAFECHAT_ALLOW_DEV_ISSUER"))

    # Encryption: unset -> a master key generated into <data_dir>.
    encryption_keys: str | None = Field(
        None, validation_alias=_env("ENCRYPTION_KEYS", "encryption_keys")
    )
    legacy_encryption_secret: str | None = Field(
        None, validation_alias=_env("LEGACY_ENCRYPTION_SECRET", "legacy_encryption_secret")
    )

    # Limits (docs/protocol.md §6).
    max_message_chars: int = Field(4000, ge=1, validation_alias=_env("MAX_MESSAGE_CHARS"))
    max_frame_bytes: int = Field(64 * 1024, ge=1024, validation_alias=_env("MAX_FRAME_BYTES"))
    max_json_body_bytes: int = Field(
        1024 * 1024, ge=1024, validation_alias=_env("MAX_JSON_BODY_BYTES")
    )
    max_reactions_per_message: int = Field(
        50, ge=1, le=1000, validation_alias=_env("MAX_REACTIONS_PER_MESSAGE")
    )
    db_timeout_ms: int = Field(5000, ge=100, validation_alias=_env("DB_TIMEOUT_MS"))
    websocket_compression: bool = Field(
        False, validation_alias=_env("SAFECHAT_WEBSOCKET_COMPRESSION")
    )
    # Transport deadlines and caps (docs/deploy.md, "Timeouts and caps").
    http_header_timeout_seconds: float = Field(
        10.0, gt=0, le=3600, validation_alias=_env("HTTP_HEADER_TIMEOUT_SECONDS")
    )
    http_body_timeout_seconds: float = Field(
        60.0, gt=0, le=3600, validation_alias=_env("HTTP_BODY_TIMEOUT_SECONDS")
    )
    max_pending_sockets: int = Field(1000, ge=1, validation_alias=_env("MAX_PENDING_SOCKETS"))
    socket_handshake_timeout_seconds: float = Field(
        10.0, gt=0, le=300, validation_alias=_env("SOCKET_HANDSHAKE_TIMEOUT_SECONDS")
    )

    # Multi-node: unset -> in-process Socket.IO manager, presence, typing and limits.
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL", "redis_url"))
    redis_channel: str = Field("safechat", validation_alias=_env("SAFECHAT_REDIS_CHANNEL"))
    presence_ttl_seconds: int = Field(
        60, ge=5, le=3600, validation_alias=_env("SAFECHAT_PRESENCE_TTL_SECONDS")
    )
    typing_timeout_seconds: float = Field(
        5.0, gt=0, le=60, validation_alias=_env("SAFECHAT_TYPING_TIMEOUT_SECONDS")
    )

    # Rate limits (docs/protocol.md §6): token buckets per user, per socket, per user on REST.
    rate_send_per_second: float = Field(10.0, gt=0, validation_alias=_env("RATE_SEND_PER_SECOND"))
    rate_send_burst: int = Field(20, ge=1, validation_alias=_env("RATE_SEND_BURST"))
    rate_events_per_second: float = Field(
        30.0, gt=0, validation_alias=_env("RATE_EVENTS_PER_SECOND")
    )
    rate_events_burst: int = Field(60, ge=1, validation_alias=_env("RATE_EVENTS_BURST"))
    rate_ai_per_minute: int = Field(20, ge=1, validation_alias=_env("RATE_AI_PER_MINUTE"))
    rate_rest_per_minute: int = Field(300, ge=1, validation_alias=_env("RATE_REST_PER_MINUTE"))
    rate_group_create_per_minute: int = Field(
        10, ge=1, validation_alias=_env("RATE_GROUP_CREATE_PER_MINUTE")
    )
    rate_group_create_burst: int = Field(20, ge=1, validation_alias=_env("RATE_GROUP_CREATE_BURST"))
    rate_account_per_hour: int = Field(10, ge=1, validation_alias=_env("RATE_ACCOUNT_PER_HOUR"))
    max_sockets_per_user: int = Field(20, ge=1, validation_alias=_env("MAX_SOCKETS_PER_USER"))
    # A closed socket's session record stays open this long on its node, so a reconnect
    # from the same device and token session continues it without a database write.
    session_resume_seconds: float = Field(
        60.0, ge=0, le=3600, validation_alias=_env("SESSION_RESUME_SECONDS")
    )
    # How long the send path's read marks (and the local allocator's lastSeq) may wait to
    # be written: longer coalesces more of a sender's messages into one write.
    write_behind_seconds: float = Field(
        5.0, ge=0.01, le=60, validation_alias=_env("WRITE_BEHIND_SECONDS")
    )

    # AI (docs/ai.md): unset OPENAI_* -> the offline provider, no network.
    ai_provider: Literal["auto", "openai", "offline"] = Field(
        "auto", validation_alias=_env("AI_PROVIDER", "ai_provider")
    )
    openai_api_key: str | None = Field(
        None, validation_alias=_env("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=_env("OPENAI_BASE_URL", "openai_base_url")
    )
    ai_model: str = Field("gpt-4o-mini", validation_alias=_env("AI_MODEL", "ai_model"))
    embedding_model: str = Field(
        "text-embedding-3-small", validation_alias=_env("EMBEDDING_MODEL", "embedding_model")
    )
    embedding_dimensions: int | None = Field(
        None, ge=1, le=8192, validation_alias=_env("EMBEDDING_DIMENSIONS", "embedding_dimensions")
    )
    moderation_model: str = Field(
        "omni-moderation-latest", validation_alias=_env("MODERATION_MODEL", "moderation_model")
    )
    moderation_mode: Literal["off", "flag", "block"] = Field(
        "flag", validation_alias=_env("MODERATION_MODE", "moderation_mode")
    )
    # What a send gets when the remote moderation call fails or times out.
    moderation_fallback: Literal["offline", "allow", "reject"] = Field(
        "offline", validation_alias=_env("MODERATION_FALLBACK", "moderation_fallback")
    )
    moderation_timeout_seconds: float = Field(
        1.5, gt=0, le=30, validation_alias=_env("MODERATION_TIMEOUT_SECONDS")
    )
    ai_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("AI_TIMEOUT_SECONDS")
    )
    ai_fallback_offline: bool = Field(True, validation_alias=_env("AI_FALLBACK_OFFLINE"))
    ai_context_messages: int = Field(20, ge=1, le=200, validation_alias=_env("AI_CONTEXT_MESSAGES"))
    ai_breaker_failures: int = Field(5, ge=1, validation_alias=_env("AI_BREAKER_FAILURES"))
    ai_breaker_open_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("AI_BREAKER_OPEN_SECONDS")
    )
    # Embeddings of new messages for semantic search; off: none made, stored ones purged.
    ai_indexing: bool = Field(True, validation_alias=_env("AI_INDEXING"))
    # Worker processes for the offline AI's CPU-heavy work (off the event loop).
    ai_cpu_workers: int = Field(1, ge=1, le=32, validation_alias=_env("AI_CPU_WORKERS"))
    vector_search: Literal["exact", "atlas"] = Field(
        "exact", validation_alias=_env("VECTOR_SEARCH", "vector_search")
    )
    vector_index_name: str = Field(
        "message_embeddings_vector", validation_alias=_env("VECTOR_INDEX_NAME")
    )

    # --- Media (docs/media.md) ---------------------------------------------------
    # S3_BUCKET unset -> a local directory <data_dir>/media with signed URLs served by
    # SafeChat. S3 credentials come only from boto3's standard chain (role first).
    s3_bucket: str | None = Field(None, validation_alias=_env("S3_BUCKET"))
    s3_region: str | None = Field(None, validation_alias=_env("S3_REGION", "AWS_REGION"))
    s3_endpoint_url: str | None = Field(None, validation_alias=_env("S3_ENDPOINT_URL"))
    s3_prefix: str = Field("", max_length=200, validation_alias=_env("S3_PREFIX"))
    max_upload_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_UPLOAD_BYTES")
    )
    media_max_pixels: int = Field(40_000_000, ge=1, validation_alias=_env("MEDIA_MAX_PIXELS"))
    media_max_frames: int = Field(500, ge=1, validation_alias=_env("MEDIA_MAX_FRAMES"))
    # Image decoding runs on a thread pool of its own, each user holding at most
    # MEDIA_USER_CONCURRENCY of its threads (docs/media.md, "Processing").
    media_workers: int = Field(2, ge=1, le=64, validation_alias=_env("MEDIA_WORKERS"))
    media_user_concurrency: int = Field(
        1, ge=1, le=64, validation_alias=_env("MEDIA_USER_CONCURRENCY")
    )
    media_url_ttl_seconds: int = Field(
        600, ge=1, le=7 * 86400, validation_alias=_env("MEDIA_URL_TTL_SECONDS")
    )
    media_upload_ttl_seconds: int = Field(
        900, ge=1, le=7 * 86400, validation_alias=_env("MEDIA_UPLOAD_TTL_SECONDS")
    )
    media_orphan_ttl_seconds: int = Field(
        86400, ge=60, validation_alias=_env("MEDIA_ORPHAN_TTL_SECONDS")
    )
    media_cleanup_interval_seconds: float = Field(
        3600.0, gt=0, validation_alias=_env("MEDIA_CLEANUP_INTERVAL_SECONDS")
    )
    # --- end of media settings ----------------------------------------------------

    # --- web client at / (docs/web-client.md) -------------------------------------------
    web_client: bool = Field(True, validation_alias=_env("SAFECHAT_WEB_CLIENT"))
    # Where socket.io.esm.min.js is (default: the package's web/vendor, filled by
    # `make install`); for an install made without that step.
    web_vendor_dir: Path | None = Field(None, validation_alias=_env("SAFECHAT_WEB_VENDOR_DIR"))
    # POST /api/dev/token (dev issuer on loopback only), per client address.
    rate_dev_token_per_minute: int = Field(
        30, ge=1, le=10000, validation_alias=_env("RATE_DEV_TOKEN_PER_MINUTE")
    )
    # --- end of web client settings -------------------------------------------------------

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

    # Notification webhooks (docs/webhooks.md): off unless both are set.
    webhook_url: str | None = Field(None, validation_alias=_env("WEBHOOK_URL"))
    webhook_secret: str | None = Field(None, validation_alias=_env("WEBHOOK_SECRET"))
    webhook_include_content: bool = Field(False, validation_alias=_env("WEBHOOK_INCLUDE_CONTENT"))
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, validation_alias=_env("WEBHOOK_MAX_ATTEMPTS")
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, validation_alias=_env("WEBHOOK_TIMEOUT_SECONDS")
    )
    webhook_backoff_base_seconds: float = Field(
        1.0, gt=0, validation_alias=_env("WEBHOOK_BACKOFF_BASE_SECONDS")
    )
    webhook_backoff_cap_seconds: float = Field(
        300.0, gt=0, validation_alias=_env("WEBHOOK_BACKOFF_CAP_SECONDS")
    )

    # Seq allocation of the group commit (docs/performance.md): `local` keeps the
    # counters and who may send in memory, for a node that is its database's only
    # writer; `auto` is `local` with the embedded database, `atomic` with MONGODB_URI.
    seq_allocator: Literal["auto", "atomic", "local"] = Field(
        "auto", validation_alias=_env("SEQ_ALLOCATOR")
    )

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if bool(self.clerk_jwks_url) != bool(self.clerk_issuer):
            raise ValueError("CLERK_JWKS_URL and CLERK_ISSUER must be set together")
        if bool(self.webhook_url) != bool(self.webhook_secret):
            raise ValueError("WEBHOOK_URL and WEBHOOK_SECRET must be set together")
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError("WEBHOOK_URL must be an http:// or https:// URL")
        if self.env == "production" and "*" in self.allowed_origins:
            raise ValueError("ALLOWED_ORIGINS='*' is refused outside dev mode")
        if self.env == "production" and self.dev_issuer and not self.allow_dev_issuer:
            raise ValueError(
                "SAFECHAT_ENV=production needs an identity provider: set CLERK_JWKS_URL and "
                "CLERK_ISSUER (or SAFECHAT_ALLOW_DEV_ISSUER=true to let this server sign its "
                "own tokens, for a demo or test stack only)"
            )
        return self

    @property
    def local_seqs(self) -> bool:
        """The group commit allocates seqs in memory (this node is the only writer)."""
        if self.seq_allocator == "auto":
            return not self.mongodb_uri
        return self.seq_allocator == "local"

    @property
    def webhooks(self) -> bool:
        """True when notification webhooks are configured."""
        return bool(self.webhook_url and self.webhook_secret)

    @property
    def ai_remote(self) -> bool:
        """True when AI calls go to an OpenAI-compatible server."""
        if self.ai_provider == "auto":
            return bool(self.openai_api_key or self.openai_base_url)
        return self.ai_provider == "openai"

    @property
    def dev_sign_in(self) -> bool:
        """POST /api/dev/token exists: dev mode, the dev issuer, listening on loopback only."""
        return self.env == "dev" and self.dev_issuer and is_loopback_host(self.host)

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
        """Origins for Socket.IO; dev mode with none configured allows any.

        An empty list means none: the Socket.IO adapter refuses every Origin header
        (python-engineio itself reads [] as "no check").
        """
        if self.allowed_origins:
            return "*" if "*" in self.allowed_origins else list(self.allowed_origins)
        return "*" if self.env == "dev" else []
