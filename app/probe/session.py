"""Sessions and clients for the probe, read-only by construction, and the one ClientError helper.

Every client made by `make_client` carries a guard that refuses, before anything is sent, any
operation the probe does not declare (see `READ_ONLY_RULE`). Collectors call AWS through
`call`, which turns every failure into a `Problem` (or an `Absent` for the normal "nothing
configured" answers), so no collector needs its own try/except.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import boto3
import botocore.session
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from app.probe.models import Problem

READ_ONLY_RULE = (
    "A probe client may only call the operations the collectors declare (their OPERATIONS, "
    "the same declaration the printed IAM policy is made of), with the parameter values a "
    "declaration pins; anything else raises WriteRefused before a request is built."
)


@dataclass(frozen=True)
class Operation:
    """One AWS API operation the probe calls, and the IAM action that authorises it.

    The guard allows exactly the declared operations, and the printed IAM policy lists
    exactly their actions: one declaration for both.

    Attributes:
        service: The client's endpoint prefix: "s3", "kms", "cloudtrail" or "sts".
        name: The API operation, e.g. "GetBucketEncryption".
        action: The IAM action that authorises it, e.g. "s3:GetEncryptionConfiguration".
        only: Parameters the call must carry with exactly these values (GetObject is allowed
            only as the one-byte ranged read that tells an SSE-C object).
        in_policy: Whether the probed principal needs `action` (False for sts:AssumeRole,
            which the source credentials of a role target need, not the role).
    """

    service: str
    name: str
    action: str
    only: tuple[tuple[str, str], ...] = ()
    in_policy: bool = True

    def admits(self, params: Mapping[str, Any]) -> bool:
        """Whether a call with `params` stays within this declaration."""
        return all(params.get(name) == value for name, value in self.only)


def policy_actions(operations: Iterable[Operation]) -> tuple[str, ...]:
    """The IAM actions of `operations` the probed principal needs, sorted, without duplicates."""
    return tuple(sorted({op.action for op in operations if op.in_policy}))


# Issues temporary credentials for a target's role; it changes no resource.
ASSUME_ROLE = Operation("sts", "AssumeRole", "sts:AssumeRole", in_policy=False)
OPERATIONS: tuple[Operation, ...] = (ASSUME_ROLE,)
ROLE_SESSION_NAME = "atrest-probe"
ROLE_SESSION_SECONDS = 3600  # refreshed before expiry by botocore for longer runs

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


class WriteRefused(RuntimeError):
    """A probe client was asked to call an operation the probe does not declare."""

    def __init__(self, service: str, operation: str) -> None:
        """Name the refused service and operation."""
        super().__init__(
            f"the probe is read-only: refused {service}:{operation} before sending it (not an "
            "operation the collectors declare, or not with the parameters declared)"
        )
        self.service = service
        self.operation = operation


@dataclass(frozen=True)
class Absent:
    """A normal "nothing configured" answer (no bucket policy, no explicit encryption)."""

    code: str
    message: str


Outcome = Problem | Absent


@lru_cache(maxsize=1)
def allowed_operations() -> dict[tuple[str, str], Operation]:
    """Every operation a probe client may call, by (service, operation name).

    Read from the collectors' declarations on first use (they import this module).
    """
    from app.probe.collectors import all_operations

    return {(op.service, op.name): op for op in (*all_operations(), *OPERATIONS)}


def is_allowed_call(service: str, operation: str, params: Mapping[str, Any] | None = None) -> bool:
    """Whether the guard lets `operation` of `service` (e.g. "s3", "GetBucketEncryption") through
    with these parameters."""
    declared = allowed_operations().get((service, operation))
    return declared is not None and declared.admits(params or {})


def iam_action(service: str, operation: str) -> str:
    """The IAM action that authorises `operation` of `service` (e.g. "s3:ListAllMyBuckets")."""
    declared = allowed_operations().get((service, operation))
    return declared.action if declared is not None else f"{service}:{operation}"


def _refuse_writes(model: Any = None, params: Any = None, **_: Any) -> None:
    """botocore `provide-client-params` handler: raise WriteRefused for any undeclared call."""
    service = str(model.metadata.get("endpointPrefix", "?"))
    operation = str(model.name)
    if not is_allowed_call(service, operation, params if isinstance(params, Mapping) else {}):
        raise WriteRefused(service, operation)


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
        A client that raises WriteRefused for any operation the collectors do not declare.
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
