"""Run a probe: list buckets, collect their facts concurrently, judge them, build the report.

Collectors talk to AWS (read-only clients from session.py); checks.py judges. This module
only wires them: one client per service and Region, a shared key cache, bounded
concurrency, and the probe JSON of CONTRACT.md.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError

from app.probe import checks
from app.probe.collectors import cloudtrail, kms, s3, sts
from app.probe.models import BucketEncryption, BucketFacts, KeyFacts, Problem
from app.probe.session import FIRST_CALL_ATTEMPTS, make_client, make_session
from app.probe.target import Target

__all__ = [
    "BucketReport",
    "ProbeStream",
    "ProbeUnavailable",
    "Target",
    "run_probe",
    "start_probe",
]

DEFAULT_REGION = "us-east-1"
# Buckets submitted ahead per worker: keeps workers busy while one slow bucket holds the head.
WINDOW_PER_WORKER = 4


class ProbeUnavailable(RuntimeError):
    """The probe cannot run at all (no credentials, endpoint unreachable): exit code 3."""


class _Clients:
    """One guarded client per (service, Region), created on first use, shared by threads."""

    def __init__(self, session: boto3.Session, target: Target, default_region: str) -> None:
        self._session, self._target, self.default_region = session, target, default_region
        self._clients: dict[tuple[str, str], BaseClient] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str | None = None) -> BaseClient:
        key = (service, region or self.default_region)
        client = self._clients.get(key)  # the common case: no lock once the client exists
        if client is not None:
            return client
        with self._lock:
            if key not in self._clients:
                self._clients[key] = make_client(
                    self._session, service, endpoint_url=self._target.endpoint_url, region=key[1]
                )
            return self._clients[key]


def probe_bucket(
    *,
    clients: _Clients,
    keys: kms.KeyCache,
    name: str,
    region: str | None,
    sample_objects: int,
) -> BucketFacts:
    """Collect everything the checks need about one bucket (reads only).

    The key is described in the Region its ARN names; a key id or alias (Region-relative,
    `alias/aws/s3` above all) in the bucket's Region, where S3 resolves it.
    """
    s3c = clients.get("s3", region)
    encryption = s3.bucket_encryption(s3c, name)
    policy = s3.bucket_policy(s3c, name)
    key = None
    if isinstance(encryption, BucketEncryption):
        rule = encryption.default_rule
        if rule is not None and rule.sse_algorithm.startswith("aws:kms"):
            key_region = kms.key_region(rule.kms_master_key_id) or region
            key = keys.describe(clients.get("kms", key_region), rule.kms_master_key_id)
    return BucketFacts(
        name=name,
        region=region,
        encryption=encryption,
        policy=policy,
        key=key,
        objects=s3.sample_objects(s3c, name, sample_objects),  # [] without a call when 0
    )


@dataclass(frozen=True)
class BucketReport:
    """One bucket's verdict: a row of the probe JSON's `buckets`, plus the key it uses."""

    bucket: str
    region: str
    status: str
    findings: tuple[checks.Finding, ...]
    key_arn: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The bucket as CONTRACT.md's probe JSON shows it."""
        return {
            "bucket": self.bucket,
            "region": self.region,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }


class ProbeStream:
    """A started probe: who and what is known; buckets are checked as they are iterated.

    Iterating yields one BucketReport per bucket in name order. At most a few times
    `concurrency` buckets are in flight or waiting to be yielded, so memory stays flat however
    many buckets there are; `summary()` counts what has been yielded so far.
    """

    def __init__(
        self,
        *,
        option: str,
        configuration: dict[str, Any],
        target: dict[str, str | None],
        names: list[str],
        check: Callable[[str], BucketReport],
        concurrency: int,
    ) -> None:
        """Keep what `start_probe` found; nothing is checked until iteration."""
        self.expected = {"option": option, "configuration": configuration}
        self.target = target
        self.names = names
        self._check = check
        self._concurrency = max(1, concurrency)
        self._statuses: Counter[str] = Counter()

    @property
    def total(self) -> int:
        """How many buckets will be checked."""
        return len(self.names)

    def header(self) -> dict[str, Any]:
        """The probe JSON's `expected` and `target`."""
        return {"expected": self.expected, "target": self.target}

    def summary(self) -> dict[str, int]:
        """The probe JSON's `summary` over the buckets yielded so far."""
        return checks.summarize(self._statuses.elements())

    def __iter__(self) -> Iterator[BucketReport]:
        """Check the buckets with bounded concurrency; yield them in order as they finish."""
        names = iter(self.names)
        window = self._concurrency * WINDOW_PER_WORKER
        pending: deque[Future[BucketReport]] = deque()
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            try:
                pending.extend(pool.submit(self._check, n) for n in itertools.islice(names, window))
                while pending:
                    report = pending.popleft().result()
                    following = next(names, None)
                    if following is not None:
                        pending.append(pool.submit(self._check, following))
                    self._statuses[report.status] += 1
                    yield report
            finally:  # the consumer stopped early, or a check raised: start nothing more
                for future in pending:
                    future.cancel()


