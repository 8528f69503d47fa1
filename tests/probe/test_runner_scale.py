"""run_probe in-process against the moto server: a thousand buckets, and throttled reads.

The probe's own clients are observed, never replaced: `app.probe.runner.make_client` is wrapped
so that every client the runner builds (the real, guarded one, talking to moto) gets botocore
event handlers that count API calls (`before-call`: once per call, retries excluded) and HTTP
attempts (`before-send`: once per attempt, retries included). The throttling tests add one more
`before-send` handler that answers a chosen bucket's GetBucketPolicy with a 400
ThrottlingException instead of sending it; everything else still goes to moto.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.retries.standard import ExponentialBackoff

from app.advisor.loader import load_ruleset
from app.probe import runner
from app.probe.runner import Target, run_probe
from app.probe.session import MAX_ATTEMPTS
from tests.probe.conftest import REGION

OPTION = "sse-kms-cmk"
BUCKETS = 1_000
KEYS = 20
SETUP_THREADS = 16
PROBE_CONCURRENCY = 16
MAX_CALLS_PER_BUCKET = 4
SCALE_TIME_BUDGET_S = 60
POLICY_CHECKS = ("encryption-enforced", "tls-only")
OK_STATUSES = {"pass", "warn", "fail"}


def configuration() -> dict[str, Any]:
    return dict(load_ruleset().options[OPTION].configuration)


@dataclass
class Observed:
    """What the probe's clients did, per operation name (e.g. "GetBucketPolicy")."""

    calls: Counter[str] = field(default_factory=Counter)  # API calls, without retries
    attempts: Counter[str] = field(default_factory=Counter)  # HTTP attempts, with retries
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_call(self, model: Any = None, **_: Any) -> None:
        with self.lock:
            self.calls[str(model.name)] += 1

    def on_send(self, event_name: str = "", **_: Any) -> None:
        with self.lock:
            self.attempts[event_name.rsplit(".", 1)[-1]] += 1


ClientHook = Callable[[str, BaseClient], None]


@pytest.fixture
def observe(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Observed]:
    """Wrap the runner's make_client: count what its clients do; optionally add a hook.

    The runner imported make_client by name, so the name patched is app.probe.runner's (patching
    app.probe.session.make_client alone would not be seen by run_probe).
    """

    def install(hook: ClientHook | None = None) -> Observed:
        observed = Observed()
        # The runner imported make_client by name; read it from the runner's namespace.
        real: Callable[..., BaseClient] = vars(runner)["make_client"]

        def make_client(session: Any, service: str, **kwargs: Any) -> BaseClient:
            client = real(session, service, **kwargs)
            client.meta.events.register("before-call", observed.on_call, unique_id="obs-call")
            client.meta.events.register("before-send", observed.on_send, unique_id="obs-send")
            if hook is not None:
                hook(service, client)
            return client

        monkeypatch.setattr(runner, "make_client", make_client)
        return observed

    return install


def create_bucket(client: Any, name: str) -> None:
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


def put_default(client: Any, name: str, algorithm: str, key_arn: str | None = None) -> None:
    default = {"SSEAlgorithm": algorithm}
    if key_arn is not None:
        default["KMSMasterKeyID"] = key_arn
    client.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        },
    )


def enforcing_policy(name: str, key_arn: str) -> str:
    """A policy that passes encryption-enforced (aws:kms, `key_arn`) and tls-only for `name`."""
    objects, bucket = f"arn:aws:s3:::{name}/*", f"arn:aws:s3:::{name}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlainHttp",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket, objects],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "DenyNonKmsWrites",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {
                        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                    },
                },
                {
                    "Sid": "DenyWritesWithOtherKeys",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {
                        "StringNotEquals": {
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn
                        }
                    },
                },
            ],
        }
    )


def findings_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in report["findings"]}


def reports_by_name(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["bucket"]: r for r in result["buckets"]}


# A thousand buckets ---------------------------------------------------------------------------


