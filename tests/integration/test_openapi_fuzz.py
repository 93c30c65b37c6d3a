"""schemathesis over every operation of /api/openapi.json, against a live server with a
real bearer token: no 5xx, every status documented, content types and every body as its
schema says.

Each operation runs twice: as generated (positive and negative fuzzing; random ids mostly
answer 404/403, which must be documented too), and with the path ids, and the group,
message, user and request ids in bodies and queries, replaced by real ones of a group
made for that operation, so the cases reach the routes' real work; that run also takes
schemathesis' examples and coverage phases (boundary values, missing and extra fields,
unsupported methods). The tests are built the way `schema.parametrize()` builds them
(`create_test`), without pytest collection, because the server lives on this test's event
loop. Deterministic (derandomized), bounded examples per operation.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.support import ChatServer, start_server

EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BOB = "user_bob"


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


class Seeds:
    """A fresh group (Alice owner, Bob member) with a message and an upload."""

    def __init__(self, base: str, session: requests.Session, auth: dict[str, str]) -> None:
        def post(path: str, **kw: Any) -> dict[str, Any]:
            resp = session.post(base + path, headers=auth, timeout=10, **kw)
            assert resp.status_code == 201, resp.text
            return dict(resp.json())

        self.group = post("/api/groups", json={"name": "fuzz", "memberIds": [BOB]})["group"]["id"]
        message = post("/api/messages", json={"groupId": self.group, "content": "hello"})
        self.message = message["message"]["id"]
        upload = post(
            "/api/media/chat/upload",
            data={"groupId": self.group},
            files={"file": ("dot.png", _png(), "image/png")},
        )
        self.media = upload["media"]["id"]
        replies = session.post(
            base + "/api/ai/smart-replies",
            json={"groupId": self.group, "messageId": self.message},
            headers=auth,
            timeout=10,
        )
        assert replies.status_code == 200, replies.text
        self.request_id = replies.json()["requestId"]

    def path_ids(self, path: str, names: list[str]) -> dict[str, str]:
        real = {
            "groupId": self.group,
            "mediaId": self.media,
            "userId": BOB,
            "id": self.message if path.startswith("/api/messages/") else self.group,
        }
        return {n: real[n] for n in names if n in real}

    def substitute(self, data: Any) -> None:
        if isinstance(data, dict):
            real = {
                "groupId": self.group,
                "messageId": self.message,
                "userId": BOB,
                "requestId": self.request_id,
                "mimeType": "image/png",  # presign: a type the server takes
            }
            for key, value in real.items():
                if key in data:
                    data[key] = value


SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _run_operation(
    op: Any, seeds: Seeds, base: str, session: requests.Session, auth: dict[str, str]
) -> None:
    names = [p["name"] for p in op.definition.raw.get("parameters", []) if p["in"] == "path"]
    fixed = seeds.path_ids(op.path, names)

    def check(case: Any, real: bool) -> None:
        if real:
            seeds.substitute(case.body)
            seeds.substitute(case.query)
        case.call_and_validate(
            base_url=base,
            session=session,
            headers=auth,
            checks=CHECKS,
            allow_redirects=False,
            timeout=20,
        )

    def as_generated(case: Any) -> None:
        check(case, real=False)

    def with_real_ids(case: Any) -> None:
        check(case, real=True)

    # Boundary and missing-field cases (the coverage phase) once, with the real ids.
    runs = [
        (as_generated, Override(), [HypothesisTestMode.FUZZING]),
        (with_real_ids, Override(path_parameters=fixed), list(HypothesisTestMode)),
    ]
    for func, override, modes in runs:
        config = HypothesisTestConfig(
            project=op.schema.config, modes=modes, settings=SETTINGS, override=override
        )
        create_test(operation=op, test_func=func, config=config)()


def _fuzz(base: str, token: str, doc: dict[str, Any]) -> list[str]:
    schema = schemathesis.openapi.from_dict(doc)
    session = requests.Session()
    auth = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in schema.get_all_operations():
        op = result.ok()
        try:
            _run_operation(op, Seeds(base, session, auth), base, session, auth)
        except Exception as exc:
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    return failures


@pytest.fixture
async def server(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    """The usual test server, with the AI routes' own limit out of the way too."""
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data", rate_ai_per_minute=100_000
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def test_schemathesis_finds_nothing(server: ChatServer) -> None:
    await server.user(BOB, first_name="Bob")
    token = await server.user("user_alice", first_name="Alice")
    status, doc = await server.request("GET", "/api/openapi.json")
    assert status == 200
    # The server runs on this event loop; schemathesis is synchronous: a thread drives it.
    # A guard against a hang, not a speed limit: ~55 s on a quiet 2-core machine, past
    # 110 s on a busy one.
    failures = await asyncio.wait_for(asyncio.to_thread(_fuzz, server.url, token, doc), 300)
    assert not failures, "\n\n".join(failures)
