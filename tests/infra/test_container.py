"""Dockerfile (hadolint, structure, its configuration really serving), .dockerignore,
docker-compose.yml and deploy/nginx.conf.

No Docker engine here: the image's environment and HEALTHCHECK command are exercised
against a real `safechat serve` process instead, and the workflow builds the image.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from safechat.adapters.embedded_mongo import free_port
from safechat.config import Settings
from tests.helpers.support import terminate
from tests.infra.tools import (
    MEDIA_AND_REDIS_ENV,
    ROOT,
    compose_default,
    setting_env_names,
    tool,
)

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
SERVE_TIMEOUT = 60.0


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, by stage name."""
    result: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for keyword, args in instructions():
        if keyword == "FROM":
            name = args.split()[-1] if " AS " in args.upper() else str(len(result))
            current = result.setdefault(name, [])
        if current is not None:
            current.append((keyword, args))
    return result


def image_env() -> dict[str, str]:
    """The ENV of the final stage."""
    env: dict[str, str] = {}
    final = list(stages().values())[-1]
    for keyword, args in final:
        if keyword == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def healthcheck_argv() -> list[str]:
    final = list(stages().values())[-1]
    (args,) = [a for k, a in final if k == "HEALTHCHECK"]
    _, _, command = args.partition("CMD ")
    argv = json.loads(command)
    assert isinstance(argv, list)
    return [str(a) for a in argv]


