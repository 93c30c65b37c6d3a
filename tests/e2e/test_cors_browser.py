"""REST from a page on another origin in headless Chromium (protocol §8, CORS).

The page is served by a second HTTP server, so the browser itself enforces CORS: an
allowed origin creates a group, sends, reads history and uploads an image (presign, PUT
to the local store, complete); a page on an origin that is not listed cannot read.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from safechat.adapters.embedded_mongo import free_port
from tests.helpers.support import require_node, start_server

E2E_DIR = Path(__file__).resolve().parent
SCRIPT = E2E_DIR / "cors_fetch.mjs"
PLAYWRIGHT_PKG = E2E_DIR / "node_modules" / "playwright-core"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.e2e


async def page(_request: web.Request) -> web.Response:
    return web.Response(
        text="<!doctype html><title>another app</title><p>app</p>", content_type="text/html"
    )


async def test_a_page_on_an_allowed_origin_uses_the_rest_api(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    node = require_node(PLAYWRIGHT_PKG, "e2e-deps")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make test` (scripts/ensure-chromium.sh)")
    page_port = free_port()
    allowed = f"http://127.0.0.1:{page_port}"
    site = web.Application()
    site.router.add_get("/", page)
    site_runner = web.AppRunner(site)
    await site_runner.setup()
    await web.TCPSite(site_runner, "127.0.0.1", page_port).start()
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path, allowed_origins=[allowed]
    )
    try:
        token = await srv.user("user_cors_page", first_name="Page")
        png = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 30, 30)).save(png, format="PNG")
        env = {
            **os.environ,
            "PAGE_URL": allowed + "/",
            # Another origin (host spelled differently): not in ALLOWED_ORIGINS.
            "BLOCKED_PAGE_URL": f"http://localhost:{page_port}/",
            "API": srv.url,
            "TOKEN": token,
            "PNG_B64": base64.b64encode(png.getvalue()).decode(),
        }
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            cwd=E2E_DIR,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        lines = out.decode().strip().splitlines()
        assert lines, err.decode()[-2000:]
        result = json.loads(lines[-1])
        assert result["ok"], result
    finally:
        await srv.stop()
        await site_runner.cleanup()
    assert result["origin"] == allowed
    assert (result["create"], result["send"], result["history"]) == (201, 201, 200)
    assert result["requestId"]  # an exposed header is readable from the page
    assert result["contents"] == ["hello across origins"]
    assert (result["presign"], result["put"], result["complete"]) == (201, 200, 200)
    assert result["media"]
    assert result["blocked"].startswith("refused")
