"""Probe runs in the background of the web app: a small worker pool writing as it goes.

A run is queued by a request (service.start_run), handed to ProbeWorkers after that request
committed, and executed in a worker thread with its own database session: the stream of
bucket reports is written in batches (every BATCH_SECONDS or BATCH_BUCKETS), each batch
committed with the run's progress and heartbeat, so the page's progress bar moves and a stop
loses at most one batch. One run's failure is recorded on the run, never raised further.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.decisions.models import utcnow
from app.probe.records import ProbeBucket, ProbeFinding, ProbeRun
from app.probe.runner import BucketReport, ProbeUnavailable, start_probe
from app.probe.target import Target

log = logging.getLogger("atrest.probe")

BATCH_SECONDS = 0.5
BATCH_BUCKETS = 200
CONCURRENCY = 8


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


def execute_run(
    *,
    sessions: sessionmaker[Session],
    run_id: int,
    target: Target,
    stopping: threading.Event | None = None,
    concurrency: int = CONCURRENCY,
) -> str:
    """Run a queued probe to its end, writing buckets and progress as they come.

    Args:
        sessions: Makes the worker's own database sessions.
        run_id: The queued run.
        target: The configured target it names (looked up by the caller).
        stopping: Set when the app shuts down: the run stops and is marked interrupted.
        concurrency: Buckets probed at once.

    Returns:
        The run's final status (done, failed or interrupted).
    """
    with sessions() as session:
        # The run's start was recorded with the user who asked; its outcome is the system's.
        session.info["actor"] = "system (probe worker)"
        run = session.get(ProbeRun, run_id)
        if run is None or run.status != "queued":
            return "gone" if run is None else run.status
        run.status, run.started_at, run.heartbeat_at = "running", utcnow(), utcnow()
        session.commit()
        try:
            status = _stream_into(session, run, target, stopping, concurrency)
        except ProbeUnavailable as exc:
            session.rollback()
            status, run.error = "failed", f"the probe cannot run: {exc}"
        except Exception as exc:  # recorded on the run for the user; the worker lives on
            session.rollback()
            log.exception("probe run %s failed", run_id)
            status, run.error = "failed", f"the probe stopped: {type(exc).__name__}: {exc}"
        run.status, run.finished_at, run.heartbeat_at = status, utcnow(), utcnow()
        session.commit()
        return status


def _stream_into(
    session: Session,
    run: ProbeRun,
    target: Target,
    stopping: threading.Event | None,
    concurrency: int,
) -> str:
    """Iterate the probe stream into the database in committed batches."""
    stream = start_probe(
        option=run.option,
        configuration=dict(run.configuration),
        target=target,
        concurrency=concurrency,
    )
    run.total, run.account, run.region = (
        stream.total,
        stream.target["account"],
        stream.target["region"],
    )
    session.commit()
    last = time.monotonic()
    pending = 0
    for report in stream:
        session.add(_bucket_row(run.id, report))
        pending += 1
        if stopping is not None and stopping.is_set():
            run.done += pending
            run.summary = stream.summary()
            run.error = "the app shut down during the run; the buckets recorded are kept"
            return "interrupted"
        if pending >= BATCH_BUCKETS or time.monotonic() - last >= BATCH_SECONDS:
            run.done += pending
            run.summary, run.heartbeat_at = stream.summary(), utcnow()
            session.commit()
            pending, last = 0, time.monotonic()
    run.done += pending
    run.summary = stream.summary()
    return "done"


class ProbeWorkers:
    """The app's probe workers: a bounded pool; runs beyond it wait their turn (queued)."""

    def __init__(self, sessions: sessionmaker[Session], workers: int) -> None:
        """Start no thread until the first run is submitted."""
        self._sessions = sessions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="atrest-probe")
        self._submitted: dict[int, Future[str]] = {}
        self.stopping = threading.Event()

    def submit(self, run_id: int, target: Target) -> Future[str]:
        """Execute a queued run in the background."""
        future = self._pool.submit(
            execute_run,
            sessions=self._sessions,
            run_id=run_id,
            target=target,
            stopping=self.stopping,
        )
        self._submitted[run_id] = future
        future.add_done_callback(lambda _: self._submitted.pop(run_id, None))
        return future

    def shutdown(self) -> None:
        """Stop running probes at their next bucket and wait for them; runs still waiting for a
        worker are not started. Both are marked interrupted."""
        self.stopping.set()
        waiting = [run_id for run_id, f in list(self._submitted.items()) if f.cancel()]
        self._pool.shutdown(wait=True, cancel_futures=True)
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
