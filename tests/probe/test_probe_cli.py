"""`atrest probe` end to end: the console script against a moto server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import run_atrest

REGION = "eu-west-1"


def seed(setup_client: Callable[..., Any]) -> str:
    """A bucket left at the default, and one following sse-kms-cmk (but SSE-C not reported)."""
    s3 = setup_client("s3")
    kms = setup_client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    for bucket in ("plain-default", "good-kms"):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_encryption(
        Bucket="good-kms",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::good-kms", "arn:aws:s3:::good-kms/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::good-kms/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::good-kms/*",
                "Condition": {
                    "StringNotEquals": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": key["Arn"]
                    }
                },
            },
        ],
    }
    s3.put_bucket_policy(Bucket="good-kms", Policy=json.dumps(policy))
    return str(key["Arn"])


def probe(moto: str, *args: str) -> tuple[int, str, str]:
    proc = run_atrest("probe", "--endpoint-url", moto, "--region", REGION, *args, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def test_probe_json_follows_the_contract_and_exits_1_on_a_failing_bucket(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    seed(setup_client)
    code, out, err = probe(moto, "--option", "sse-kms-cmk", "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    assert list(report) == ["expected", "target", "buckets", "summary"]
    assert report["expected"]["option"] == "sse-kms-cmk"
    assert report["target"] == {"endpoint_url": moto, "region": REGION, "account": "123456789012"}
    by_name = {b["bucket"]: b for b in report["buckets"]}
    assert set(by_name) == {"plain-default", "good-kms"}
    plain = {f["check"]: f for f in by_name["plain-default"]["findings"]}
    assert by_name["plain-default"]["status"] == "fail"
    assert plain["default-encryption"]["status"] == "fail"
    assert plain["default-encryption"]["actual"] == "AES256"  # S3's default, not "unencrypted"
    assert plain["tls-only"]["status"] == "fail"
    good = {f["check"]: f for f in by_name["good-kms"]["findings"]}
    for check in (
        "default-encryption",
        "kms-key-manager",
        "kms-key-origin",
        "kms-key-state",
        "kms-key-rotation",
        "bucket-key",
        "encryption-enforced",
        "tls-only",
    ):
        assert good[check]["status"] == "pass", good[check]
    # moto drops BlockedEncryptionTypes, so SSE-C blocking is not reported: a warning.
    assert good["sse-c-blocked"]["status"] == "warn"
    assert by_name["good-kms"]["status"] == "warn"
    for finding in good.values():
        assert set(finding) == {
            "check",
            "status",
            "severity",
            "expected",
            "actual",
            "message",
            "remediation",
        }
    assert report["summary"] == {
        "buckets": 2,
        "pass": 0,
        "fail": 1,
        "unknown": 0,
        "error": 0,
        "warn": 1,
    }


def test_probe_of_named_compliant_bucket_exits_0_with_a_readable_table(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    seed(setup_client)
    code, out, err = probe(moto, "--option", "sse-kms-cmk", "--bucket", "good-kms")
    assert code == 0, err
    assert "good-kms" in out and "plain-default" not in out
    assert "1 buckets: 0 pass, 0 fail, 0 unknown, 0 error, 1 warn" in out


def test_probe_takes_the_expected_configuration_from_an_answers_file(
    moto: str, setup_client: Callable[..., Any], tmp_path: Path
) -> None:
    seed(setup_client)
    answers = tmp_path / "answers.json"
    answers.write_text('{"audit_key_usage": true}')
    code, out, _ = probe(
        moto, "--answers", str(answers), "--format", "json", "--bucket", "good-kms"
    )
    report = json.loads(out)
    assert report["expected"]["option"] == "sse-kms-cmk"
    findings = {f["check"]: f for f in report["buckets"][0]["findings"]}
    # The answers require an audit trail; the moto account has none.
    assert findings["audit-trail"]["status"] == "fail"
    assert code == 1


def test_a_missing_bucket_is_an_error_and_the_others_are_still_checked(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    seed(setup_client)
    code, out, _ = probe(
        moto,
        "--option",
        "sse-kms-cmk",
        "--format",
        "json",
        "--bucket",
        "gone",
        "--bucket",
        "good-kms",
    )
    report = json.loads(out)
    statuses = {b["bucket"]: b["status"] for b in report["buckets"]}
    assert statuses == {"gone": "error", "good-kms": "warn"}
    assert code == 1  # a bucket that could not be checked fails the run (--fail-on fail,error)


def test_fail_on_chooses_the_statuses_that_fail_the_run(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    seed(setup_client)
    only = ("--option", "sse-kms-cmk", "--bucket", "gone", "--bucket", "good-kms")
    code, out, err = probe(moto, *only, "--fail-on", "fail")
    assert code == 0, err  # the error of "gone" is not asked about
    assert "1 error" in out
    code, _, err = probe(moto, *only, "--fail-on", " Warn , unknown")
    assert code == 1, err  # good-kms warns (SSE-C blocking not reported by moto)
    code, _, err = probe(
        moto, "--option", "sse-kms-cmk", "--bucket", "good-kms", "--fail-on", "pass"
    )
    assert code == 1, err  # its passing findings count


def test_fail_on_refuses_an_unknown_status_naming_it(moto: str) -> None:
    code, _, err = probe(moto, "--option", "sse-kms-cmk", "--fail-on", "fail,warning")
    assert code == 2
    assert "--fail-on" in err and "'warning'" in err and "not-applicable" in err
    assert "Traceback" not in err
    code, _, err = probe(moto, "--option", "sse-kms-cmk", "--fail-on", ",")
    assert code == 2 and "names no status" in err


def test_probe_refuses_bad_usage_with_exit_2(moto: str) -> None:
    code, _, err = probe(moto)
    assert code == 2 and "exactly one of --option, --decision, --answers" in err
    code, _, err = probe(moto, "--option", "sse-kms-nope")
    assert code == 2 and "unknown option 'sse-kms-nope'" in err
    code, _, err = probe(moto, "--option", "sse-s3", "--option", "x", "--answers", "a.json")
    assert code == 2
    assert "Traceback" not in err


def test_probe_exits_3_when_the_endpoint_cannot_be_reached() -> None:
    proc = run_atrest(
        "probe",
        "--option",
        "sse-s3",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        REGION,
        env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
        timeout=180,
    )
    assert proc.returncode == 3
    assert "probe cannot run" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_print_iam_policy_lists_only_read_actions_the_collectors_declare() -> None:
    from app.probe.collectors import all_iam_actions
    from app.probe.session import is_allowed_call

    proc = run_atrest("probe", "--print-iam-policy", timeout=60)
    assert proc.returncode == 0, proc.stderr
    policy = json.loads(proc.stdout)
    actions = policy["Statement"][0]["Action"]
    assert actions == list(all_iam_actions())
    assert {
        "s3:GetEncryptionConfiguration",
        "kms:DescribeKey",
        "cloudtrail:GetEventSelectors",
    } <= set(actions)
    for action in actions:
        _service, operation = action.split(":")
        assert operation.startswith(("Get", "List", "Describe")), action
    assert not is_allowed_call("s3", "PutBucketEncryption")


def test_probe_sarif_reports_each_non_passing_finding_with_the_bucket_arn(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    seed(setup_client)
    code, out, err = probe(moto, "--option", "sse-kms-cmk", "--format", "sarif")
    assert code == 1, err
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    failing = [r for r in results if r["properties"]["bucket"] == "plain-default"]
    assert {r["ruleId"] for r in failing if r["level"] == "error"} >= {
        "default-encryption",
        "tls-only",
    }
    names = {r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] for r in results}
    assert names == {"arn:aws:s3:::plain-default", "arn:aws:s3:::good-kms"}
    assert all(r["properties"]["status"] != "pass" for r in results)