def test_hadolint_passes() -> None:
    proc = subprocess.run(
        [str(tool("hadolint")), "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(proc.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=2)
    assert proc.returncode == 0, proc.stderr


def test_dockerfile_is_multi_stage_slim_non_root_with_healthcheck() -> None:
    all_ = instructions()
    (base,) = [a for k, a in all_ if k == "ARG" and a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.1[1-9]\.\d+-slim(-\w+)?", base), base

    by_stage = stages()
    assert list(by_stage) == ["build", "runtime"]
    runtime = by_stage["runtime"]
    keywords = [k for k, _ in runtime]
    assert any(k == "COPY" and a.startswith("--from=build ") for k, a in runtime)
    assert not any(k == "RUN" and "pip install" in a for k, a in runtime), "no build in runtime"

    (user,) = [a for k, a in runtime if k == "USER"]
    assert user.split(":")[0] not in ("root", "0"), user
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert ("EXPOSE", "3001") in runtime
    assert ("ENTRYPOINT", '["safechat"]') in runtime
    assert ("CMD", '["serve"]') in runtime

    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"], "slim images have no curl"
    assert "/health" in argv[2]


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "an allow-list: secrets, venvs, var/ and .git stay out"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    copied: set[str] = set()
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _dest = args.split()
            copied.update(s.rstrip("/") for s in sources)
    assert copied == allowed
    for source in copied:
        assert (ROOT / source).exists(), source


async def test_image_environment_serves_json_logs_and_passes_its_healthcheck(
    safechat_bin: str, mongo_uri: str, tmp_path: Path
) -> None:
    """`safechat serve` with exactly the image's ENV (+ what compose would add) is healthy,
    logs JSON, and the HEALTHCHECK command says so; against a dead port it fails."""
    env = image_env()
    assert env["SAFECHAT_ENV"] == "production"
    assert env["SAFECHAT_LOG_FORMAT"] == "json"
    assert env["SAFECHAT_PORT"] == "3001"
    unknown = {k for k in env if k.startswith("SAFECHAT_")} - setting_env_names()
    assert unknown == set(), "ENV names that SafeChat does not read"

    port = free_port()
    run_env = {
        "PATH": os.environ.get("PATH", ""),
        **{k: v for k, v in env.items() if k != "PATH"},
        # Deviations from the image: loopback, a free port, a temp data dir.
        "SAFECHAT_HOST": "127.0.0.1",
        "SAFECHAT_PORT": str(port),
        "SAFECHAT_DATA_DIR": str(tmp_path / "data"),
        "MONGODB_URI": mongo_uri,
        "MONGODB_DB": f"t_{uuid.uuid4().hex[:12]}",
        "ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
        # No Clerk here: the dev issuer, allowed explicitly as compose's app1 does.
        "SAFECHAT_ALLOW_DEV_ISSUER": "true",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [safechat_bin, "serve"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=run_env,
            cwd=tmp_path,
            start_new_session=True,
        )
    try:
        await wait_healthy(port, proc, log)
        argv = healthcheck_argv()
        # argv[0] is the image's venv python; here the test venv's.
        assert await run_check([sys.executable, *argv[1:]], run_env) == 0
        dead = {**run_env, "SAFECHAT_PORT": str(free_port())}
        assert await run_check([sys.executable, *argv[1:]], dead) != 0
    finally:
        terminate(proc, grace=20)

    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, "no log output"
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert records, f"no JSON log lines:\n{lines[:5]}"
    assert all("level" in r and "timestamp" in r for r in records)


async def run_check(argv: list[str], env: dict[str, str]) -> int:
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), 15)


async def wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    last: Any = None
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"safechat serve exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                async with http.get(
                    f"http://127.0.0.1:{port}/health", timeout=aiohttp.ClientTimeout(total=3)
                ) as r:
                    last = await r.json()
                    if last.get("status") == "ok":
                        return
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = repr(exc)
            await asyncio.sleep(0.2)
    pytest.fail(f"/health not ok (last: {last}):\n{log.read_text()[-3000:]}")


# ---- docker-compose.yml -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_two_nodes_and_their_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"app1", "app2", "nginx", "mongodb", "redis", "minio", "minio-init"}
    for name in ("app1", "app2"):
        app = services[name]
        assert app["build"] == "."
        deps = app["depends_on"]
        assert deps["mongodb"]["condition"] == "service_healthy"
        assert deps["redis"]["condition"] == "service_healthy"
        assert deps["minio-init"]["condition"] == "service_completed_successfully"
    assert services["app2"]["depends_on"]["app1"]["condition"] == "service_healthy"
    # Separate data dirs: each node keeps its own node id.
    volumes = [services[n]["volumes"][0].split(":")[0] for n in ("app1", "app2")]
    assert len(set(volumes)) == 2


def test_compose_environment_uses_real_setting_names(compose: dict[str, Any]) -> None:
    known = setting_env_names() | MEDIA_AND_REDIS_ENV
    envs = [compose["services"][n]["environment"] for n in ("app1", "app2")]
    for env in envs:
        assert set(env) - known == set(), "names SafeChat does not read"
        assert env["SAFECHAT_ENV"] == "production"
        assert "replicaSet=rs0" in env["MONGODB_URI"], "w: majority needs a replica set"
        assert env["ENCRYPTION_KEYS"].startswith("${ENCRYPTION_KEYS:?"), "required, no default"
    shared = ("MONGODB_URI", "MONGODB_DB", "REDIS_URL", "S3_BUCKET", "ENCRYPTION_KEYS")
    for key in shared:
        assert envs[0][key] == envs[1][key], key

    # app2 trusts app1's dev issuer unless real Clerk settings are given.
    app1, app2 = envs
    assert compose_default(app1["CLERK_JWKS_URL"]) == ""
    assert compose_default(app2["CLERK_ISSUER"]) == app1["SAFECHAT_PUBLIC_URL"]
    assert compose_default(app2["CLERK_JWKS_URL"]) == "http://app1:3001/.well-known/jwks.json"
    app2_settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        clerk_jwks_url=compose_default(app2["CLERK_JWKS_URL"]),
        clerk_issuer=compose_default(app2["CLERK_ISSUER"]),
    )
    assert not app2_settings.dev_issuer
    # Production refuses the dev issuer unless allowed: app1 allows it, app2 needs not.
    assert "SAFECHAT_ALLOW_DEV_ISSUER" not in app2
    app1_settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        env=app1["SAFECHAT_ENV"],
        allow_dev_issuer=app1["SAFECHAT_ALLOW_DEV_ISSUER"],
        public_url=app1["SAFECHAT_PUBLIC_URL"],
        clerk_jwks_url=compose_default(app1["CLERK_JWKS_URL"]),
        clerk_issuer=compose_default(app1["CLERK_ISSUER"]),
    )
    assert app1_settings.dev_issuer
    assert app1_settings.issuer == app2_settings.issuer


