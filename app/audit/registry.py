"""Which models the audit log records, under which actions, and which of their changes.

A model is audited once registered here; the recorder (recorder.py) then records every
insert, update and delete of it, whoever makes it. The app's own models are registered at the
bottom of this module; a model added later registers itself the same way, e.g.
`register(User, prefix="user", exclude={"password_hash"})`.

What is recorded:
- decision: created, updated (any column but the questionnaire's autosave, see below), deleted;
- version, approval: created (and updated or deleted, which the app never does: all the more
  reason to record it);
- ticket and finding_ticket: linked (created) and removed (deleted);
- probe_run: created, and updated only when its status becomes final (done, failed,
  interrupted), not for each progress batch; its heartbeat is never recorded.

What is not: probe buckets and findings (a run's results, not a change anyone made), a
decision's draft answers or updated_at changing alone (the questionnaire saves a draft on every
answer; the version cut when the answers are saved is recorded), and rows the database deletes
on its own (ON DELETE CASCADE): the deleted parent's entry stands for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, inspect

from app.decisions.models import Approval, Decision, DecisionVersion, TicketLink
from app.probe.records import ACTIVE_STATUSES, RUN_STATUSES, FindingTicket, ProbeRun

KINDS = ("created", "updated", "deleted")
#: Per column: (value before, value after).
Changes = Mapping[str, tuple[Any, Any]]


@dataclass(frozen=True)
class Audited:
    """How changes to one model are recorded."""

    model: type[Any]
    noun: str
    actions: Mapping[str, str]
    columns: tuple[str, ...]
    quiet: frozenset[str] = frozenset()
    decision_key: str | None = None
    only_if: Callable[[Changes], bool] | None = None
    subject_of: Callable[[Mapping[str, Any]], str] | None = None
    pk: tuple[str, ...] = field(default=("id",))

    def subject(self, values: Mapping[str, Any]) -> str:
        """What an entry is about, e.g. "decision 12"."""
        if self.subject_of is not None:
            return self.subject_of(values)
        return f"{self.noun} {'/'.join(str(values.get(k)) for k in self.pk)}"

    def decision_id(self, values: Mapping[str, Any]) -> int | None:
        """The decision an entry belongs to (the auditor's filter), if any."""
        value = None if self.decision_key is None else values.get(self.decision_key)
        return value if isinstance(value, int) else None

    def records_update(self, changes: Changes) -> bool:
        """Whether these column changes make an entry (not quiet columns alone, not filtered)."""
        if not changes or set(changes) <= self.quiet:
            return False
        return self.only_if is None or self.only_if(changes)


_registry: dict[type[Any], Audited] = {}


def _remember_old_value(target: Any, value: Any, oldvalue: Any, initiator: Any) -> None:
    """Nothing to do: listening with active_history is what makes the old value load."""


def register(
    model: type[Any],
    *,
    prefix: str,
    noun: str | None = None,
    exclude: Iterable[str] = (),
    quiet: Iterable[str] = (),
    actions: Mapping[str, str] | None = None,
    decision_key: str | None = "decision_id",
    only_if: Callable[[Changes], bool] | None = None,
    subject: Callable[[Mapping[str, Any]], str] | None = None,
) -> Audited:
    """Audit a mapped model: its changes are recorded as `<prefix>.created|updated|deleted`.

    Args:
        model: The SQLAlchemy model.
        prefix: The action prefix, e.g. "user".
        noun: The subject's noun ("user 3"); the prefix with spaces for underscores by default.
        exclude: Columns never recorded (secrets such as a password hash, pure noise).
        quiet: Columns whose change alone makes no entry (shown when another change does).
        actions: Action names replacing the default of a kind, e.g. {"created": "ticket.linked"}.
        decision_key: The column naming the decision an entry belongs to (None: no decision).
        only_if: Further filter of updates: given the changes, whether to record them.
        subject: Builds the subject from the row's values instead of "<noun> <id>".
    """
    mapper = inspect(model)
    excluded = frozenset(exclude)
    columns = tuple(attr.key for attr in mapper.column_attrs if attr.key not in excluded)
    if decision_key is not None and decision_key not in columns:
        decision_key = None
    audited = Audited(
        model=model,
        noun=noun or prefix.replace("_", " "),
        actions={kind: f"{prefix}.{kind}" for kind in KINDS} | dict(actions or {}),
        columns=columns,
        quiet=frozenset(quiet),
        decision_key=decision_key,
        only_if=only_if,
        subject_of=subject,
        pk=tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key),
    )
    _registry[model] = audited
    for key in columns:
        # An attribute set without having been loaded (expired after a commit) would keep no
        # old value; active history loads it first, so an update's "before" is never missing.
        attribute = getattr(model, key)
        if not event.contains(attribute, "set", _remember_old_value):
            event.listen(attribute, "set", _remember_old_value, active_history=True)
    return audited


def audited(model: type[Any]) -> Audited | None:
    """How `model` (or the audited model it derives from) is recorded; None if it is not."""
    for cls in model.__mro__:
        found = _registry.get(cls)
        if found is not None:
            return found
    return None


FINAL_RUN_STATUSES = frozenset(RUN_STATUSES) - frozenset(ACTIVE_STATUSES)


def _run_finished(changes: Changes) -> bool:
    """A probe run's update is recorded when its status becomes final, not per batch."""
    return "status" in changes and changes["status"][1] in FINAL_RUN_STATUSES


register(
    Decision,
    prefix="decision",
    decision_key="id",
    exclude={"updated_at"},  # follows every change; the entry says when
    # Autosaves; the edit counter and the last editor move with every edit (the entry's actor
    # says who).
    quiet={"draft_answers", "revision", "last_edited_by"},
)
register(
    DecisionVersion,
    prefix="version",
    subject=lambda v: f"decision {v.get('decision_id')} version {v.get('number')}",
)
register(Approval, prefix="approval")
register(
    TicketLink,
    prefix="ticket",
    actions={"created": "ticket.linked", "deleted": "ticket.removed"},
)
register(ProbeRun, prefix="probe_run", exclude={"heartbeat_at"}, only_if=_run_finished)
register(
    FindingTicket,
    prefix="finding_ticket",
    actions={"created": "finding_ticket.linked", "deleted": "finding_ticket.removed"},
)
