"""The probe's answers end to end (issue 11): run_probe against the moto server over HTTP.

Where moto cannot give S3's or KMS's answer (a ListBuckets refused, a HeadObject 400 of an
SSE-C object, a GetBucketPolicy 405), a `before-send` handler on the probe's own clients
answers that one request with the status, headers and body the real service sends; botocore
parses it, retries it and hands it to the probe exactly as a real answer, and every other
request still goes to moto (see `Faults`).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient

from app.advisor.loader import load_ruleset
from app.probe import runner
from app.probe.runner import Target, run_probe
from tests.probe.conftest import REGION

OPTION = "sse-kms-cmk"
OTHER_REGION = "us-west-2"


def configuration(**changes: Any) -> dict[str, Any]:
    """The option's configuration from the rule set, with top-level entries replaced."""
    return {**load_ruleset().options[OPTION].configuration, **changes}


def findings_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in report["findings"]}


def by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["bucket"]: r for r in result["buckets"]}


def make_bucket(setup_client: Callable[..., Any], name: str, region: str = REGION) -> Any:
    client = setup_client("s3", region)
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return client


def put_kms_default(client: Any, bucket: str, key_id: str | None) -> None:
    default = {"SSEAlgorithm": "aws:kms"} | ({"KMSMasterKeyID": key_id} if key_id else {})
    client.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        },
    )


def probe(moto: str, *, region: str = REGION, **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("configuration", configuration())
    return run_probe(option=OPTION, target=Target(endpoint_url=moto, region=region), **kwargs)


# Answers moto cannot give ---------------------------------------------------------------------


class _Body:
    """The `raw` an AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass(frozen=True)
class Answer:
    """A canned HTTP answer to one kind of request."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json_error(cls, status: int, code: str, message: str) -> Answer:
        """An error of a JSON-protocol service (CloudTrail, KMS)."""
        body = json.dumps({"__type": code, "message": message}).encode()
        return cls(status, body, {"Content-Type": "application/x-amz-json-1.1"})

    @classmethod
    def error(cls, status: int, code: str, message: str, **headers: str) -> Answer:
        """An S3-style XML error body."""
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>FAULT</RequestId></Error>"
        ).encode()
        return cls(status, body, {"Content-Type": "application/xml", **headers})


def bucket_of(url: str) -> str:
    """The bucket a path-style S3 request URL addresses (moto is addressed by IP)."""
    return urlsplit(url).path.lstrip("/").split("/", 1)[0]


def key_of(url: str) -> str:
    """The object key of a path-style S3 request URL."""
    parts = urlsplit(url).path.lstrip("/").split("/", 1)
    return parts[1] if len(parts) > 1 else ""


@dataclass
class Faults:
    """Answers chosen requests of the probe's clients instead of sending them to moto.

    `rules` maps (service, operation) to a function of the request that returns an Answer, or
    None to let the request through; `seen` counts the requests each rule answered.
    """

    rules: dict[tuple[str, str], Callable[[Any], Answer | None]]
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, service: str, client: BaseClient) -> None:
        for (rule_service, operation), answer in self.rules.items():
            if rule_service == service:
                client.meta.events.register(
                    f"before-send.{service}.{operation}",
                    self._handler(operation, answer),
                    unique_id=f"fault-{operation}",
                )

    def _handler(self, operation: str, answer: Callable[[Any], Answer | None]) -> Any:
        def on_send(request: Any, **_: Any) -> AWSResponse | None:
            found = answer(request)
            if found is None:
                return None
            with self.lock:
                self.seen[operation] += 1
            return AWSResponse(request.url, found.status, found.headers, _Body(found.body))

        return on_send


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Faults]:
    """Install Faults on every client the runner makes (the real, guarded clients)."""

    def install(rules: dict[tuple[str, str], Callable[[Any], Answer | None]]) -> Faults:
        installed = Faults(rules)
        real: Callable[..., BaseClient] = vars(runner)["make_client"]

        def make_client(session: Any, service: str, **kwargs: Any) -> BaseClient:
            client = real(session, service, **kwargs)
            installed.install(service, client)
            return client

        monkeypatch.setattr(runner, "make_client", make_client)
        return installed

    return install


def always(answer: Answer) -> Callable[[Any], Answer]:
    return lambda _request: answer


