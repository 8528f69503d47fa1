"""Remediation snippets: one per finding, aimed at its bucket, Region and key, and they fix it.

Configurations come from rules/ (never written out here). Where a snippet carries a document
(the default encryption, the bucket policy), the document is parsed back and judged by the
probe's own checks: applying the fix must make the finding pass.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from typing import Any

import pytest

from app.advisor.loader import load_ruleset
from app.probe.checks import CHECK_IDS, check_bucket
from app.probe.models import BucketEncryption, BucketFacts, EncryptionRule, KeyFacts, PolicyFacts
from app.probe.remediation import ACTIONABLE_STATUSES, remediation_snippets

CONFIGURATIONS = {oid: o.configuration for oid, o in load_ruleset().options.items()}
OPTIONS = list(CONFIGURATIONS)
BUCKET = "demo-bucket.eu"
REGION = "eu-west-1"
ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
ENCRYPTION_CHECKS = ("default-encryption", "bucket-key", "sse-c-blocked")
POLICY_CHECKS = {
    "encryption-enforced": "deny_unencrypted_writes",
    "tls-only": "deny_insecure_transport",
}
# Every non-actionable status of CONTRACT.md.
QUIET_STATUSES = ("pass", "not-applicable", "unknown", "error")


def _config(option: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of an option's configuration with top-level entries replaced."""
    return copy.deepcopy(CONFIGURATIONS[option]) | changes


def _fix(
    check: str, option: str = "sse-kms-cmk", status: str = "fail", **given: Any
) -> dict[str, str]:
    """The snippets of a finding on BUCKET in REGION, with the bucket's key KEY_ARN."""
    arguments: dict[str, Any] = {
        "bucket": BUCKET,
        "region": REGION,
        "option": option,
        "configuration": _config(option, require_audit_trail=True),
        "key_arn": KEY_ARN,
        "actual": "Disabled",
    }
    return remediation_snippets(check, status, **(arguments | given))


def _quoted(cli: str, flag: str) -> Any:
    """The JSON argument given in single quotes after `flag` in a CLI snippet."""
    match = re.search(re.escape(flag) + r" '([^']*)'", cli)
    assert match, f"no single-quoted argument after {flag}"
    return json.loads(match.group(1))


def _expected_encryption(option: str, key_arn: str | None) -> dict[str, Any]:
    """The option's ServerSideEncryptionConfiguration with the placeholder key replaced."""
    expected = copy.deepcopy(CONFIGURATIONS[option]["ServerSideEncryptionConfiguration"])
    for rule in expected["Rules"]:
        by_default = rule["ApplyServerSideEncryptionByDefault"]
        if key_arn and str(by_default.get("KMSMasterKeyID", "")).startswith("<"):
            by_default["KMSMasterKeyID"] = key_arn
    return dict(expected)


