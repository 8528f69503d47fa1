"""S3: bucket listing with Regions (or a bucket's own Region), default encryption, bucket policy,
sampled objects."""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.client import BaseClient

from app.probe.models import (
    BucketEncryption,
    EncryptionRule,
    ObjectFacts,
    PolicyFacts,
    Problem,
)
from app.probe.session import (
    Absent,
    Operation,
    call,
    fetch,
    fetch_with_headers,
    paginate,
    policy_actions,
)

# A one-byte ranged GetObject, only to read S3's error for an object HeadObject answered 400
# (see `_bad_request`); any other GetObject is refused by the guard.
SSE_C_PROBE_RANGE = "bytes=0-0"
OPERATIONS: tuple[Operation, ...] = (
    Operation("s3", "ListBuckets", "s3:ListAllMyBuckets"),
    Operation("s3", "GetBucketLocation", "s3:GetBucketLocation"),
    Operation("s3", "HeadBucket", "s3:ListBucket"),
    Operation("s3", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
    Operation("s3", "GetBucketPolicy", "s3:GetBucketPolicy"),
    Operation("s3", "ListObjectsV2", "s3:ListBucket"),
    Operation("s3", "HeadObject", "s3:GetObject"),
    Operation("s3", "GetObject", "s3:GetObject", only=(("Range", SSE_C_PROBE_RANGE),)),
)
IAM_ACTIONS: tuple[str, ...] = policy_actions(OPERATIONS)
LIST_PAGE_SIZE = 10_000  # MaxBuckets allows 1..10,000; fewer round trips for large accounts
LIST_OBJECTS_PAGE = 1_000  # ListObjectsV2 returns at most 1,000 keys a page
# Keys listed at most per bucket when sampling objects: ten ListObjectsV2 pages.
MAX_LISTED_KEYS = 10_000
# How S3 says, in a GetObject (or HeadObject) error, that an object is SSE-C.
SSE_C_MESSAGE = "stored using a form of server side encryption"
# The S3 Encryption Client's envelope metadata (v2, and v1's key), without "x-amz-meta-".
ENVELOPE_KEYS = ("x-amz-key-v2", "x-amz-key")
ENVELOPE_ALGORITHM_KEY = "x-amz-cek-alg"
# S3's default for a bucket without an explicit configuration (since January 2023).
IMPLIED_DEFAULT_RULE = EncryptionRule(sse_algorithm="AES256", bucket_key_enabled=False)


class ListingFailed(RuntimeError):
    """The bucket listing itself could not be read; `problem` says why."""

    def __init__(self, problem: Problem) -> None:
        """Keep the Problem for the caller."""
        super().__init__(problem.message)
        self.problem = problem


def list_buckets(
    client: BaseClient, *, page_size: int = LIST_PAGE_SIZE
) -> Iterator[tuple[str, str | None]]:
    """Yield (bucket name, Region) for every bucket the credentials can list.

    Uses the paginated ListBuckets, whose BucketRegion spares a per-bucket region lookup.

    Args:
        client: An S3 client from make_client.
        page_size: MaxBuckets per page.

    Yields:
        (name, BucketRegion); the Region is None where the endpoint does not return it.

    Raises:
        ListingFailed: a page could not be read (AccessDenied, endpoint fault); buckets already
            yielded stay valid.
    """
    for page in paginate(client, "list_buckets", PaginationConfig={"PageSize": page_size}):
        if isinstance(page, Problem):
            raise ListingFailed(page)
        for bucket in page.get("Buckets", []):
            yield str(bucket["Name"]), bucket.get("BucketRegion")


# GetBucketLocation's LocationConstraint values that are not Region names.
LOCATION_REGIONS: dict[str, str] = {"": "us-east-1", "EU": "eu-west-1"}
REGION_HEADER = "x-amz-bucket-region"


def bucket_region(client: BaseClient, bucket: str) -> str | Problem:
    """The bucket's Region, for a bucket ListBuckets gave without one.

    GetBucketLocation first (its LocationConstraint is null or "" for us-east-1 and "EU" for
    eu-west-1); if that is refused or fails, the `x-amz-bucket-region` header of HeadBucket,
    which S3 sends on a 403 or 301 too.

    Args:
        client: An S3 client from make_client (any Region).
        bucket: The bucket name.

    Returns:
        The Region name, or the Problem of GetBucketLocation when neither call tells.
    """
    location = fetch(client, "get_bucket_location", Bucket=bucket)
    if not isinstance(location, Problem):
        constraint = str(location.get("LocationConstraint") or "")
        return LOCATION_REGIONS.get(constraint, constraint)
    head, headers = fetch_with_headers(client, "head_bucket", Bucket=bucket)
    region = headers.get(REGION_HEADER) or (
        head.get("BucketRegion") if isinstance(head, dict) else None
    )
    return str(region) if region else location


def _rule(raw: dict[str, Any]) -> EncryptionRule:
    """One EncryptionRule from a raw ServerSideEncryptionConfiguration rule."""
    default = raw.get("ApplyServerSideEncryptionByDefault", {})
    blocked = raw.get("BlockedEncryptionTypes")
    return EncryptionRule(
        sse_algorithm=str(default.get("SSEAlgorithm", "")),
        kms_master_key_id=default.get("KMSMasterKeyID"),
        bucket_key_enabled=raw.get("BucketKeyEnabled"),
        # A dict holding a list: {"EncryptionType": ["SSE-C"]}.
        blocked_encryption_types=(
            [str(t) for t in blocked.get("EncryptionType", [])] if blocked is not None else None
        ),
    )


def bucket_encryption(client: BaseClient, bucket: str) -> BucketEncryption | Problem:
    """Every rule of the bucket's default encryption.

    Args:
        client: An S3 client from make_client.
        bucket: The bucket name.

    Returns:
        The rules (explicit=True); the implied SSE-S3 rule with explicit=False when S3 has no
        explicit configuration; or a Problem.
    """
    response = call(client, "get_bucket_encryption", Bucket=bucket)
    if isinstance(response, Absent):
        return BucketEncryption(rules=[IMPLIED_DEFAULT_RULE], explicit=False)
    if isinstance(response, Problem):
        return response
    raw_rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return BucketEncryption(rules=[_rule(raw) for raw in raw_rules], explicit=True)


def bucket_policy(client: BaseClient, bucket: str) -> PolicyFacts | Problem:
    """The bucket policy document, parsed.

    Args:
        client: An S3 client from make_client.
        bucket: The bucket name.

    Returns:
        PolicyFacts (policy None when the bucket has none), or a Problem (also for a policy
        that is not valid JSON, which S3 should never return; an "error" explaining the 405 S3
        gives callers outside the bucket owner's account).
    """
    response = call(client, "get_bucket_policy", Bucket=bucket)
    if isinstance(response, Absent):
        return PolicyFacts(policy=None)
    if isinstance(response, Problem):
        if response.code in ("MethodNotAllowed", "405"):
            return Problem(
                status="error",
                action="s3:GetBucketPolicy",
                code=response.code,
                message=(
                    "S3 answered GetBucketPolicy with 405 Method Not Allowed, which it gives a "
                    "caller that is not in the bucket owner's account (even one allowed "
                    "s3:GetBucketPolicy): these credentials belong to another account"
                ),
                remedy=(
                    "Probe this bucket with credentials of the account that owns it (--profile, "
                    "or --role-arn of a role in that account), then run the probe again."
                ),
            )
        return response
    text = str(response.get("Policy", ""))
    try:
        document = json.loads(text)
    except ValueError as error:
        return Problem(status="error", code="InvalidPolicyJson", message=str(error))
    if not isinstance(document, dict):
        return Problem(status="error", code="InvalidPolicyJson", message="not a JSON object")
    return PolicyFacts(policy=document)


def _object(key: str, head: dict[str, Any]) -> ObjectFacts:
    """ObjectFacts from a HeadObject response."""
    metadata = {str(k).lower(): v for k, v in head.get("Metadata", {}).items()}
    envelope = ENVELOPE_ALGORITHM_KEY in metadata or any(k in metadata for k in ENVELOPE_KEYS)
    return ObjectFacts(
        key=key,
        server_side_encryption=head.get("ServerSideEncryption"),
        sse_kms_key_id=head.get("SSEKMSKeyId"),
        sse_customer_algorithm=head.get("SSECustomerAlgorithm"),
        bucket_key_enabled=head.get("BucketKeyEnabled"),
        client_side_envelope=envelope,
    )


def _reservoir(keys: Iterable[str], n: int, seed: str) -> list[str]:
    """Up to `n` keys drawn evenly from all of `keys` (reservoir sampling), the same on every run
    for the same listing (the generator is seeded with `seed`), in key order."""
    rng = random.Random(zlib.crc32(seed.encode()))
    chosen: list[str] = []
    for seen, key in enumerate(keys):
        if len(chosen) < n:
            chosen.append(key)
        else:
            slot = rng.randrange(seen + 1)
            if slot < n:
                chosen[slot] = key
    return sorted(chosen)


def _listed_keys(
    client: BaseClient, bucket: str, max_listed: int, problems: list[Problem]
) -> Iterator[str]:
    """The bucket's keys in ListObjectsV2 order, page after page, `max_listed` at most; a
    failure ends them and is appended to `problems`."""
    config = {"MaxItems": max_listed, "PageSize": LIST_OBJECTS_PAGE}
    for page in paginate(client, "list_objects_v2", Bucket=bucket, PaginationConfig=config):
        if isinstance(page, Problem):
            problems.append(page)
            return
        for entry in page.get("Contents", []):
            yield str(entry["Key"])


def _says_sse_c(problem: Problem) -> bool:
    """Whether an error is S3's "stored with customer-provided keys" answer."""
    return problem.code == "InvalidRequest" and SSE_C_MESSAGE in problem.message.lower()


def _bad_request(client: BaseClient, bucket: str, key: str, head: Problem) -> ObjectFacts | Problem:
    """What a HeadObject 400 means: SSE-C only when S3 says so.

    A HEAD answer has no body, so a 400 carries no error code; a one-byte ranged GetObject of
    the same object does: S3 answers it with InvalidRequest "The object was stored using a
    form of Server Side Encryption..." for an SSE-C object read without its key.
    """
    if _says_sse_c(head):
        return ObjectFacts(key=key, sse_customer_algorithm="AES256", sse_c_inferred=True)
    probe = fetch(client, "get_object", Bucket=bucket, Key=key, Range=SSE_C_PROBE_RANGE)
    if isinstance(probe, Problem):
        if _says_sse_c(probe):
            return ObjectFacts(key=key, sse_customer_algorithm="AES256", sse_c_inferred=True)
        detail = f"GetObject then said {probe.code}: {probe.message}"
    else:
        probe["Body"].close()
        detail = "the object is readable without a customer-provided key, so it is not SSE-C"
    return Problem(
        status="error",
        action="s3:GetObject",
        code=head.code,
        message=f"HeadObject of {key} answered 400 Bad Request; {detail}",
    )


def sample_objects(
    client: BaseClient, bucket: str, n: int, *, max_listed: int = MAX_LISTED_KEYS
) -> list[ObjectFacts] | Problem:
    """HeadObject on up to `n` objects spread over the bucket's keys.

    The listing is read page by page (ListObjectsV2, 1,000 keys a page) up to `max_listed` keys
    (MAX_LISTED_KEYS, ten pages, by default); the sample is drawn evenly from all the keys
    listed (reservoir sampling, seeded with the bucket name: the same keys on every run of an
    unchanged bucket), not the first ones. In a bucket holding more keys, the sample comes
    from the first `max_listed` in key order.

    An object that disappeared between listing and HeadObject is skipped. A HeadObject 400 is
    SSE-C (inferred) only when S3 says the object was stored with customer-provided keys (see
    `_bad_request`); any other 400 is an error.

    Args:
        client: An S3 client from make_client.
        bucket: The bucket name.
        n: How many objects at most; 0 samples nothing.
        max_listed: How many keys to list at most.

    Returns:
        The sampled objects in key order, or the first Problem (e.g. s3:ListBucket or
        s3:GetObject denied).
    """
    if n <= 0:
        return []
    problems: list[Problem] = []
    keys = _reservoir(_listed_keys(client, bucket, max(max_listed, n), problems), n, bucket)
    if problems:
        return problems[0]
    sampled: list[ObjectFacts] = []
    for key in keys:
        head = fetch(client, "head_object", Bucket=bucket, Key=key)
        if isinstance(head, Problem):
            if head.code in ("404", "NoSuchKey", "NotFound"):
                continue
            if head.code in ("400", "BadRequest", "InvalidRequest"):
                found = _bad_request(client, bucket, key, head)
                if isinstance(found, Problem):
                    return found
                sampled.append(found)
                continue
            return head
        sampled.append(_object(key, head))
    return sampled