@pytest.mark.slow
def test_thousand_buckets_are_all_judged_with_one_describe_per_key_and_few_calls_per_bucket(
    moto: str, setup_client: Callable[..., Any], observe: Callable[..., Observed]
) -> None:
    kms_setup = setup_client("kms")
    key_arns = [kms_setup.create_key()["KeyMetadata"]["Arn"] for _ in range(KEYS)]
    names = [f"scale-{i:04d}" for i in range(BUCKETS)]
    # Thirds: default (nothing explicit), AES256 explicit, aws:kms with one of the keys.
    kind = {name: ("default", "aes256", "kms")[i % 3] for i, name in enumerate(names)}
    key_of = {name: key_arns[i % KEYS] for i, name in enumerate(names) if kind[name] == "kms"}
    # One setup client per thread (clients are created here, in one thread: boto3's default
    # session is not safe to build clients from concurrently), each with its own chunk.
    s3_setups = [setup_client("s3") for _ in range(SETUP_THREADS)]

    def arrange(index: int) -> None:
        client = s3_setups[index]
        for name in names[index::SETUP_THREADS]:
            create_bucket(client, name)
            if kind[name] == "aes256":
                put_default(client, name, "AES256")
            elif kind[name] == "kms":
                put_default(client, name, "aws:kms", key_of[name])

    with ThreadPoolExecutor(max_workers=SETUP_THREADS) as pool:
        list(pool.map(arrange, range(SETUP_THREADS)))

    observed = observe()
    started = time.monotonic()
    result = run_probe(
        option=OPTION,
        configuration=configuration(),
        target=Target(endpoint_url=moto, region=REGION),
        concurrency=PROBE_CONCURRENCY,
    )
    elapsed = time.monotonic() - started

    reports = reports_by_name(result)
    assert len(result["buckets"]) == BUCKETS
    assert sorted(reports) == names
    assert result["summary"]["buckets"] == BUCKETS
    bad = {n: r["status"] for n, r in reports.items() if r["status"] not in OK_STATUSES}
    assert bad == {}, f"{len(bad)} buckets not judged: {dict(list(bad.items())[:5])}"
    assert result["summary"]["error"] == 0 and result["summary"]["unknown"] == 0
    for name, report in reports.items():
        default = findings_of(report)["default-encryption"]
        expected_status = "pass" if kind[name] == "kms" else "fail"
        assert default["status"] == expected_status, (name, default)
        if kind[name] == "kms":
            manager = findings_of(report)["kms-key-manager"]
            assert manager["status"] == "pass", (name, manager)

    calls = observed.calls
    total = sum(calls.values())
    per_bucket = total / BUCKETS
    figure = (
        f"{per_bucket:.3f} API calls per bucket ({total} in all: {dict(calls)}), {elapsed:.1f}s"
    )
    assert calls["ListBuckets"] == 1, figure
    assert calls["DescribeKey"] <= KEYS, figure
    assert calls["GetBucketEncryption"] == BUCKETS, figure
    assert calls["GetBucketPolicy"] == BUCKETS, figure
    assert per_bucket <= MAX_CALLS_PER_BUCKET, figure
    # No retries were needed against a healthy endpoint: one attempt per call.
    assert observed.attempts == calls, figure
    assert elapsed < SCALE_TIME_BUDGET_S, figure


# Throttling -----------------------------------------------------------------------------------


def _bucket_of(url: str) -> str:
    """The bucket a path-style (moto on an IP) or virtual-hosted S3 request URL addresses."""
    parts = urlsplit(url)
    segment = parts.path.lstrip("/").split("/", 1)[0]
    return segment or (parts.hostname or "").split(".", 1)[0]