def _fixed_bucket(
    option: str, encryption: dict[str, Any], policy: dict[str, Any] | None = None
) -> BucketFacts:
    """A bucket whose default encryption (and policy) are those a snippet puts."""
    rules = [
        EncryptionRule(
            sse_algorithm=r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
            kms_master_key_id=r["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
            bucket_key_enabled=r.get("BucketKeyEnabled"),
            blocked_encryption_types=r.get("BlockedEncryptionTypes", {}).get("EncryptionType"),
        )
        for r in encryption["Rules"]
    ]
    kms = CONFIGURATIONS[option].get("kms_key")
    key = None
    if kms and rules[0].sse_algorithm.startswith("aws:kms"):
        key = KeyFacts(
            key_id=KEY_ID,
            arn=KEY_ARN,
            account=ACCOUNT,
            key_manager=kms["KeyManager"],
            origin=kms["Origin"],
            key_state="Enabled",
            key_spec="SYMMETRIC_DEFAULT",
        )
    return BucketFacts(
        name=BUCKET,
        region=REGION,
        encryption=BucketEncryption(rules=rules),
        policy=PolicyFacts(policy=policy),
        key=key,
    )


def _finding_status(check: str, option: str, bucket: BucketFacts) -> str:
    findings = check_bucket(bucket, expected=_config(option), option=option, trails=None)
    return next(f.status for f in findings if f.check == check)


def _all_snippets() -> list[tuple[str, str, dict[str, str]]]:
    """(check, option, snippets) for a failing finding of every check under every option."""
    return [(c, o, _fix(c, o)) for o in OPTIONS for c in CHECK_IDS]


@pytest.mark.parametrize("check", CHECK_IDS)
def test_every_failing_check_gets_snippets_naming_the_bucket(check: str) -> None:
    """AWS CLI always; Terraform except for objects, which Terraform does not manage."""
    result = _fix(check)
    expected = ["aws-cli"] if check == "object-sample" else ["aws-cli", "terraform"]
    assert list(result) == expected
    for text in result.values():
        assert text.startswith(f"# atrest: fix {check} on bucket {BUCKET} ")
        body = text.split("\n\n", 1)[1]
        assert BUCKET in body or KEY_ID in body, "the commands name the bucket or its key"


@pytest.mark.parametrize("check", CHECK_IDS)
def test_a_warning_gets_the_same_snippets_as_a_failure(check: str) -> None:
    assert {"fail", "warn"} == ACTIONABLE_STATUSES
    assert _fix(check, status="warn") == _fix(check)


@pytest.mark.parametrize("status", QUIET_STATUSES)
@pytest.mark.parametrize("check", CHECK_IDS)
def test_nothing_to_fix_gives_no_snippet(check: str, status: str) -> None:
    """pass / not-applicable need nothing; unknown is a probe permission; error no config."""
    assert _fix(check, status=status) == {}


def test_an_unknown_check_gives_no_snippet() -> None:
    assert _fix("no-such-check") == {}


@pytest.mark.parametrize(
    "check",
    [c for c in CHECK_IDS if c not in ("kms-key-manager", "kms-key-origin", "audit-trail")],
)
def test_snippets_that_act_on_the_key_name_the_buckets_key(check: str) -> None:
    """The key ARN (or, in a Terraform import block, the key id) the probe found."""
    result = _fix(check)
    if check == "tls-only":
        result = {k: v for k, v in result.items() if k == "aws-cli"}  # the whole policy
    for text in result.values():
        assert KEY_ARN in text or f'id = "{KEY_ID}"' in text
        assert "<your key ARN>" not in text


@pytest.mark.parametrize("check", ["kms-key-manager", "kms-key-origin"])
def test_a_key_of_the_wrong_kind_is_replaced_not_reused(check: str) -> None:
    result = _fix(check)
    assert "aws kms create-key" in result["aws-cli"]
    assert 'resource "aws_kms_key" "this"' in result["terraform"]
    for text in result.values():
        assert KEY_ARN not in text


@pytest.mark.parametrize("option", OPTIONS)
def test_a_new_key_has_the_origin_the_option_expects(option: str) -> None:
    kms = CONFIGURATIONS[option].get("kms_key")
    result = _fix("kms-key-origin", option)
    sse = CONFIGURATIONS[option]["ServerSideEncryptionConfiguration"]["Rules"][0]
    if not sse["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"].startswith("aws:kms"):
        assert result == {}, "no server-side KMS key: the check cannot fail"
        return
    assert kms
    cli, tf = result["aws-cli"], result["terraform"]
    if kms["KeyManager"] == "AWS":
        assert "create-key" not in cli and "aws_kms" not in tf
        assert "KMSMasterKeyID" not in json.dumps(
            _quoted(cli, "--server-side-encryption-configuration")
        )
        return
    assert f"--origin {kms['Origin']}" in cli
    if kms["Origin"] in ("AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"):
        assert "--custom-key-store-id" in cli
        assert 'variable "kms_key_arn"' in tf and "var.kms_key_arn" in tf
    else:
        kind = "aws_kms_external_key" if kms["Origin"] == "EXTERNAL" else "aws_kms_key"
        assert f'resource "{kind}" "this"' in tf and f"{kind}.this.arn" in tf


@pytest.mark.parametrize("check", ENCRYPTION_CHECKS)
@pytest.mark.parametrize("option", OPTIONS)
def test_encryption_fix_is_the_configuration_and_passes_the_check(option: str, check: str) -> None:
    """The put-bucket-encryption JSON is the expected configuration on the bucket's key."""
    cli = _fix(check, option)["aws-cli"]
    encryption = _quoted(cli, "--server-side-encryption-configuration")
    assert encryption == _expected_encryption(option, KEY_ARN)
    assert _finding_status(check, option, _fixed_bucket(option, encryption)) in (
        "pass",
        "not-applicable",
    )


@pytest.mark.parametrize(
    "check, option",
    [
        (c, o)
        for c, flag in POLICY_CHECKS.items()
        for o in OPTIONS
        if CONFIGURATIONS[o]["bucket_policy"].get(flag)
    ],
)
def test_policy_fix_passes_the_check(check: str, option: str) -> None:
    cli = _fix(check, option)["aws-cli"]
    policy = _quoted(cli, "--policy")
    assert policy["Version"] == "2012-10-17"
    resources = json.dumps([s["Resource"] for s in policy["Statement"]])
    assert f"arn:aws:s3:::{BUCKET}/*" in resources
    bucket = _fixed_bucket(option, _expected_encryption(option, KEY_ARN), policy)
    assert _finding_status(check, option, bucket) == "pass"


@pytest.mark.parametrize("check", POLICY_CHECKS)
def test_policy_snippets_warn_that_they_replace_the_whole_policy(check: str) -> None:
    result = _fix(check)
    for text in result.values():
        assert "replaces the bucket's whole policy" in text.replace("\n# ", " ")
    assert f"get-bucket-policy --bucket {BUCKET}" in result["aws-cli"].replace("\n# ", " ")
    assert 'resource "aws_s3_bucket_policy" "this"' in result["terraform"]


def test_without_the_buckets_key_the_policy_takes_a_key_variable() -> None:
    result = _fix("encryption-enforced", key_arn=None)
    assert "<your key ARN>" in result["aws-cli"]
    assert "Replace each <placeholder> first." in result["aws-cli"]
    assert (
        '"s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn' in result["terraform"]
    )


def test_an_aws_managed_key_reference_is_not_taken_as_the_buckets_key() -> None:
    cli = _fix("bucket-key", key_arn="arn:aws:kms:eu-west-1:111122223333:alias/aws/s3")["aws-cli"]
    rule = _quoted(cli, "--server-side-encryption-configuration")["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == "<your key ARN>"


@pytest.mark.parametrize("check", ["sse-c-blocked", "default-encryption"])
def test_sse_c_option_leaves_sse_c_allowed(check: str) -> None:
    """The sse-c option needs customer-provided keys: its fix never blocks SSE-C."""
    result = _fix(check, "sse-c")
    rules = _quoted(result["aws-cli"], "--server-side-encryption-configuration")["Rules"]
    assert [r["BlockedEncryptionTypes"] for r in rules] == [{"EncryptionType": ["NONE"]}]
    assert re.search(r'blocked_encryption_types\s+= \["NONE"\]', result["terraform"])
    assert '"SSE-C"' not in result["terraform"]


@pytest.mark.parametrize("option", [o for o in OPTIONS if o != "sse-c"])
def test_other_options_block_sse_c(option: str) -> None:
    result = _fix("sse-c-blocked", option)
    rules = _quoted(result["aws-cli"], "--server-side-encryption-configuration")["Rules"]
    assert all("SSE-C" in r["BlockedEncryptionTypes"]["EncryptionType"] for r in rules)
    assert re.search(r'blocked_encryption_types\s+= \["SSE-C"\]', result["terraform"])


def test_default_encryption_without_a_key_creates_the_recommended_one() -> None:
    result = _fix("default-encryption", key_arn=None)
    commands = re.findall(r"^aws \S+ \S+", result["aws-cli"], re.MULTILINE)
    assert commands == [
        "aws kms create-key",
        "aws kms enable-key-rotation",
        "aws s3api put-bucket-encryption",
    ]
    assert "kms_master_key_id = aws_kms_key.this.arn" in result["terraform"]
    assert 'output "kms_key_arn"' in result["terraform"]


def test_bucket_key_fix_keeps_the_buckets_key_and_creates_none() -> None:
    result = _fix("bucket-key")
    assert "create-key" not in result["aws-cli"] and "enable-key-rotation" not in result["aws-cli"]
    assert "aws_kms_key" not in result["terraform"]


@pytest.mark.parametrize(
    "state, commands",
    [
        ("Disabled", ["aws kms enable-key"]),
        ("PendingDeletion", ["aws kms cancel-key-deletion", "aws kms enable-key"]),
        ("PendingImport", ["aws kms get-parameters-for-import", "aws kms import-key-material"]),
        ("Unavailable", ["aws kms connect-custom-key-store"]),
    ],
)
def test_key_state_fix_follows_the_state(state: str, commands: list[str]) -> None:
    cli = _fix("kms-key-state", actual=state)["aws-cli"]
    found = re.findall(r"^aws kms [a-z-]+", cli, re.MULTILINE)
    assert found == commands


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_key_state_terraform_adopts_the_key_and_enables_it(state: str) -> None:
    tf = _fix("kms-key-state", actual=state)["terraform"]
    assert f'import {{\n  to = aws_kms_key.this\n  id = "{KEY_ID}"\n}}' in tf
    assert re.search(r"is_enabled\s+= true", tf)
    assert "prevent_destroy = true" in tf
    assert ("cannot cancel a scheduled deletion" in tf) is (state == "PendingDeletion")


@pytest.mark.parametrize("state", ["PendingImport", "Unavailable"])
def test_key_states_terraform_cannot_mend_have_only_the_cli(state: str) -> None:
    assert list(_fix("kms-key-state", actual=state)) == ["aws-cli"]


def test_key_state_without_actual_enables_and_mentions_pending_deletion() -> None:
    result = _fix("kms-key-state", actual=None)
    assert "aws kms enable-key" in result["aws-cli"]
    assert "PendingDeletion" in result["aws-cli"]


def test_a_key_state_with_no_fix_gives_nothing() -> None:
    assert _fix("kms-key-state", actual="Creating") == {}


def test_rotation_fix_uses_the_configured_period() -> None:
    configuration = _config("sse-kms-cmk", key_rotation={"enabled": True, "period_days": 180})
    result = _fix("kms-key-rotation", configuration=configuration)
    assert re.search(
        rf"aws kms enable-key-rotation \\\n  --region {REGION} \\\n  --key-id '{KEY_ARN}' \\\n"
        r"  --rotation-period-in-days 180\n",
        result["aws-cli"],
    )
    assert re.search(r"enable_key_rotation\s+= true", result["terraform"])
    assert re.search(r"rotation_period_in_days\s+= 180\n", result["terraform"])


def test_audit_trail_fix_logs_management_events_kms_included() -> None:
    result = _fix("audit-trail")
    cli = result["aws-cli"]
    assert "--is-multi-region-trail" in cli and "aws cloudtrail start-logging" in cli
    assert _quoted(cli, "--event-selectors") == [
        {"ReadWriteType": "All", "IncludeManagementEvents": True}
    ]
    assert "ExcludeManagementEventSources" not in cli.split("\n\n", 1)[1]
    tf = result["terraform"]
    assert 'resource "aws_cloudtrail" "key_use"' in tf and 'variable "trail_log_bucket"' in tf
    assert f'name                          = "{BUCKET}-key-use"' in tf


@pytest.mark.parametrize(
    "option, sse, key",
    [
        ("sse-kms-cmk", "--sse aws:kms", f"--sse-kms-key-id '{KEY_ARN}'"),
        ("sse-kms-aws-managed", "--sse aws:kms", None),
        ("sse-s3", "--sse AES256", None),
    ],
)
def test_objects_are_copied_onto_themselves(option: str, sse: str, key: str | None) -> None:
    cli = _fix("object-sample", option)["aws-cli"]
    assert (
        f"aws s3 cp \\\n  --region {REGION} \\\n  s3://{BUCKET}/ \\\n  s3://{BUCKET}/ \\\n" in cli
    )
    assert "--recursive" in cli and sse in cli
    assert (key in cli) if key else "--sse-kms-key-id" not in cli
    assert "S3 Batch Operations" in cli


def test_dual_layer_objects_are_copied_with_s3api() -> None:
    """aws s3 cp has no aws:kms:dsse: copy-object does."""
    cli = _fix("object-sample", "dsse-kms")["aws-cli"]
    assert re.findall(r"^aws \S+ \S+", cli, re.MULTILINE) == ["aws s3api copy-object"]
    assert "--server-side-encryption aws:kms:dsse" in cli
    assert f"--ssekms-key-id '{KEY_ARN}'" in cli


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if o == "sse-c" or CONFIGURATIONS[o].get("client_side")]
)
def test_objects_only_the_application_can_rewrite_get_no_snippet(option: str) -> None:
    assert _fix("object-sample", option) == {}


