"""Operations: /healthz and /readyz, request ids and JSON logs, graceful shutdown of
`atrest serve`, and several app processes starting together against one PostgreSQL."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from alembic.config import Config
from fastapi import Request
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import PROJECT_ROOT, upgrade_database
from app.core.health import migration_heads
from app.core.logging import configure_logging, make_handler
from app.main import create_app
from tests.support import COMMAND

if TYPE_CHECKING:
    from conftest import DatabaseFactory

HEAD = ",".join(migration_heads())
SECRET = "s3cr3t-pass"
START_TIMEOUT_S = 60.0  # two processes migrating on a 2-core machine
SHUTDOWN_TIMEOUT_S = 5  # ATREST_SHUTDOWN_TIMEOUT given to the served processes
ACCESS_KEYS = {
    "time",
    "level",
    "logger",
    "message",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
}


def app_client(settings: Settings) -> TestClient:
    app = create_app(settings)

    @app.get("/test/request-id")
    def request_id(request: Request) -> dict[str, str]:
        logging.getLogger("app.test").info("inside the route")
        return {"request_id": request.state.request_id}

    @app.get("/test/fails")
    def fails() -> dict[str, str]:
        try:
            raise ValueError("something broke")
        except ValueError:
            logging.getLogger("app.test").exception("handled failure")
        return {"ok": "yes"}

    return TestClient(app)


def sqlite_settings(tmp_path: Path) -> Settings:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/atrest.db")
    upgrade_database(settings)
    return settings


# /healthz and /readyz ---------------------------------------------------------------------------


def test_readyz_is_ready_on_a_database_migrated_to_head(settings: Settings) -> None:
    response = TestClient(create_app(settings)).get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "database": "ok", "migrations": HEAD}
    assert HEAD


def test_readyz_is_503_on_a_fresh_database_without_migrations(database_url: str) -> None:
    response = TestClient(create_app(Settings(database_url=database_url))).get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["migrations"] is None
    assert body["head"] == HEAD
    assert "migrations not current" in body["reason"]


def test_readyz_is_503_naming_both_revisions_when_migrations_are_behind(
    database_url: str,
) -> None:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "0002")
    client = TestClient(create_app(Settings(database_url=database_url)))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["migrations"] == "0002"
    assert response.json()["head"] == HEAD
    assert f"database at 0002, head is {HEAD}" in response.json()["reason"]
    upgrade_database(Settings(database_url=database_url))
    assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    ("url", "error"),
    [
        # Port 1 on loopback: nothing listens there, so the connection is refused at once.
        (f"postgresql+psycopg://atrest:{SECRET}@127.0.0.1:1/atrest", "psycopg.OperationalError"),
        ("sqlite:////nonexistent-folder-atrest/atrest.db", "sqlite3.OperationalError"),
    ],
    ids=["postgresql", "sqlite"],
)
def test_readyz_is_503_naming_the_error_class_when_the_database_is_unreachable(
    url: str, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestClient(create_app(Settings(database_url=url)))
    with caplog.at_level(logging.INFO):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "unreachable",
        "error": error,
        "reason": f"database unreachable ({error})",
    }
    assert SECRET not in response.text
    assert SECRET not in caplog.text
    assert "127.0.0.1:1" not in caplog.text


def test_healthz_answers_without_touching_the_database(ruleset: Any) -> None:
    url = f"postgresql+psycopg://atrest:{SECRET}@127.0.0.1:1/atrest"
    response = TestClient(create_app(Settings(database_url=url))).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "ruleset": ruleset.version}


# Request ids and JSON logs --------------------------------------------------------------------


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the JSON handler writes while the test runs (installed on the root logger at INFO,
    removed afterwards)."""
    stream = io.StringIO()
    handler = make_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_a_sane_incoming_request_id_is_kept_and_returned(tmp_path: Path) -> None:
    client = app_client(sqlite_settings(tmp_path))
    response = client.get("/test/request-id", headers={"X-Request-ID": "abc-123_X.9"})
    assert response.headers["X-Request-ID"] == "abc-123_X.9"
    assert response.json() == {"request_id": "abc-123_X.9"}


@pytest.mark.parametrize(
    "incoming",
    ["", "has space", "x" * 65, "<script>", "a/b", "ünïcode".encode(), None],
    ids=["empty", "space", "too-long", "markup", "slash", "non-ascii", "absent"],
)
def test_an_unsafe_or_missing_request_id_is_replaced_by_a_new_one(
    tmp_path: Path, incoming: str | bytes | None
) -> None:
    client = app_client(sqlite_settings(tmp_path))
    headers = {} if incoming is None else {"X-Request-ID": incoming}
    response = client.get("/test/request-id", headers=headers)
    request_id = response.headers["X-Request-ID"]
    assert request_id != incoming
    assert len(request_id) == 32
    assert int(request_id, 16) >= 0
    assert response.json() == {"request_id": request_id}
    assert client.get("/healthz").headers["X-Request-ID"] != request_id  # one per request


