"""Read an S3 bucket policy document and say what it enforces (pure: no AWS calls).

Two questions matter to the probe: does the policy deny requests made without TLS
(`aws:SecureTransport` false), and does it deny object writes without the expected
server-side encryption header or KMS key.

How statements are read:

* `Statement` may be one statement (a dict) or a list; `Action` and `Resource` a string or a
  list. Action names and condition keys are compared case-insensitively, as IAM does; resource
  ARNs case-sensitively. Wildcards are IAM's, not a shell's (`iam_match`): `*` is any run of
  characters (empty too, `/` included), `?` exactly one; `[`, `]` and every other character
  are literal.
* A resource covers "every object of the bucket" only when it matches every possible key
  (`covers_every_key`): `bucket/*` does, `bucket/?` (one-character keys) and `bucket/logs/*`
  do not.
* Only `Effect: Deny` statements with `Principal: "*"` (or `{"AWS": "*"}`) count: a deny
  aimed at some principals leaves the others free.
* Statements using `NotAction`, `NotResource` or `NotPrincipal` are ignored. Such a deny can
  cover the requests in question, but judging that means reasoning about complements; the
  probe would rather report "not enforced" and let a human look than pass a policy it does
  not understand.
* A statement counts only when every condition in it is one this module recognises: IAM ANDs
  the conditions of a statement, so an extra one (a source IP, a VPC endpoint) narrows the
  deny to some requests only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any

SSE_HEADER = "s3:x-amz-server-side-encryption"
KMS_KEY_HEADER = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_C_HEADER = "s3:x-amz-server-side-encryption-customer-algorithm"
SECURE_TRANSPORT = "aws:securetransport"

#: The value of `required_header` that asks for customer-provided keys (SSE-C).
SSE_C = "SSE-C"

_ARN_PARTITION = re.compile(r"^arn:aws[a-z-]*:s3:::", re.IGNORECASE)
#: S3 object keys are 1 to 1,024 bytes long.
MAX_KEY_LENGTH = 1024


@lru_cache(maxsize=4096)
def _iam_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """The regular expression of an IAM wildcard pattern: only `*` and `?` are special."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.compile("".join(parts), flags)