def _bucket_region(clients: _Clients, name: str) -> str:
    """The Region of a bucket ListBuckets did not place (refused, or no BucketRegion).

    When neither GetBucketLocation nor HeadBucket tells, the probe's Region is used: the reads
    that follow then report what is wrong (a bucket gone, access refused).
    """
    found = s3.bucket_region(clients.get("s3"), name)
    return clients.default_region if isinstance(found, Problem) else found


def _key_arn(facts: BucketFacts) -> str | None:
    return facts.key.arn if isinstance(facts.key, KeyFacts) else None


def start_probe(
    *,
    option: str,
    configuration: dict[str, Any],
    target: Target,
    buckets: Iterable[str] | None = None,
    concurrency: int = 8,
    sample_objects: int = 0,
) -> ProbeStream:
    """Identify the caller, list the buckets and read the trails; return the stream to iterate.

    Args:
        option: The expected option's id.
        configuration: Its configuration (a recommendation's, or the option's default).
        target: Profile, role, Region and endpoint to read from.
        buckets: Bucket names; None means the target's buckets, else every bucket listed.
        concurrency: Buckets probed at once.
        sample_objects: Objects to HeadObject per bucket (0: none).

    Returns:
        A ProbeStream; iterating it checks the buckets.

    Raises:
        ProbeUnavailable: no credentials, the role cannot be assumed, or the endpoint cannot be
            reached.
    """
    try:
        session = make_session(
            profile=target.profile,
            region=target.region,
            role_arn=target.role_arn,
            external_id=target.external_id,
            endpoint_url=target.endpoint_url,
        )
    except BotoCoreError as exc:  # an unknown profile, no credentials to assume the role with
        raise ProbeUnavailable(str(exc)) from None
    region = target.region or session.region_name or DEFAULT_REGION
    clients = _Clients(session, target, region)
    first = make_client(
        session,
        "sts",
        endpoint_url=target.endpoint_url,
        region=region,
        max_attempts=FIRST_CALL_ATTEMPTS,
    )
    account = sts.account(first)
    if isinstance(account, Problem):
        raise ProbeUnavailable(f"cannot identify the caller ({account.code}): {account.message}")
    wanted = buckets if buckets is not None else target.buckets
    try:
        listed = dict(s3.list_buckets(clients.get("s3")))
    except s3.ListingFailed as exc:
        if wanted is None:
            raise ProbeUnavailable(f"cannot list buckets: {exc.problem.message}") from None
        listed = {}
    names = sorted(listed) if wanted is None else list(dict.fromkeys(wanted))
    # The trails of each Region where a key is used, read when a bucket first needs them.
    trail_cache = None
    if configuration.get("require_audit_trail"):
        trail_cache = cloudtrail.TrailCache(lambda r: clients.get("cloudtrail", r))
    keys = kms.KeyCache(own_account=account)
    for region_seen in {listed.get(n) or region for n in names}:
        # Made before the workers start, so no worker waits while another builds one.
        clients.get("s3", region_seen)
        clients.get("kms", region_seen)

    def check(name: str) -> BucketReport:
        bucket_region = listed.get(name) or _bucket_region(clients, name)
        facts = probe_bucket(
            clients=clients,
            keys=keys,
            name=name,
            region=bucket_region,
            sample_objects=sample_objects,
        )
        trails = None
        if trail_cache is not None:
            trails = trail_cache.trails(facts.key_use_region or region)
        findings = checks.check_bucket(facts, expected=configuration, option=option, trails=trails)
        return BucketReport(
            bucket=name,
            region=bucket_region,
            status=checks.bucket_status(findings),
            findings=tuple(findings),
            key_arn=_key_arn(facts),
        )

    return ProbeStream(
        option=option,
        configuration=configuration,
        target={"endpoint_url": target.endpoint_url, "region": region, "account": account},
        names=names,
        check=check,
        concurrency=concurrency,
    )


def run_probe(
    *,
    option: str,
    configuration: dict[str, Any],
    target: Target,
    buckets: Iterable[str] | None = None,
    concurrency: int = 8,
    sample_objects: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Check buckets against an option's configuration and return the whole probe JSON.

    The arguments are start_probe's; `progress` is called with (done, total) as buckets finish.
    Holds every bucket's findings in memory: for very large accounts iterate start_probe's
    stream instead (the CLI does).

    Raises:
        ProbeUnavailable: as start_probe.
    """
    stream = start_probe(
        option=option,
        configuration=configuration,
        target=target,
        buckets=buckets,
        concurrency=concurrency,
        sample_objects=sample_objects,
    )
    reports = []
    for done, report in enumerate(stream, start=1):
        reports.append(report.to_json())
        if progress is not None:
            progress(done, stream.total)
    return {**stream.header(), "buckets": reports, "summary": stream.summary()}
