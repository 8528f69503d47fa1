"""moto, made to answer like S3 while the demo runs.

moto answers some S3 requests unlike S3, and `moto_fidelity()` corrects three of them so the
demo shows what the probe says of real buckets: ListBuckets omits BucketRegion (the probe
would read a us-east-1 bucket and its key in eu-west-1); GetBucketEncryption drops
BlockedEncryptionTypes (no bucket could pass `sse-c-blocked`); and moto evaluates a bucket
policy's conditions without a request context, so a Deny of plain-HTTP requests refuses every
object read (S3 applies it to plain-HTTP requests only; the probe reads S3 over HTTPS).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _blocked_types(stored: Any) -> dict[str, list[str]] | None:
    """BlockedEncryptionTypes as S3 returns it, from moto's parsed XML of the PUT."""
    rule = (stored or {}).get("Rule")
    blocked = rule.get("BlockedEncryptionTypes") if isinstance(rule, dict) else None
    if not isinstance(blocked, dict) or blocked.get("EncryptionType") is None:
        return None
    types = blocked["EncryptionType"]
    return {"EncryptionType": [types] if isinstance(types, str) else list(types)}


def _complete(response: Any, result: dict[str, Any]) -> None:
    """Add what moto leaves out of a ListBuckets or GetBucketEncryption result, in place."""
    action = response.data.get("Action")
    if action == "ListBuckets":
        for bucket in result.get("Buckets", []):
            bucket["BucketRegion"] = response.backend.get_bucket(bucket["Name"]).region_name
    elif action == "GetBucketEncryption":
        blocked = _blocked_types(response.backend.get_bucket_encryption(response.bucket_name))
        rules = result["ServerSideEncryptionConfiguration"]["Rules"]
        if blocked is not None and rules:
            rules[0]["BlockedEncryptionTypes"] = blocked


def _without_conditional_denies(policy: bytes) -> str:
    """The policy minus its conditioned Deny statements, whose conditions moto cannot judge."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [s for s in statements if not (s.get("Effect") == "Deny" and s.get("Condition"))]
    return json.dumps({**document, "Statement": kept})


@contextmanager
def _replaced(cls: type, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """Replace `cls.<name>` by `make(original)` while open."""
    own, original = name in vars(cls), getattr(cls, name)
    setattr(cls, name, make(original))
    try:
        yield
    finally:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)


@contextmanager
def moto_fidelity() -> Iterator[None]:
    """While open, moto's S3 answers the demo's requests as S3 would (see the module docstring).

    Affects every moto server in this process and is undone on exit. Should moto change its
    internals, its own answers are served instead.
    """
    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    def serialized(original: Any) -> Any:
        def wrapper(self: Any, action_result: Any) -> Any:
            try:
                if isinstance(action_result.result, dict):
                    _complete(self, action_result.result)
            except (AttributeError, KeyError, TypeError):
                pass
            return original(self, action_result)

        return wrapper

    def get_permission(original: Any) -> Any:
        def wrapper(self: Any, action: str, resource: str) -> Any:
            try:
                if self.policy is not None:
                    policy = IAMPolicy(_without_conditional_denies(self.policy))
                    return policy.is_action_permitted(action, resource)
            except (AttributeError, KeyError, TypeError, ValueError):
                pass
            return original(self, action, resource)

        return wrapper

    with (
        _replaced(S3Response, "serialized", serialized),
        _replaced(FakeBucket, "get_permission", get_permission),
    ):
        yield
