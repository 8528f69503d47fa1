"""Benchmark of the web app under load: the HTMX live panel, the result page, a bare endpoint.

Run with `.venv/bin/python bench/web.py [--clients 50] [--seconds 30] [--database-url URL]`.
Targets (issue 13): p95 <= 50 ms for the live panel and the result page, each at >= 30% of
the throughput of a bare FastAPI endpoint served the same way on the same machine.

What runs: the real app (`create_app(Settings(database_url=...))`, migrations applied first),
in its own `uvicorn` process (one worker, no reload, access log off) on a free 127.0.0.1 port,
over a fresh SQLite file in a temporary folder unless --database-url names another database
(e.g. postgresql+psycopg://...; the benchmark then adds one decision and one account to it).
A second uvicorn process, started the same way, serves a bare FastAPI app with one `async def`
endpoint returning a tiny HTML page: the ceiling of server + framework on this machine, in the
same run.
The app requires sign-in: before any server starts, the benchmark creates an "architect"
account (no password) and a sign-in session for it straight in the database, and every
request (seeding, checks, wrk) sends that session's cookie and its CSRF token as the
`X-CSRF-Token` header; the session is ended when the run ends.
One decision per client (--decisions; 1 puts every client on the same one) is seeded through
the real pages (create, answer step 1, finish), and client n works on decision n: fifty people
each on their own draft. --workers 1 2 measures one, then two worker processes per server, as
`atrest serve --workers N` runs them (the bare endpoint gets as many). Then each target gets a freshly started server (so a target that wedges the app cannot spoil the next
one), a warm-up on one connection (not counted), a measured run of --clients connections for
--seconds, and a check that the server still answers afterwards.

Load generator: Debian's `wrk` 4.1 (C, epoll; `apt-get install -y wrk`), one wrk thread per
client, each with one keep-alive connection, driven by a small Lua script that alternates the
two form bodies of the POST, checks every response's status and body, and times every request
itself (wrk's own percentiles add synthetic samples to correct for coordinated omission; they
are printed for comparison only). Why not a Python client: on a 2-core machine the client
shares the cores with the server. Tried on this machine against the bare endpoint, an asyncio
httpx2 client with a pool of 50 reached 179 requests/s using 41% of a core, where wrk measures
about 2,000 requests/s using about 20% of a core; wrk's CPU use is printed next to the server's,
so "the client is not the bottleneck" is checked in every run.

Limits: closed loop (each client sends its next request once the last one is answered), so at
saturation latency is mostly queueing (mean latency = clients / throughput), and a stalled
server slows the offered load instead of piling up requests; loopback only, so no network
cost; one server worker is one Python process (about one core of Python, whatever the core
count); latency runs from the Lua request() call, just before the write, to the parsed
response. Requests/s counts good answers (2xx with the expected body); requests still
unanswered when a run ends are shown as "open", not as errors.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import HTMLResponse  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from app.accounts import service as accounts  # noqa: E402
from app.accounts.access import CSRF_HEADER, SESSION_COOKIE  # noqa: E402
from app.core.config import Settings  # noqa: E402
from app.core.db import make_engine, make_sessionmaker, upgrade_database  # noqa: E402
from app.main import create_app  # noqa: E402

TARGET_P95_MS = 50.0
TARGET_SHARE_OF_BARE = 0.30
WARMUP_S = 3
RECOVERY_S = 10  # after a run, the server must answer its ready path again within this
READY_PATH = {"atrest": "/healthz", "bare": "/"}
BARE_BODY = "<!doctype html><title>bare</title><p>ok</p>"
# The wrk process reads its Cookie header (the sign-in session) and CSRF token from these
# variables, named again in WRK_LUA (kept out of wrk's argv, which `ps` shows).
COOKIE_ENV = "BENCH_COOKIE_HEADER"
CSRF_ENV = "BENCH_CSRF_TOKEN"

# Runs in each uvicorn child: argv = root, kind, port, database URL, worker processes.
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from bench.web import serve; serve(*sys.argv[2:])"
)

# wrk script, run with one connection per wrk thread so each thread's request() and response()
# alternate and the thread can time every request itself (LuaJIT's ffi, CLOCK_MONOTONIC): the
# percentiles wrk prints are "corrected" for coordinated omission with synthetic samples.
# Args after `--`: the text every good body contains, then the POST bodies (if any, sent in
# turn as an HTMX form post; with none, wrk GETs the URL). done() prints one JSON line.
# Every request carries the sign-in cookie and CSRF token from the environment (wrk.format
# with a headers table ignores wrk's -H headers, so they are set here).
WRK_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long sec; long nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.sec) * 1000000 + math.floor(tonumber(ts.nsec) / 1000)
end

local threads = {}
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "%S+") do
  paths[#paths + 1] = path
end

-- Thread n works on path n (round robin): each client its own decision, as people each on
-- their own draft; with no paths, every thread uses the URL's.
function setup(thread)
  table.insert(threads, thread)
  if #paths > 0 then
    thread:set("path", paths[((#threads - 1) % #paths) + 1])
  end
end

function init(args)
  needle = args[1]
  bad, sent, answered, started, lat = 0, 0, 0, 0, {}
  reqs = {}
  local auth = {
    ["Cookie"] = assert(os.getenv("BENCH_COOKIE_HEADER"), "BENCH_COOKIE_HEADER not set"),
    ["X-CSRF-Token"] = assert(os.getenv("BENCH_CSRF_TOKEN"), "BENCH_CSRF_TOKEN not set"),
  }
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["HX-Request"] = "true"}
  for k, v in pairs(auth) do
    headers[k] = v
  end
  for i = 2, #args do
    reqs[#reqs + 1] = wrk.format("POST", path, headers, args[i])
  end
  if #reqs == 0 then
    reqs[1] = wrk.format("GET", path, auth)
  end
end

function request()
  sent = sent + 1
  started = now_us()
  return reqs[(sent % #reqs) + 1]
end

function response(status, headers, body)
  lat[#lat + 1] = now_us() - started
  answered = answered + 1
  if status < 200 or status > 299 or body == nil or not string.find(body, needle, 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  -- wrk calls request() once in the first thread to check the script, and again for the
  -- request in flight when a socket error made it reconnect: neither is left open.
  local e = summary.errors
  local bad, open, all = 0, -1 - e.read - e.write, {}
  for _, t in ipairs(threads) do
    bad = bad + t:get("bad")
    open = open + t:get("sent") - t:get("answered")
    for _, v in ipairs(t:get("lat")) do
      all[#all + 1] = v
    end
  end
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "bad": %d, "open": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "wrk_p95_us": %d, "latencies_us": [%s]}\n',
    summary.requests, summary.duration, bad, math.max(open, 0), e.connect, e.read, e.write,
    latency:percentile(95), table.concat(all, ",")))
end
"""


