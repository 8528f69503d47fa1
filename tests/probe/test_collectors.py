"""Collectors against a real moto server, and botocore Stubber where moto cannot represent AWS.

Setup uses plain boto3 clients (`setup_client`); the code under test only ever gets guarded
clients from make_client.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.stub import Stubber

from app.probe.collectors import all_iam_actions, cloudtrail, kms, s3, sts
from app.probe.models import (
    BucketEncryption,
    KeyFacts,
    KeyNotFound,
    PolicyFacts,
    Problem,
    TrailFacts,
    UnreadableTrail,
)
from app.probe.session import make_client, make_session
from tests.probe.conftest import REGION

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "999999999999"
NOWHERE = "http://127.0.0.1:9"  # stubbed clients never send; if one did, nothing listens here


def probe_client(endpoint: str, service: str, region: str = REGION) -> Any:
    session = make_session(profile=None, region=region)
    return make_client(session, service, endpoint_url=endpoint, region=region)


@contextmanager
def stubbed(service: str) -> Iterator[tuple[Any, Stubber]]:
    """A guarded client whose answers come from a Stubber; every queued answer must be used."""
    client = probe_client(NOWHERE, service)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


ERROR_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
    b"<Message>refused</Message><RequestId>TEST</RequestId></Error>"
)


class _Body:
    """The `raw` an AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def answer(
    client: Any, operation: str, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    """Answer `operation` of a guarded client with this HTTP response instead of sending it.

    Unlike a Stubber (which answers before the request is even built), the answer is parsed
    by botocore as a real one: error codes from the XML body, headers kept on errors too.
    """

    def on_send(request: Any, **_: Any) -> AWSResponse:
        base = {"Content-Type": "application/xml"} if body else {}
        return AWSResponse(request.url, status, {**base, **(headers or {})}, _Body(body))

    client.meta.events.register(f"before-send.s3.{operation}", on_send, unique_id=operation)


def count_calls(client: Any, operation: str) -> list[str]:
    calls: list[str] = []
    client.meta.events.register(
        f"before-call.*.{operation}", lambda **_: calls.append(operation), unique_id=operation
    )
    return calls


def make_bucket(setup_client: Callable[..., Any], name: str, region: str = REGION) -> None:
    client = setup_client("s3", region)
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def put_encryption(
    setup_client: Callable[..., Any], bucket: str, default: dict[str, str], bucket_key: bool
) -> None:
    setup_client("s3").put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bucket_key}
            ]
        },
    )


# S3: default encryption ------------------------------------------------------------------------


