"""terraform/ read as data (python-hcl2), and checkov on the directory.

`terraform validate` needs the providers and runs in the GitHub workflow; here the
requirements of issue 4 are checked on the parsed configuration, references are
resolved by hand, and checkov runs twice: with the defaults and with every opt-in on.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2 import SerializationOptions

from tests.infra.tools import ROOT, tool

TF_DIR = ROOT / "terraform"
ALL_OPTIONS = Path(__file__).with_name("all-options.tfvars")
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
CHECKOV_TIMEOUT = 120
SKIP_COMMENT = re.compile(r"#checkov:skip=(CKV2?_AWS_\d+):(.*)")


def parse(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return dict(hcl2.load(fh, serialization_options=OPTIONS))


@pytest.fixture(scope="module")
def tf() -> dict[str, Any]:
    """Every top-level block of every .tf file, merged by kind."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(TF_DIR.glob("*.tf")):
        for kind, items in parse(path).items():
            merged.setdefault(kind, []).extend(items)
    return merged


def blocks(tf: dict[str, Any], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    """resource/data blocks as {(type, name): body}."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for item in tf.get(kind, []):
        for type_, named in item.items():
            for name, body in named.items():
                out[(type_, name)] = body
    return out


def named(tf: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """variable/output blocks as {name: body}."""
    return {name: body for item in tf.get(kind, []) for name, body in item.items()}


def resource(tf: dict[str, Any], type_: str, name: str) -> dict[str, Any]:
    found = blocks(tf, "resource").get((type_, name))
    assert found is not None, f"resource {type_}.{name} missing"
    return found


def policy_statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Static and dynamic statements of an aws_iam_policy_document."""
    statements = list(doc.get("statement", []))
    for dynamic in doc.get("dynamic", []):
        statements.extend(dynamic.get("statement", {}).get("content", []))
    return statements


def by_sid(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["sid"]: s for s in policy_statements(doc)}


def test_every_tf_file_parses() -> None:
    files = sorted(p.name for p in TF_DIR.glob("*.tf"))
    assert files == ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
    for name in files:
        assert parse(TF_DIR / name), f"{name} parsed to nothing"
    for extra in ("terraform.tfvars.example", "README.md"):
        assert (TF_DIR / extra).is_file(), extra


def test_versions_pin_terraform_and_providers(tf: dict[str, Any]) -> None:
    (block,) = tf["terraform"]
    assert block["required_version"] == ">= 1.5"
    (providers,) = block["required_providers"]
    assert providers["aws"] == {"source": "hashicorp/aws", "version": "~> 5.0"}
    assert providers["random"]["source"] == "hashicorp/random"


def test_bucket_is_versioned_private_and_owner_enforced(tf: dict[str, Any]) -> None:
    (versioning,) = resource(tf, "aws_s3_bucket_versioning", "media")["versioning_configuration"]
    assert versioning["status"] == "Enabled"

    pab = resource(tf, "aws_s3_bucket_public_access_block", "media")
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert pab[flag] is True, flag

    (rule,) = resource(tf, "aws_s3_bucket_ownership_controls", "media")["rule"]
    assert rule["object_ownership"] == "BucketOwnerEnforced"

    for type_, body in blocks(tf, "resource").items():
        if type_[0].startswith("aws_s3_bucket_") and type_[0] != "aws_s3_bucket":
            assert body["bucket"] == "${aws_s3_bucket.media.id}", type_
    assert resource(tf, "aws_s3_bucket", "media")["force_destroy"] == "${var.force_destroy}"
    assert named(tf, "variable")["force_destroy"]["default"] is False


def test_default_encryption_is_sse_s3_or_the_kms_key_of_a_variable(tf: dict[str, Any]) -> None:
    sse = resource(tf, "aws_s3_bucket_server_side_encryption_configuration", "media")
    (rule,) = sse["rule"]
    (default,) = rule["apply_server_side_encryption_by_default"]
    assert default["sse_algorithm"] == '${local.use_kms ? "aws:kms" : "AES256"}'
    assert default["kms_master_key_id"] == "${var.kms_key_arn}"
    (locals_,) = [item for item in tf["locals"] if "use_kms" in item]
    assert locals_["use_kms"] == "${var.kms_key_arn != null}"
    assert named(tf, "variable")["kms_key_arn"]["default"] is None


def test_bucket_policy_denies_requests_without_tls(tf: dict[str, Any]) -> None:
    policy = resource(tf, "aws_s3_bucket_policy", "media")
    assert policy["policy"] == "${data.aws_iam_policy_document.bucket.json}"
    statements = by_sid(blocks(tf, "data")[("aws_iam_policy_document", "bucket")])
    deny = statements["DenyInsecureTransport"]
    assert deny["effect"] == "Deny"
    assert deny["actions"] == ["s3:*"]
    assert deny["principals"] == [{"type": "*", "identifiers": ["*"]}]
    assert deny["condition"] == [
        {"test": "Bool", "variable": "aws:SecureTransport", "values": ["false"]}
    ]
    assert set(deny["resources"]) == {
        "${aws_s3_bucket.media.arn}",
        "${aws_s3_bucket.media.arn}/*",
    }
    assert all(s["effect"] == "Deny" for s in statements.values()), "the bucket policy only denies"


def test_cors_comes_from_a_variable(tf: dict[str, Any]) -> None:
    cors = resource(tf, "aws_s3_bucket_cors_configuration", "media")
    assert cors["count"] == "${length(var.cors_allowed_origins) > 0 ? 1 : 0}"
    (rule,) = cors["cors_rule"]
    assert rule["allowed_origins"] == "${var.cors_allowed_origins}"
    assert set(rule["allowed_methods"]) == {"GET", "HEAD", "PUT"}
    assert "*" not in rule["allowed_headers"]
    origins = named(tf, "variable")["cors_allowed_origins"]
    assert origins["type"] == "${list(string)}"
    assert origins["validation"], "origins are validated (no wildcard, https)"


def test_lifecycle_aborts_uploads_expires_versions_and_can_transition(tf: dict[str, Any]) -> None:
    lifecycle = resource(tf, "aws_s3_bucket_lifecycle_configuration", "media")
    rules = {r["id"]: r for r in lifecycle["rule"]}

    abort = rules["abort-incomplete-multipart-uploads"]
    assert abort["status"] == "Enabled"
    assert abort["filter"] == [{}], "applies to the whole bucket"
    assert abort["abort_incomplete_multipart_upload"] == [{"days_after_initiation": 1}]

    noncurrent = rules["expire-noncurrent-versions"]
    assert noncurrent["status"] == "Enabled"
    assert noncurrent["noncurrent_version_expiration"] == [
        {"noncurrent_days": "${var.noncurrent_version_expiration_days}"}
    ]

    ia = rules["transition-to-standard-ia"]
    assert ia["status"] == '${var.transition_to_ia_days == null ? "Disabled" : "Enabled"}'
    (transition,) = ia["transition"]
    assert transition["storage_class"] == "STANDARD_IA"
    assert named(tf, "variable")["transition_to_ia_days"]["default"] is None
    assert "${aws_s3_bucket_versioning.media}" in lifecycle["depends_on"]


def test_access_logging_is_optional(tf: dict[str, Any]) -> None:
    logging_ = resource(tf, "aws_s3_bucket_logging", "media")
    assert logging_["count"] == "${var.access_log_bucket == null ? 0 : 1}"
    assert logging_["target_bucket"] == "${var.access_log_bucket}"
    assert named(tf, "variable")["access_log_bucket"]["default"] is None


def test_service_policy_covers_only_the_object_prefix(tf: dict[str, Any]) -> None:
    doc = blocks(tf, "data")[("aws_iam_policy_document", "media_access")]
    statements = policy_statements(doc)
    actions = {a for s in statements for a in s["actions"]}
    assert not any(a.endswith("*") for a in actions), actions
    assert actions <= {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    for s in statements:
        assert s.get("effect", "Allow") == "Allow"
        assert "*" not in s["resources"], s["sid"]

    by = {s["sid"]: s for s in statements}
    assert by["MediaObjects"]["resources"] == ["${aws_s3_bucket.media.arn}/${var.object_prefix}*"]
    listing = by["ListMediaPrefix"]
    assert listing["resources"] == ["${aws_s3_bucket.media.arn}"]
    assert listing["condition"][0]["variable"] == "s3:prefix"
    kms = by["MediaKmsViaS3"]
    assert kms["condition"][0]["variable"] == "kms:ViaService"

    prefix = named(tf, "variable")["object_prefix"]
    assert prefix["default"] == "media/"
    assert prefix["validation"], "an empty or wildcard prefix would widen the policy"
    attach = resource(tf, "aws_iam_role_policy_attachment", "service_media")
    assert attach["policy_arn"] == "${aws_iam_policy.media_access.arn}"


def test_trust_policy_from_variables(tf: dict[str, Any]) -> None:
    role = resource(tf, "aws_iam_role", "service")
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.trust.json}"
    (lifecycle,) = role["lifecycle"]
    assert lifecycle["precondition"], "a role nothing can assume is refused at plan time"

    statements = by_sid(blocks(tf, "data")[("aws_iam_policy_document", "trust")])
    assert statements["Ec2AssumeRole"]["principals"][0]["type"] == "Service"
    services = statements["ServiceAssumeRole"]
    assert services["actions"] == ["sts:AssumeRole"]
    assert services["condition"][0]["variable"] == "aws:SourceAccount"

    k8s = statements["KubernetesServiceAccount"]
    assert k8s["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert k8s["principals"][0]["type"] == "Federated"
    conditions = {c["variable"]: c for c in k8s["condition"]}
    sub = conditions["${local.oidc_issuer}:sub"]
    assert sub["test"] == "StringEquals", "no wildcard service accounts"
    assert sub["values"][0].startswith("system:serviceaccount:")
    assert conditions["${local.oidc_issuer}:aud"]["values"] == ["sts.amazonaws.com"]

    variables = named(tf, "variable")
    allowed = variables["trusted_services"]["validation"][0]["condition"]
    for service in ("ec2.amazonaws.com", "ecs-tasks.amazonaws.com", "lambda.amazonaws.com"):
        assert service in allowed
    assert variables["kubernetes_oidc"]["default"] is None
    assert variables["kubernetes_oidc"]["validation"]


def test_long_lived_keys_only_on_opt_in_and_never_printed(tf: dict[str, Any]) -> None:
    variables = named(tf, "variable")
    assert variables["create_access_key"]["default"] is False
    for type_ in (
        "aws_iam_user",
        "aws_iam_access_key",
        "aws_iam_group",
        "aws_iam_group_policy_attachment",
        "aws_iam_user_group_membership",
    ):
        for (t, _), body in blocks(tf, "resource").items():
            if t == type_:
                assert body["count"] == "${var.create_access_key ? 1 : 0}", type_

    outputs = named(tf, "output")
    key_outputs = {n for n, o in outputs.items() if "aws_iam_access_key" in str(o["value"])}
    assert key_outputs == {"access_key_id", "secret_access_key"}
    for name in key_outputs:
        assert outputs[name]["sensitive"] is True, name
    for name, body in outputs.items():
        if name not in key_outputs:
            assert "sensitive" not in body or body["sensitive"] is False
            assert "secret" not in str(body["value"]), name


def test_every_variable_is_described_typed_and_validated(tf: dict[str, Any]) -> None:
    variables = named(tf, "variable")
    assert len(variables) >= 15
    for name, body in variables.items():
        assert body.get("description"), name
        assert "type" in body, name
        if body["type"] != "bool":
            assert body.get("validation"), f"variable {name} has no validation block"
            for validation in body["validation"]:
                assert validation["condition"], name
                assert validation["error_message"], name


def test_references_resolve(tf: dict[str, Any]) -> None:
    """What `terraform validate` would say about undeclared names, without providers."""
    text = "\n".join(p.read_text() for p in TF_DIR.glob("*.tf"))
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())

    variables = set(named(tf, "variable"))
    used_vars = set(re.findall(r"\bvar\.(\w+)", code))
    assert used_vars - variables == set(), "undeclared variables"
    assert variables - used_vars == set(), "unused variables"

    locals_ = {k for item in tf["locals"] for k in item}
    assert set(re.findall(r"\blocal\.(\w+)", code)) - locals_ == set()

    resources = {f"{t}.{n}" for t, n in blocks(tf, "resource")}
    data = {f"{t}.{n}" for t, n in blocks(tf, "data")}
    for ref in re.findall(r"\b((?:aws|random)_\w+\.\w+)", code):
        if not ref.startswith(
            ("aws_iam_policy_document.", "aws_caller_identity.", "aws_partition.")
        ):
            assert ref in resources, f"unknown resource {ref}"
    for ref in re.findall(r"\bdata\.(\w+\.\w+)", code):
        assert ref in data, f"unknown data source {ref}"


def test_tfvars_example_names_declared_variables(tf: dict[str, Any]) -> None:
    variables = set(named(tf, "variable"))
    example = (TF_DIR / "terraform.tfvars.example").read_text()
    assigned = set(re.findall(r"^#?\s?(\w+)\s*=", example, flags=re.M))
    assert assigned, "the example sets nothing"
    assert assigned - variables == set()
    parsed = hcl2.loads(example, serialization_options=OPTIONS)
    assert set(parsed) <= variables
    assert set(parse(ALL_OPTIONS)) <= variables


def test_every_checkov_skip_is_justified() -> None:
    for path in TF_DIR.glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = SKIP_COMMENT.search(line)
                assert match, f"{path.name}: malformed skip: {line.strip()}"
                assert len(match.group(2).strip()) >= 30, f"{path.name}: say why: {line.strip()}"


@pytest.fixture(scope="module")
def checkov_reports() -> Iterator[dict[str, dict[str, Any]]]:
    """checkov with the defaults and with all-options.tfvars, run side by side."""
    exe = tool("checkov")
    # No calls home: no platform guideline download, no mapping fetch.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    base = [str(exe), "-d", str(TF_DIR), "--framework", "terraform", "--compact"]
    base += ["--skip-download", "-o", "json"]
    runs = {
        "defaults": base,
        "all-options": [*base, "--var-file", str(ALL_OPTIONS)],
    }
    procs = {
        name: subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT
        )
        for name, argv in runs.items()
    }
    reports: dict[str, dict[str, Any]] = {}
    try:
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=CHECKOV_TIMEOUT)
            try:
                reports[name] = {"code": proc.returncode, **json.loads(out)}
            except json.JSONDecodeError:
                pytest.fail(f"checkov ({name}) printed no JSON (exit {proc.returncode}):\n{err!r}")
        yield reports
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.mark.parametrize("run", ["defaults", "all-options"])
def test_checkov_passes(checkov_reports: dict[str, dict[str, Any]], run: str) -> None:
    report = checkov_reports[run]
    results = report["results"]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in results["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    assert report["summary"]["parsing_errors"] == 0
    assert report["code"] == 0

    passed = {c["check_id"] for c in results["passed_checks"]}
    # versioning, public access block, ACLs disabled, lifecycle, abort multipart uploads,
    # encryption, no wildcard IAM actions, confused-deputy-free trust
    for check in ("CKV_AWS_21", "CKV2_AWS_6", "CKV2_AWS_65", "CKV2_AWS_61", "CKV_AWS_300"):
        assert check in passed, check
    assert len(passed) >= 25

    declared = {
        m.group(1) for p in TF_DIR.glob("*.tf") for m in SKIP_COMMENT.finditer(p.read_text())
    }
    skipped = results["skipped_checks"]
    assert {c["check_id"] for c in skipped} == declared, "every inline skip is used, none other"
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), check["check_id"]
