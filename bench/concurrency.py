"""Concurrent writers against a real `atrest serve`: is any record lost or duplicated?

Run with `.venv/bin/python bench/concurrency.py [--writers 20] [--seconds 30]
[--database sqlite|postgresql|both] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]`.

For each database: a fresh one (a SQLite file in a temporary folder, or a PostgreSQL database
created on --postgres-url, a server that lets `postgres` in without a password, and dropped
afterwards), the real `atrest serve` in a child process on a free 127.0.0.1 port (migrations
at start, JSON logs to a file), then --writers threads for --seconds, each with one keep-alive
HTTP connection, looping:

1. POST /api/decisions with a title no other request uses (remember the id returned);
2. PATCH one of its own decisions with other answers and a unique note (a new version);
3. POST /api/decisions/{id}/tickets with a URL no other request uses.

When the app has accounts, the writers send the API token of a "bench" architect account
written into the fresh database once it is migrated (Client.call is the one place requests
are made).

Every 2xx is an acknowledgement: the server said the record is saved. Afterwards the database
is read directly and, per kind (decisions, versions, ticket links), the acknowledged records
are matched with what is there: lost = acknowledged but missing; duplicated = the same unique
title, note or URL twice; "unacknowledged" = present although the client got no 2xx (a request
whose answer was lost, e.g. a client time-out: not an error of the server). Each decision's
current_version must be its last version's number, with no gap. Printed too: errors by status
code, throughput, p50/p95 latency, the server's exit code after SIGTERM and its access-line
count. Exit status 1 when a record was lost or duplicated or a decision is inconsistent.

Limits: the client shares the 2 cores with the server (threads with http.client, the lightest
Python client), so throughput is a floor, not the server's ceiling; one server process.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # app/, as in bench/web.py

ATREST = Path(sys.executable).with_name("atrest")
SERVE = [str(ATREST)] if ATREST.exists() else [sys.executable, "-m", "app.cli"]
START_TIMEOUT_S = 60
REQUEST_TIMEOUT_S = 30
# Three answer sets: a PATCH always sends one that differs from the current, so it cuts a version.
ANSWER_SETS: list[dict[str, Any]] = [
    {"audit_key_usage": True},
    {"audit_key_usage": False},
    {"audit_key_usage": True, "compliance_frameworks": ["pci-dss"]},
]
KINDS = ("create decision", "patch answers", "link ticket")


# HTTP ------------------------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP connection to the app, reopened after a failure."""

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self.host, self.port, self.token = host, port, token
        self.connection: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """One JSON API call: (status, parsed body). The one place where requests are made."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                self.host, self.port, timeout=REQUEST_TIMEOUT_S
            )
        try:
            self.connection.request(method, path, body=json.dumps(body), headers=headers)
            response = self.connection.getresponse()
            payload = response.read()
        except Exception:
            self.connection.close()
            self.connection = None
            raise
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(payload)
        return response.status, payload.decode(errors="replace")


# The writers -----------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one writer was told by the server."""

    decisions: dict[str, int] = field(default_factory=dict)  # title -> id
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)  # note -> (decision, number)
    tickets: dict[str, int] = field(default_factory=dict)  # url -> decision id
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    sent: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, status or class)

    def merge(self, other: Tally) -> None:
        """Add another writer's tally to this one."""
        self.decisions |= other.decisions
        self.versions |= other.versions
        self.tickets |= other.tickets
        for kind in KINDS:
            self.latencies[kind] += other.latencies[kind]
        self.sent += other.sent
        self.ok += other.ok
        self.errors += other.errors


def writer(number: int, run: str, client: Client, deadline: float, tally: Tally) -> None:
    """Create, patch, link in a loop until the deadline; note every acknowledgement."""
    rng = random.Random(number)
    mine: dict[int, int] = {}  # decision id -> index of its current answer set
    step = 0

    def timed(kind: str, method: str, path: str, body: dict[str, Any]) -> Any:
        tally.sent[kind] += 1
        started = time.perf_counter()
        try:
            status, payload = client.call(method, path, body)
        except Exception as exc:  # no answer: the record may or may not be there
            tally.errors[kind, type(exc).__name__] += 1
            return None
        tally.latencies[kind].append(time.perf_counter() - started)
        if not 200 <= status < 300:
            tally.errors[kind, str(status)] += 1
            return None
        tally.ok[kind] += 1
        return payload

    while time.monotonic() < deadline:
        step += 1
        token = f"{run}-w{number}-{step}"
        title = f"bench {token}"
        created = timed(
            "create decision", "POST", "/api/decisions", {"title": title, "answers": ANSWER_SETS[0]}
        )
        if created is not None:
            tally.decisions[title] = created["id"]
            tally.versions[f"{title} v1"] = (created["id"], created["current_version"])
            mine[created["id"]] = 0
        if not mine:
            continue
        decision_id = rng.choice(list(mine))
        answers = rng.choice([i for i in range(len(ANSWER_SETS)) if i != mine[decision_id]])
        note = f"patch {token}"
        patched = timed(
            "patch answers",
            "PATCH",
            f"/api/decisions/{decision_id}",
            {"answers": ANSWER_SETS[answers], "note": note},
        )
        if patched is not None:
            mine[decision_id] = answers
            if patched["current"]["note"] == note:
                tally.versions[note] = (decision_id, patched["current_version"])
            else:  # acknowledged, yet no version with our note: counted as lost below
                tally.versions[note] = (decision_id, -1)
        url = f"https://github.com/acme/bench-{run}/issues/{number * 1_000_000 + step}"
        linked = timed("link ticket", "POST", f"/api/decisions/{decision_id}/tickets", {"url": url})
        if linked is not None:
            tally.tickets[url] = decision_id


