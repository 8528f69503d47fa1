"""A probe run never stays "running" once its worker is gone (issue 17, item 3).

Real parts: `atrest serve` in a subprocess holding a run (killed with SIGKILL), the app in
this process with its keeper thread, SQLite and PostgreSQL, a TCP proxy in front of moto that
holds the probe inside a call (one slow bucket), and one in front of PostgreSQL that goes down
mid-run. The lease is short here (settings), the same code as with the defaults.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import upgrade_database
from app.decisions.models import utcnow
from app.main import create_app
from app.probe.records import ProbeRun
from app.probe.target import Target
from tests.conftest import DatabaseFactory
from tests.probe.conftest import REGION
from tests.probe.tcp_proxy import TcpProxy
from tests.support import COMMAND, sign_in, signed_in_client

LEASE = {"probe_heartbeat_seconds": 0.2, "probe_lease_seconds": 2.0, "probe_sweep_seconds": 0.3}
SERVER_START_S = 60
ANSWERS = {"audit_key_usage": True}


def lease_env() -> dict[str, str]:
    return {f"ATREST_{k.upper()}": str(v) for k, v in LEASE.items()}


@pytest.fixture
def held_moto(moto: str) -> Iterator[TcpProxy]:
    """moto behind a proxy that holds every call: a probe through it waits inside one call."""
    address = urlsplit(moto)
    proxy = TcpProxy(str(address.hostname), int(address.port or 80))
    proxy.hold()
    try:
        yield proxy
    finally:
        proxy.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_row(db: Engine, run_id: int) -> Any:
    with db.connect() as conn:
        return conn.execute(select(ProbeRun.__table__).where(ProbeRun.id == run_id)).one()


def wait_until(what: str, ok: Callable[[], bool], timeout: float) -> float:
    """Seconds it took for ok() to hold; fails after `timeout`."""
    start = time.monotonic()
    while not ok():
        if time.monotonic() - start > timeout:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def new_decision(client: TestClient) -> int:
    response = client.post("/api/decisions", json={"title": "Data lake", "answers": ANSWERS})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


class Server:
    """`atrest serve` in its own process, on the test's database."""

    def __init__(self, settings: Settings, target: Target) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
        environment.update(
            ATREST_DATABASE_URL=settings.database_url,
            ATREST_PROBE_TARGETS=json.dumps([target.model_dump(exclude_none=True)]),
            ATREST_LOG_LEVEL="warning",
            **lease_env(),
        )
        self.process = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(self.port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wait_until("atrest serve answers", self._answers, SERVER_START_S)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            pytest.fail(f"atrest serve exited {self.process.returncode}: {stderr[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def start_run(self, app: Any, decision: int, target: str) -> int:
        """Start a probe run through this server's API, as a signed-in architect would."""
        cookie, csrf = sign_in(app, role="architect", name=f"arch-{self.port}")
        request = urllib.request.Request(
            f"{self.base}/api/decisions/{decision}/probes?target={target}",
            method="POST",
            headers={"Cookie": f"atrest_session={cookie}", "X-CSRF-Token": csrf},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
            return int(json.loads(response.read())["id"])

    def kill(self) -> None:
        """SIGKILL: no lifespan end, no final write, nothing."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()


@pytest.fixture
def live_app(settings: Settings, held_moto: TcpProxy) -> Iterator[TestClient]:
    """This process's app (lifespan, keeper and all) with the short lease; its target `held`
    is the same moto, reached directly."""
    target = Target(name="held", endpoint_url=held_moto.url, region=REGION)
    app = create_app(settings.model_copy(update={"probe_targets": [target], **LEASE}))
    with signed_in_client(app, role="admin") as client:
        yield client
    app.state.db.dispose()


@pytest.fixture
def other_server(settings: Settings, held_moto: TcpProxy) -> Iterator[Server]:
    """Another app process on the same database whose probes wait inside their first call."""
    server = Server(settings, Target(name="held", endpoint_url=held_moto.url, region=REGION))
    try:
        yield server
    finally:
        server.kill()


def running_on(other: Server, client: TestClient) -> tuple[int, Engine]:
    """A run the other server claimed and is running (held inside its first AWS call)."""
    decision = new_decision(client)
    run = other.start_run(client.app, decision, "held")
    db: Engine = client.app.state.db  # type: ignore[attr-defined]
    wait_until("the other server runs it", lambda: run_row(db, run).status == "running", 20)
    return run, db


def test_a_run_whose_server_was_killed_is_interrupted_by_a_live_app_within_the_lease(
    live_app: TestClient, other_server: Server, held_moto: TcpProxy
) -> None:
    run, db = running_on(other_server, live_app)
    owner = run_row(db, run).owner
    assert owner and owner.split(":")[1] == str(other_server.process.pid)
    other_server.kill()
    lease, sweep = LEASE["probe_lease_seconds"], LEASE["probe_sweep_seconds"]
    took = wait_until(
        "the killed server's run is interrupted", lambda: run_row(db, run).status != "running", 10
    )
    row = run_row(db, run)
    assert row.status == "interrupted"
    assert "no sign of life" in row.error and row.finished_at is not None
    assert took <= lease + sweep + 1.0  # lease + sweep after the last heartbeat, and a margin
    # The target is free again: a new run of it starts (and runs to its end here).
    held_moto.release()
    again = live_app.post(f"/api/decisions/{row.decision_id}/probes", params={"target": "held"})
    assert again.status_code == 202, again.text
    wait_until("the new run ends", lambda: run_row(db, again.json()["id"]).status == "done", 30)


def test_a_live_process_s_run_is_not_marked_by_another_process_s_start_up_or_sweeps(
    settings: Settings, other_server: Server
) -> None:
    quiet = create_app(settings)
    # Not entered: no lifespan, so no sweeper here while the heartbeat is set back below.
    client = signed_in_client(quiet, role="admin")
    run, db = running_on(other_server, client)
    # As if its last batch were written 11 minutes ago: one bucket that long. Only the other
    # server's heartbeat (independent of progress) can show that it is alive.
    with db.begin() as conn:
        conn.execute(
            update(ProbeRun.__table__)
            .where(ProbeRun.id == run)
            .values(heartbeat_at=utcnow() - dt.timedelta(minutes=11))
        )
    time.sleep(5 * LEASE["probe_heartbeat_seconds"])
    # A third process starts (`atrest serve`: its start-up sweep), then sweeps for twice the
    # lease.
    starting = Server(settings, Target(name="held", region=REGION))
    try:
        time.sleep(2 * LEASE["probe_lease_seconds"])
    finally:
        starting.kill()
    row = run_row(db, run)
    quiet.state.db.dispose()
    assert (row.status, row.error) == ("running", None)
    assert row.heartbeat_at.replace(tzinfo=dt.UTC) > utcnow() - dt.timedelta(seconds=2)


# A database outage mid-run (PostgreSQL) ---------------------------------------------------------


@pytest.fixture
def proxied_postgres(database_factory: DatabaseFactory) -> Iterator[tuple[Settings, TcpProxy]]:
    """A fresh PostgreSQL database at head, reached through a proxy that can go down."""
    url = make_url(database_factory.create("postgresql"))
    upgrade_database(Settings(database_url=url.render_as_string(hide_password=False)))
    proxy = TcpProxy(str(url.host or "127.0.0.1"), int(url.port or 5432))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        yield Settings(database_url=proxied), proxy
    finally:
        proxy.close()
        # Connections through the proxy are gone; the factory drops the database WITH (FORCE).


@pytest.mark.parametrize(
    ("outage_s", "ends_as"),
    [
        pytest.param(1.0, "failed", id="back-within-the-retries"),
        pytest.param(4.5, "interrupted", id="back-after-the-lease"),
    ],
)
def test_a_database_outage_mid_run_never_leaves_the_run_running(
    proxied_postgres: tuple[Settings, TcpProxy],
    held_moto: TcpProxy,
    outage_s: float,
    ends_as: str,
) -> None:
    settings, database = proxied_postgres
    lease = {**LEASE, "probe_lease_seconds": 3.0}
    target = Target(name="held", endpoint_url=held_moto.url, region=REGION)
    app = create_app(settings.model_copy(update={"probe_targets": [target], **lease}))
    direct = create_engine(
        make_url(settings.database_url).set(port=5432), poolclass=NullPool
    )  # the test's own view of the database, never through the proxy
    try:
        with signed_in_client(app, role="admin") as client:
            decision = new_decision(client)
            started = client.post(f"/api/decisions/{decision}/probes", params={"target": "held"})
            assert started.status_code == 202, started.text
            run = int(started.json()["id"])
            wait_until("the run is running", lambda: run_row(direct, run).status == "running", 20)
            database.down()  # the worker's next write (after the held call) fails
            held_moto.release()
            time.sleep(outage_s)
            database.up()
            wait_until("the run ends", lambda: run_row(direct, run).status != "running", 15)
            row = run_row(direct, run)
            assert row.status == ends_as
            if ends_as == "failed":  # the worker wrote its own end once the database was back
                assert "database could not be written" in row.error
            else:  # it gave up after the lease; the app's sweep marked it
                assert "no sign of life" in row.error
    finally:
        app.state.db.dispose()
        direct.dispose()
