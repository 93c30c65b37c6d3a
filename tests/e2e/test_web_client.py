"""The web client at / in headless Chromium (playwright-core), two users, a real server.

`safechat serve` runs as installed (embedded database, dev issuer on loopback, so the
"sign in as" form is there); tests/e2e/web_client.mjs drives two browser contexts.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from tests.e2e.test_js_client import ServeProcess, clean_env, log_tail, run, wait_healthy
from tests.helpers.support import require_node

E2E_DIR = Path(__file__).resolve().parent
SCRIPT = E2E_DIR / "web_client.mjs"
PLAYWRIGHT_PKG = E2E_DIR / "node_modules" / "playwright-core"
CHROMIUM = Path("/usr/bin/chromium")
NODE_TIMEOUT = 100.0

pytestmark = pytest.mark.e2e


async def test_two_users_chat_in_the_web_client(
    serve: ServeProcess, safechat_bin: str, tmp_path: Path
) -> None:
    node = require_node(PLAYWRIGHT_PKG, "e2e-deps")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: run `make test` (scripts/ensure-chromium.sh)")
    image = tmp_path / "photo.png"
    Image.new("RGB", (640, 480), (30, 120, 200)).save(image)
    screenshot = tmp_path / "web-client.png"
    async with aiohttp.ClientSession() as http:
        await wait_healthy(serve, http)
    env = {
        **clean_env(),
        "SAFECHAT_URL": serve.url,
        "SAFECHAT_IMAGE": str(image),
        "SAFECHAT_SCREENSHOT": str(screenshot),
        "CHROMIUM_PATH": str(CHROMIUM),
        "E2E_TIMEOUT_MS": str(int((NODE_TIMEOUT - 5) * 1000)),
    }
    code, out, err = await run(node, str(SCRIPT), env=env, cwd=E2E_DIR, timeout=NODE_TIMEOUT)
    lines = out.strip().splitlines()
    assert lines, f"web_client.mjs printed nothing (exit {code}); stderr:\n{err}"
    result = json.loads(lines[-1])
    if code != 0 or result.get("ok") is not True:
        pytest.fail(
            f"web_client.mjs failed (exit {code}) at {result.get('step')}: {result.get('error')}\n"
            f"observed: {result.get('observed')}\nstderr:\n{err}\n"
            f"server log:\n{log_tail(serve.log)}"
        )
    assert "Ann Lee" in result["signedIn"]
    assert result["benUnread"] == "1"
    assert "Ann Lee" in result["benOnline"]
    assert result["receipt"] == "Seen by Ben Ode"
    assert result["typing"] == "Ann Lee is typing…"
    assert result["benSaw"] == "Hello Ben, how are you?"
    assert result["suggestion"]
    assert result["reaction"] == "👍 1"
    assert result["editedMarker"].strip() == "(edited)"
    assert result["previewShown"] is True
    # The thumbnail (<= 300 px) of the 640 px upload, through a signed URL.
    assert 0 < result["thumbnail"]["width"] <= 300
    assert result["thumbnail"]["src"] is True
    # Direct conversation, mention, thread, pin, mute (docs/protocol.md §9).
    assert result["dmKind"] == "Direct message"
    assert "Ann Lee" in result["benDmListed"]
    assert result["composed"] == "Thanks @Ben Ode see you at 5"
    assert result["benMentionBadge"] == "@"
    assert result["benPinInGroup"] == 0  # a plain member of a group cannot pin
    assert result["highlighted"] == "@Ben Ode"
    assert result["replyCount"] == "1 reply"
    assert result["replyContext"].startswith("↪ Reply to you: Thanks @Ben Ode")
    assert "Five works" in result["threadShown"]
    assert "Pinned by Ann Lee" in result["benPinned"]
    assert result["benMuted"] == 1
    assert result["benUnpinned"] is True
    assert result["pageErrors"] == []
    assert screenshot.stat().st_size > 10_000
