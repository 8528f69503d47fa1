"""Sessions and clients for the probe, read-only by construction, and the one ClientError helper.

Every client made by `make_client` carries a guard that refuses, before anything is sent, any
operation that is not a read (see `READ_ONLY_RULE`). Collectors call AWS through `call`, which
turns every failure into a `Problem` (or an `Absent` for the normal "nothing configured"
answers), so no collector needs its own try/except.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from app.probe.models import Problem

READ_ONLY_RULE = (
    "A probe client may only call operations whose name starts with one of READ_PREFIXES "
    "(or is listed in READ_ALLOW_LIST) and is not listed in READ_DENY_LIST; anything else "
    "raises WriteRefused before a request is built."
)
READ_PREFIXES: tuple[str, ...] = ("Get", "List", "Describe", "Head", "Lookup")
# Not named like a read, but it changes no resource: it issues temporary credentials for a
# target's role (sts:AssumeRole), which the probe then reads with.
READ_ALLOW_LIST: frozenset[str] = frozenset({"AssumeRole"})
ROLE_SESSION_NAME = "atrest-probe"
ROLE_SESSION_SECONDS = 3600  # refreshed before expiry by botocore for longer runs
# Named like a read, but it creates something (a KMS import token and wrapping key).
READ_DENY_LIST: frozenset[str] = frozenset({"GetParametersForImport"})

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 20
MAX_ATTEMPTS = 8  # botocore's "max_attempts" counts retries: 9 requests at most
# The first call (who am I?) decides whether the probe can run at all: an endpoint that
# refuses connections or a missing credential is reported after 3 attempts, not 9.
FIRST_CALL_ATTEMPTS = 2
MAX_POOL_CONNECTIONS = 50

ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403", "Forbidden"}
)
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "503",
    }
)
# Answers that mean "nothing configured", not a failure.
ABSENT_CODES: dict[str, str] = {
    "ServerSideEncryptionConfigurationNotFoundError": (
        "no explicit default encryption: S3 applies SSE-S3 (AES256) since January 2023"
    ),
    "NoSuchBucketPolicy": "no bucket policy",
}

# API operation -> IAM action, where the IAM name differs from "<service>:<Operation>".
IAM_ACTION_FOR: dict[tuple[str, str], str] = {
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "GetBucketLocation"): "s3:GetBucketLocation",
}


class WriteRefused(RuntimeError):
    """A probe client was asked to call an operation that is not a read."""

    def __init__(self, service: str, operation: str) -> None:
        """Name the refused service and operation."""
        super().__init__(f"the probe is read-only: refused {service}:{operation} before sending it")
        self.service = service
        self.operation = operation


@dataclass(frozen=True)
class Absent:
    """A normal "nothing configured" answer (no bucket policy, no explicit encryption)."""

    code: str
    message: str


Outcome = Problem | Absent


def is_read_operation(operation: str) -> bool:
    """Whether `operation` (an API name such as "GetBucketEncryption") is allowed by the guard."""
    if operation in READ_DENY_LIST:
        return False
    return operation in READ_ALLOW_LIST or operation.startswith(READ_PREFIXES)


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises `operation` of `service` (e.g. "s3:ListAllMyBuckets")."""
    return IAM_ACTION_FOR.get((service, operation), f"{service}:{operation}")


def _refuse_writes(model: Any = None, **_: Any) -> None:
    """botocore `provide-client-params` handler: raise WriteRefused for any non-read."""
    operation = str(model.name)
    if not is_read_operation(operation):
        raise WriteRefused(str(model.metadata.get("endpointPrefix", "?")), operation)


def make_session(
    *,
    profile: str | None,
    region: str | None,
    role_arn: str | None = None,
    external_id: str | None = None,
    endpoint_url: str | None = None,
) -> boto3.Session:
    """A boto3 session for the given profile and Region (None = the SDK's defaults).

    With `role_arn`, the session's credentials are the role's: assumed from the profile's
    credentials on first use (through a guarded STS client at `endpoint_url`) and refreshed by
    botocore before they expire, so a long run never fails on expired credentials. A role that
    cannot be assumed surfaces as a failed first call (the probe's caller identity).
    """
    base = boto3.Session(profile_name=profile, region_name=region)
    if role_arn is None:
        return base
    source = base.get_credentials()
    if source is None:
        raise NoCredentialsError()

    def sts_client(service: str, **credentials: Any) -> BaseClient:
        client = base._session.create_client(
            service, region_name=region, endpoint_url=endpoint_url, **credentials
        )
        client.meta.events.register("provide-client-params", _refuse_writes, unique_id="atrest-ro")
        return client

    extra: dict[str, Any] = {
        "RoleSessionName": ROLE_SESSION_NAME,
        "DurationSeconds": ROLE_SESSION_SECONDS,
    }
    if external_id is not None:
        extra["ExternalId"] = external_id
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=sts_client, source_credentials=source, role_arn=role_arn, extra_args=extra
    )
    assumed = botocore.session.Session(profile=profile)
    # botocore has no public setter for a session's credential object; this is the documented
    # pattern for refreshable assumed-role credentials.
    assumed._credentials = DeferredRefreshableCredentials(
        refresh_using=fetcher.fetch_credentials, method="assume-role"
    )
    return boto3.Session(botocore_session=assumed, region_name=region)