def test_bucket_without_configuration_reports_the_sse_s3_default(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    # moto answers ServerSideEncryptionConfigurationNotFoundError (404) like pre-2023 AWS;
    # today's AWS returns the AES256 default. Both must read as "SSE-S3, not explicit".
    make_bucket(setup_client, "plain")
    result = s3.bucket_encryption(probe_client(moto, "s3"), "plain")
    assert isinstance(result, BucketEncryption)
    assert result.explicit is False
    assert result.default_rule is not None
    assert result.default_rule.sse_algorithm == "AES256"


def test_aes256_bucket(moto: str, setup_client: Callable[..., Any]) -> None:
    make_bucket(setup_client, "aes")
    put_encryption(setup_client, "aes", {"SSEAlgorithm": "AES256"}, False)
    result = s3.bucket_encryption(probe_client(moto, "s3"), "aes")
    assert isinstance(result, BucketEncryption)
    assert result.explicit is True
    assert [r.sse_algorithm for r in result.rules] == ["AES256"]
    assert result.rules[0].kms_master_key_id is None


def test_kms_bucket_with_customer_key_and_bucket_key(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    key_arn = setup_client("kms").create_key()["KeyMetadata"]["Arn"]
    make_bucket(setup_client, "cmk")
    put_encryption(
        setup_client, "cmk", {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}, True
    )
    result = s3.bucket_encryption(probe_client(moto, "s3"), "cmk")
    assert isinstance(result, BucketEncryption)
    rule = result.rules[0]
    assert (rule.sse_algorithm, rule.kms_master_key_id, rule.bucket_key_enabled) == (
        "aws:kms",
        key_arn,
        True,
    )


def test_kms_bucket_without_key_id_means_the_aws_managed_key(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    make_bucket(setup_client, "managed")
    put_encryption(setup_client, "managed", {"SSEAlgorithm": "aws:kms"}, False)
    result = s3.bucket_encryption(probe_client(moto, "s3"), "managed")
    assert isinstance(result, BucketEncryption)
    assert result.rules[0].kms_master_key_id is None
    key = kms.describe_key(probe_client(moto, "kms"), None)
    assert isinstance(key, KeyFacts)
    assert key.account == ACCOUNT  # resolved through alias/aws/s3


def test_every_rule_and_blocked_encryption_types_are_read() -> None:
    # moto drops BlockedEncryptionTypes, so the shape comes from the S3 API reference: a dict
    # holding a list. Two rules also check that no rule after the first is lost.
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "get_bucket_encryption",
            {
                "ServerSideEncryptionConfiguration": {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms:dsse",
                                "KMSMasterKeyID": "alias/data",
                            },
                            "BucketKeyEnabled": False,
                            "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
                        },
                        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}},
                    ]
                }
            },
            {"Bucket": "blocked"},
        )
        result = s3.bucket_encryption(client, "blocked")
    assert isinstance(result, BucketEncryption)
    assert [r.sse_algorithm for r in result.rules] == ["aws:kms:dsse", "AES256"]
    assert result.rules[0].blocked_encryption_types == ["SSE-C"]
    assert result.rules[0].kms_master_key_id == "alias/data"
    assert result.rules[1].blocked_encryption_types is None


def test_missing_bucket_is_an_error(moto: str) -> None:
    result = s3.bucket_encryption(probe_client(moto, "s3"), "no-such-bucket")
    assert isinstance(result, Problem)
    assert (result.status, result.code, result.message) == ("error", "NoSuchBucket", "bucket gone")


def test_access_denied_is_unknown_naming_the_iam_action() -> None:
    # moto does not enforce IAM unless configured with users and policies; the answer real S3
    # gives (403 AccessDenied) is stubbed instead.
    with stubbed("s3") as (client, stub):
        stub.add_client_error(
            "get_bucket_encryption", "AccessDenied", "Access Denied", 403, {"Bucket": "secret"}
        )
        stub.add_client_error(
            "get_bucket_policy", "AccessDenied", "Access Denied", 403, {"Bucket": "secret"}
        )
        encryption = s3.bucket_encryption(client, "secret")
        policy = s3.bucket_policy(client, "secret")
    assert isinstance(encryption, Problem)
    assert (encryption.status, encryption.action) == ("unknown", "s3:GetEncryptionConfiguration")
    assert isinstance(policy, Problem)
    assert (policy.status, policy.action) == ("unknown", "s3:GetBucketPolicy")


# S3: policy ------------------------------------------------------------------------------------


def test_policy_present_and_absent(moto: str, setup_client: Callable[..., Any]) -> None:
    make_bucket(setup_client, "with-policy")
    make_bucket(setup_client, "without-policy")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::with-policy", "arn:aws:s3:::with-policy/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
    setup_client("s3").put_bucket_policy(Bucket="with-policy", Policy=json.dumps(document))
    client = probe_client(moto, "s3")
    present = s3.bucket_policy(client, "with-policy")
    absent = s3.bucket_policy(client, "without-policy")
    assert isinstance(present, PolicyFacts)
    assert present.policy == document
    assert absent == PolicyFacts(policy=None)


# S3: listing -----------------------------------------------------------------------------------


def test_listing_finds_buckets_of_every_region(moto: str, setup_client: Callable[..., Any]) -> None:
    make_bucket(setup_client, "in-ireland", "eu-west-1")
    make_bucket(setup_client, "in-virginia", "us-east-1")
    listed = dict(s3.list_buckets(probe_client(moto, "s3")))
    assert set(listed) == {"in-ireland", "in-virginia"}
    # moto 5.2 returns no BucketRegion: the Region is None, never guessed.
    assert set(listed.values()) <= {None, "eu-west-1", "us-east-1"}