def test_compose_mongodb_is_a_replica_set_and_minio_gets_the_bucket(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    mongo = services["mongodb"]
    assert mongo["command"][:2] == ["--replSet", "rs0"]
    check = " ".join(mongo["healthcheck"]["test"])
    assert "rs.initiate" in check
    assert "isWritablePrimary" in check
    bucket = services["app1"]["environment"]["S3_BUCKET"]
    init = " ".join(services["minio-init"]["command"])
    assert f"mc mb --ignore-existing local/{bucket}" in init
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert services["app1"]["environment"]["S3_ENDPOINT_URL"] == "http://minio:9000"


def test_compose_nginx_points_deploy_conf_at_the_app_containers(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    nginx = compose["services"]["nginx"]
    (mount,) = nginx["volumes"]
    source, target, _mode = mount.split(":")
    assert (ROOT / source).resolve() == NGINX_CONF
    shell, flag, script = nginx["command"]
    assert (shell, flag) == ("/bin/sh", "-c")

    # Run the container's rewrite for real on a copy of the file.
    staged = tmp_path / Path(target).name
    staged.write_text(NGINX_CONF.read_text())
    rewrite = script.split("&&")[0].replace(target, str(staged))
    rewrite = rewrite.replace("/etc/nginx/nginx.conf", str(tmp_path / "out.conf"))
    subprocess.run(["/bin/sh", "-c", rewrite], check=True, timeout=10)
    upstream = directives(nginx_block((tmp_path / "out.conf").read_text(), "upstream safechat"))
    assert [d[1] for d in upstream if d[0] == "server"] == ["app1:3001", "app2:3001"]
    assert "exec nginx -g 'daemon off;'" in script


# ---- deploy/nginx.conf ------------------------------------------------------------------


def nginx_block(text: str, header: str) -> str:
    """The body of the first `header { ... }` block, braces balanced."""
    start = text.index(header)
    depth = 0
    for i in range(text.index("{", start), len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[text.index("{", start) + 1 : i]
    raise AssertionError(f"unbalanced {header}")


def directives(block: str) -> list[list[str]]:
    code = "\n".join(line.split("#", 1)[0] for line in block.splitlines())
    return [stmt.split() for stmt in code.split(";") if stmt.strip() and "{" not in stmt]


def test_nginx_is_sticky_over_two_nodes() -> None:
    text = NGINX_CONF.read_text()
    upstream = directives(nginx_block(text, "upstream safechat"))
    assert ["hash", "$remote_addr", "consistent"] in upstream
    servers = [d[1] for d in upstream if d[0] == "server"]
    assert servers == ["127.0.0.1:3001", "127.0.0.1:3002"]


def test_nginx_upgrades_websockets_and_forwards_client_headers() -> None:
    text = NGINX_CONF.read_text()
    assert "map $http_upgrade $connection_upgrade" in text
    server = nginx_block(text, "server {")
    assert ["proxy_http_version", "1.1"] in directives(server.split("location")[0])

    socket = directives(nginx_block(server, "location /socket.io/"))
    assert ["proxy_pass", "http://safechat"] in socket
    assert ["proxy_set_header", "Upgrade", "$http_upgrade"] in socket
    assert ["proxy_set_header", "Connection", "$connection_upgrade"] in socket
    assert ["proxy_buffering", "off"] in socket
    timeouts = {d[0]: d[1] for d in socket if d[0].endswith("_timeout")}
    # Engine.IO: 25 s ping interval + 20 s ping timeout must fit in the read timeout.
    assert int(timeouts["proxy_read_timeout"].rstrip("s")) > 45

    rest = directives(nginx_block(server, "location / "))
    for block in (socket, rest):
        # proxy_set_header in a location replaces all inherited ones: each lists them all.
        headers = {d[1] for d in block if d[0] == "proxy_set_header"}
        assert {"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP"} <= headers
    body = [d for d in directives(server) if d[0] == "client_max_body_size"]
    assert body
    assert int(body[0][1].rstrip("m")) >= 10, "media uploads are up to 10 MB"
