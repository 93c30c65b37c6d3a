"""clients/typescript: the committed types are what the generator makes from the
server's documents today, and the example client compiles with `tsc --strict`."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tests.e2e.test_js_client import clean_env, run
from tests.helpers.support import require_node

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "clients" / "typescript"
TSC = PKG / "node_modules" / ".bin" / "tsc"
SKIP = {"node_modules"}


def _files(base: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(base)): p.read_bytes()
        for p in sorted(base.rglob("*"))
        if p.is_file() and not SKIP & set(p.relative_to(base).parts)
    }


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "typescript"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns(*SKIP))
    (copy / "node_modules").symlink_to(PKG / "node_modules")
    return copy


async def test_regenerating_the_types_changes_nothing(tmp_path: Path) -> None:
    node = require_node(PKG / "node_modules" / "json-schema-to-typescript", "client-deps")
    copy = _copy(tmp_path)
    env = clean_env()
    export = ROOT / "tools" / "export_contract.py"
    code, _out, err = await run(
        sys.executable, str(export), str(copy / "contract"), env=env, cwd=ROOT, timeout=60
    )
    assert code == 0, err
    script = PKG / "scripts" / "generate.mjs"
    code, _out, err = await run(node, str(script), str(copy), env=env, cwd=ROOT, timeout=60)
    assert code == 0, err
    committed, regenerated = _files(PKG), _files(copy)
    assert sorted(regenerated) == sorted(committed)
    stale = [name for name in committed if committed[name] != regenerated[name]]
    assert stale == [], f"out of date, run `make client-types`: {stale}"


async def test_the_example_client_compiles_strictly(tmp_path: Path) -> None:
    node = require_node(PKG / "node_modules" / "typescript", "client-deps")
    code, out, err = await run(
        node,
        str(TSC),
        "--strict",
        "--noEmit",
        "-p",
        str(PKG),
        env=clean_env(),
        cwd=PKG,
        timeout=120,
    )
    assert code == 0, out + err


async def test_a_wrong_payload_or_reply_use_does_not_compile(tmp_path: Path) -> None:
    """The event maps are real types, not `any`: misuse is a compile error."""
    node = require_node(PKG / "node_modules" / "typescript", "client-deps")
    copy = _copy(tmp_path)
    (copy / "examples" / "wrong.ts").write_text(
        'import type { SafeChatSocket } from "../src/index.js";\n'
        "export async function wrong(socket: SafeChatSocket): Promise<void> {\n"
        '  socket.emit("send_message", { groupId: 1 }, () => {});\n'
        '  const reply = await socket.emitWithAck("join_group", { groupId: "x" });\n'
        "  console.log(reply.group.name);\n"
        '  socket.on("new_message", ({ message }) => console.log(message.nope));\n'
        "}\n"
    )
    code, out, _err = await run(
        node, str(TSC), "--noEmit", "-p", str(copy), env=clean_env(), cwd=copy, timeout=120
    )
    assert code != 0
    errors = [line for line in out.splitlines() if line.startswith("examples/wrong.ts")]
    assert len(errors) == 3, out
    assert any("'number' is not assignable to type 'string'" in e for e in errors), out
    assert any("Property 'group' does not exist" in e for e in errors), out
    assert any("Property 'nope' does not exist" in e for e in errors), out


async def test_rest_types_come_from_the_openapi_document_and_go_without_it(
    tmp_path: Path,
) -> None:
    """src/rest.ts is openapi-typescript's output for contract/openapi.json, exported as
    `rest`; without the document both go (stale REST types would describe another server)."""
    node = require_node(PKG / "node_modules" / "openapi-typescript", "client-deps")
    spec = json.loads((PKG / "contract" / "openapi.json").read_text())
    rest = (PKG / "src" / "rest.ts").read_text()
    assert spec["openapi"].startswith("3.1")
    for path in spec["paths"]:
        assert f'"{path}": {{' in rest, path
    assert 'export type * as rest from "./rest.js";' in (PKG / "src" / "index.ts").read_text()

    copy = _copy(tmp_path)
    (copy / "contract" / "openapi.json").unlink()
    shutil.rmtree(copy / "examples")  # the example uses the REST types
    script = PKG / "scripts" / "generate.mjs"
    code, _out, err = await run(node, str(script), str(copy), env=clean_env(), cwd=ROOT, timeout=60)
    assert code == 0, err
    assert not (copy / "src" / "rest.ts").exists()
    assert "./rest.js" not in (copy / "src" / "index.ts").read_text()
    (copy / "tsconfig.json").write_text(
        (PKG / "tsconfig.json").read_text().replace('"examples/**/*.ts"', '"src/**/*.ts"')
    )
    code, out, _err = await run(
        node,
        str(TSC),
        "--strict",
        "--noEmit",
        "-p",
        str(copy),
        env=clean_env(),
        cwd=copy,
        timeout=120,
    )
    assert code == 0, out
