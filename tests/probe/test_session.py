"""The probe's clients are read-only by construction, and failures are classified once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from app.probe.models import Problem
from app.probe.session import (
    Absent,
    WriteRefused,
    classify,
    is_read_operation,
    make_client,
    make_session,
)
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
    assert probe_client(moto, "kms").list_keys()["Keys"] == []


def test_paginators_are_guarded_too(moto: str) -> None:
    s3 = probe_client(moto, "s3")
    assert list(s3.get_paginator("list_buckets").paginate()) != []


def test_read_rule_allows_reads_only() -> None:
    assert is_read_operation("GetBucketEncryption")
    assert is_read_operation("DescribeKey")
    assert is_read_operation("HeadObject")
    assert not is_read_operation("PutBucketEncryption")
    assert not is_read_operation("GetParametersForImport")
    assert not is_read_operation("GenerateDataKey")


def test_assume_role_is_the_one_allowed_operation_not_named_like_a_read() -> None:
    # It changes no resource: it issues the temporary credentials a target's role reads with.
    assert is_read_operation("AssumeRole")
    assert not is_read_operation("AssumeRoleWithSAML")
    assert not is_read_operation("AssumeRoot")


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
