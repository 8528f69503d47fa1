"""The hash chain of the audit log, pure: canonical form, linking entries, verifying a log.

Each entry's hash is sha256(prev_hash + canonical JSON of its fields), its prev_hash the hash
of the entry before (64 zeros for the first), and the head holds the last seq and hash. So an
edited entry no longer matches its hash, a deleted or reordered one breaks the seq run or the
link of the next entry, and a deleted last entry leaves the head pointing past the end.
Rewriting the whole tail consistently is beyond any chain kept in the same database: keep the
head hash that `atrest audit verify` prints somewhere else to detect that too.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from app.audit.models import ZERO_HASH

#: The fields of an entry that its hash covers, in the order an entry lists them.
FIELDS = ("seq", "at", "actor", "action", "subject", "decision_id", "before", "after")


class Linked(Protocol):
    """An entry as read back from the log (an AuditEntry or a row of its columns)."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> dt.datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def decision_id(self) -> int | None: ...
    @property
    def before(self) -> Any: ...
    @property
    def after(self) -> Any: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


@dataclass(frozen=True)
class Head:
    """The tip of the chain: the last entry's seq and hash (0 and ZERO_HASH when empty)."""

    seq: int = 0
    hash: str = ZERO_HASH


@dataclass(frozen=True)
class VerifyResult:
    """What verifying the log found: intact, or the first bad entry and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    head_hash: str = ZERO_HASH


def utc_iso(value: dt.datetime) -> str:
    """A datetime as ISO 8601 in UTC with microseconds (naive values are taken as UTC)."""
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    return aware.isoformat(timespec="microseconds")


def jsonable(value: Any) -> Any:
    """A column value as plain JSON data that reads back equal (so its hash still matches)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


def _not_json(value: Any) -> Any:
    return utc_iso(value) if isinstance(value, dt.datetime) else jsonable(value)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical JSON of an entry's FIELDS: sorted keys, compact, UTF-8.

    Values are JSON data (the recorder passes them through jsonable(), and so they read back)
    except `at`; anything else is converted by jsonable() on the way, without a pass over the
    plain data (verifying a large log spends its time here).
    """
    text = json.dumps(
        {name: fields[name] for name in FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_not_json,
    )
    return text.encode("utf-8")


def entry_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """sha256(prev_hash + canonical(fields)) as 64 hex digits."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(fields)).hexdigest()


def link(head: Head, pending: Sequence[Mapping[str, Any]], at: dt.datetime) -> list[dict[str, Any]]:
    """Number and chain pending entries after `head`; returns rows ready to insert.

    Each pending entry gives actor, action, subject, decision_id, before and after; this adds
    seq, at, prev_hash and hash. The last row's seq and hash are the new head.
    """
    rows: list[dict[str, Any]] = []
    prev_hash, seq = head.hash, head.seq
    for entry in pending:
        seq += 1
        row: dict[str, Any] = {name: entry.get(name) for name in FIELDS}
        row.update(seq=seq, at=at)
        this_hash = entry_hash(prev_hash, row)
        row.update(prev_hash=prev_hash, hash=this_hash)
        rows.append(row)
        prev_hash = this_hash
    return rows


def _fields(entry: Linked) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in FIELDS}


def verify(entries: Iterable[Linked], head: Head) -> VerifyResult:
    """Check entries (in seq order, from the first) against each other and the head.

    Returns:
        ok with the number of entries checked, or the first bad entry's seq and a reason:
        a missing or out-of-order seq, a broken link to the entry before, content that does
        not match its hash, or a head that does not point at the last entry.
    """
    expected, prev_hash, checked = 1, ZERO_HASH, 0

    def broken(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, seq, reason, head.hash)

    for entry in entries:
        if entry.seq > expected:
            return broken(
                expected, f"entry {expected} is missing or out of order (next is {entry.seq})"
            )
        if entry.seq < expected:
            return broken(entry.seq, f"entry {entry.seq} is out of order (after {expected - 1})")
        if entry_hash(entry.prev_hash, _fields(entry)) != entry.hash:
            return broken(entry.seq, "its content does not match its hash: it was edited")
        if entry.prev_hash != prev_hash:
            previous = "the start of the log" if expected == 1 else f"entry {expected - 1}"
            return broken(
                entry.seq,
                f"its link to {previous} is broken: that entry was replaced or removed",
            )
        prev_hash, expected, checked = entry.hash, expected + 1, checked + 1
    last = expected - 1
    if head.seq > last:
        missing = (
            f"entry {expected} is" if head.seq == expected else f"entries {expected}-{head.seq} are"
        )
        return broken(expected, f"{missing} missing: the head is at entry {head.seq}")
    if head.seq < last:
        return broken(head.seq + 1, f"entry {head.seq + 1} is beyond the head ({head.seq})")
    if head.hash != prev_hash:
        return broken(last, f"the head's hash does not match entry {last}: it was replaced")
    return VerifyResult(True, checked, head_hash=head.hash)