def test_every_command_names_the_buckets_region() -> None:
    for check, option, result in _all_snippets():
        commands = re.findall(r"^aws .*\n.*", result.get("aws-cli", ""), re.MULTILINE)
        assert all(
            c.endswith(f"--region {REGION}") or f"--region {REGION} \\" in c for c in commands
        ), (check, option)
        if "terraform" in result:
            assert f'provider "aws" {{\n  region = "{REGION}"\n}}' in result["terraform"]


def test_without_a_region_the_snippets_leave_it_to_the_defaults() -> None:
    for check in CHECK_IDS:
        for text in _fix(check, region=None).values():
            assert "--region" not in text and 'provider "aws"' not in text


def test_terraform_reads_the_bucket_and_never_manages_it() -> None:
    for check, option, result in _all_snippets():
        tf = result.get("terraform", "")
        assert not re.search(r'resource "aws_s3_bucket" ', tf), (check, option)
        if "data.aws_s3_bucket.this" in tf:
            assert f'data "aws_s3_bucket" "this" {{\n  bucket = "{BUCKET}"\n}}' in tf


def test_terraform_declares_every_block_it_refers_to() -> None:
    """References (resources, data sources, variables) resolve inside the snippet itself."""
    for check, option, result in _all_snippets():
        tf = result.get("terraform", "")
        code = "\n".join(line for line in tf.splitlines() if not line.lstrip().startswith("#"))
        declared = {f"{t}.{n}" for t, n in re.findall(r'^resource "(\w+)" "(\w+)"', code, re.M)}
        declared |= {f"data.{t}.{n}" for t, n in re.findall(r'^data "(\w+)" "(\w+)"', code, re.M)}
        declared |= {f"var.{n}" for n in re.findall(r'^variable "(\w+)"', code, re.M)}
        used = set(re.findall(r"(?<![\w.\"])((?:data\.|var\.)?aws_\w+\.\w+|var\.\w+)", code))
        assert used <= declared, (check, option, used - declared)
        assert code.count("{") == code.count("}") and code.count("[") == code.count("]")


def test_terraform_parses_as_hcl() -> None:
    hcl2 = pytest.importorskip("hcl2")
    options = hcl2.SerializationOptions(
        strip_string_quotes=True, explicit_blocks=False, with_comments=False
    )
    for check, option, result in _all_snippets():
        if "terraform" not in result:
            continue
        parsed = hcl2.loads(result["terraform"], serialization_options=options)
        assert parsed["terraform"][0]["required_providers"][0]["aws"]["version"] == ">= 6.22.0"
        assert parsed["provider"][0]["aws"]["region"] == REGION, (check, option)


def test_cli_snippets_are_valid_shell() -> None:
    """bash -n parses each snippet without running it."""
    for check, option, result in _all_snippets():
        if "aws-cli" in result:
            done = subprocess.run(
                ["bash", "-n"], input=result["aws-cli"], text=True, capture_output=True
            )
            assert done.returncode == 0, (check, option, done.stderr)


def test_snippets_are_deterministic_and_leave_the_configuration_alone() -> None:
    configuration = _config("sse-kms-cmk", require_audit_trail=True)
    before = copy.deepcopy(configuration)
    for check in CHECK_IDS:
        first = _fix(check, configuration=configuration)
        assert _fix(check, configuration=configuration) == first
    assert configuration == before