def test_listing_is_paginated_and_reads_bucket_region() -> None:
    # moto ignores MaxBuckets and ContinuationToken and omits BucketRegion; the two pages below
    # are shaped like ListBuckets of real S3 (2024 and later).
    with stubbed("s3") as (client, stub):
        stub.add_response(
            "list_buckets",
            {
                "Buckets": [{"Name": "a-bucket", "BucketRegion": "eu-west-1"}],
                "ContinuationToken": "next",
            },
            {"MaxBuckets": 1},
        )
        stub.add_response(
            "list_buckets",
            {"Buckets": [{"Name": "b-bucket", "BucketRegion": "us-east-1"}]},
            {"MaxBuckets": 1, "ContinuationToken": "next"},
        )
        listed = list(s3.list_buckets(client, page_size=1))
    assert listed == [("a-bucket", "eu-west-1"), ("b-bucket", "us-east-1")]


def test_listing_denied_raises_with_the_missing_action() -> None:
    with stubbed("s3") as (client, stub):
        stub.add_client_error("list_buckets", "AccessDenied", "Access Denied", 403)
        with pytest.raises(s3.ListingFailed) as failed:
            list(s3.list_buckets(client))
    assert failed.value.problem.action == "s3:ListAllMyBuckets"


@pytest.mark.parametrize(
    ("constraint", "region"),
    [("", "us-east-1"), ("EU", "eu-west-1"), ("ap-south-1", "ap-south-1")],
    ids=["empty-is-us-east-1", "EU-is-eu-west-1", "a-region-name"],
)
def test_bucket_region_reads_get_bucket_location(constraint: str, region: str) -> None:
    # moto answers GetBucketLocation but never "EU"; the body is S3's.
    client = probe_client(NOWHERE, "s3")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint '
        f'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{constraint}</LocationConstraint>'
    ).encode()
    answer(client, "GetBucketLocation", 200, body)
    assert s3.bucket_region(client, "somewhere") == region


def test_bucket_region_falls_back_to_the_header_of_a_refused_head_bucket() -> None:
    # S3 names the Region in x-amz-bucket-region even when it refuses HeadBucket with 403.
    client = probe_client(NOWHERE, "s3")
    answer(client, "GetBucketLocation", 403, ERROR_XML % b"AccessDenied")
    answer(client, "HeadBucket", 403, b"", {"x-amz-bucket-region": "sa-east-1"})
    assert s3.bucket_region(client, "elsewhere") == "sa-east-1"


def test_bucket_region_unknown_is_the_location_problem() -> None:
    client = probe_client(NOWHERE, "s3")
    answer(client, "GetBucketLocation", 403, ERROR_XML % b"AccessDenied")
    answer(client, "HeadBucket", 404, b"")
    found = s3.bucket_region(client, "gone")
    assert isinstance(found, Problem)
    assert found.action == "s3:GetBucketLocation"


# KMS -------------------------------------------------------------------------------------------


