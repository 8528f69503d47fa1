"""Run a probe: list buckets, collect their facts concurrently, judge them, build the report.

Collectors talk to AWS (read-only clients from session.py); checks.py judges. This module
only wires them: one client per service and Region, a shared key cache, bounded
concurrency, and the probe JSON of CONTRACT.md.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from botocore.client import BaseClient

from app.probe import checks
from app.probe.collectors import cloudtrail, kms, s3, sts
from app.probe.models import BucketEncryption, ObjectFacts, Problem, TrailFacts
from app.probe.session import make_client, make_session
from app.probe.target import Target

__all__ = ["ProbeUnavailable", "Target", "run_probe"]

DEFAULT_REGION = "us-east-1"


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
        with self._lock:
            if key not in self._clients:
                self._clients[key] = make_client(
                    self._session, service, endpoint_url=self._target.endpoint_url, region=key[1]
                )
            return self._clients[key]


def _problem_in(p: Problem) -> checks.ProblemIn:
    return checks.ProblemIn(status=p.status, action=p.action, code=p.code, message=p.message)


def _trails_in(
    found: list[TrailFacts] | Problem | None,
) -> list[checks.TrailIn] | checks.ProblemIn | None:
    if found is None:
        return None
    if isinstance(found, Problem):
        return _problem_in(found)
    return [
        checks.TrailIn(
            name=t.name,
            is_logging=t.is_logging,
            is_multi_region=t.is_multi_region,
            management_events=t.management_events,
            excludes_kms=t.excludes_kms,
            selectors_kind=t.selectors_kind,
            logs_read_events=t.logs_read_events,
        )
        for t in found
    ]


def _encryption_in(
    found: BucketEncryption | Problem,
) -> checks.BucketEncryptionIn | checks.ProblemIn:
    if isinstance(found, Problem):
        return _problem_in(found)
    rules = [
        checks.EncryptionRuleIn(
            sse_algorithm=r.sse_algorithm,
            kms_master_key_id=r.kms_master_key_id,
            bucket_key_enabled=r.bucket_key_enabled,
            blocked_encryption_types=r.blocked_encryption_types,
        )
        for r in found.rules
    ]
    return checks.BucketEncryptionIn(rules=rules, explicit=found.explicit)


def _objects_in(
    found: list[ObjectFacts] | Problem | None,
) -> list[checks.ObjectIn] | checks.ProblemIn | None:
    if found is None:
        return None
    if isinstance(found, Problem):
        return _problem_in(found)
    return [
        checks.ObjectIn(
            key=o.key,
            server_side_encryption=o.server_side_encryption,
            sse_kms_key_id=o.sse_kms_key_id,
            sse_customer_algorithm=o.sse_customer_algorithm,
            bucket_key_enabled=o.bucket_key_enabled,
            client_side_envelope=o.client_side_envelope,
        )
        for o in found
    ]


def _key_in(found: Any) -> checks.KeyIn | checks.ProblemIn | None:
    if found is None:
        return None
    if isinstance(found, Problem):
        return _problem_in(found)
    fields = {f.name for f in dataclasses.fields(checks.KeyIn)}
    values = {name: getattr(found, name) for name in fields if name != "rotation_problem"}
    rotation = found.rotation_problem
    return checks.KeyIn(
        **values, rotation_problem=None if rotation is None else _problem_in(rotation)
    )


def probe_bucket(
    *,
    clients: _Clients,
    keys: kms.KeyCache,
    name: str,
    region: str | None,
    sample_objects: int,
) -> checks.BucketIn:
    """Collect everything the checks need about one bucket (reads only)."""
    s3c = clients.get("s3", region)
    encryption = s3.bucket_encryption(s3c, name)
    policy = s3.bucket_policy(s3c, name)
    key = None
    if isinstance(encryption, BucketEncryption):
        rule = encryption.default_rule
        if rule is not None and rule.sse_algorithm.startswith("aws:kms"):
            key = keys.describe(clients.get("kms", region), rule.kms_master_key_id)
    objects = s3.sample_objects(s3c, name, sample_objects) if sample_objects > 0 else None
    policy_in = _problem_in(policy) if isinstance(policy, Problem) else policy.policy
    return checks.BucketIn(
        name=name,
        region=region,
        encryption=_encryption_in(encryption),
        policy=policy_in,
        key=_key_in(key),
        objects=_objects_in(objects),
    )


def _finding_json(f: checks.Finding) -> dict[str, Any]:
    return dataclasses.asdict(f)


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
    """Check buckets against an option's configuration and return the probe JSON.

    Args:
        option: The expected option's id.
        configuration: Its configuration (a recommendation's, or the option's default).
        target: Profile, Region and endpoint to read from.
        buckets: Bucket names; None means every bucket the credentials can list.
        concurrency: Buckets probed at once.
        sample_objects: Objects to HeadObject per bucket (0: none).
        progress: Called with (done, total) as buckets finish.

    Returns:
        The probe JSON of CONTRACT.md (expected, target, buckets, summary).

    Raises:
        ProbeUnavailable: no credentials, or the endpoint cannot be reached.
    """
    session = make_session(profile=target.profile, region=target.region)
    region = target.region or session.region_name or DEFAULT_REGION
    clients = _Clients(session, target, region)
    account = sts.account(clients.get("sts"))
    if isinstance(account, Problem):
        raise ProbeUnavailable(f"cannot identify the caller ({account.code}): {account.message}")
    try:
        listed = dict(s3.list_buckets(clients.get("s3")))
    except s3.ListingFailed as exc:
        if buckets is None:
            raise ProbeUnavailable(f"cannot list buckets: {exc.problem.message}") from None
        listed = {}
    names = sorted(listed) if buckets is None else list(dict.fromkeys(buckets))
    trails = None
    if configuration.get("require_audit_trail"):
        trails = _trails_in(cloudtrail.trails(clients.get("cloudtrail")))
    keys = kms.KeyCache(own_account=account)
    done = 0
    lock = threading.Lock()

    def one(name: str) -> dict[str, Any]:
        nonlocal done
        bucket_region = listed.get(name) or region
        facts = probe_bucket(
            clients=clients,
            keys=keys,
            name=name,
            region=bucket_region,
            sample_objects=sample_objects,
        )
        findings = checks.check_bucket(facts, expected=configuration, option=option, trails=trails)
        with lock:
            done += 1
            if progress is not None:
                progress(done, len(names))
        return {
            "bucket": name,
            "region": bucket_region,
            "status": checks.bucket_status(findings),
            "findings": [_finding_json(f) for f in findings],
        }

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        reports = list(pool.map(one, names))
    return {
        "expected": {"option": option, "configuration": configuration},
        "target": {"endpoint_url": target.endpoint_url, "region": region, "account": account},
        "buckets": reports,
        "summary": checks.summarize(r["status"] for r in reports),
    }
