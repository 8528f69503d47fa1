"""Probe runs in the background of the web app: a small worker pool writing as it goes.

A run is queued by a request (service.start_run, naming this process as its owner), handed to
ProbeWorkers after that request committed, and executed in a worker thread with its own
database session: the stream of bucket reports is written in batches (every BATCH_SECONDS or
BATCH_BUCKETS), so the page's progress bar moves and a stop loses at most one batch. One run's
failure is recorded on the run, never raised further.

The runs a process holds are kept alive by its keeper (lease.py): a run whose process died is
marked interrupted by any live app within lease + sweep (75 s with the defaults). A worker that
cannot write its run's end (the database is down) retries with backoff for up to the lease; if
it still cannot, the lease expires and a sweep marks the run interrupted once the database is
back. Every write of a worker is conditional on the run still being its own and running: a run
swept meanwhile stays swept.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.decisions.models import utcnow
from app.probe.lease import Keeper, Lease, new_owner
from app.probe.records import ProbeBucket, ProbeFinding, ProbeRun
from app.probe.runner import BucketReport, ProbeUnavailable, start_probe
from app.probe.target import Target

__all__ = ["Lease", "ProbeWorkers", "execute_run"]

log = logging.getLogger("atrest.probe")

BATCH_SECONDS = 0.5
BATCH_BUCKETS = 200
CONCURRENCY = 8
WORKER_ACTOR = "system (probe worker)"
# Backoff of a worker writing its run's end while the database is unreachable.
FIRST_RETRY_S = 0.25
LONGEST_RETRY_S = 5.0


def _bucket_row(run_id: int, report: BucketReport) -> ProbeBucket:
    return ProbeBucket(
        run_id=run_id,
        bucket=report.bucket,
        region=report.region,
        status=report.status,
        key_arn=report.key_arn,
        findings=[
            ProbeFinding(
                position=i,
                check=f.check,
                status=f.status,
                severity=f.severity,
                expected=f.expected,
                actual=f.actual,
                message=f.message,
                remediation=f.remediation,
            )
            for i, f in enumerate(report.findings)
        ],
    )


class _Lost(Exception):
    """The run is no longer this worker's (a sweep marked it while the worker was cut off)."""


class _Run:
    """A worker's writes to the run it claimed, each conditional on the run still being its own
    and running."""

    def __init__(self, session: Session, run_id: int, owner: str) -> None:
        self.session, self.run_id, self.owner = session, run_id, owner

    def mine(self) -> tuple[Any, ...]:
        """The condition of every write: still this owner's, still running."""
        return (
            ProbeRun.id == self.run_id,
            ProbeRun.owner == self.owner,
            ProbeRun.status == "running",
        )

    def commit(self, rows: list[ProbeBucket], **values: Any) -> None:
        """Write a batch of buckets with the run's progress, or raise _Lost (nothing written)."""
        self.session.add_all(rows)
        result = self.session.execute(
            update(ProbeRun).where(*self.mine()).values(heartbeat_at=utcnow(), **values),
            execution_options={"synchronize_session": False},
        )
        if not getattr(result, "rowcount", 0):
            self.session.rollback()
            raise _Lost
        self.session.commit()


def execute_run(
    *,
    sessions: sessionmaker[Session],
    run_id: int,
    target: Target,
    owner: str | None = None,
    lease: Lease | None = None,
    stopping: threading.Event | None = None,
    concurrency: int = CONCURRENCY,
) -> str:
    """Run a queued probe to its end, writing buckets and progress as they come.

    Args:
        sessions: Makes the worker's own database sessions.
        run_id: The queued run.
        target: The configured target it names (looked up by the caller).
        owner: This process's owner id, written on the run it claims.
        lease: How long the worker keeps trying to write the run's end when the database is
            unreachable (`ttl`).
        stopping: Set when the app shuts down: the run stops and is marked interrupted.
        concurrency: Buckets probed at once.

    Returns:
        The run's final status (done, failed or interrupted); "lost" when the run's end could
        not be written (its lease then expires and a sweep marks it), or the status another
        process gave it.
    """
    owner = owner or new_owner()
    lease = lease or Lease()
    stopping = stopping or threading.Event()
    with sessions() as session:
        # The run's start was recorded with the user who asked; its outcome is the system's.
        session.info["actor"] = WORKER_ACTOR
        try:
            claimed = session.execute(
                update(ProbeRun)
                .where(ProbeRun.id == run_id, ProbeRun.status == "queued")
                .values(status="running", owner=owner, started_at=utcnow(), heartbeat_at=utcnow())
            )
            run = session.get(ProbeRun, run_id)
            session.commit()
        except SQLAlchemyError:
            log.exception("probe run %s could not be claimed; its lease will expire", run_id)
            return "lost"
        if run is None or not getattr(claimed, "rowcount", 0):
            return "gone" if run is None else run.status
        values: dict[str, Any]
        try:
            status, error = _stream_into(
                _Run(session, run_id, owner), run, target, stopping, concurrency
            )
            values = {"status": status, "error": error}
        except _Lost:
            log.warning("probe run %s was marked by a sweep while its worker was cut off", run_id)
            return "lost"
        except ProbeUnavailable as exc:
            values = {"status": "failed", "error": f"the probe cannot run: {exc}"}
        except SQLAlchemyError as exc:
            log.exception("probe run %s lost the database", run_id)
            values = {
                "status": "failed",
                "error": (
                    "the probe stopped: the database could not be written "
                    f"({type(exc).__name__}); the buckets recorded before are kept"
                ),
            }
        except Exception as exc:  # recorded on the run for the user; the worker lives on
            log.exception("probe run %s failed", run_id)
            values = {
                "status": "failed",
                "error": f"the probe stopped: {type(exc).__name__}: {exc}",
            }
        _quietly_roll_back(session)
    return _finish(sessions, run_id, owner, values, lease=lease, stopping=stopping)


