"""The lease of probe runs: a run never stays "running" once the process holding it is gone.

Each process has an owner id (host:pid:random, `new_owner`), written on the runs it queues and
claims. Its keeper thread writes the heartbeat of every run the process holds (queued in its
pool or running) every `Lease.heartbeat` seconds, whatever the buckets do (one bucket may take
long). A run whose heartbeat is older than `Lease.ttl` is stale, and the keeper of every
process marks stale runs interrupted at start-up and every `Lease.sweep` seconds; it never
marks the runs its own process holds. A live process's runs never go stale, so no process
marks another's live run.

Stated times, with the defaults (ATREST_PROBE_HEARTBEAT_SECONDS=5, ATREST_PROBE_LEASE_SECONDS=60,
ATREST_PROBE_SWEEP_SECONDS=15): a run whose process died (kill -9, a crash, a lost host) or
that lost the database for longer than the lease is marked interrupted by any live app within
lease + sweep = 75 s of its last heartbeat, or at the next start-up. Clocks of the hosts sharing
a database must agree to well within the lease (NTP).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import Settings
from app.decisions.models import utcnow
from app.probe.records import ACTIVE_STATUSES, ProbeRun
from app.probe.service import interrupt_stale_runs

log = logging.getLogger("atrest.probe")

SWEEPER_ACTOR = "system (probe sweeper)"


@dataclass(frozen=True)
class Lease:
    """How often a process proves its runs alive, and when others may take them for dead.

    Attributes:
        heartbeat: Seconds between two heartbeats of the runs a process holds.
        ttl: Seconds without a heartbeat after which a run is stale (its lease expired).
        sweep: Seconds between two looks for stale runs, in every process.
    """

    heartbeat: float = 5.0
    ttl: float = 60.0
    sweep: float = 15.0

    @classmethod
    def of(cls, settings: Settings) -> Lease:
        """The lease the settings configure (ATREST_PROBE_*_SECONDS)."""
        return cls(
            heartbeat=settings.probe_heartbeat_seconds,
            ttl=settings.probe_lease_seconds,
            sweep=settings.probe_sweep_seconds,
        )


def new_owner() -> str:
    """An owner id for this process: host, pid and a random part (a later process that reuses
    the pid is another owner)."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(6)}"


class Keeper:
    """One process's keeper thread: heartbeats of the runs it holds, sweeps of stale runs."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        lease: Lease,
        owner: str,
        held: Callable[[], list[int]],
    ) -> None:
        """Start no thread until `start()`; `held` names the runs the process holds now."""
        self._sessions, self.lease, self.owner, self._held = sessions, lease, owner, held
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def beat(self) -> int:
        """Write the heartbeat of the runs this process holds; returns how many were beaten."""
        ids = self._held()
        if not ids:
            return 0
        table = cast(Table, ProbeRun.__table__)
        with self._sessions() as session:
            # A Core statement: no audit entry to write (heartbeats are never recorded).
            result = session.connection().execute(
                update(table)
                .where(
                    table.c.id.in_(ids),
                    # Queued here without an owner (not through a request): held all the same.
                    or_(table.c.owner == self.owner, table.c.owner.is_(None)),
                    table.c.status.in_(ACTIVE_STATUSES),
                )
                .values(heartbeat_at=utcnow())
            )
            session.commit()
        return int(result.rowcount or 0)

    def sweep(self) -> int:
        """Mark the runs whose lease expired interrupted, any process's but those this one
        holds (alive, even if a heartbeat could not be written); returns how many."""
        with self._sessions() as session:
            session.info["actor"] = SWEEPER_ACTOR
            count = interrupt_stale_runs(
                session=session, lease=dt.timedelta(seconds=self.lease.ttl), keep=self._held()
            )
            session.commit()
        if count:
            log.warning(
                "%d probe run(s) without a heartbeat for %g s: interrupted", count, self.lease.ttl
            )
        return count

    def start(self) -> None:
        """Sweep now (start-up), then beat and sweep in a daemon thread until stop()."""
        self._guarded(self.sweep, "sweep")
        self._thread = threading.Thread(target=self._keep, name="atrest-probe-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread (after the last runs of the process ended)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _keep(self) -> None:
        """Heartbeats every lease.heartbeat s, sweeps every lease.sweep s."""
        next_beat = time.monotonic() + self.lease.heartbeat
        next_sweep = time.monotonic() + self.lease.sweep
        while not self._stop.wait(max(0.0, min(next_beat, next_sweep) - time.monotonic())):
            now = time.monotonic()
            if now >= next_beat:
                self._guarded(self.beat, "heartbeat")
                next_beat = now + self.lease.heartbeat
            if now >= next_sweep:
                self._guarded(self.sweep, "sweep")
                next_sweep = now + self.lease.sweep

    @staticmethod
    def _guarded(job: Callable[[], int], what: str) -> None:
        """Run a keeper job; a failure (the database is down) is logged, the keeper lives on."""
        try:
            job()
        except SQLAlchemyError as exc:
            log.warning("probe %s not written: database error (%s)", what, type(exc).__name__)
        except Exception:
            log.exception("probe %s failed", what)
