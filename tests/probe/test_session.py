"""The probe's clients are read-only by construction, and failures are classified once."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.advisor.loader import load_ruleset
from app.probe import runner
from app.probe.collectors import all_iam_actions, all_operations
from app.probe.models import Problem
from app.probe.session import (
    ASSUME_ROLE,
    Absent,
    WriteRefused,
    allowed_operations,
    classify,
    is_allowed_call,
    make_client,
    make_session,
)
from app.probe.target import Target
from tests.probe.conftest import REGION


def probe_client(moto: str, service: str, region: str = REGION) -> Any:
    return make_client(
        make_session(profile=None, region=region), service, endpoint_url=moto, region=region
    )


def count_requests(client: Any) -> list[str]:
    """Record every operation that gets as far as being sent."""
    sent: list[str] = []
    client.meta.events.register(
        "before-send", lambda request, **_: sent.append(request.url), unique_id="count"
    )
    return sent


def test_delete_bucket_is_refused_and_never_reaches_the_server(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    setup_client("s3").create_bucket(
        Bucket="keep-me", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3 = probe_client(moto, "s3")
    sent = count_requests(s3)
    with pytest.raises(WriteRefused, match=r"s3:DeleteBucket"):
        s3.delete_bucket(Bucket="keep-me")
    assert sent == []
    names = [b["Name"] for b in setup_client("s3").list_buckets()["Buckets"]]
    assert names == ["keep-me"]


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [
        ("s3", "create_bucket", {"Bucket": "new-bucket"}),
        (
            "s3",
            "put_bucket_encryption",
            {
                "Bucket": "keep-me",
                "ServerSideEncryptionConfiguration": {
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            },
        ),
        ("s3", "put_object", {"Bucket": "keep-me", "Key": "k", "Body": b"x"}),
        ("kms", "schedule_key_deletion", {"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
        (
            "kms",
            "get_parameters_for_import",
            {
                "KeyId": "k",
                "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256",
                "WrappingKeySpec": "RSA_2048",
            },
        ),
        ("kms", "decrypt", {"CiphertextBlob": b"x"}),
        ("cloudtrail", "stop_logging", {"Name": "trail"}),
        ("sts", "decode_authorization_message", {"EncodedMessage": "x"}),
    ],
)
def test_writes_are_refused_before_sending(
    moto: str, service: str, method: str, params: dict[str, Any]
) -> None:
    client = probe_client(moto, service)
    sent = count_requests(client)
    with pytest.raises(WriteRefused) as refused:
        getattr(client, method)(**params)
    assert refused.value.service == service
    assert sent == []


def test_reads_pass_the_guard(moto: str, setup_client: Callable[..., Any]) -> None:
    setup_client("s3").create_bucket(
        Bucket="readable", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    s3 = probe_client(moto, "s3")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["readable"]
    assert s3.head_bucket(Bucket="readable")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert probe_client(moto, "sts").get_caller_identity()["Account"] == "123456789012"


def test_paginators_are_guarded_too(moto: str) -> None:
    s3 = probe_client(moto, "s3")
    assert list(s3.get_paginator("list_buckets").paginate()) != []


@pytest.mark.parametrize(
    ("service", "method", "params"),
    [
        # Named like reads, but the probe never needs them: object contents, credentials,
        # key policies, listings it does not use.
        ("s3", "get_object", {"Bucket": "keep-me", "Key": "k"}),
        ("s3", "get_object", {"Bucket": "keep-me", "Key": "k", "Range": "bytes=0-1048575"}),
        ("s3", "get_object_acl", {"Bucket": "keep-me", "Key": "k"}),
        ("s3", "get_bucket_acl", {"Bucket": "keep-me"}),
        ("s3", "list_objects", {"Bucket": "keep-me"}),
        ("sts", "get_session_token", {}),
        ("sts", "get_federation_token", {"Name": "x"}),
        ("sts", "get_access_key_info", {"AccessKeyId": "AKIAEXAMPLE"}),
        (
            "sts",
            "assume_role_with_saml",
            {"RoleArn": "a", "PrincipalArn": "b", "SAMLAssertion": "c" * 4},
        ),
        ("kms", "get_key_policy", {"KeyId": "k", "PolicyName": "default"}),
        ("kms", "get_public_key", {"KeyId": "k"}),
        ("kms", "list_keys", {}),
        ("cloudtrail", "lookup_events", {}),
        ("s3", "put_object", {"Bucket": "keep-me", "Key": "k", "Body": b"x"}),
    ],
)
def test_calls_the_probe_does_not_declare_are_refused_before_sending(
    moto: str, service: str, method: str, params: dict[str, Any]
) -> None:
    client = probe_client(moto, service)
    sent = count_requests(client)
    with pytest.raises(WriteRefused) as refused:
        getattr(client, method)(**params)
    assert (refused.value.service, sent) == (service, [])


def test_the_one_byte_ranged_get_object_of_sse_c_detection_passes_the_guard(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    setup_client("s3").create_bucket(
        Bucket="objects", CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    setup_client("s3").put_object(Bucket="objects", Key="k", Body=b"secret")
    s3 = probe_client(moto, "s3")
    sent = count_requests(s3)
    assert s3.get_object(Bucket="objects", Key="k", Range="bytes=0-0")["Body"].read() == b"s"
    assert len(sent) == 1


def test_the_guard_allows_exactly_the_declared_operations() -> None:
    assert is_allowed_call("s3", "GetBucketEncryption")
    assert is_allowed_call("kms", "DescribeKey")
    assert is_allowed_call("s3", "HeadObject")
    assert is_allowed_call("s3", "GetObject", {"Range": "bytes=0-0"})
    assert not is_allowed_call("s3", "GetObject")
    assert not is_allowed_call("kms", "GetBucketEncryption")  # declared for s3 only
    assert not is_allowed_call("s3", "PutBucketEncryption")
    assert not is_allowed_call("kms", "GetParametersForImport")
    assert not is_allowed_call("kms", "GenerateDataKey")
    assert not is_allowed_call("sts", "GetSessionToken")


def test_assume_role_is_allowed_for_role_targets_but_not_in_the_probed_policy() -> None:
    # It changes no resource: it issues the temporary credentials a target's role reads with;
    # the source credentials need sts:AssumeRole, the role itself does not.
    assert is_allowed_call("sts", "AssumeRole")
    assert not is_allowed_call("sts", "AssumeRoleWithSAML")
    assert not is_allowed_call("sts", "AssumeRoot")
    assert "sts:AssumeRole" not in all_iam_actions()


ROLE = "arn:aws:iam::111122223333:role/atrest-audit"


def test_a_role_session_reads_as_the_role(moto: str) -> None:
    session = make_session(profile=None, region=REGION, role_arn=ROLE, endpoint_url=moto)
    sts = make_client(session, "sts", endpoint_url=moto, region=REGION)
    identity = sts.get_caller_identity()
    assert identity["Account"] == "111122223333"
    assert "assumed-role/atrest-audit/atrest-probe" in identity["Arn"]


def test_a_role_session_uses_the_assumed_credentials_not_the_source_ones(moto: str) -> None:
    session = make_session(profile=None, region=REGION, role_arn=ROLE, endpoint_url=moto)
    credentials = session.get_credentials()
    assert credentials is not None
    assert credentials.get_frozen_credentials().access_key != "testing"


def test_client_has_adaptive_retries_and_a_large_pool(moto: str) -> None:
    config = probe_client(moto, "s3").meta.config
    assert config.retries["mode"] == "adaptive"
    assert config.retries["total_max_attempts"] == 9  # botocore: max_attempts=8 retries + 1
    assert config.max_pool_connections == 50


def client_error(code: str, operation: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@pytest.mark.parametrize(
    ("service", "operation", "action"),
    [
        ("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        ("s3", "GetBucketPolicy", "s3:GetBucketPolicy"),
        ("s3", "ListBuckets", "s3:ListAllMyBuckets"),
        ("s3", "HeadObject", "s3:GetObject"),
        ("kms", "GetKeyRotationStatus", "kms:GetKeyRotationStatus"),
        ("kms", "DescribeKey", "kms:DescribeKey"),
        ("cloudtrail", "DescribeTrails", "cloudtrail:DescribeTrails"),
        ("cloudtrail", "GetEventSelectors", "cloudtrail:GetEventSelectors"),
        ("cloudtrail", "GetTrailStatus", "cloudtrail:GetTrailStatus"),
    ],
)
def test_access_denied_is_unknown_naming_the_iam_action(
    service: str, operation: str, action: str
) -> None:
    for code in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"):
        outcome = classify(client_error(code, operation, 403), service=service)
        assert isinstance(outcome, Problem)
        assert (outcome.status, outcome.action) == ("unknown", action)
        assert action in outcome.message


def test_missing_bucket_throttling_and_others_are_errors() -> None:
    gone = classify(client_error("NoSuchBucket", "GetBucketPolicy", 404), service="s3")
    assert isinstance(gone, Problem)
    assert (gone.status, gone.message) == ("error", "bucket gone")
    throttled = classify(client_error("SlowDown", "GetBucketPolicy", 503), service="s3")
    assert isinstance(throttled, Problem)
    assert (throttled.status, throttled.code) == ("error", "SlowDown")
    other = classify(client_error("InternalError", "GetBucketPolicy", 500), service="s3")
    assert isinstance(other, Problem)
    assert (other.status, other.code) == ("error", "InternalError")


def test_nothing_configured_is_absent_not_a_problem() -> None:
    for code in ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchBucketPolicy"):
        assert isinstance(
            classify(client_error(code, "GetBucketEncryption", 404), service="s3"), Absent
        )


def test_unreachable_endpoint_is_an_error_not_a_crash() -> None:
    fault = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    outcome = classify(fault, service="s3")
    assert isinstance(outcome, Problem)
    assert (outcome.status, outcome.code) == ("error", "EndpointConnectionError")


def test_every_call_of_a_full_probe_is_declared_and_passes_the_guard(
    moto: str, setup_client: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A world that makes the probe use every collector: a customer key (rotation), aws/s3,
    # no explicit encryption with a policy and objects, a trail, a bucket it must place itself.
    s3, kms = setup_client("s3"), setup_client("kms")
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    for name in ("cmk", "managed", "plain", "trail-logs"):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    for name, default in (
        ("cmk", {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}),
        ("managed", {"SSEAlgorithm": "aws:kms"}),
    ):
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": default}]
            },
        )
    for key_name in ("a", "b"):  # before the policy: moto enforces it on its plain HTTP
        s3.put_object(Bucket="plain", Key=key_name, Body=b"x")
    s3.put_bucket_policy(
        Bucket="plain",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": "arn:aws:s3:::plain/*",
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        ),
    )
    trail = setup_client("cloudtrail")
    trail.create_trail(Name="audit", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    trail.start_logging(Name="audit")

    seen: list[tuple[str, str]] = []
    real = runner.make_client

    def observed(*args: Any, **kwargs: Any) -> Any:
        client = real(*args, **kwargs)
        client.meta.events.register(
            "before-call",  # after the guard: what is about to be sent
            lambda model, **_: seen.append((model.metadata["endpointPrefix"], model.name)),
            unique_id="seen",
        )
        return client

    monkeypatch.setattr(runner, "make_client", observed)
    option = "sse-kms-cmk"
    result = runner.run_probe(
        option=option,
        configuration={**load_ruleset().options[option].configuration, "require_audit_trail": True},
        # A role target: AssumeRole goes through a guarded STS client too.
        target=Target(
            endpoint_url=moto,
            region=REGION,
            role_arn="arn:aws:iam::123456789012:role/atrest-audit",
        ),
        buckets=["cmk", "managed", "plain", "not-listed"],
        sample_objects=2,
    )
    assert [b["bucket"] for b in result["buckets"]] == ["cmk", "managed", "plain", "not-listed"]
    declared = set(allowed_operations())
    assert set(seen) <= declared, set(seen) - declared
    assert {
        ("sts", "GetCallerIdentity"),
        ("s3", "ListBuckets"),
        ("s3", "GetBucketLocation"),
        ("s3", "GetBucketEncryption"),
        ("s3", "GetBucketPolicy"),
        ("s3", "ListObjectsV2"),
        ("s3", "HeadObject"),
        ("kms", "DescribeKey"),
        ("kms", "GetKeyRotationStatus"),
        ("cloudtrail", "DescribeTrails"),
        ("cloudtrail", "GetTrailStatus"),
        ("cloudtrail", "GetEventSelectors"),
    } <= set(seen)


def test_the_printed_policy_and_the_guard_come_from_one_declaration() -> None:
    operations = all_operations()
    assert all_iam_actions() == tuple(sorted({op.action for op in operations}))
    assert set(allowed_operations()) == {(op.service, op.name) for op in (*operations, ASSUME_ROLE)}
    # Every action the guard lets a collector use is one the printed policy grants.
    assert {op.action for op in operations} == set(all_iam_actions())