# Databases and the server ----------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(kind: str, postgres_url: str, folder: Path) -> Iterator[str]:
    """The URL of a new empty database; a PostgreSQL one is dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/bench.db"
        return
    server = make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = f"atrest_bench_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def api_token(database_url: str) -> str | None:
    """An API token of a new "bench" architect account, written straight into the (migrated)
    database; None for a version of the app without accounts."""
    try:
        from app.accounts import service as accounts
    except ImportError:
        return None
    db = create_engine(database_url, poolclass=NullPool)
    try:
        with Session(db) as session:
            user = accounts.create_user(session=session, name="bench", role="architect")
            _, plain = accounts.issue_token(session=session, user_id=user.id, label="bench")
            session.commit()
            return plain
    finally:
        db.dispose()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def served(database_url: str, folder: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """`atrest serve` on a free port, ready (GET /readyz is 200); killed by pid if still up."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    env["ATREST_DATABASE_URL"] = database_url
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*SERVE, "serve", "--port", str(port)],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"atrest serve exited with {process.returncode}:\n{log.read_text()}"
                )
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/readyz")
                ready = conn.getresponse().status == 200
                conn.close()
                if ready:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"atrest serve not ready in {START_TIMEOUT_S} s:\n{log.read_text()}"
                )
            time.sleep(0.1)
        yield process, port, log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> int | str:
    """SIGTERM; the exit code, or a note if it did not stop within 40 s."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        return "still running 40 s after SIGTERM"


# Checking the database -------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the records table."""

    kind: str
    acknowledged: int
    found: int
    lost: int
    duplicated: int
    unacknowledged: int


def check(database_url: str, run: str, tally: Tally) -> tuple[list[Row], list[str]]:
    """Match the acknowledgements with the database: rows per kind and inconsistencies."""
    db = create_engine(database_url, poolclass=NullPool)
    try:
        with db.connect() as c:
            pattern = {"p": f"bench {run}-%"}
            decisions = c.execute(
                text("select id, title, current_version from decisions where title like :p"),
                pattern,
            ).all()
            ids = [d.id for d in decisions]
            versions = c.execute(
                text(
                    "select v.decision_id, v.number, v.note, d.title from decision_versions v "
                    "join decisions d on d.id = v.decision_id where d.title like :p"
                ),
                pattern,
            ).all()
            tickets = c.execute(
                text("select decision_id, url from ticket_links where url like :p"),
                {"p": f"https://github.com/acme/bench-{run}/%"},
            ).all()
    finally:
        db.dispose()

    titles = Counter(d.title for d in decisions)
    by_title = {d.title: d.id for d in decisions}
    lost_decisions = sum(1 for t, i in tally.decisions.items() if by_title.get(t) != i)

    # A version's unique mark: its note, or "<title> v1" for the first one (cut without a note).
    marks = Counter(v.note if v.number != 1 else f"{v.title} v1" for v in versions)
    found_versions = {
        (v.note if v.number != 1 else f"{v.title} v1"): (v.decision_id, v.number) for v in versions
    }
    lost_versions = sum(1 for m, key in tally.versions.items() if found_versions.get(m) != key)

    urls = Counter(t.url for t in tickets)
    found_tickets = {t.url: t.decision_id for t in tickets}
    lost_tickets = sum(1 for u, d in tally.tickets.items() if found_tickets.get(u) != d)

    rows = [
        Row(
            "decisions",
            len(tally.decisions),
            len(decisions),
            lost_decisions,
            sum(n - 1 for n in titles.values()),
            len(set(titles) - set(tally.decisions)),
        ),
        Row(
            "versions",
            len(tally.versions),
            len(versions),
            lost_versions,
            sum(n - 1 for n in marks.values()),
            len(set(marks) - set(tally.versions)),
        ),
        Row(
            "ticket links",
            len(tally.tickets),
            len(tickets),
            lost_tickets,
            sum(n - 1 for n in urls.values()),
            len(set(urls) - set(tally.tickets)),
        ),
    ]

    numbers: dict[int, list[int]] = {i: [] for i in ids}
    for v in versions:
        numbers[v.decision_id].append(v.number)
    problems = []
    for d in decisions:
        have = sorted(numbers[d.id])
        if have != list(range(1, len(have) + 1)) or d.current_version != len(have):
            problems.append(
                f"decision {d.id}: current_version {d.current_version}, versions {have}"
            )
    return rows, problems


