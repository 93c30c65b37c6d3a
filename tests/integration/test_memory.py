"""Memory (docs/performance.md, "Memory"): what a configuration does not use is not
loaded (a server started on embedded defaults imports neither the S3 client, nor the
OpenAI provider, nor Pillow, LangGraph, numpy or the emoji tables), and what startup
allocated is frozen out of the garbage collector's full passes while the app runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers.processes import clean_env, kill_tree

# Each of these is tens of MiB of RSS (or seconds of import) that only some deployments
# or some requests need; they load on first use instead.
NOT_ON_EMBEDDED_DEFAULTS = (
    "boto3",
    "botocore",
    "openai",
    "langchain_openai",
    "langchain_core",
    "langgraph",
    "PIL",
    "numpy",
    "emoji",
)

# Imports the app, then runs its whole startup (embedded database, components, wiring)
# and prints the top-level packages loaded after each step.
SCRIPT = textwrap.dedent(
    """
    import asyncio, faulthandler, gc, json, sys
    from pathlib import Path

    # A hang ends with every thread's stack on stderr, which the assertion shows.
    faulthandler.dump_traceback_later(75, exit=True)

    def loaded():
        return sorted({name.split(".")[0] for name in sys.modules})

    from safechat.app import create_app
    from safechat.config import Settings
    from aiohttp import web

    after_import = loaded()

    async def main():
        app = create_app(Settings(data_dir=Path(sys.argv[1]), port=0))
        runner = web.AppRunner(app)
        await runner.setup()  # the cleanup contexts: every component opened and wired
        try:
            return loaded(), gc.get_freeze_count()
        finally:
            await runner.cleanup()

    after_start, frozen = asyncio.run(main())
    print(json.dumps({
        "import": after_import,
        "start": after_start,
        "frozen": frozen,
        "frozen_after_stop": gc.get_freeze_count(),
    }))
    """
)


def test_embedded_defaults_load_no_optional_component_and_freeze_startup(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    try:
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(data_dir)],
            cwd=tmp_path,  # no .env of the checkout
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=100,  # after the child's own 75 s traceback dump, under pytest's 120 s
        )
    finally:
        kill_tree(data_dir)
    assert out.returncode == 0, out.stderr
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert "safechat" in loaded["start"]
    assert "pymongo" in loaded["start"]  # the script really started the app
    for step in ("import", "start"):
        unexpected = sorted(set(NOT_ON_EMBEDDED_DEFAULTS) & set(loaded[step]))
        assert unexpected == [], f"loaded after {step}: {unexpected}"
    assert loaded["frozen"] > 10_000  # modules, models, components: out of full passes
    assert loaded["frozen_after_stop"] == 0  # a stopped app's objects can be collected
