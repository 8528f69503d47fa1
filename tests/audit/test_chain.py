"""The hash chain, pure: an intact log verifies; an edited, deleted, reordered or forged entry
is reported at the first bad seq."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

from app.audit.chain import Head, canonical, entry_hash, link, verify
from app.audit.models import ZERO_HASH

AT = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Entry:
    seq: int
    at: dt.datetime
    actor: str
    action: str
    subject: str
    decision_id: int | None
    before: Any
    after: Any
    prev_hash: str
    hash: str


def log(count: int = 5) -> tuple[list[Entry], Head]:
    pending = [
        {
            "actor": "ada",
            "action": "decision.updated",
            "subject": "decision 1",
            "decision_id": 1,
            "before": {"title": f"T{i}"},
            "after": {"title": f"T{i + 1}"},
        }
        for i in range(count)
    ]
    entries = [Entry(**row) for row in link(Head(), pending, AT)]
    return entries, Head(entries[-1].seq, entries[-1].hash)


def test_an_intact_log_verifies() -> None:
    entries, head = log()
    result = verify(entries, head)
    assert result.ok and result.checked == 5 and result.head_hash == head.hash
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == ZERO_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))


def test_an_empty_log_verifies_against_the_initial_head() -> None:
    assert verify([], Head()).ok


def test_an_edited_entry_is_reported() -> None:
    entries, head = log()
    entries[2] = dataclasses.replace(entries[2], after={"title": "forged"})
    result = verify(entries, head)
    assert not result.ok and result.first_bad_seq == 3 and result.checked == 2
    assert "edited" in (result.reason or "")


def test_an_edited_actor_or_time_is_reported() -> None:
    entries, head = log()
    entries[0] = dataclasses.replace(entries[0], actor="mallory")
    assert verify(entries, head).first_bad_seq == 1
    entries, head = log()
    entries[3] = dataclasses.replace(entries[3], at=AT + dt.timedelta(seconds=1))
    assert verify(entries, head).first_bad_seq == 4


def test_a_deleted_middle_entry_is_reported() -> None:
    entries, head = log()
    del entries[2]
    result = verify(entries, head)
    assert result.first_bad_seq == 3 and "missing" in (result.reason or "")


def test_a_deleted_last_entry_is_reported_through_the_head() -> None:
    entries, head = log()
    del entries[-1]
    result = verify(entries, head)
    assert result.first_bad_seq == 5 and "head" in (result.reason or "")


def test_a_deleted_first_entry_renumbered_is_reported() -> None:
    entries, head = log()
    shifted = [dataclasses.replace(e, seq=e.seq - 1) for e in entries[1:]]
    assert verify(shifted, head).first_bad_seq == 1


def test_reordered_entries_are_reported() -> None:
    entries, head = log()
    entries[1], entries[2] = entries[2], entries[1]
    assert verify(entries, head).first_bad_seq == 2
    # Swapping their seq numbers instead (so they still come in seq order) breaks both hashes.
    entries, head = log()
    a, b = entries[1], entries[2]
    entries[1], entries[2] = dataclasses.replace(b, seq=2), dataclasses.replace(a, seq=3)
    assert verify(entries, head).first_bad_seq == 2


def test_a_forged_entry_rehashed_in_place_breaks_the_next_link() -> None:
    entries, head = log()
    forged = dataclasses.replace(entries[2], actor="mallory")
    fields = {k: getattr(forged, k) for k in ("seq", "at", "actor", "action", "subject")}
    fields |= {"decision_id": 1, "before": forged.before, "after": forged.after}
    entries[2] = dataclasses.replace(forged, hash=entry_hash(forged.prev_hash, fields))
    result = verify(entries, head)
    assert result.first_bad_seq == 4 and "entry 3" in (result.reason or "")


def test_a_forged_entry_appended_without_the_head_is_reported() -> None:
    entries, head = log()
    extra = link(Head(head.seq, head.hash), [{"actor": "m", "action": "x", "subject": "y"}], AT)
    result = verify([*entries, Entry(**extra[0])], head)
    assert result.first_bad_seq == 6 and "beyond the head" in (result.reason or "")


def test_the_canonical_form_ignores_key_order_and_timezone_spelling() -> None:
    fields = {
        "seq": 1,
        "at": AT,
        "actor": "Zoë",
        "action": "a",
        "subject": "s",
        "decision_id": None,
        "before": {"b": 1, "a": [1, 2]},
        "after": None,
    }
    same = {**fields, "at": AT.replace(tzinfo=None), "before": {"a": [1, 2], "b": 1}}
    assert canonical(fields) == canonical(same)
    assert "Zoë".encode() in canonical(fields)
    assert canonical(fields) != canonical({**fields, "before": {"a": [2, 1], "b": 1}})