class _Body:
    """The `raw` an AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


THROTTLE_XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>ThrottlingException</Code><Message>Rate exceeded</Message>"
    b"<RequestId>THROTTLED</RequestId></Error>"
)


@dataclass
class Throttler:
    """Answers GetBucketPolicy of chosen buckets with 400 ThrottlingException.

    `remaining[bucket]` is how many attempts to throttle (None: every attempt); `seen[bucket]`
    counts the attempts that reached the handler.

    Why a `before-send` handler and not botocore.stub.Stubber: a Stubber answers at
    `before-call`, for every operation of the client, and its error responses never reach the
    retry handler, so adaptive retries would not run and the other buckets would not be read
    from moto. A `before-send` answer is parsed and retried exactly like a real 400 from S3.
    """

    remaining: dict[str, int | None]
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, service: str, client: BaseClient) -> None:
        if service == "s3":
            client.meta.events.register(
                "before-send.s3.GetBucketPolicy", self.on_send, unique_id="throttle"
            )

    def on_send(self, request: Any, **_: Any) -> AWSResponse | None:
        bucket = _bucket_of(request.url)
        with self.lock:
            if bucket not in self.remaining:
                return None
            self.seen[bucket] += 1
            left = self.remaining[bucket]
            if left is not None:
                if left <= 0:
                    return None
                self.remaining[bucket] = left - 1
        headers = {"Content-Type": "application/xml", "x-amz-request-id": "THROTTLED"}
        return AWSResponse(request.url, 400, headers, _Body(THROTTLE_XML))


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip the jittered sleep between retries (up to 20 s each for throttles: ~45 s expected for
    8 retries). The number of attempts and the adaptive rate limiter are left as they are."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


THROTTLED, TRANSIENT = "b-throttled", "c-transient"
NORMAL = ("a-normal", "d-normal", "e-normal")


def arrange_policy_buckets(setup_client: Callable[..., Any]) -> str:
    """Five aws:kms buckets with one key and an enforcing policy; returns the key ARN."""
    key_arn = str(setup_client("kms").create_key()["KeyMetadata"]["Arn"])
    s3_setup = setup_client("s3")
    for name in (*NORMAL, THROTTLED, TRANSIENT):
        create_bucket(s3_setup, name)
        put_default(s3_setup, name, "aws:kms", key_arn)
        s3_setup.put_bucket_policy(Bucket=name, Policy=enforcing_policy(name, key_arn))
    return key_arn


def test_bucket_throttled_on_every_attempt_gets_error_findings_and_the_rest_are_checked(
    moto: str,
    setup_client: Callable[..., Any],
    observe: Callable[..., Observed],
    no_backoff: None,
) -> None:
    arrange_policy_buckets(setup_client)
    throttler = Throttler(remaining={THROTTLED: None})
    observed = observe(throttler.hook)

    result = run_probe(
        option=OPTION,
        configuration=configuration(),
        target=Target(endpoint_url=moto, region=REGION),
        concurrency=4,
    )

    reports = reports_by_name(result)
    assert sorted(reports) == sorted((*NORMAL, THROTTLED, TRANSIENT))
    # Every attempt botocore allows was made (first try + MAX_ATTEMPTS retries), all throttled.
    assert throttler.seen[THROTTLED] == MAX_ATTEMPTS + 1
    assert observed.calls["GetBucketPolicy"] == 5
    assert observed.attempts["GetBucketPolicy"] == 5 + MAX_ATTEMPTS

    throttled = reports[THROTTLED]
    assert throttled["status"] == "error"
    found = findings_of(throttled)
    for check in POLICY_CHECKS:
        assert found[check]["status"] == "error", found[check]
        assert "ThrottlingException" in found[check]["message"], found[check]
    # What did not depend on the policy was still read and judged.
    assert found["default-encryption"]["status"] == "pass"
    assert found["kms-key-manager"]["status"] == "pass"

    for name in (*NORMAL, TRANSIENT):
        found = findings_of(reports[name])
        assert reports[name]["status"] in OK_STATUSES, (name, reports[name]["status"])
        for check in (*POLICY_CHECKS, "default-encryption"):
            assert found[check]["status"] == "pass", (name, found[check])
    assert result["summary"]["error"] == 1
    assert result["summary"]["buckets"] == 5


def test_transient_throttle_is_retried_into_a_normal_result(
    moto: str,
    setup_client: Callable[..., Any],
    observe: Callable[..., Observed],
    no_backoff: None,
) -> None:
    arrange_policy_buckets(setup_client)
    throttler = Throttler(remaining={TRANSIENT: 1})
    observed = observe(throttler.hook)

    result = run_probe(
        option=OPTION,
        configuration=configuration(),
        target=Target(endpoint_url=moto, region=REGION),
        buckets=[TRANSIENT, *NORMAL],
    )

    reports = reports_by_name(result)
    assert throttler.seen[TRANSIENT] == 2  # throttled once, then answered by moto
    assert observed.calls["GetBucketPolicy"] == 4
    assert observed.attempts["GetBucketPolicy"] == 5
    for name in (TRANSIENT, *NORMAL):
        found = findings_of(reports[name])
        assert reports[name]["status"] in OK_STATUSES, (name, reports[name])
        for check in (*POLICY_CHECKS, "default-encryption"):
            assert found[check]["status"] == "pass", (name, found[check])
    assert result["summary"]["error"] == 0
    assert result["summary"]["unknown"] == 0