def test_every_log_line_of_a_request_carries_its_id_and_one_access_line_is_written(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    client = app_client(sqlite_settings(tmp_path))
    client.get(
        f"/test/request-id?token={SECRET}",
        headers={
            "X-Request-ID": "req-42",
            "Authorization": f"Bearer {SECRET}",
            "Cookie": f"session={SECRET}",
        },
    )
    entries = [e for e in parsed(log_lines) if e["request_id"] == "req-42"]
    inside = [e for e in entries if e["logger"] == "app.test"]
    access = [e for e in entries if e["logger"] == "atrest.access"]
    assert [e["message"] for e in inside] == ["inside the route"]
    assert inside[0]["level"] == "INFO"
    assert len(access) == 1
    line = access[0]
    assert set(line) == ACCESS_KEYS
    assert (line["method"], line["path"], line["status"]) == ("GET", "/test/request-id", 200)
    assert isinstance(line["duration_ms"], float)
    assert line["time"].endswith("+00:00")
    server_side = [e for e in parsed(log_lines) if not e["logger"].startswith("httpx")]
    assert SECRET not in json.dumps(server_side)  # the test client's own line shows the URL
    assert "token" not in json.dumps(server_side)


def test_an_exception_is_logged_with_its_traceback_as_a_field(
    tmp_path: Path, log_lines: io.StringIO
) -> None:
    client = app_client(sqlite_settings(tmp_path))
    client.get("/test/fails", headers={"X-Request-ID": "req-err"})
    (entry,) = [e for e in parsed(log_lines) if e["message"] == "handled failure"]
    assert entry["level"] == "ERROR"
    assert entry["request_id"] == "req-err"
    assert entry["exc_type"] == "ValueError"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: something broke" in entry["exception"]


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Puts back the root logger and uvicorn's loggers as they were before the test."""
    names = [
        "",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "alembic.runtime.migration",
        "sqlalchemy.engine",
        "botocore",
        "boto3",
        "s3transfer",
        "urllib3",
    ]
    saved = [
        (lg, lg.level, list(lg.handlers), lg.propagate, list(lg.filters))
        for lg in map(logging.getLogger, names)
    ]
    try:
        yield
    finally:
        for lg, level, handlers, propagate, filters in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate = propagate
            lg.filters[:] = filters


@pytest.mark.usefixtures("restored_logging")
def test_configure_logging_routes_uvicorn_through_one_handler_and_can_run_again() -> None:
    stream = io.StringIO()
    settings = Settings(log_format="json", log_level="warning")
    configure_logging(settings, stream)
    configure_logging(settings, stream)  # replaces, never doubles
    logging.getLogger("uvicorn.error").warning("started")
    logging.getLogger("uvicorn.access").warning("the access log of uvicorn is off")
    logging.getLogger("app.test").info("below the level")
    entries = parsed(stream)
    assert [(e["logger"], e["message"], e["level"]) for e in entries] == [
        ("uvicorn.error", "started", "WARNING")
    ]
    assert entries[0]["request_id"] is None


@pytest.mark.usefixtures("restored_logging")
def test_debug_level_keeps_sql_and_aws_sdk_details_out_of_the_logs() -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_level="debug"), stream)
    logging.getLogger("app.test").debug("app debug line")
    logging.getLogger("botocore.endpoint").debug("headers: X-Amz-Security-Token=...")
    logging.getLogger("sqlalchemy.engine.Engine").info("INSERT ... parameters")
    assert [e["message"] for e in parsed(stream)] == ["app debug line"]


@pytest.mark.usefixtures("restored_logging")
def test_text_log_format_is_one_readable_line_with_the_request_id(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="text"), stream)
    app_client(sqlite_settings(tmp_path)).get("/healthz", headers={"X-Request-ID": "txt-1"})
    (access,) = [line for line in stream.getvalue().splitlines() if "atrest.access" in line]
    assert " INFO atrest.access [txt-1] GET /healthz 200 " in access
    assert not access.startswith("{")


# The real `atrest serve` ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str, request_id: str | None = None) -> tuple[int, dict[str, Any], str | None]:
    """Status, JSON body and X-Request-ID of a GET (errors included)."""
    headers = {} if request_id is None else {"X-Request-ID": request_id}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.loads(r.read()), r.headers["X-Request-ID"]
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers["X-Request-ID"]