@dataclasses.dataclass(frozen=True)
class Target:
    """One measured endpoint: which server, what to send, what every good response contains."""

    label: str
    kind: str  # "atrest" or "bare"
    path: str
    needle: str
    bodies: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # one per client in turn (each its own decision); () = path


@dataclasses.dataclass(frozen=True)
class Result:
    """The figures of one measured run."""

    requests: int
    errors: int
    error_detail: str
    open: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    wrk_p95_ms: float
    server_cpu: float
    client_cpu: float
    recovered: bool = True  # the server answered again soon after the run


def bare_app() -> FastAPI:
    """The ceiling: FastAPI with one endpoint and nothing else."""
    app = FastAPI()

    @app.get("/")
    async def bare() -> HTMLResponse:
        """A tiny page."""
        return HTMLResponse(BARE_BODY)

    return app


def serve(kind: str, port: str, database_url: str, workers: str = "1") -> None:
    """Child process: serve the atrest app or the bare app with uvicorn until terminated; with
    several workers as `atrest serve --workers N` does (uvicorn's supervisor, the app built in
    each worker by its factory from the environment)."""
    options: dict[str, object] = {
        "host": "127.0.0.1",
        "port": int(port),
        "reload": False,
        "access_log": False,
        "log_level": "warning",
    }
    if int(workers) > 1:
        os.environ["ATREST_DATABASE_URL"] = database_url
        factory = "app.main:serve_worker" if kind == "atrest" else "bench.web:bare_app"
        uvicorn.run(factory, factory=True, workers=int(workers), **options)  # type: ignore[arg-type]
        return
    app = create_app(Settings(database_url=database_url)) if kind == "atrest" else bare_app()
    uvicorn.run(app, workers=1, **options)  # type: ignore[arg-type]


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(
    kind: str, database_url: str, workdir: Path, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start a uvicorn child, wait until it answers, yield (base URL, process); always stop it."""
    port = free_port()
    log_path = workdir / f"{kind}-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(ROOT), kind, str(port), database_url, str(workers)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_ready(base + READY_PATH[kind], proc):
            raise RuntimeError(f"{kind} server did not start:\n{_tail(log_path)}")
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], limit_s: float = 60) -> bool:
    """Whether the server answers url with 200 within limit_s (False at once if it exited)."""
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(httpx2.TransportError):
            if httpx2.get(url, timeout=limit_s).status_code == 200:
                return True
        time.sleep(0.1)
    return False


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclasses.dataclass(frozen=True)
class Login:
    """A sign-in session of the bench's account: what a signed-in browser holds."""

    cookie: str
    csrf: str

    def headers(self) -> dict[str, str]:
        """The headers that sign a request in and pass the CSRF check."""
        return {"Cookie": f"{SESSION_COOKIE}={self.cookie}", CSRF_HEADER: self.csrf}

    def env(self) -> dict[str, str]:
        """The environment the wrk Lua script reads them from."""
        return {COOKIE_ENV: f"{SESSION_COOKIE}={self.cookie}", CSRF_ENV: self.csrf}


@contextlib.contextmanager
def signed_in(database_url: str) -> Iterator[Login]:
    """An "architect" account (no password, a fresh name) and a sign-in session for it, made
    straight in the (migrated) database; the session is ended afterwards."""
    engine = make_engine(Settings(database_url=database_url))
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            session.info["actor"] = "bench"
            user = accounts.create_user(
                session=session, name=f"bench-{secrets.token_hex(4)}", role="architect"
            )
            row, cookie = accounts.start_session(session=session, user=user)
            login = Login(cookie=cookie, csrf=row.csrf_token)
            session.commit()
        try:
            yield login
        finally:
            with sessions() as session:
                session.info["actor"] = "bench"
                accounts.end_session(session=session, cookie=login.cookie)
                session.commit()
    finally:
        engine.dispose()


def seed_decision(base: str, login: Login) -> int:
    """Create and finish one decision through the pages, as a browser without JavaScript would."""
    with httpx2.Client(base_url=base, timeout=30, headers=login.headers()) as client:
        created = client.post("/decisions/new", data={"title": "Benchmark decision"})
        match = re.search(r"/decisions/(\d+)/edit\?step=1$", created.headers.get("location", ""))
        if created.status_code != 303 or match is None:
            raise RuntimeError(f"POST /decisions/new: {created.status_code} {created.headers}")
        decision_id = int(match.group(1))
        finished = client.post(
            f"/decisions/{decision_id}/edit?step=1",
            data={"audit_key_usage": "true", "nav": "finish"},
        )
        location = finished.headers.get("location", "")
        if finished.status_code != 303 or not location.endswith(f"/decisions/{decision_id}"):
            raise RuntimeError(f"finishing the decision: {finished.status_code} {location!r}")
    return decision_id


def check_once(url: str, target: Target, login: Login) -> None:
    """One request as the load generator will send it; stop early with the reason if it fails."""
    if target.bodies:
        headers = {
            "HX-Request": "true",
            "Content-Type": "application/x-www-form-urlencoded",
            **login.headers(),
        }
        response = httpx2.post(url, content=target.bodies[0], headers=headers, timeout=30)
    else:
        response = httpx2.get(url, headers=login.headers(), timeout=30)
    if response.status_code != 200 or target.needle not in response.text:
        raise RuntimeError(
            f"{target.label}: {response.status_code}, expected {target.needle!r} in:\n"
            f"{response.text[:800]}"
        )


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process and every process under it (its worker
    processes), from Linux /proc; 0.0 where unavailable."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, CPU seconds)
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        stats[int(path.parent.name)] = (int(fields[1]), cpu)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def percentile(ordered: list[float], p: float) -> float:
    """The nearest-rank percentile of sorted values (nan when there are none)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def run_wrk(
    wrk: str,
    script: Path,
    url: str,
    target: Target,
    clients: int,
    seconds: int,
    server_pid: int,
    login: Login,
) -> Result:
    """Run wrk against one target; return its figures and the CPU both sides used."""
    cmd = [
        wrk,
        f"--threads={clients}",
        f"--connections={clients}",
        f"--duration={seconds}s",
        # wrk leaves answers slower than its timeout out of its counts; none may be left out.
        f"--timeout={seconds + 1}s",
        f"--script={script}",
        url,
        "--",
        target.needle,
        *target.bodies,
    ]
    server_before, client_before = _cpu_seconds(server_pid), _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
        env={**os.environ, **login.env(), "BENCH_PATHS": " ".join(target.paths)},
    )
    wall = time.perf_counter() - start
    server_cpu = (_cpu_seconds(server_pid) - server_before) / wall
    client_cpu = (_children_cpu() - client_before) / wall
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    data = json.loads(line.removeprefix("BENCH "))
    sockets = {k: data[k] for k in ("connect", "read", "write") if data[k]}
    detail = ", ".join(
        [f"{data['bad']} non-2xx or wrong body"] * bool(data["bad"])
        + [f"{n} socket {k}" for k, n in sockets.items()]
    )
    latencies = sorted(v / 1000 for v in data["latencies_us"])
    return Result(
        requests=data["requests"],
        errors=data["bad"] + sum(sockets.values()),
        error_detail=detail,
        open=data["open"],
        rps=(data["requests"] - data["bad"]) / (data["duration_us"] / 1e6),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        wrk_p95_ms=data["wrk_p95_us"] / 1000 if latencies else math.nan,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


def print_machine(
    wrk: str, database_url: str, clients: int, seconds: int, workers: list[int]
) -> None:
    """Machine facts and the set-up, so figures from different machines can be compared."""
    cpu = "unknown cpu"
    with contextlib.suppress(OSError):
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            cpu,
        )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout
    have = {m: importlib.util.find_spec(m) is not None for m in ("uvloop", "httptools")}
    print(
        f"machine: {os.cpu_count()} cores ({usable} usable), {cpu}, {platform.system()} "
        f"{platform.release()}"
    )
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    print(
        f"server: uvicorn {importlib.metadata.version('uvicorn')}, "
        f"{' then '.join(str(n) for n in workers)} worker process(es), access log off, "
        f"loop {'uvloop' if have['uvloop'] else 'asyncio'}, "
        f"http {'httptools' if have['httptools'] else 'h11'}; "
        f"fastapi {importlib.metadata.version('fastapi')}"
    )
    print(f"database: {make_url(database_url).render_as_string(hide_password=True)}")
    print(
        f"load generator: {wrk_version.splitlines()[0] if wrk_version else wrk}, "
        f"{clients} threads x 1 keep-alive connection (closed loop), {seconds} s per target "
        f"after a {min(WARMUP_S, seconds)} s warm-up on one connection;\n  latency timed per "
        "request by the "
        "Lua script; server and client share the machine"
    )


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def print_results(results: dict[str, Result], warm: dict[str, Result], bare_label: str) -> None:
    """The table, the ratios to the bare endpoint, and the targets."""
    header = (
        f"{'target':<34} {'requests':>8} {'errors':>6} {'open':>4} {'req/s':>6} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8} {'server CPU':>10} {'wrk CPU':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for label, r in results.items():
        print(
            f"{label:<34} {r.requests:>8,} {r.errors:>6,} {r.open:>4,} {r.rps:>6,.0f} "
            f"{_ms(r.p50_ms):>8} {_ms(r.p95_ms):>8} {_ms(r.p99_ms):>8} {r.server_cpu:>10.0%} "
            f"{r.client_cpu:>7.0%}"
        )
    print(
        "errors: non-2xx, wrong body or socket errors; open: sent but unanswered when the run "
        "ended\n(at most one per client; all of them and a low server CPU mean the server "
        "stalled); req/s: good answers;\nCPU: share of one core over the run"
    )
    for label, r in results.items():
        if r.errors:
            print(f"  errors in {label}: {r.error_detail}")
        if not r.recovered:
            print(
                f"  after {label} the server did not answer within {RECOVERY_S} s (still stalled);"
                " each target runs on a fresh server"
            )
    print()
    print("for comparison: the warm-up on one connection; wrk's own p95 (synthetic samples added)")
    for label, r in results.items():
        w = warm[label]
        print(
            f"  {label}: {w.rps:,.0f} req/s, p50 {_ms(w.p50_ms)} ms, {w.errors} errors; "
            f"wrk's p95 {_ms(r.wrk_p95_ms)} ms"
        )
    bare = results[bare_label].rps or math.nan
    print()
    print("throughput relative to the bare endpoint:")
    for label, r in results.items():
        if label != bare_label:
            print(f"  {label}: {r.rps:,.0f} / {bare:,.0f} = {r.rps / bare:.2f}")
    print()
    print("targets:")
    for label, r in results.items():
        if label == bare_label:
            continue
        share = r.rps / bare
        stalled = r.requests == 0 or not r.recovered
        for what, ok in (
            (f"p95 {_ms(r.p95_ms)} ms <= {TARGET_P95_MS:.0f} ms", r.p95_ms <= TARGET_P95_MS),
            (
                f"throughput {share:.0%} of bare >= {TARGET_SHARE_OF_BARE:.0%}",
                share >= TARGET_SHARE_OF_BARE,
            ),
            (
                f"{r.errors} errors, {'stalled' if stalled else 'no stall'}",
                not r.errors and not stalled,
            ),
        ):
            print(f"  {label}: {what}: {'PASS' if ok else 'NOT MET'}")


def run(
    wrk: str,
    clients: int,
    seconds: int,
    database_url: str | None,
    workers: list[int],
    decisions: int,
) -> None:
    """Seed, then measure each target on a freshly started server, print; always clean up."""
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="atrest-bench-")))
        database_url = database_url or f"sqlite:///{workdir / 'atrest.db'}"
        upgrade_database(Settings(database_url=database_url))
        script = workdir / "bench.lua"
        script.write_text(WRK_LUA)
        login = stack.enter_context(signed_in(database_url))
        print_machine(wrk, database_url, clients, seconds, workers)
        with server("atrest", database_url, workdir) as (base, _):
            ids = [seed_decision(base, login) for _ in range(decisions)]
        print(
            f"seeded {len(ids)} decision(s) through POST /decisions/new and their step 1; "
            f"client n works on decision n mod {len(ids)}"
        )
        plan = [
            Target(
                "(1) HTMX panel POST draft?step=1",
                "atrest",
                f"/decisions/{ids[0]}/draft?step=1",
                'id="panel"',
                ("audit_key_usage=true", "audit_key_usage=false"),
                tuple(f"/decisions/{i}/draft?step=1" for i in ids),
            ),
            Target(
                "(2) result page GET /decisions/N",
                "atrest",
                f"/decisions/{ids[0]}",
                "Recommendation:",
                (),
                tuple(f"/decisions/{i}" for i in ids),
            ),
            Target("(3) bare endpoint GET /", "bare", "/", "<p>ok</p>"),
        ]
        for count in workers:
            results: dict[str, Result] = {}
            warm: dict[str, Result] = {}
            print(f"\n== {count} worker process(es) per server (the bare endpoint's too) ==")
            for target in plan:
                # A fresh server per target, so a target that wedges it cannot spoil the next.
                with server(target.kind, database_url, workdir, count) as (base, proc):
                    url = base + target.path
                    check_once(url, target, login)
                    print(f"measuring {target.label} ...", flush=True)
                    # Warm-up on one connection: primes caches and pools, cannot wedge it.
                    warm[target.label] = run_wrk(
                        wrk, script, url, target, 1, min(WARMUP_S, seconds), proc.pid, login
                    )
                    result = run_wrk(wrk, script, url, target, clients, seconds, proc.pid, login)
                    recovered = wait_ready(base + READY_PATH[target.kind], proc, RECOVERY_S)
                    results[target.label] = dataclasses.replace(result, recovered=recovered)
            print_results(results, warm, plan[-1].label)


def main() -> None:
    """Parse the arguments, check for wrk, run the benchmark; a failure ends it with a message."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--seconds", type=int, default=30, help="measured seconds per target")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temp folder")
    parser.add_argument(
        "--decisions",
        type=int,
        default=0,
        help="decisions the clients work on, client n on decision n mod N (default: one per "
        "client, as people each on their own draft; 1: every client on the same one)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="worker processes per server, as `atrest serve --workers N`; several values "
        "measure each in turn (e.g. --workers 1 2)",
    )
    args = parser.parse_args()
    if args.clients < 1 or args.seconds < 1 or min(args.workers) < 1 or args.decisions < 0:
        parser.error("--clients, --seconds and --workers must be at least 1 (--decisions 0+)")
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("bench/web.py needs wrk: apt-get install -y wrk")
    # SIGTERM unwinds like Ctrl-C, so the servers are stopped and the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    try:
        decisions = args.decisions or args.clients
        run(wrk, args.clients, args.seconds, args.database_url, args.workers, decisions)
    except (RuntimeError, httpx2.HTTPError) as exc:
        sys.exit(f"bench/web.py: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench/web.py: interrupted; servers stopped, temporary files removed")


if __name__ == "__main__":
    main()