def _quietly_roll_back(session: Session) -> None:
    """Drop what a failed batch left in the session (its connection may be gone too)."""
    try:
        session.rollback()
    except SQLAlchemyError:
        log.debug("rollback after a database failure failed too", exc_info=True)


def _finish(
    sessions: sessionmaker[Session],
    run_id: int,
    owner: str,
    values: dict[str, Any],
    *,
    lease: Lease,
    stopping: threading.Event,
) -> str:
    """Write the run's end, retrying with backoff for up to the lease while the database is
    unreachable (sooner given up when the app stops: the lease then does the rest)."""
    give_up = time.monotonic() + lease.ttl
    delay = FIRST_RETRY_S
    while True:
        try:
            with sessions() as session:
                session.info["actor"] = WORKER_ACTOR
                now = utcnow()
                result = session.execute(
                    update(ProbeRun)
                    .where(*_Run(session, run_id, owner).mine())
                    .values(finished_at=now, heartbeat_at=now, **values)
                )
                session.commit()
        except SQLAlchemyError as exc:
            if stopping.is_set() or time.monotonic() + delay > give_up:
                log.error(
                    "probe run %s: its end (%s) could not be written (%s); a sweep will mark "
                    "it interrupted once its lease expires",
                    run_id,
                    values["status"],
                    type(exc).__name__,
                )
                return "lost"
            log.warning("probe run %s: database unavailable, retrying in %.2f s", run_id, delay)
            stopping.wait(delay)
            delay = min(delay * 2, LONGEST_RETRY_S)
            continue
        if not getattr(result, "rowcount", 0):
            return "lost"
        return str(values["status"])


def _stream_into(
    writer: _Run,
    run: ProbeRun,
    target: Target,
    stopping: threading.Event,
    concurrency: int,
) -> tuple[str, str | None]:
    """Iterate the probe stream into the database in committed batches.

    Returns:
        (final status, error) for the run's end.
    """
    stream = start_probe(
        option=run.option,
        configuration=dict(run.configuration),
        target=target,
        concurrency=concurrency,
    )
    writer.commit(
        [], total=stream.total, account=stream.target["account"], region=stream.target["region"]
    )
    last = time.monotonic()
    done, pending = 0, []
    for report in stream:
        pending.append(_bucket_row(run.id, report))
        if stopping.is_set():
            writer.commit(pending, done=done + len(pending), summary=stream.summary())
            return "interrupted", "the app shut down during the run; the buckets recorded are kept"
        if len(pending) >= BATCH_BUCKETS or time.monotonic() - last >= BATCH_SECONDS:
            done += len(pending)
            writer.commit(pending, done=done, summary=stream.summary())
            pending, last = [], time.monotonic()
    writer.commit(pending, done=done + len(pending), summary=stream.summary())
    return "done", None


class ProbeWorkers:
    """The app's probe workers: a bounded pool (runs beyond it wait their turn, queued), and the
    keeper thread that beats the runs this process holds and sweeps stale ones."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        workers: int,
        *,
        lease: Lease | None = None,
        owner: str | None = None,
    ) -> None:
        """Start no thread until `start()` (the keeper) or the first run is submitted."""
        self._sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="atrest-probe")
        self._submitted: dict[int, Future[str]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.lease = lease or Lease()
        self.owner = owner or new_owner()
        self.keeper = Keeper(sessions, lease=self.lease, owner=self.owner, held=self.held)

    def submit(self, run_id: int, target: Target) -> Future[str]:
        """Execute a queued run in the background."""
        with self._lock:
            future = self._pool.submit(
                execute_run,
                sessions=self._sessions,
                run_id=run_id,
                target=target,
                owner=self.owner,
                lease=self.lease,
                stopping=self.stopping,
            )
            self._submitted[run_id] = future
        future.add_done_callback(lambda _: self._forget(run_id))
        return future

    def _forget(self, run_id: int) -> None:
        with self._lock:
            self._submitted.pop(run_id, None)

    def held(self) -> list[int]:
        """The runs this process holds: queued in its pool or running."""
        with self._lock:
            return sorted(self._submitted)

    def start(self) -> None:
        """Sweep now (start-up), then keep this process's runs alive and sweep until shutdown."""
        self.keeper.start()

    def shutdown(self) -> None:
        """Stop running probes at their next bucket and wait for them (still beating them);
        runs still waiting for a worker are not started. Both are marked interrupted."""
        self.stopping.set()
        with self._lock:
            submitted = list(self._submitted.items())
        # Outside the lock: a cancelled future runs its done-callback (_forget) at once.
        waiting = [run_id for run_id, future in submitted if future.cancel()]
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.keeper.stop()
        if waiting:
            with self._sessions() as session:
                session.execute(
                    update(ProbeRun)
                    .where(ProbeRun.id.in_(waiting), ProbeRun.status == "queued")
                    .values(
                        status="interrupted",
                        error="the app shut down before the probe started",
                        finished_at=utcnow(),
                    )
                )
                session.commit()
