"""Recording changes into the audit log through session events, so no service has to.

After each flush, the inserts, updates (real column changes only) and deletes of the audited
models (registry.py) become pending entries in `session.info["audit_pending"]`; so do
ORM bulk UPDATE and DELETE statements, whose rows are read before and after. At commit the
pending entries are chained after the head, which is locked first (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite a write to it takes the database's single write lock), and written with
the new head in the same transaction: the change and its entry commit together or not at all,
and concurrent commits append one after the other. A rollback drops the pending entries.

Within one transaction an object's changes make one entry: an update of an object created in
the same transaction completes its creation entry, and repeated updates merge into one.
The actor is `session.info["actor"]` ("anonymous" until it is set; "system" for jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Result, event, insert, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from app.audit.chain import Head, jsonable, link
from app.audit.models import HEAD_ID, AuditEntry, AuditHead
from app.audit.registry import Audited, audited
from app.decisions.models import utcnow

PENDING_KEY = "audit_pending"
ACTOR_KEY = "actor"
DEFAULT_ACTOR = "anonymous"
SYSTEM_ACTOR = "system"
_ACTOR_MAX = 200


@dataclass
class _Entry:
    """An entry waiting for the commit, with the transaction that made it."""

    transaction: SessionTransaction | None
    action: str
    subject: str
    actor: str
    decision_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    kind: str = "explicit"
    dropped: bool = False

    def fields(self) -> dict[str, Any]:
        """What the chain records of it."""
        return {
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "decision_id": self.decision_id,
            "before": self.before,
            "after": self.after,
        }


@dataclass
class _Pending:
    """A session's entries waiting for the commit; `open` finds an object's entry to merge."""

    entries: list[_Entry] = field(default_factory=list)
    open: dict[tuple[Any, ...], _Entry] = field(default_factory=dict)

    def live(self) -> list[_Entry]:
        """The entries to write, in the order their changes were made."""
        return [e for e in self.entries if not e.dropped]

    def drop(self, ended: SessionTransaction | None) -> None:
        """Forget what a rolled-back transaction (or any inside it) recorded; None: everything."""
        if ended is None:
            self.entries.clear()
            self.open.clear()
            return
        self.entries = [e for e in self.entries if not _within(e.transaction, ended)]
        self.open = {k: e for k, e in self.open.items() if not _within(e.transaction, ended)}


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _pending(session: Session) -> _Pending:
    pending = session.info.get(PENDING_KEY)
    if not isinstance(pending, _Pending):
        pending = session.info[PENDING_KEY] = _Pending()
    return pending


def _transaction(session: Session) -> SessionTransaction | None:
    return session.get_nested_transaction() or session.get_transaction()


def _actor(session: Session, actor: str | None = None) -> str:
    name = actor or session.info.get(ACTOR_KEY) or DEFAULT_ACTOR
    return str(name)[:_ACTOR_MAX]


def _row_values(audited_model: Audited, values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jsonable(values[k]) for k in audited_model.columns if k in values}


def _queue_snapshot(session: Session, model: Audited, kind: str, values: Mapping[str, Any]) -> None:
    """Queue the creation or deletion of a row, with all its recorded columns."""
    pending = _pending(session)
    transaction = _transaction(session)
    snapshot = _row_values(model, values)
    entry = _Entry(
        transaction=transaction,
        action=model.actions[kind],
        subject=model.subject(values),
        actor=_actor(session),
        decision_id=model.decision_id(values),
        before=snapshot if kind == "deleted" else None,
        after=snapshot if kind == "created" else None,
        kind=kind,
    )
    pending.entries.append(entry)
    key = (model.model, tuple(values.get(k) for k in model.pk), transaction)
    if kind == "created":
        pending.open[key] = entry
    else:
        pending.open.pop(key, None)


def _queue_update(
    session: Session,
    model: Audited,
    values: Mapping[str, Any],
    changes: Mapping[str, tuple[Any, Any]],
) -> None:
    """Queue an update, or merge it into the entry the object already has in this transaction."""
    pending = _pending(session)
    transaction = _transaction(session)
    key = (model.model, tuple(values.get(k) for k in model.pk), transaction)
    entry = pending.open.get(key)
    if entry is not None and entry.kind == "created" and entry.after is not None:
        entry.after.update({k: jsonable(new) for k, (_, new) in changes.items()})
        return
    if entry is not None and entry.kind == "updated":
        before, after = entry.before or {}, entry.after or {}
        for k, (old, new) in changes.items():
            before.setdefault(k, jsonable(old))
            after[k] = jsonable(new)
        net = {k: (before[k], after[k]) for k in after if before[k] != after[k]}
        entry.before = {k: old for k, (old, _) in net.items()}
        entry.after = {k: new for k, (_, new) in net.items()}
        entry.dropped = not model.records_update(net)  # judged on the transaction's net change
        return
    if not model.records_update(changes):
        return
    entry = _Entry(
        transaction=transaction,
        action=model.actions["updated"],
        subject=model.subject(values),
        actor=_actor(session),
        decision_id=model.decision_id(values),
        before={k: jsonable(old) for k, (old, _) in changes.items()},
        after={k: jsonable(new) for k, (_, new) in changes.items()},
        kind="updated",
    )
    pending.entries.append(entry)
    pending.open[key] = entry


def _changes(model: Audited, obj: Any) -> dict[str, tuple[Any, Any]]:
    """The recorded columns whose value this flush really changed: (before, after)."""
    state = inspect(obj)
    changes = {}
    for key in model.columns:
        history = state.attrs[key].history
        if not history.added:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0]
        if jsonable(old) != jsonable(new):
            changes[key] = (old, new)
    return changes


def _after_flush(session: Session, _context: Any) -> None:
    """Turn the flushed inserts, updates and deletes of audited models into pending entries."""
    for obj in session.new:
        model = audited(type(obj))
        if model is not None:
            _queue_snapshot(session, model, "created", {k: getattr(obj, k) for k in model.columns})
    for obj in session.dirty:
        model = audited(type(obj))
        if model is None:
            continue
        changes = _changes(model, obj)
        if changes:
            values = {k: getattr(obj, k) for k in model.columns}
            _queue_update(session, model, values, changes)
    for obj in session.deleted:
        model = audited(type(obj))
        if model is not None:
            # The row is gone: what the object held when deleted is all there is to read.
            _queue_snapshot(session, model, "deleted", dict(inspect(obj).dict))


def _take_sqlite_write_lock(connection: Connection) -> None:
    """SQLite has no row locks: a write takes the database's one write lock until the commit,
    so what is read next cannot change before then. (A no-op on other databases.)"""
    if connection.dialect.name == "sqlite":
        connection.execute(
            update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq)
        )


def _on_execute(state: ORMExecuteState) -> Result[Any] | None:
    """Record ORM bulk UPDATE and DELETE statements on audited models, row by row."""
    if not (state.is_update or state.is_delete):
        return None
    mapper = state.bind_mapper
    model = None if mapper is None else audited(mapper.class_)
    if mapper is None or model is None:
        return None
    columns = {k: mapper.columns[k] for k in model.columns}
    pk = [columns[k] for k in model.pk]
    params = state.parameters
    if isinstance(params, Sequence) and not isinstance(params, Mapping):
        # UPDATE by primary key with a list of rows: the rows it names.
        criterion: Any = pk[0].in_([p[model.pk[0]] for p in params])
    else:
        criterion = getattr(state.statement, "whereclause", None)
    read = select(*(c.label(k) for k, c in columns.items()))
    if criterion is not None:
        read = read.where(criterion)
    session = state.session
    if session.autoflush and state.execution_options.get("autoflush", True):
        session.flush()  # the statement would autoflush after this hook: read what it will see
    connection = session.connection()
    _take_sqlite_write_lock(connection)
    before = {
        tuple(row[k] for k in model.pk): row
        for row in (r._asdict() for r in connection.execute(read.with_for_update()))
    }
    result = state.invoke_statement()
    if state.is_delete:
        for row in before.values():
            _queue_snapshot(session, model, "deleted", row)
        return result
    if before:
        ids = list(before)
        again = select(*(c.label(k) for k, c in columns.items())).where(
            pk[0].in_([i[0] for i in ids])
        )
        for row in (r._asdict() for r in connection.execute(again)):
            old = before[tuple(row[k] for k in model.pk)]
            changes = {
                k: (old[k], row[k]) for k in model.columns if jsonable(old[k]) != jsonable(row[k])
            }
            if changes:
                _queue_update(session, model, row, changes)
    return result


def _lock_head(connection: Connection) -> Head:
    _take_sqlite_write_lock(connection)
    row = connection.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    return Head(seq=row.seq, hash=row.hash)


def _before_commit(session: Session) -> None:
    """Chain the pending entries after the locked head and write them with the new head."""
    # The commit flushes only after this hook: flush now so its last changes are recorded.
    session.flush()
    pending = session.info.get(PENDING_KEY)
    entries = pending.live() if isinstance(pending, _Pending) else []
    if not entries:
        return
    connection = session.connection()
    head = _lock_head(connection)
    rows = link(head, [e.fields() for e in entries], utcnow())
    connection.execute(insert(AuditEntry), rows)
    connection.execute(
        update(AuditHead)
        .where(AuditHead.id == HEAD_ID)
        .values(seq=rows[-1]["seq"], hash=rows[-1]["hash"])
    )
    assert isinstance(pending, _Pending)
    pending.drop(None)


def _after_soft_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rolled-back transaction's entries are dropped with its changes."""
    pending = session.info.get(PENDING_KEY)
    if isinstance(pending, _Pending):
        pending.drop(previous_transaction)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """Nothing outlives the outermost transaction (closed without a commit: dropped)."""
    if transaction.parent is None:
        session.info.pop(PENDING_KEY, None)