def test_key_shared_by_three_buckets_is_described_once(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    key_arn = setup_client("kms").create_key()["KeyMetadata"]["Arn"]
    s3_client = probe_client(moto, "s3")
    kms_client = probe_client(moto, "kms")
    describes = count_calls(kms_client, "DescribeKey")
    cache = kms.KeyCache(own_account=ACCOUNT)
    described = []
    for name in ("shared-1", "shared-2", "shared-3"):
        make_bucket(setup_client, name)
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        put_encryption(setup_client, name, default, True)
        encryption = s3.bucket_encryption(s3_client, name)
        assert isinstance(encryption, BucketEncryption)
        described.append(cache.describe(kms_client, encryption.rules[0].kms_master_key_id))
    assert describes == ["DescribeKey"]
    assert all(isinstance(k, KeyFacts) and k.arn == key_arn for k in described)


def test_key_cache_describes_once_under_concurrency(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    key_id = setup_client("kms").create_key()["KeyMetadata"]["KeyId"]
    kms_client = probe_client(moto, "kms")
    describes = count_calls(kms_client, "DescribeKey")
    cache = kms.KeyCache()
    results: list[KeyFacts | Problem] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.describe(kms_client, key_id)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert describes == ["DescribeKey"]
    assert len({r.model_dump_json() for r in results}) == 1
    # Once described by id, the same key named by its ARN is a cache hit.
    first = results[0]
    assert isinstance(first, KeyFacts)
    assert cache.describe(kms_client, first.arn) == first
    assert describes == ["DescribeKey"]


def test_rotation_is_read_for_a_customer_managed_key(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    kms_setup = setup_client("kms")
    key_id = kms_setup.create_key()["KeyMetadata"]["KeyId"]
    kms_setup.enable_key_rotation(KeyId=key_id)
    key = kms.describe_key(probe_client(moto, "kms"), key_id)
    assert isinstance(key, KeyFacts)
    assert (key.key_manager, key.origin, key.key_state) == ("CUSTOMER", "AWS_KMS", "Enabled")
    assert key.rotation_enabled is True
    assert key.rotation_problem is None


def test_rotation_is_not_read_for_an_imported_key(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    key_id = setup_client("kms").create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    kms_client = probe_client(moto, "kms")
    rotation_reads = count_calls(kms_client, "GetKeyRotationStatus")
    key = kms.describe_key(kms_client, key_id)
    assert isinstance(key, KeyFacts)
    assert key.origin == "EXTERNAL"
    assert key.rotation_enabled is None
    assert not key.supports_automatic_rotation
    assert rotation_reads == []


def _key_metadata(**overrides: Any) -> dict[str, Any]:
    """DescribeKey KeyMetadata shaped like real KMS."""
    key_id = overrides.pop("KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab")
    account = overrides.pop("AWSAccountId", ACCOUNT)
    return {
        "AWSAccountId": account,
        "KeyId": key_id,
        "Arn": f"arn:aws:kms:{REGION}:{account}:key/{key_id}",
        "Enabled": True,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "MultiRegion": False,
        **overrides,
    }


def test_rotation_period_is_read() -> None:
    # moto does not return RotationPeriodInDays; real KMS does (since April 2024).
    metadata = _key_metadata()
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": metadata}, {"KeyId": "alias/data"})
        stub.add_response(
            "get_key_rotation_status",
            {"KeyRotationEnabled": True, "RotationPeriodInDays": 180, "KeyId": metadata["Arn"]},
            {"KeyId": metadata["Arn"]},
        )
        key = kms.describe_key(client, "alias/data")
    assert isinstance(key, KeyFacts)
    assert (key.rotation_enabled, key.rotation_period_days) == (True, 180)


def test_aws_managed_key_is_resolved_through_its_alias_without_reading_rotation() -> None:
    # moto reports the aws/s3 key as KeyManager CUSTOMER; real KMS says AWS. The Stubber also
    # fails the test if GetKeyRotationStatus is called, since no answer is queued for it.
    metadata = _key_metadata(KeyManager="AWS", Description="Default key for S3")
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": metadata}, {"KeyId": "alias/aws/s3"})
        key = kms.describe_key(client, None)
    assert isinstance(key, KeyFacts)
    assert key.key_manager == "AWS"
    assert key.rotation_enabled is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"Origin": "AWS_CLOUDHSM", "CustomKeyStoreId": "cks-1234567890abcdef0"},
        {"Origin": "EXTERNAL_KEY_STORE", "CustomKeyStoreId": "cks-abcdef01234567890"},
        {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    ],
)
def test_rotation_is_not_read_where_the_key_type_cannot_rotate(overrides: dict[str, str]) -> None:
    # moto has no custom key stores (it answers 500), so CloudHSM and XKS keys are stubbed.
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": _key_metadata(**overrides)})
        key = kms.describe_key(client, "alias/special")
    assert isinstance(key, KeyFacts)
    assert key.rotation_enabled is None
    assert key.custom_key_store_id == overrides.get("CustomKeyStoreId")


def test_rotation_denied_keeps_the_description() -> None:
    metadata = _key_metadata()
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": metadata})
        stub.add_client_error(
            "get_key_rotation_status", "AccessDeniedException", "not authorized", 400
        )
        key = kms.describe_key(client, metadata["KeyId"])
    assert isinstance(key, KeyFacts)
    assert key.rotation_problem is not None
    assert key.rotation_problem.action == "kms:GetKeyRotationStatus"


def test_key_of_another_account_that_cannot_be_described_is_unknown() -> None:
    # A cross-account key whose key policy does not grant kms:DescribeKey to the caller;
    # moto keeps one account per server and does not enforce key policies.
    arn = f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with stubbed("kms") as (client, stub):
        stub.add_client_error(
            "describe_key", "AccessDeniedException", "not authorized", 400, {"KeyId": arn}
        )
        key = kms.describe_key(client, arn, own_account=ACCOUNT)
    assert isinstance(key, Problem)
    assert (key.status, key.action) == ("unknown", "kms:DescribeKey")
    assert OTHER_ACCOUNT in key.message


def test_cross_account_key_that_can_be_described_names_its_owner() -> None:
    metadata = _key_metadata(AWSAccountId=OTHER_ACCOUNT)
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": metadata})
        stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": False})
        key = kms.describe_key(client, metadata["Arn"], own_account=ACCOUNT)
    assert isinstance(key, KeyFacts)
    assert key.account == OTHER_ACCOUNT
    assert key.rotation_enabled is False


@pytest.mark.parametrize(
    "ref",
    [
        "alias/does-not-exist",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000000",
    ],
    ids=["alias", "key-arn", "key-id"],
)
def test_a_key_that_does_not_exist_is_a_fact_not_a_failure_to_look(moto: str, ref: str) -> None:
    key = kms.describe_key(probe_client(moto, "kms"), ref, own_account=ACCOUNT)
    assert isinstance(key, KeyNotFound), key
    assert key.ref == ref


def test_a_missing_key_of_another_account_is_still_not_found() -> None:
    # KMS answers NotFoundException for a key that does not exist whoever asks (a key that
    # exists but is not shared gives AccessDeniedException, which stays unknown).
    arn = f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with stubbed("kms") as (client, stub):
        stub.add_client_error(
            "describe_key", "NotFoundException", f"Key '{arn}' does not exist", 400, {"KeyId": arn}
        )
        key = kms.describe_key(client, arn, own_account=ACCOUNT)
    assert isinstance(key, KeyNotFound)


def test_multi_region_key_names_its_related_regions() -> None:
    # moto does not return MultiRegionConfiguration; its shape is DescribeKey's.
    key_id = "mrk-1234abcd12ab34cd56ef1234567890ab"
    metadata = _key_metadata(
        KeyId=key_id,
        MultiRegion=True,
        MultiRegionConfiguration={
            "MultiRegionKeyType": "PRIMARY",
            "PrimaryKey": {"Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", "Region": REGION},
            "ReplicaKeys": [
                {"Arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}", "Region": "us-east-1"},
                {"Arn": f"arn:aws:kms:ap-south-1:{ACCOUNT}:key/{key_id}", "Region": "ap-south-1"},
            ],
        },
    )
    with stubbed("kms") as (client, stub):
        stub.add_response("describe_key", {"KeyMetadata": metadata})
        stub.add_response("get_key_rotation_status", {"KeyRotationEnabled": True})
        key = kms.describe_key(client, key_id)
    assert isinstance(key, KeyFacts)
    assert (key.region, key.related_regions) == (REGION, ["ap-south-1", "us-east-1"])


# CloudTrail ------------------------------------------------------------------------------------


def test_trails_with_classic_and_advanced_selectors(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    make_bucket(setup_client, "trail-logs")
    trail_setup = setup_client("cloudtrail")
    trail_setup.create_trail(Name="classic", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    trail_setup.put_event_selectors(
        TrailName="classic",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ],
    )
    trail_setup.start_logging(Name="classic")
    trail_setup.create_trail(Name="advanced", S3BucketName="trail-logs")
    trail_setup.put_event_selectors(
        TrailName="advanced",
        AdvancedEventSelectors=[
            {
                "Name": "management",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
            }
        ],
    )
    trail_setup.create_trail(Name="no-kms", S3BucketName="trail-logs")
    trail_setup.put_event_selectors(
        TrailName="no-kms",
        AdvancedEventSelectors=[
            {
                "Name": "management without KMS",
                "FieldSelectors": [
                    {"Field": "eventCategory", "Equals": ["Management"]},
                    {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                ],
            }
        ],
    )
    found = cloudtrail.trails(probe_client(moto, "cloudtrail"))
    assert isinstance(found, list)
    by_name: dict[str, TrailFacts] = {t.name: t for t in found}
    classic = by_name["classic"]
    assert (classic.selectors_kind, classic.is_logging, classic.is_multi_region) == (
        "classic",
        True,
        True,
    )
    assert (classic.management_events, classic.excludes_kms) == (True, True)
    advanced = by_name["advanced"]
    assert (advanced.selectors_kind, advanced.is_logging) == ("advanced", False)
    assert (advanced.management_events, advanced.excludes_kms) == (True, False)
    assert advanced.logs_read_events is True
    assert by_name["no-kms"].excludes_kms is True


def test_an_unreadable_trail_is_listed_with_why_and_the_others_are_read() -> None:
    # moto does not enforce IAM: the denial of real CloudTrail is stubbed.
    org = {"Name": "org", "TrailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org"}
    local = {"Name": "local", "TrailARN": f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/local"}
    with stubbed("cloudtrail") as (client, stub):
        stub.add_response("describe_trails", {"trailList": [org, local]})
        stub.add_client_error("get_trail_status", "AccessDeniedException", "denied", 400)
        stub.add_response("get_trail_status", {"IsLogging": True})
        stub.add_response(
            "get_event_selectors",
            {"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]},
        )
        found = cloudtrail.trails(client)
    assert isinstance(found, list)
    unreadable, readable = found
    assert isinstance(unreadable, UnreadableTrail)
    assert (unreadable.name, unreadable.problem.action) == ("org", "cloudtrail:GetTrailStatus")
    assert isinstance(readable, TrailFacts) and readable.is_logging


def test_trails_listing_denied_is_a_problem() -> None:
    with stubbed("cloudtrail") as (client, stub):
        stub.add_client_error("describe_trails", "AccessDeniedException", "denied", 400)
        found = cloudtrail.trails(client)
    assert isinstance(found, Problem)
    assert (found.status, found.action) == ("unknown", "cloudtrail:DescribeTrails")


@pytest.mark.parametrize(
    ("source", "excludes"),
    [
        ({"Field": "eventSource", "NotStartsWith": ["kms"]}, True),
        ({"Field": "eventSource", "StartsWith": ["s3"]}, True),
        ({"Field": "eventSource", "NotEndsWith": ["kms.amazonaws.com"]}, True),
        ({"Field": "eventSource", "Equals": ["s3.amazonaws.com", "kms.amazonaws.com"]}, False),
        ({"Field": "eventSource", "NotEquals": ["s3.amazonaws.com"]}, False),
        ({"Field": "eventSource", "EndsWith": [".amazonaws.com"]}, False),
    ],
    ids=[
        "not-starts-with",
        "starts-with-other",
        "not-ends-with",
        "equals-list",
        "not-other",
        "ends",
    ],
)
def test_advanced_selectors_on_event_source_are_read_with_every_operator(
    moto: str, setup_client: Callable[..., Any], source: dict[str, Any], excludes: bool
) -> None:
    make_bucket(setup_client, "trail-logs")
    trail_setup = setup_client("cloudtrail")
    trail_setup.create_trail(Name="adv", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    trail_setup.put_event_selectors(
        TrailName="adv",
        AdvancedEventSelectors=[
            {
                "Name": "management",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, source],
            }
        ],
    )
    (found,) = cloudtrail.trails(probe_client(moto, "cloudtrail"))  # type: ignore[misc]
    assert isinstance(found, TrailFacts)
    assert found.excludes_kms is excludes


def test_a_trail_excluding_kms_is_not_also_called_write_only(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    make_bucket(setup_client, "trail-logs")
    trail_setup = setup_client("cloudtrail")
    trail_setup.create_trail(Name="all-but-kms", S3BucketName="trail-logs")
    trail_setup.put_event_selectors(
        TrailName="all-but-kms",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ],
    )
    (found,) = cloudtrail.trails(probe_client(moto, "cloudtrail"))  # type: ignore[misc]
    assert isinstance(found, TrailFacts)
    assert (found.excludes_kms, found.logs_read_events) == (True, True)


# STS and the IAM policy ------------------------------------------------------------------------


def test_account_of_the_caller(moto: str) -> None:
    assert sts.account(probe_client(moto, "sts")) == ACCOUNT


def test_declared_iam_actions_are_all_reads() -> None:
    actions = all_iam_actions()
    assert "s3:GetEncryptionConfiguration" in actions
    assert "kms:GetKeyRotationStatus" in actions
    assert all(a.split(":")[1].startswith(("Get", "List", "Describe")) for a in actions)


# Object sampling -------------------------------------------------------------------------------


def test_sampled_objects_report_their_encryption(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    key_arn = setup_client("kms").create_key()["KeyMetadata"]["Arn"]
    make_bucket(setup_client, "objects")
    s3_setup = setup_client("s3")
    s3_setup.put_object(Bucket="objects", Key="a-sse-s3", Body=b"1", ServerSideEncryption="AES256")
    s3_setup.put_object(
        Bucket="objects",
        Key="b-sse-kms",
        Body=b"2",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
        BucketKeyEnabled=True,
    )
    s3_setup.put_object(
        Bucket="objects",
        Key="c-envelope",
        Body=b"3",
        Metadata={"x-amz-key-v2": "wrapped", "x-amz-cek-alg": "AES/GCM/NoPadding"},
    )
    s3_setup.put_object(Bucket="objects", Key="d-default", Body=b"4")
    sampled = s3.sample_objects(probe_client(moto, "s3"), "objects", 4)
    assert isinstance(sampled, list)
    by_key = {o.key: o for o in sampled}
    assert list(by_key) == ["a-sse-s3", "b-sse-kms", "c-envelope", "d-default"]
    assert by_key["a-sse-s3"].server_side_encryption == "AES256"
    assert by_key["b-sse-kms"].server_side_encryption == "aws:kms"
    assert by_key["b-sse-kms"].bucket_key_enabled is True
    assert by_key["c-envelope"].client_side_envelope is True
    assert not by_key["a-sse-s3"].client_side_envelope


def test_no_sampling_makes_no_call() -> None:
    with stubbed("s3") as (client, _):
        assert s3.sample_objects(client, "anything", 0) == []


SSE_C_REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidRequest</Code><Message>The '
    b"object was stored using a form of Server Side Encryption. The correct parameters must be "
    b"provided to retrieve the object.</Message><RequestId>TEST</RequestId></Error>"
)


def put_objects(setup_client: Callable[..., Any], bucket: str, keys: list[str]) -> None:
    make_bucket(setup_client, bucket)
    s3_setup = setup_client("s3")
    for key in keys:
        s3_setup.put_object(Bucket=bucket, Key=key, Body=b"x")


def test_an_sse_c_object_is_recognised_by_what_s3_says_of_it(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    # moto ignores SSE-C. Real S3 answers HeadObject of an SSE-C object read without its key
    # with a bare 400 (a HEAD has no body) and a GetObject of it with InvalidRequest "...stored
    # using a form of Server Side Encryption...": both answers are given here.
    put_objects(setup_client, "customer-keys", ["secret"])
    client = probe_client(moto, "s3")
    answer(client, "HeadObject", 400, b"")
    answer(client, "GetObject", 400, SSE_C_REFUSAL)
    sampled = s3.sample_objects(client, "customer-keys", 5)
    assert isinstance(sampled, list)
    assert (sampled[0].sse_customer_algorithm, sampled[0].sse_c_inferred) == ("AES256", True)


def test_an_unrelated_head_object_400_is_an_error_not_sse_c(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    put_objects(setup_client, "odd", ["plain"])
    client = probe_client(moto, "s3")
    answer(client, "HeadObject", 400, b"")  # GetObject goes to moto, which returns the byte
    sampled = s3.sample_objects(client, "odd", 5)
    assert isinstance(sampled, Problem)
    assert sampled.status == "error"
    assert "not SSE-C" in sampled.message


def test_a_head_object_400_with_another_get_error_is_an_error(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    put_objects(setup_client, "odd", ["plain"])
    client = probe_client(moto, "s3")
    answer(client, "HeadObject", 400, b"")
    answer(client, "GetObject", 400, ERROR_XML % b"InvalidArgument")
    sampled = s3.sample_objects(client, "odd", 5)
    assert isinstance(sampled, Problem)
    assert "InvalidArgument" in sampled.message


def test_sampling_pages_past_the_first_thousand_keys(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    keys = [f"k-{i:05d}" for i in range(1_100)]
    put_objects(setup_client, "big", keys)
    client = probe_client(moto, "s3")
    listings = count_calls(client, "ListObjectsV2")
    sampled = s3.sample_objects(client, "big", 1_050)
    assert isinstance(sampled, list)
    assert len(sampled) == 1_050
    assert len(listings) == 2


def test_the_sample_is_spread_over_the_keys_and_the_same_every_run(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    keys = [f"k-{i:05d}" for i in range(1_100)]
    put_objects(setup_client, "big", keys)
    client = probe_client(moto, "s3")
    first = s3.sample_objects(client, "big", 10)
    again = s3.sample_objects(client, "big", 10)
    assert isinstance(first, list) and isinstance(again, list)
    picked = [o.key for o in first]
    assert picked == [o.key for o in again] == sorted(picked)
    assert len(set(picked)) == 10
    assert picked != keys[:10]
    assert max(picked) > keys[1_000]  # beyond the first page


def test_sampling_stops_listing_at_its_bound(moto: str, setup_client: Callable[..., Any]) -> None:
    put_objects(setup_client, "bounded", [f"k-{i:03d}" for i in range(30)])
    sampled = s3.sample_objects(probe_client(moto, "s3"), "bounded", 3, max_listed=10)
    assert isinstance(sampled, list)
    assert all(o.key < "k-010" for o in sampled)


def test_shadow_trails_are_read_in_their_home_region(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    # CloudTrail answers GetEventSelectors for a shadow trail only in the trail's home Region
    # (TrailNotFoundException elsewhere), as moto does.
    make_bucket(setup_client, "trail-logs")
    trail_setup = setup_client("cloudtrail")
    trail_setup.create_trail(Name="org", S3BucketName="trail-logs", IsMultiRegionTrail=True)
    trail_setup.put_event_selectors(
        TrailName="org",
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    )
    trail_setup.start_logging(Name="org")
    clients = {r: probe_client(moto, "cloudtrail", r) for r in (REGION, "us-east-1")}
    cache = cloudtrail.TrailCache(clients.__getitem__)
    selectors = count_calls(clients[REGION], "GetEventSelectors")

    seen_from_virginia = cache.trails("us-east-1")
    seen_from_ireland = cache.trails(REGION)

    assert isinstance(seen_from_virginia, list) and isinstance(seen_from_ireland, list)
    (trail,) = seen_from_virginia
    assert isinstance(trail, TrailFacts), trail
    assert (trail.is_logging, trail.management_events, trail.home_region) == (True, True, REGION)
    assert seen_from_ireland == seen_from_virginia
    assert selectors == ["GetEventSelectors"]  # read once, in its home Region
