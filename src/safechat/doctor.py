"""`safechat doctor`: configuration and reachability of every component."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
from pymongo import AsyncMongoClient

from safechat.adapters.embedded_mongo import find_command
from safechat.config import Settings
from safechat.services.encryption import DEV_KEY_FILE, parse_keyring

Check = tuple[str, bool, str]


async def _mongo(uri: str, timeout_ms: int) -> str:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms
    )
    try:
        await client.admin.command("ping")
        return "reachable"
    finally:
        await client.close()


async def _jwks(url: str) -> str:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as resp,
    ):
        resp.raise_for_status()
        keys = (await resp.json(content_type=None)).get("keys", [])
        return f"{len(keys)} key(s)"


async def _vector_index(settings: Settings) -> str:
    """VECTOR_SEARCH=atlas: the search index atlas_pipeline() relies on exists."""
    from safechat.repositories.embeddings import check_vector_index

    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        str(settings.mongodb_uri), serverSelectionTimeoutMS=settings.db_timeout_ms
    )
    try:
        coll = client[settings.mongodb_db]["message_embeddings"]
        cursor = await coll.list_search_indexes()
        ok, detail = check_vector_index([dict(i) async for i in cursor], settings.vector_index_name)
        if not ok:
            raise RuntimeError(detail)
        return detail
    finally:
        await client.close()


def ai_checks(settings: Settings) -> list[Check]:
    if settings.ai_remote:
        where = settings.openai_base_url or "api.openai.com"
        keyed = bool(settings.openai_api_key) or bool(settings.openai_base_url)
        detail = f"{where}, model {settings.ai_model}, embeddings {settings.embedding_model}"
        checks = [("ai", keyed, detail if keyed else "OPENAI_API_KEY missing")]
    else:
        checks = [("ai", True, "embedded offline provider (no network)")]
    checks.append(("moderation", True, f"mode {settings.moderation_mode}"))
    return checks


async def _redis(url: str) -> str:
    """PING within 5 s; the URL's password never reaches the output."""
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await asyncio.wait_for(client.ping(), 5)
        info = await asyncio.wait_for(client.info("server"), 5)
    finally:
        await client.aclose()
    parts = urlsplit(url)
    version = info.get("redis_version", "?")
    return f"reachable at {parts.hostname}:{parts.port or 6379}, Redis {version}"


async def _webhook(url: str) -> str:
    """Any HTTP answer to a HEAD within 5 s means the endpoint is reachable (receivers
    often accept only POST); only scheme, host and port are printed (a URL may carry a
    token in its path or query)."""
    import aiohttp

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{parts.scheme}://{parts.hostname}:{port}"
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.head(url, allow_redirects=False) as response,
    ):
        return f"reachable at {where} (HTTP {response.status} to HEAD)"


async def _s3_credentials() -> str:
    """Media: which link of boto3's chain supplies credentials (bucket rights are not probed:
    the least-privilege role has no bucket-level permission to probe with)."""
    import boto3

    credentials = await asyncio.to_thread(lambda: boto3.session.Session().get_credentials())
    if credentials is None:
        raise RuntimeError("no AWS credentials found (role, environment or profile)")
    return f"credentials from {credentials.method}"


async def _try(name: str, probe: Callable[[], Awaitable[str]]) -> Check:
    try:
        return name, True, await probe()
    except Exception as exc:
        return name, False, f"{type(exc).__name__}: {exc}"[:300]


async def gather_checks(settings: Settings) -> list[Check]:
    checks: list[Check] = []
    data_dir = settings.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(data_dir, os.W_OK)
    except OSError:
        writable = False
    checks.append(("data dir", writable, f"{data_dir.resolve()}"))
    if settings.mongodb_uri:
        uri, timeout_ms = str(settings.mongodb_uri), settings.db_timeout_ms
        checks.append(await _try("mongodb", lambda: _mongo(uri, timeout_ms)))
    else:
        exe = find_command(settings.embedded_mongo_cmd)
        detail = f"embedded SecantusDB: {exe}" if exe else "embedded SecantusDB not installed"
        checks.append(("mongodb", exe is not None, detail))
    if settings.redis_url:
        redis_url = settings.redis_url
        checks.append(await _try("redis", lambda: _redis(redis_url)))
    else:
        checks.append(("redis", True, "off (single node: presence and limits in memory)"))
    if settings.clerk_jwks_url:
        url = settings.clerk_jwks_url
        checks.append(await _try("identity", lambda: _jwks(url)))
    else:
        checks.append(("identity", True, f"embedded dev issuer, iss={settings.issuer}"))
    if settings.encryption_keys:
        try:
            primary, keys = parse_keyring(settings.encryption_keys)
            checks.append(("encryption", True, f"{len(keys)} key(s), encrypting with {primary!r}"))
        except ValueError as exc:
            checks.append(("encryption", False, str(exc)))
    else:
        ok = settings.env != "production"
        where = data_dir / DEV_KEY_FILE
        checks.append(
            (
                "encryption",
                ok,
                f"embedded dev key at {where}" if ok else "ENCRYPTION_KEYS required in production",
            )
        )
    checks += ai_checks(settings)
    if settings.vector_search == "atlas":
        if not settings.mongodb_uri:
            checks.append(("vector", False, "VECTOR_SEARCH=atlas needs MONGODB_URI (Atlas)"))
        else:
            checks.append(await _try("vector", lambda: _vector_index(settings)))
    else:
        checks.append(("vector", True, "exact cosine over stored embeddings"))
    if settings.s3_bucket:
        bucket = f"S3 bucket {settings.s3_bucket}" + (
            f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else ""
        )
        name, ok, detail = await _try("media", _s3_credentials)
        checks.append((name, ok, f"{bucket}: {detail}"))
    else:
        checks.append(("media", True, f"local store at {(data_dir / 'media').resolve()}"))
    if settings.webhook_url:
        hook_url = settings.webhook_url
        checks.append(await _try("webhooks", lambda: _webhook(hook_url)))
    else:
        checks.append(("webhooks", True, "off (WEBHOOK_URL not set)"))
    origins = settings.cors_origins
    checks.append(
        ("origins", True, "any (dev mode)" if origins == "*" else ", ".join(origins) or "none")
    )
    return checks


async def run_doctor(settings: Settings) -> int:
    checks = await asyncio.wait_for(gather_checks(settings), 30)
    print(f"SafeChat doctor (env={settings.env}, listen {settings.host}:{settings.port})")
    for name, ok, detail in checks:
        print(f"  [{'ok' if ok else 'FAIL'}] {name:<11} {detail}")
    failed = [c for c in checks if not c[1]]
    print("all checks passed" if not failed else f"{len(failed)} check(s) failed")
    return 1 if failed else 0