def append(
    session: Session,
    *,
    action: str,
    subject: str,
    actor: str | None = None,
    decision_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Queue an explicit entry (e.g. "signin.failed"), written when the session commits.

    It shares the session's transaction: a rollback drops it. An entry that must stay although
    the request fails (a failed sign-in answered with an error) needs a session of its own:
    `with sessions() as s: append(s, ...); s.commit()`.
    """
    transaction = _transaction(session)
    if transaction is None:
        session.connection()  # begins the transaction whose commit or rollback decides
        transaction = _transaction(session)
    _pending(session).entries.append(
        _Entry(
            transaction=transaction,
            action=action,
            subject=subject,
            actor=_actor(session, actor),
            decision_id=decision_id,
            before=None if before is None else jsonable(before),
            after=None if after is None else jsonable(after),
        )
    )


_EVENTS: dict[str, Callable[..., Any]] = {
    "after_flush": _after_flush,
    "before_commit": _before_commit,
    "after_soft_rollback": _after_soft_rollback,
    "after_transaction_end": _after_transaction_end,
    "do_orm_execute": _on_execute,
}


def install(target: type[Session] | sessionmaker[Any] = Session) -> None:
    """Record the changes made through every session of `target` (idempotent).

    app.core.db installs it on the Session class itself, so the app's requests, the CLI and
    the probe workers are all recorded; install it once, on one target.
    """
    for name, listener in _EVENTS.items():
        if not event.contains(target, name, listener):
            event.listen(target, name, listener)