def make_client(
    session: boto3.Session,
    service: str,
    *,
    endpoint_url: str | None,
    region: str | None,
    max_attempts: int = MAX_ATTEMPTS,
) -> BaseClient:
    """A guarded, read-only client with adaptive retries, timeouts and a shared pool.

    Args:
        session: The session to build the client from.
        service: The boto3 service name ("s3", "kms", "cloudtrail", "sts").
        endpoint_url: A custom endpoint (a moto server), or None for AWS.
        region: The Region, or None for the session's.

    Returns:
        A client that raises WriteRefused for any operation that is not a read.
    """
    config = Config(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    client = session.client(service, endpoint_url=endpoint_url, region_name=region, config=config)
    # provide-client-params fires first in _make_api_call: before validation, signing, sending.
    client.meta.events.register("provide-client-params", _refuse_writes, unique_id="atrest-ro")
    return client


def _service_of(client: BaseClient) -> str:
    """The IAM service prefix of a client ("s3", "kms", ...)."""
    return str(client.meta.service_model.endpoint_prefix)


def classify(error: Exception, *, service: str, action: str | None = None) -> Outcome:
    """Turn a failed call into a Problem, or an Absent for a normal "nothing configured".

    Args:
        error: A botocore ClientError (or BotoCoreError, e.g. an unreachable endpoint).
        service: The IAM service prefix of the client that failed.
        action: The IAM action of the call; derived from the operation when None.

    Returns:
        Absent for "no explicit encryption"/"no policy"; a Problem "unknown" naming the IAM
        action for AccessDenied; a Problem "error" for a missing bucket, throttling that
        outlived the retries, and anything else.
    """
    if not isinstance(error, ClientError):
        return Problem(status="error", code=type(error).__name__, message=str(error))
    err = error.response.get("Error", {})
    code = str(err.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"))
    message = str(err.get("Message") or code)
    needed = action or iam_action(service, error.operation_name)
    if code in ABSENT_CODES:
        return Absent(code=code, message=ABSENT_CODES[code])
    if code in ACCESS_DENIED_CODES:
        return Problem(
            status="unknown",
            action=needed,
            code=code,
            message=f"not allowed to look: missing {needed} ({message})",
        )
    if code == "NoSuchBucket":
        return Problem(status="error", action=needed, code=code, message="bucket gone")
    if code in THROTTLING_CODES:
        return Problem(
            status="error",
            action=needed,
            code=code,
            message=f"throttled even after {MAX_ATTEMPTS} adaptive retries: {message}",
        )
    return Problem(status="error", action=needed, code=code, message=message)


def call(
    client: BaseClient, method: str, *, action: str | None = None, **params: Any
) -> dict[str, Any] | Problem | Absent:
    """Call `client.<method>(**params)`; a failure comes back classified, never raised.

    WriteRefused is not caught: a collector asking for a write is a bug, not a finding.

    Args:
        client: A client from make_client (or a Stubber-wrapped one in tests).
        method: The snake_case method name, e.g. "get_bucket_encryption".
        action: The IAM action, when it differs from what the operation name gives.
        **params: The API parameters.

    Returns:
        The response dict, or the Problem/Absent that `classify` made of the failure.
    """
    try:
        response: dict[str, Any] = getattr(client, method)(**params)
    except (ClientError, BotoCoreError) as error:
        return classify(error, service=_service_of(client), action=action)
    return response


def paginate(
    client: BaseClient, method: str, *, action: str | None = None, **params: Any
) -> Iterator[dict[str, Any] | Problem]:
    """Yield the pages of a paginated read; a failure ends the pages with one Problem.

    Args:
        client: A client from make_client.
        method: The snake_case method name with a botocore paginator, e.g. "list_buckets".
        action: The IAM action, when it differs from what the operation name gives.
        **params: The API parameters, plus PaginationConfig.

    Yields:
        Response pages, then a Problem if a page could not be read. An Absent answer (not
        expected from a listing) is reported as a Problem "error".
    """
    try:
        yield from client.get_paginator(method).paginate(**params)
    except (ClientError, BotoCoreError) as error:
        outcome = classify(error, service=_service_of(client), action=action)
        yield _absent_as_problem(outcome, action) if isinstance(outcome, Absent) else outcome


def _absent_as_problem(outcome: Absent, action: str | None) -> Problem:
    """An Absent where an answer was required: an error naming the code."""
    return Problem(status="error", action=action, code=outcome.code, message=outcome.message)


def fetch_with_headers(
    client: BaseClient, method: str, *, action: str | None = None, **params: Any
) -> tuple[dict[str, Any] | Problem, dict[str, str]]:
    """Like `fetch`, with the HTTP headers of the answer, of a failed one too.

    Some answers carry a fact in a header even when the call fails: S3's HeadBucket names the
    bucket's Region in `x-amz-bucket-region` on a 403 or a 301 as well as on a 200.

    Returns:
        (the response dict or a Problem, the answer's HTTP headers in lower case; {} when no
        answer came back).
    """
    try:
        response: dict[str, Any] = getattr(client, method)(**params)
    except ClientError as error:
        outcome = classify(error, service=_service_of(client), action=action)
        problem = _absent_as_problem(outcome, action) if isinstance(outcome, Absent) else outcome
        return problem, _headers(error.response)
    except BotoCoreError as error:
        outcome = classify(error, service=_service_of(client), action=action)
        problem = _absent_as_problem(outcome, action) if isinstance(outcome, Absent) else outcome
        return problem, {}
    return response, _headers(response)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    """The HTTP headers of a botocore response (or error response), keys in lower case."""
    raw = response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
    return {str(k).lower(): str(v) for k, v in raw.items()}


def fetch(
    client: BaseClient, method: str, *, action: str | None = None, **params: Any
) -> dict[str, Any] | Problem:
    """Like `call`, for reads where "nothing configured" is not a normal answer.

    Returns:
        The response dict, or a Problem (an Absent answer becomes a Problem "error").
    """
    response = call(client, method, action=action, **params)
    if isinstance(response, Absent):
        return _absent_as_problem(response, action)
    return response
