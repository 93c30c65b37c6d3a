"""/docs in headless Chromium: the AsyncAPI reference renders the server's operations
from vendored bundles (no other origin), and the OpenAPI one when the server has it."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_js_client import clean_env, run
from tests.e2e.test_web_client import CHROMIUM, E2E_DIR, PLAYWRIGHT_PKG
from tests.helpers.support import ChatServer, require_node

pytestmark = pytest.mark.e2e


async def test_docs_page_renders_the_asyncapi_operations(server: ChatServer) -> None:
    node = require_node(PLAYWRIGHT_PKG, "e2e-deps")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make test` (scripts/ensure-chromium.sh)")
    async with server.http.get(server.url + "/docs") as resp:
        assert resp.status == 200
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    async with server.http.get(server.url + "/api/openapi.json") as resp:
        has_openapi = resp.status == 200
    env = {
        **clean_env(),
        "SAFECHAT_URL": server.url,
        "CHROMIUM_PATH": str(CHROMIUM),
        "EXPECT_OPENAPI": "1" if has_openapi else "0",
    }
    code, out, err = await run(
        node, str(E2E_DIR / "docs_page.mjs"), env=env, cwd=E2E_DIR, timeout=90
    )
    lines = out.strip().splitlines()
    assert lines, f"docs_page.mjs printed nothing (exit {code}); stderr:\n{err}"
    result = json.loads(lines[-1])
    assert code == 0, result
    assert result["ok"] is True
    assert "send_message" in result["operation"]
    assert result["title"] is True
    assert result["ackShown"] is True
    assert result["foreign"] == []
    assert result["pageErrors"] == []
    if has_openapi:
        assert result["restOperations"] > 0
    else:
        assert "not available" in result["restStatus"]
