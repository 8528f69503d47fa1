"""The report's digest: SHA-256 over its canonical JSON, so that a copy can be checked.

Canonical JSON: the report as JSON data without the digest's own `value` (the rest of the
`digest` object, its algorithm and the description of this form, is hashed too), keys sorted,
no whitespace between tokens, non-ASCII characters as themselves, encoded as UTF-8. Whitespace
and key order of a stored copy do not matter; any change of a name or a value does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

DIGEST_FIELD = "digest"


def canonical_json(data: Any) -> bytes:
    """The canonical JSON bytes of `data` (keys sorted, no whitespace, UTF-8)."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest_of(data: dict[str, Any]) -> str:
    """The hex SHA-256 of the canonical JSON of `data` without its digest's value."""
    content = dict(data)
    digest = content.get(DIGEST_FIELD)
    if isinstance(digest, dict):
        content[DIGEST_FIELD] = {k: v for k, v in digest.items() if k != "value"}
    return hashlib.sha256(canonical_json(content)).hexdigest()


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a JSON report: intact, tampered (digest mismatch) or malformed."""

    status: Literal["intact", "tampered", "malformed"]
    message: str
    recorded: str | None = None
    computed: str | None = None

    @property
    def intact(self) -> bool:
        """Whether the report's content still hashes to the digest it records."""
        return self.status == "intact"


class _Refused(ValueError):
    """JSON that parses but that no report holds: a repeated key, NaN or Infinity."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A repeated key would let a reader that keeps the first value see other content than
    # the one that was hashed (Python keeps the last).
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Refused(f"the key {key!r} appears twice in one object")
        seen[key] = value
    return seen


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def verify_report(text: str | bytes) -> Verification:
    """Check that a JSON report's content hashes to the digest it records."""
    try:
        data = json.loads(text, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except _Refused as exc:
        return Verification("malformed", f"not a JSON report as atrest writes it: {exc}")
    except UnicodeDecodeError:
        return Verification("malformed", "not UTF-8 text, so not a JSON report")
    except json.JSONDecodeError as exc:
        return Verification(
            "malformed", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        )
    except RecursionError:  # json gives up on deep nesting; no report nests beyond a few levels
        return Verification("malformed", "not an atrest JSON report: nested too deeply to read")
    if not isinstance(data, dict):
        return Verification(
            "malformed", "not an atrest JSON report: the top level is not an object"
        )
    digest = data.get(DIGEST_FIELD)
    if not isinstance(digest, dict) or not isinstance(digest.get("value"), str):
        return Verification("malformed", "not an atrest JSON report: no digest.value field")
    if digest.get("algorithm") != "sha256":
        return Verification(
            "malformed", f"unknown digest algorithm {digest.get('algorithm')!r} (expected sha256)"
        )
    try:
        recorded, computed = digest["value"], digest_of(data)
    except RecursionError:  # parsed, but too deep to write out again (and no report is)
        return Verification("malformed", "not an atrest JSON report: nested too deeply to read")
    if recorded != computed:
        return Verification(
            "tampered",
            f"digest mismatch: the report records sha256 {recorded} but its content hashes to "
            f"{computed}: it was changed after it was generated",
            recorded,
            computed,
        )
    return Verification("intact", f"intact (sha256 {computed})", recorded, computed)