@dataclass
class Served:
    """An `atrest serve` process on 127.0.0.1:port, its stderr going to a file."""

    process: subprocess.Popen[bytes]
    url: str
    stderr: Path

    def wait_ready(self, deadline: float) -> None:
        """Poll /readyz until it answers 200; fail with the process's stderr otherwise."""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"atrest serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if get(f"{self.url}/readyz")[0] == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        pytest.fail(f"atrest serve was not ready at {self.url} in time:\n{self.log()}")

    def log(self) -> str:
        return self.stderr.read_text()

    def log_entries(self) -> list[dict[str, Any]]:
        """Every stderr line, parsed: each must be a JSON object."""
        entries = []
        for line in self.log().splitlines():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            entries.append(entry)
        return entries


@contextmanager
def serving(database_url: str, workdir: Path, name: str = "serve", *args: str) -> Iterator[Served]:
    """Start `atrest serve` on a free port with a clean ATREST_* environment; kill it (by pid)
    at the end if the test left it running."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    env |= {
        "ATREST_DATABASE_URL": database_url,
        "ATREST_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT_S),
    }
    stderr = workdir / f"{name}.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield Served(process, f"http://127.0.0.1:{port}", stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(served: Served) -> int:
    """SIGTERM, then the exit code, which must come within the graceful timeout (plus start-up
    slack for the lifespan's end)."""
    served.process.send_signal(signal.SIGTERM)
    return served.process.wait(timeout=SHUTDOWN_TIMEOUT_S + 10)


def test_serve_logs_json_and_stops_with_exit_0_on_sigterm(tmp_path: Path) -> None:
    with serving(f"sqlite:///{tmp_path}/atrest.db", tmp_path) as served:
        served.wait_ready(time.monotonic() + START_TIMEOUT_S)
        status, body, request_id = get(f"{served.url}/readyz?token={SECRET}", "sigterm-1")
        assert (status, body, request_id) == (
            200,
            {"status": "ready", "database": "ok", "migrations": HEAD},
            "sigterm-1",
        )
        assert stop(served) == 0
        entries = served.log_entries()
    access = [e for e in entries if e["request_id"] == "sigterm-1"]
    assert len(access) == 1
    assert set(access[0]) == ACCESS_KEYS
    assert access[0]["path"] == "/readyz"
    assert access[0]["status"] == 200
    messages = [e["message"] for e in entries]
    assert any(m.startswith("Running upgrade  -> ") for m in messages)  # migrations at start
    assert "Application shutdown complete." in messages
    assert not [e for e in entries if e["logger"] == "uvicorn.access"]
    assert SECRET not in served.log()


def worker_pids(parent: int) -> set[int]:
    """The app's worker processes: the children of `parent` that run multiprocessing's spawn."""
    found = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:  # the process ended while we looked
            continue
        if fields.get("PPid", "").strip() == str(parent) and b"spawn_main" in cmdline:
            found.add(int(fields["Pid"]))
    return found


def test_serve_with_workers_runs_that_many_processes_and_stops_them_on_sigterm(
    tmp_path: Path,
) -> None:
    with serving(
        f"sqlite:///{tmp_path}/atrest.db", tmp_path, "workers", "--workers", "2"
    ) as served:
        served.wait_ready(time.monotonic() + START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while len(worker_pids(served.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = worker_pids(served.process.pid)
        assert len(workers) == 2, served.log()
        for n in range(6):
            status, body, request_id = get(f"{served.url}/readyz", f"workers-{n}")
            assert (status, body["status"], request_id) == (200, "ready", f"workers-{n}")
        assert stop(served) == 0
        entries = served.log_entries()  # every line JSON, the workers' too
    assert not worker_pids(served.process.pid)
    messages = [e["message"] for e in entries]
    assert sum(m == "Application shutdown complete." for m in messages) == 2
    assert any(m.startswith("Running upgrade  -> ") for m in messages)  # once, in the parent
    assert len([e for e in entries if str(e.get("request_id", "")).startswith("workers-")]) == 6


def test_two_processes_start_together_on_one_fresh_postgresql_database(
    tmp_path: Path, database_factory: DatabaseFactory
) -> None:
    url = database_factory.create("postgresql")
    with (
        serving(url, tmp_path, "first") as first,
        serving(url, tmp_path, "second") as second,
    ):
        deadline = time.monotonic() + START_TIMEOUT_S
        first.wait_ready(deadline)
        second.wait_ready(deadline)
        for served in (first, second):
            assert get(f"{served.url}/readyz")[:2] == (
                200,
                {"status": "ready", "database": "ok", "migrations": HEAD},
            )
        assert stop(first) == 0
        assert stop(second) == 0
        logs = [first.log_entries(), second.log_entries()]
    # The advisory lock made them take turns: one migrated, the other found the head.
    migrated = [
        any(e["message"].startswith("Running upgrade  -> ") for e in entries) for entries in logs
    ]
    assert sorted(migrated) == [False, True]
    db = create_engine(url, poolclass=NullPool)
    try:
        with db.connect() as connection:
            versions = connection.execute(text("select version_num from alembic_version"))
            assert [row[0] for row in versions] == [HEAD]
    finally:
        db.dispose()