def query_of(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


# Keys: one that does not exist, one that cannot be used ---------------------------------------


def test_a_bucket_naming_a_key_that_does_not_exist_fails_its_key_state(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    missing = f"arn:aws:kms:{REGION}:123456789012:key/00000000-1111-2222-3333-444444444444"
    put_kms_default(make_bucket(setup_client, "orphaned"), "orphaned", missing)
    put_kms_default(make_bucket(setup_client, "bad-alias"), "bad-alias", "alias/never-made")

    result = by_name(probe(moto))

    for name, ref in (("orphaned", missing), ("bad-alias", "alias/never-made")):
        report = result[name]
        found = findings_of(report)
        assert report["status"] == "fail", report
        assert found["kms-key-state"]["status"] == "fail"
        assert "does not exist" in found["kms-key-state"]["message"]
        assert ref in found["kms-key-state"]["message"]
        assert "error" not in {f["status"] for f in report["findings"]}


def test_a_disabled_key_fails_its_state_and_its_rotation_is_not_judged(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    kms = setup_client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    put_kms_default(make_bucket(setup_client, "disabled-key"), "disabled-key", key["Arn"])

    found = findings_of(by_name(probe(moto))["disabled-key"])

    assert found["kms-key-state"]["status"] == "fail"
    assert found["kms-key-rotation"]["status"] == "not-applicable"
    assert "Disabled" in found["kms-key-rotation"]["message"]


# Region: a bucket's own, whatever ListBuckets says ----------------------------------------------

LIST_DENIED = Answer.error(403, "AccessDenied", "Access Denied")


def west_bucket_with_alias(setup_client: Callable[..., Any], name: str) -> str:
    """A bucket in us-west-2 encrypted under a us-west-2 key named by its alias; the key ARN."""
    kms = setup_client("kms", OTHER_REGION)
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.create_alias(AliasName="alias/west-data", TargetKeyId=key["KeyId"])
    put_kms_default(make_bucket(setup_client, name, OTHER_REGION), name, "alias/west-data")
    return str(key["Arn"])


def assert_found_in_the_west(report: dict[str, Any], key_arn: str) -> None:
    assert report["region"] == OTHER_REGION
    found = findings_of(report)
    for check in ("kms-key-manager", "kms-key-origin", "kms-key-state", "kms-key-rotation"):
        assert found[check]["status"] == "pass", found[check]
    assert key_arn in found["kms-key-state"]["message"]


def test_a_bucket_listed_without_its_region_is_placed_and_its_alias_resolved_there(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    # moto's ListBuckets returns no BucketRegion, as older S3-compatible endpoints do.
    key_arn = west_bucket_with_alias(setup_client, "west-data")
    make_bucket(setup_client, "in-virginia", "us-east-1")
    make_bucket(setup_client, "in-ireland", REGION)

    result = by_name(probe(moto))

    assert_found_in_the_west(result["west-data"], key_arn)
    assert result["in-virginia"]["region"] == "us-east-1"  # LocationConstraint null
    assert result["in-ireland"]["region"] == REGION


def test_with_listing_refused_a_named_bucket_gets_its_region_from_get_bucket_location(
    moto: str, setup_client: Callable[..., Any], faults: Callable[..., Faults]
) -> None:
    key_arn = west_bucket_with_alias(setup_client, "west-data")
    injected = faults({("s3", "ListBuckets"): always(LIST_DENIED)})

    result = by_name(probe(moto, buckets=["west-data"]))

    assert injected.seen["ListBuckets"] == 1
    assert_found_in_the_west(result["west-data"], key_arn)


def test_with_location_refused_too_the_region_comes_from_head_bucket(
    moto: str, setup_client: Callable[..., Any], faults: Callable[..., Faults]
) -> None:
    key_arn = west_bucket_with_alias(setup_client, "west-data")
    injected = faults(
        {
            ("s3", "ListBuckets"): always(LIST_DENIED),
            ("s3", "GetBucketLocation"): always(LIST_DENIED),
        }
    )

    result = by_name(probe(moto, buckets=["west-data"]))

    assert injected.seen["GetBucketLocation"] == 1
    assert_found_in_the_west(result["west-data"], key_arn)


def test_a_key_arn_is_described_in_its_own_region(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    kms = setup_client("kms", OTHER_REGION)
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    put_kms_default(make_bucket(setup_client, "ireland-west-key"), "ireland-west-key", key["Arn"])

    report = by_name(probe(moto))["ireland-west-key"]

    assert report["region"] == REGION
    found = findings_of(report)
    assert found["kms-key-state"]["status"] == "pass", found["kms-key-state"]
    assert found["kms-key-manager"]["status"] == "pass"


# Audit trail: the best verdict any trail proves --------------------------------------------------


def cmk_bucket(setup_client: Callable[..., Any], name: str) -> str:
    kms = setup_client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    put_kms_default(make_bucket(setup_client, name), name, key["Arn"])
    return str(key["Arn"])


def make_trail(
    setup_client: Callable[..., Any], name: str, *, multi_region: bool, **selectors: Any
) -> None:
    cloudtrail = setup_client("cloudtrail")
    cloudtrail.create_trail(Name=name, S3BucketName="trail-logs", IsMultiRegionTrail=multi_region)
    # moto returns no selector for a new trail; CloudTrail's default is this one.
    default = [{"ReadWriteType": "All", "IncludeManagementEvents": True}]
    cloudtrail.put_event_selectors(TrailName=name, **(selectors or {"EventSelectors": default}))
    cloudtrail.start_logging(Name=name)


def audit(moto: str, **kwargs: Any) -> dict[str, Any]:
    return findings_of(
        by_name(probe(moto, configuration=configuration(require_audit_trail=True), **kwargs))[
            "audited"
        ]
    )["audit-trail"]


def selectors_of(name: str) -> Callable[[Any], Answer | None]:
    """Refuse GetEventSelectors for one trail, as CloudTrail does without the permission."""
    refused = Answer.json_error(
        400,
        "AccessDeniedException",
        "not authorized to perform: cloudtrail:GetEventSelectors",
    )

    def answer(request: Any) -> Answer | None:
        return refused if name.encode() in (request.body or b"") else None

    return answer


def test_one_unreadable_trail_does_not_make_a_good_one_unknown(
    moto: str, setup_client: Callable[..., Any], faults: Callable[..., Faults]
) -> None:
    cmk_bucket(setup_client, "audited")
    make_bucket(setup_client, "trail-logs")
    make_trail(setup_client, "a-locked", multi_region=True)
    make_trail(setup_client, "b-org", multi_region=True)
    injected = faults({("cloudtrail", "GetEventSelectors"): selectors_of("a-locked")})

    found = audit(moto)

    assert injected.seen["GetEventSelectors"] == 1
    assert (found["status"], found["actual"]) == ("pass", "b-org")


def test_only_an_unreadable_trail_is_unknown(
    moto: str, setup_client: Callable[..., Any], faults: Callable[..., Faults]
) -> None:
    cmk_bucket(setup_client, "audited")
    make_bucket(setup_client, "trail-logs")
    make_trail(setup_client, "a-locked", multi_region=True)
    faults({("cloudtrail", "GetEventSelectors"): selectors_of("a-locked")})

    found = audit(moto)

    assert found["status"] == "unknown"
    assert "cloudtrail:GetEventSelectors" in found["message"]


def test_a_single_region_trail_in_the_keys_region_records_its_use(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    cmk_bucket(setup_client, "audited")
    make_bucket(setup_client, "trail-logs")
    make_trail(setup_client, "local", multi_region=False)

    found = audit(moto)

    assert (found["status"], found["actual"]) == ("pass", "local")


def test_a_single_region_trail_of_another_region_does_not(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    kms = setup_client("kms", OTHER_REGION)
    key = kms.create_key()["KeyMetadata"]
    put_kms_default(make_bucket(setup_client, "audited"), "audited", key["Arn"])
    make_bucket(setup_client, "trail-logs")
    make_trail(setup_client, "local", multi_region=False)  # eu-west-1; the key is in us-west-2

    found = audit(moto)

    # Read in the key's Region, where CloudTrail does not list another Region's local trail.
    assert found["status"] == "fail"
    assert f"use of the key in {OTHER_REGION} (no trail)" in found["message"]


def test_a_trail_of_everything_but_kms_is_said_to_exclude_kms_not_to_be_write_only(
    moto: str, setup_client: Callable[..., Any]
) -> None:
    cmk_bucket(setup_client, "audited")
    make_bucket(setup_client, "trail-logs")
    make_trail(
        setup_client,
        "all-but-kms",
        multi_region=True,
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "ExcludeManagementEventSources": ["kms.amazonaws.com"],
            }
        ],
    )

    found = audit(moto)

    assert found["status"] == "fail"
    assert "excludes KMS events" in found["message"]
    assert "write-only" not in found["message"]


# A bucket policy S3 will not show to another account --------------------------------------------


def test_get_bucket_policy_405_is_an_error_explaining_the_other_account(
    moto: str, setup_client: Callable[..., Any], faults: Callable[..., Faults]
) -> None:
    cmk_bucket(setup_client, "foreign")
    not_allowed = Answer.error(
        405, "MethodNotAllowed", "The specified method is not allowed against this resource."
    )
    faults({("s3", "GetBucketPolicy"): always(not_allowed)})

    found = findings_of(by_name(probe(moto))["foreign"])

    for check in ("encryption-enforced", "tls-only"):
        assert found[check]["status"] == "error", found[check]
        assert "bucket owner's account" in found[check]["message"]
        assert "account that owns it" in found[check]["remediation"]