def iam_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether `value` matches an IAM policy wildcard pattern (as Action or Resource use them).

    `*` matches any sequence of characters, the empty one included, across `/`; `?` matches
    exactly one character; everything else (`[`, `]`, `\\`, `.` ...) only itself.

    Args:
        pattern: The pattern from the policy, e.g. "arn:aws:s3:::bucket/*" or "s3:Put*".
        value: The action name or ARN to test.
        case_sensitive: False for action names, which IAM compares case-insensitively.

    Returns:
        True when the whole of `value` matches the whole pattern.
    """
    return _iam_regex(pattern, case_sensitive).fullmatch(value) is not None


def covers_every_key(patterns: Iterable[str], prefix: str) -> bool:
    """Whether the patterns together match `prefix` followed by any object key.

    A key of length n is matched for every possible key exactly when it is matched for n
    copies of a character that appears in no pattern (only `*` and `?` can consume that
    character, and they consume any). Past the patterns' length plus one, adding characters
    changes nothing (a `*` absorbs them), so lengths 1 to that bound (at most the 1,024 bytes
    of an S3 key) decide.

    Args:
        patterns: Resource patterns, e.g. ["arn:aws:s3:::bucket/*"].
        prefix: What every matched value starts with, e.g. "arn:aws:s3:::bucket/".

    Returns:
        True when every key under `prefix` is matched by at least one pattern.
    """
    candidates = [p for p in patterns if p]
    if not candidates:
        return False
    used = set("".join(candidates)) | set(prefix)
    fresh = next(chr(c) for c in range(0x4E00, 0x10FFFF) if chr(c) not in used)
    longest = min(max(len(p) for p in candidates) + 1, MAX_KEY_LENGTH)
    return all(
        any(iam_match(p, prefix + fresh * n) for p in candidates) for n in range(1, longest + 1)
    )


class WriteEnforcement(Enum):
    """How strictly a bucket policy rejects object writes without the expected encryption."""

    NONE = "none"
    """No statement rejects unencrypted or wrongly encrypted writes."""
    PRESENCE = "presence"
    """Writes without an encryption header are denied, but any algorithm is accepted."""
    ALGORITHM = "algorithm"
    """A specific KMS key is expected, but only the algorithm is required: a writer may name
    aws:kms with `aws/s3` (S3's choice when no key id is sent) or any other key, another
    account's included."""
    VALUE = "value"
    """Writes are denied unless they carry the expected algorithm (or the expected key)."""


#: Weakest first.
_LEVELS = (
    WriteEnforcement.NONE,
    WriteEnforcement.PRESENCE,
    WriteEnforcement.ALGORITHM,
    WriteEnforcement.VALUE,
)


@dataclass(frozen=True)
class _Statement:
    """One Deny statement that applies to every principal, normalised."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, list[str]]]
    """Operator (lower case) -> condition key (lower case) -> values as strings."""


def _as_list(value: Any) -> list[Any]:
    """A policy element that may be a scalar or a list, as a list."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _as_text(value: Any) -> str:
    """A condition value as IAM compares it: booleans as `true` / `false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _applies_to_everyone(principal: Any) -> bool:
    """True for `"*"`, `{"AWS": "*"}` and `{"AWS": ["*"]}`."""
    if principal == "*":
        return True
    if isinstance(principal, Mapping):
        return "*" in [str(p) for p in _as_list(principal.get("AWS"))]
    return False


def _statements(policy: Mapping[str, Any] | str | None) -> list[_Statement]:
    """The policy's Deny-everyone statements that this module can reason about."""
    if policy is None:
        return []
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
        if not isinstance(policy, Mapping):
            return []
    found: list[_Statement] = []
    for raw in _as_list(policy.get("Statement")):
        if not isinstance(raw, Mapping):
            continue
        if str(raw.get("Effect", "")).lower() != "deny":
            continue
        if any(k in raw for k in ("NotAction", "NotResource", "NotPrincipal")):
            continue
        if not _applies_to_everyone(raw.get("Principal")):
            continue
        conditions: dict[str, dict[str, list[str]]] = {}
        raw_conditions = raw.get("Condition") or {}
        if not isinstance(raw_conditions, Mapping):
            continue
        for operator, block in raw_conditions.items():
            if not isinstance(block, Mapping):
                continue
            keys = conditions.setdefault(str(operator).lower(), {})
            for key, values in block.items():
                keys[str(key).lower()] = [_as_text(v) for v in _as_list(values)]
        found.append(
            _Statement(
                actions=tuple(str(a).lower() for a in _as_list(raw.get("Action"))),
                resources=tuple(str(r) for r in _as_list(raw.get("Resource"))),
                conditions=conditions,
            )
        )
    return found


def _covers_action(statement: _Statement, action: str) -> bool:
    """True when one of the statement's action patterns matches `action` (e.g. s3:putobject)."""
    return any(iam_match(p, action, case_sensitive=False) for p in statement.actions)


def _covers_objects(statement: _Statement, bucket: str | None) -> bool:
    """True when the statement's resources cover every object of the bucket.

    Without a bucket name, a pattern whose key part (after the first `/`) matches every key
    (or `*`) is taken to cover the bucket the policy is attached to.
    """
    normal = [_ARN_PARTITION.sub("arn:aws:s3:::", r) for r in statement.resources]
    if "*" in normal:
        return True
    s3_arns = [r for r in normal if r.startswith("arn:aws:s3:::")]
    if bucket is not None:
        return covers_every_key(s3_arns, f"arn:aws:s3:::{bucket}/")
    for resource in s3_arns:
        rest = resource.removeprefix("arn:aws:s3:::")
        name, slash, keys = rest.partition("/")
        if rest == "*" or (slash and name and covers_every_key([keys], "")):
            return True
    return False


def _only_conditions(statement: _Statement, allowed: Iterable[tuple[str, str]]) -> bool:
    """True when every (operator, key) of the statement is among `allowed`."""
    allowed_set = set(allowed)
    return all(
        (operator, key) in allowed_set
        for operator, keys in statement.conditions.items()
        for key in keys
    )


def denies_insecure_transport(
    policy: Mapping[str, Any] | str | None, *, bucket: str | None = None
) -> bool:
    """Whether the policy denies object reads and writes made without TLS.

    Deny statements with `Bool` or `BoolIfExists` on `aws:SecureTransport` = false (the string
    `"false"`, the JSON `false` or a list holding either) are collected; together their actions
    must cover both s3:GetObject and s3:PutObject (`s3:*` and `*` do), on every object of the
    bucket.

    Args:
        policy: The bucket policy document (parsed, or its JSON text); None when there is none.
        bucket: The bucket's name; when given, resources must cover all of its objects.

    Returns:
        True when requests over plain HTTP are denied for reads and writes.
    """
    covered: set[str] = set()
    allowed = {("bool", SECURE_TRANSPORT), ("boolifexists", SECURE_TRANSPORT)}
    for statement in _statements(policy):
        values = [
            v.lower()
            for operator in ("bool", "boolifexists")
            for v in statement.conditions.get(operator, {}).get(SECURE_TRANSPORT, [])
        ]
        if "false" not in values or not _only_conditions(statement, allowed):
            continue
        if not _covers_objects(statement, bucket):
            continue
        covered.update(a for a in ("s3:getobject", "s3:putobject") if _covers_action(statement, a))
    return covered == {"s3:getobject", "s3:putobject"}


def _key_matches(value: str, key_arn: str) -> bool:
    """True when a policy's key id value names the key `key_arn` (by ARN or by key id)."""
    if value == key_arn:
        return True
    return key_arn.endswith(f":key/{value}") or value.endswith(f":key/{key_arn}")


def write_enforcement(
    policy: Mapping[str, Any] | str | None,
    *,
    required_header: str,
    key_arn: str | None = None,
    bucket: str | None = None,
) -> WriteEnforcement:
    """How strictly the policy denies object writes without the expected encryption.

    Value-level enforcement is a Deny of s3:PutObject (or `s3:*`, `*`, `s3:Put*`) when
    `s3:x-amz-server-side-encryption` is `StringNotEquals` / `StringNotEqualsIfExists` the
    required value (a negated operator also matches a request without the header); or, with
    `key_arn`, when `s3:x-amz-server-side-encryption-aws-kms-key-id` is not that key (which
    also denies writes without a key). With `key_arn`, a Deny on the algorithm alone is only
    algorithm-level: writes naming aws:kms with another key (or none, which means `aws/s3`)
    get through. For SSE-C (`required_header="SSE-C"`), a Deny when
    `s3:x-amz-server-side-encryption-customer-algorithm` is `Null` = true, or is not AES256.
    Presence-level is a Deny when the encryption header is `Null` = true: some algorithm must
    be named, but any will do.

    Args:
        policy: The bucket policy document (parsed, or its JSON text); None when there is none.
        required_header: AES256, aws:kms, aws:kms:dsse, or SSE-C.
        key_arn: The KMS key writes must use, when a specific key is expected.
        bucket: The bucket's name; when given, resources must cover all of its objects.

    Returns:
        The strongest enforcement found.
    """
    best = WriteEnforcement.NONE
    negated = ("stringnotequals", "stringnotequalsifexists")
    for statement in _statements(policy):
        if not _covers_action(statement, "s3:putobject"):
            continue
        if not _covers_objects(statement, bucket):
            continue
        level = _statement_enforcement(statement, required_header, key_arn, negated)
        if level is WriteEnforcement.VALUE:
            return level
        best = max(best, level, key=_LEVELS.index)
    return best


def _statement_enforcement(
    statement: _Statement, required_header: str, key_arn: str | None, negated: tuple[str, ...]
) -> WriteEnforcement:
    """What one PutObject Deny statement enforces about encryption.

    IAM ANDs a statement's conditions, so the statement is as weak as its weakest condition:
    `Null` = true together with `StringNotEquals` on the same header denies only writes
    without the header.
    """
    levels = [
        _condition_enforcement(operator, key, values, required_header, key_arn, negated)
        for operator, keys in statement.conditions.items()
        for key, values in keys.items()
    ]
    if not levels:
        return WriteEnforcement.NONE
    return min(levels, key=_LEVELS.index)


def _condition_enforcement(
    operator: str,
    key: str,
    values: list[str],
    required_header: str,
    key_arn: str | None,
    negated: tuple[str, ...],
) -> WriteEnforcement:
    """What one condition of a PutObject Deny enforces about encryption."""
    if required_header == SSE_C:
        if key != SSE_C_HEADER:
            return WriteEnforcement.NONE
        if operator == "null" and [v.lower() for v in values] == ["true"]:
            return WriteEnforcement.VALUE
        if operator in negated and values == ["AES256"]:
            return WriteEnforcement.VALUE
        return WriteEnforcement.NONE
    if key == SSE_HEADER:
        if operator in negated and values and all(v == required_header for v in values):
            return WriteEnforcement.VALUE if key_arn is None else WriteEnforcement.ALGORITHM
        if operator == "null" and [v.lower() for v in values] == ["true"]:
            return WriteEnforcement.PRESENCE
    if (
        key == KMS_KEY_HEADER
        and key_arn is not None
        and operator in negated
        and values
        and all(_key_matches(v, key_arn) for v in values)
    ):
        return WriteEnforcement.VALUE
    return WriteEnforcement.NONE


def denies_unencrypted_writes(
    policy: Mapping[str, Any] | str | None,
    *,
    required_header: str,
    key_arn: str | None,
    bucket: str | None = None,
) -> bool:
    """Whether the policy denies every object write without the expected encryption.

    True only for value-level enforcement (see `write_enforcement`): a Deny that merely
    requires some encryption header (`Null` = true) still accepts the wrong algorithm.

    Args:
        policy: The bucket policy document (parsed, or its JSON text); None when there is none.
        required_header: AES256, aws:kms, aws:kms:dsse, or SSE-C.
        key_arn: The KMS key writes must use, when a specific key is expected.
        bucket: The bucket's name; when given, resources must cover all of its objects.

    Returns:
        True when writes without the required algorithm (or key) are denied.
    """
    level = write_enforcement(
        policy, required_header=required_header, key_arn=key_arn, bucket=bucket
    )
    return level is WriteEnforcement.VALUE