# The report ------------------------------------------------------------------------------------


def ms(seconds: list[float], q: float) -> str:
    """The q-quantile of `seconds`, in milliseconds."""
    if not seconds:
        return "-"
    if len(seconds) == 1:
        return f"{seconds[0] * 1000:.1f}"
    return (
        f"{statistics.quantiles(seconds, n=100, method='inclusive')[round(q * 100) - 1] * 1000:.1f}"
    )


def server_log(log: Path) -> tuple[int, Counter[str]]:
    """How many access lines the server logged (one per request it answered), and its error
    lines counted by exception class and first line of the message."""
    access, errors = 0, Counter[str]()
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            errors[f"not JSON: {line[:100]}"] += 1
            continue
        access += entry.get("logger") == "atrest.access"
        if entry.get("level") in ("ERROR", "CRITICAL"):
            # The traceback's last unindented line names the exception and its message.
            lines = (entry.get("exception") or "").splitlines()
            cause = [ln for ln in lines if ln[:1].isalpha() and not ln.startswith("Traceback")]
            errors[f"{entry['message'].strip()} {(cause or [''])[-1][:200]}".strip()] += 1
    return access, errors


def run_one(kind: str, writers: int, seconds: float, postgres_url: str) -> bool:
    """Bench one database; print the figures; True when nothing was lost or duplicated."""
    run = secrets.token_hex(4)
    with (
        tempfile.TemporaryDirectory(prefix="atrest-bench-") as tmp,
        fresh_database(kind, postgres_url, Path(tmp)) as url,
        served(url, Path(tmp)) as (process, port, log),
    ):
        token = api_token(url)
        tallies = [Tally() for _ in range(writers)]
        started = time.monotonic()
        deadline = started + seconds
        threads = [
            threading.Thread(
                target=writer,
                args=(n, run, Client("127.0.0.1", port, token), deadline, tallies[n]),
                name=f"writer-{n}",
            )
            for n in range(writers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        exit_code = stop(process)
        total = Tally()
        for t in tallies:
            total.merge(t)
        rows, problems = check(url, run, total)
        logged, server_errors = server_log(log)

    sent, ok = sum(total.sent.values()), sum(total.ok.values())
    every = [s for kind_ in KINDS for s in total.latencies[kind_]]
    print(
        f"\n== {kind}: {writers} writers, {elapsed:.1f} s, atrest serve pid {process.pid} "
        f"on 127.0.0.1:{port}"
    )
    print("auth: " + ("an API token (Authorization: Bearer)" if token else "none"))
    print(
        f"requests: {sent} sent, {ok} 2xx, {ok / elapsed:.1f} 2xx/s; "
        f"latency p50 {ms(every, 0.5)} ms, p95 {ms(every, 0.95)} ms"
    )
    for kind_ in KINDS:
        lat = total.latencies[kind_]
        print(
            f"  {kind_:<16} sent {total.sent[kind_]:>6}  2xx {total.ok[kind_]:>6}  "
            f"p50 {ms(lat, 0.5):>6} ms  p95 {ms(lat, 0.95):>6} ms  "
            f"max {max(lat, default=0) * 1000:>7.1f} ms"
        )
    if total.errors:
        errs = ", ".join(f"{k}: {s} x{n}" for (k, s), n in sorted(total.errors.items()))
        print(f"errors by status: {errs}")
    else:
        print("errors by status: none")
    print(
        f"{'records':<14}{'acknowledged':>14}{'in database':>13}{'lost':>7}{'duplicated':>12}"
        f"{'unacknowledged':>16}"
    )
    for r in rows:
        print(
            f"{r.kind:<14}{r.acknowledged:>14}{r.found:>13}{r.lost:>7}{r.duplicated:>12}"
            f"{r.unacknowledged:>16}"
        )
    print(
        "each decision's current_version is its last version, no gaps: "
        + ("yes" if not problems else f"NO ({len(problems)}): " + "; ".join(problems[:5]))
    )
    print(f"server: exit {exit_code} after SIGTERM; access lines logged {logged} (sent {sent})")
    print(f"server error lines: {sum(server_errors.values()) or 'none'}")
    for message, n in server_errors.most_common(3):
        print(f"  x{n}: {message}")
    clean = not problems and all(r.lost == 0 and r.duplicated == 0 for r in rows)
    print(f"no lost or duplicated record: {'yes' if clean else 'NO'}")
    return clean


def main() -> None:
    """Parse the flags, bench each database, exit 1 if anything was lost or duplicated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a server that trusts postgres on 127.0.0.1; a database is created and dropped",
    )
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    results = [run_one(k, args.writers, args.seconds, args.postgres_url) for k in kinds]
    if len(results) > 1:
        print(f"\nall databases: no lost or duplicated record: {'yes' if all(results) else 'NO'}")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
