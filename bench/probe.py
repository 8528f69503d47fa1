"""Benchmark of the live probe: 1,000 buckets on moto, against a bare boto3 loop and Prowler.

Run with `.venv/bin/python bench/probe.py [--buckets 1000] [--keys 20] [--concurrency 16]
[--latency-ms 50] [--repeat 3] [--no-prowler | --prowler PATH | --install-prowler]
[--prowler-latency]` (about 5 minutes on 2 idle cores, 3 of them Prowler's).
Targets (the probe issue): at most 3 API calls per bucket on average (no object sampling);
at most 1.2 times the wall time of the bare loop, with and without added latency; at least
5 times faster than Prowler's `s3_bucket_kms_encryption` and `kms_cmk_rotation_enabled`.

What runs: moto's own `moto_server` in a separate process on a free 127.0.0.1 port (not
ThreadedMotoServer in this process: the server's request handling would then share this
process's GIL with the probe's threads, and a slower server would flatten the difference
between atrest and the bare loop). It is seeded with --buckets buckets in mixed
configurations (no explicit encryption; AES256; aws:kms with one of --keys customer keys,
half of them rotating, with or without a bucket key or a bucket policy; aws:kms with the
aws/s3 key) by plain boto3 clients. Then, for each setting, best of --repeat, interleaved:
  atrest: `run_probe` for option sse-kms-cmk over every bucket at --concurrency; its clients
    are observed, never replaced (app.probe.runner's make_client is wrapped and botocore
    `before-call`/`before-send` handlers count API calls and HTTP attempts).
  bare: the fewest calls that reach the same facts, at the same concurrency, with plain boto3
    clients of the same retry configuration: ListBuckets (paginated), per bucket
    GetBucketEncryption and GetBucketPolicy, per distinct key DescribeKey and (for a customer
    key) GetKeyRotationStatus, once each.
  Prowler (when found; once, without latency, unless --prowler-latency): its command with
    those two checks, same server and Region, at its own concurrency (Prowler 5.46: 10 threads
    per S3 call kind, GetBucketLocation one bucket at a time); compared with the `atrest probe`
    command run just before it (both wall times include the start-up).
Settings: no latency (straight to moto), then +--latency-ms through a reverse proxy on loopback
(a child process running asyncio) that holds every chunk a client sends for that long before
forwarding it: each request pays the latency once, whichever client sends it, answers come back
at once, and TCP handshakes are not delayed.

Prowler lives in its own virtualenv, by default ~/.cache/atrest/prowler-venv (outside the
work tree); --install-prowler creates it (`pip install prowler`, about 2.3 GB, minutes).
Prowler's API calls are counted on the server (moto's request log), atrest's and the bare
loop's by botocore. Limits: one machine (2 cores here) runs the client, the server and the
proxy; moto answers slower than AWS and without throttling; the proxy's latency is one-way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import dataclasses
import functools
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from botocore.client import BaseClient  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from app.advisor.loader import load_ruleset  # noqa: E402
from app.probe import runner  # noqa: E402
from app.probe.session import MAX_ATTEMPTS, MAX_POOL_CONNECTIONS  # noqa: E402
from app.probe.target import Target  # noqa: E402

OPTION = "sse-kms-cmk"
REGION = "eu-west-1"
TARGET_CALLS_PER_BUCKET = 3.0
TARGET_RATIO_TO_BARE = 1.2
TARGET_PROWLER_SPEEDUP = 5.0
PROWLER_CHECKS = ("s3_bucket_kms_encryption", "kms_cmk_rotation_enabled")
PROWLER_VENV = Path(
    os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "atrest", "prowler-venv"
)
COMMAND_TIMEOUT_S = 900
SEED_THREADS = 16
DUMMY_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
CLEARED_ENVIRONMENT = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_ROLE_ARN")
# moto's request log: `"GET /bucket?policy HTTP/1.1" 200 -`, coloured (ANSI) when not a 200.
MOTO_REQUEST_LINE = re.compile(rb" HTTP/1\.[01](?:\x1b\[[0-9;]*m)?\" \d{3} ")
# Runs in the proxy child: argv = root, upstream port, delay in ms; prints its port.
PROXY_CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); from bench.probe import serve_proxy; "
    "serve_proxy(*sys.argv[2:])"
)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One bucket configuration of the mix."""

    label: str
    algorithm: str | None  # None: no explicit default encryption
    key: str | None = None  # "cmk" (one of the customer keys) or "aws/s3" (no key id)
    bucket_key: bool = False
    policy: bool = False


MIX = (
    Kind("no explicit encryption", None),
    Kind("AES256", "AES256"),
    Kind("AES256 + policy", "AES256", policy=True),
    Kind("aws:kms, customer key", "aws:kms", "cmk"),
    Kind("aws:kms, customer key, bucket key", "aws:kms", "cmk", bucket_key=True),
    Kind("aws:kms, customer key, bucket key, policy", "aws:kms", "cmk", True, True),
    Kind("aws:kms, aws/s3 key", "aws:kms", "aws/s3"),
)


@dataclasses.dataclass
class Calls:
    """API calls (botocore before-call, retries excluded) and HTTP attempts per operation."""

    calls: Counter[str] = dataclasses.field(default_factory=Counter)
    attempts: Counter[str] = dataclasses.field(default_factory=Counter)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def on_call(self, model: Any = None, **_: Any) -> None:
        """Count one API call."""
        with self.lock:
            self.calls[str(model.name)] += 1

    def on_send(self, event_name: str = "", **_: Any) -> None:
        """Count one HTTP attempt."""
        with self.lock:
            self.attempts[event_name.rsplit(".", 1)[-1]] += 1

    def watch(self, client: BaseClient) -> BaseClient:
        """Register the counters on a client; return it."""
        client.meta.events.register("before-call", self.on_call, unique_id="bench-call")
        client.meta.events.register("before-send", self.on_send, unique_id="bench-send")
        return client


@dataclasses.dataclass(frozen=True)
class Run:
    """One measured run of atrest or the bare loop."""

    wall: float
    cpu: float  # CPU seconds of this process (all threads) during the run
    calls: Counter[str]
    attempts: int
    buckets: int
    detail: str  # what was found, to check both saw the same world
    server_cpu: float = 0.0  # CPU seconds of the moto process during the run


@dataclasses.dataclass(frozen=True)
class CommandRun:
    """One run of a command (Prowler, `atrest probe`): wall time, requests moto saw, or why not."""

    wall: float = 0.0
    requests: int = 0
    detail: str = ""
    failed: str = ""  # why it did not run or did not finish; empty when it did


# Servers ----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """Start moto_server as a child process; yield (URL, request log, process); always stop it."""
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    port = free_port()
    log = workdir / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{url}/moto-api/", timeout=5) as response,
            ):
                if response.status == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, log, proc
    finally:
        _stop(proc)


@contextlib.contextmanager
def latency_proxy(upstream: str, delay_ms: float) -> Iterator[str]:
    """Start the delaying reverse proxy in front of `upstream` (a child process); yield its URL."""
    port = upstream.rsplit(":", 1)[1]
    proc = subprocess.Popen(
        [sys.executable, "-c", PROXY_CHILD, str(ROOT), port, str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            raise RuntimeError(f"latency proxy did not start (exit {proc.poll()})")
        yield f"http://127.0.0.1:{line}"
    finally:
        _stop(proc)


async def _forward(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float
) -> None:
    """Copy reader to writer, holding each chunk `delay_s` first.

    A request without a body (every read here) reaches the proxy as one chunk, and the next
    request on a connection only follows the previous answer: each request is delayed once.
    """
    while data := await reader.read(65536):
        if delay_s:
            await asyncio.sleep(delay_s)
        writer.write(data)
        await writer.drain()


def serve_proxy(upstream_port: str, delay_ms: str) -> None:
    """Child process: forward 127.0.0.1:<free port> to upstream_port, requests delayed."""
    delay_s = float(delay_ms) / 1000

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", int(upstream_port))
        except OSError:
            client_w.close()
            return
        directions = [
            asyncio.ensure_future(_forward(client_r, server_w, delay_s)),
            asyncio.ensure_future(_forward(server_r, client_w, 0.0)),
        ]
        # Either side closing (or failing) ends the connection on both sides.
        await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        for task in directions:
            task.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
        for writer in (client_w, server_w):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=512)
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()

    # Nothing to flush or close: end at once, without asyncio's complaints about open tasks.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    asyncio.run(main())


def moto_requests(log: Path) -> int:
    """How many requests moto has logged so far."""
    return len(MOTO_REQUEST_LINE.findall(log.read_bytes()))


# The world --------------------------------------------------------------------------------


def _policy(bucket: str) -> str:
    """A bucket policy denying plain HTTP and writes without aws:kms."""
    arn = f"arn:aws:s3:::{bucket}"
    deny: dict[str, Any] = {"Effect": "Deny", "Principal": "*"}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                deny
                | {
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                deny
                | {
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {
                        "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}
                    },
                },
            ],
        }
    )


def seed(url: str, buckets: int, keys: int) -> Counter[str]:
    """Create the keys (half rotating) and the buckets of the mix; return buckets per kind."""
    session = boto3.Session(region_name=REGION)
    kms = session.client("kms", endpoint_url=url)
    arns = [kms.create_key(Description=f"bench {i}")["KeyMetadata"]["Arn"] for i in range(keys)]
    for arn in arns[::2]:
        kms.enable_key_rotation(KeyId=arn)
    names = [f"bench-{i:05d}" for i in range(buckets)]
    # Clients are made here, in one thread; each seeding thread uses its own.
    clients = [session.client("s3", endpoint_url=url) for _ in range(SEED_THREADS)]

    def arrange(index: int) -> None:
        s3 = clients[index]
        for i in range(index, buckets, SEED_THREADS):
            name, kind = names[i], MIX[i % len(MIX)]
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            if kind.algorithm is not None:
                default = {"SSEAlgorithm": kind.algorithm}
                if kind.key == "cmk":
                    default["KMSMasterKeyID"] = arns[i % keys]
                rule = {"ApplyServerSideEncryptionByDefault": default}
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [rule | {"BucketKeyEnabled": kind.bucket_key}]
                    },
                )
            if kind.policy:
                s3.put_bucket_policy(Bucket=name, Policy=_policy(name))

    with ThreadPoolExecutor(max_workers=SEED_THREADS) as pool:
        list(pool.map(arrange, range(SEED_THREADS)))
    return Counter(MIX[i % len(MIX)].label for i in range(buckets))


# The three clients ------------------------------------------------------------------------


def run_atrest(url: str, concurrency: int, configuration: dict[str, Any]) -> Run:
    """run_probe over every bucket, its clients observed; the figures of the run."""
    observed = Calls()
    # The runner imported make_client by name: wrap the name in the runner's namespace.
    real: Callable[..., BaseClient] = vars(runner)["make_client"]
    vars(runner)["make_client"] = lambda *a, **k: observed.watch(real(*a, **k))
    try:
        cpu, start = time.process_time(), time.perf_counter()
        result = runner.run_probe(
            option=OPTION,
            configuration=configuration,
            target=Target(endpoint_url=url, region=REGION),
            concurrency=concurrency,
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        vars(runner)["make_client"] = real
    statuses = result["summary"].items()
    detail = "statuses " + ", ".join(f"{k} {v}" for k, v in statuses if k != "buckets" and v)
    attempts = sum(observed.attempts.values())
    return Run(wall, cpu, observed.calls, attempts, len(result["buckets"]), detail)


def run_bare(url: str, concurrency: int) -> Run:
    """The fewest calls that give the same facts, plain boto3, same concurrency and retries."""
    observed = Calls()
    config = Config(
        retries={"mode": "adaptive", "max_attempts": MAX_ATTEMPTS},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    cpu, start = time.process_time(), time.perf_counter()
    session = boto3.Session(region_name=REGION)
    s3 = observed.watch(session.client("s3", endpoint_url=url, config=config))
    kms = observed.watch(session.client("kms", endpoint_url=url, config=config))
    keys: dict[str, Future[bool | None]] = {}
    lock = threading.Lock()

    def rotates(ref: str) -> bool | None:
        """Whether the key rotates (None: not a customer key), asked once per key."""
        with lock:
            owner = ref not in keys
            future = keys.setdefault(ref, Future())
        if owner:
            meta = kms.describe_key(KeyId=ref)["KeyMetadata"]
            answer = None
            if meta["KeyManager"] == "CUSTOMER" and meta.get("KeySpec") == "SYMMETRIC_DEFAULT":
                status = kms.get_key_rotation_status(KeyId=meta["Arn"])
                answer = bool(status["KeyRotationEnabled"])
            future.set_result(answer)
        return future.result()

    def one(name: str) -> str:
        try:
            sse = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
            default = sse["Rules"][0]["ApplyServerSideEncryptionByDefault"]
        except ClientError:  # no explicit configuration: S3 applies AES256
            default = {"SSEAlgorithm": "AES256"}
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        except ClientError:
            policy = None
        algorithm = str(default["SSEAlgorithm"])
        if algorithm.startswith("aws:kms"):
            rotates(default.get("KMSMasterKeyID") or "alias/aws/s3")
        return f"{algorithm}{' + policy' if policy else ''}"

    pages = s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 10_000})
    names = [str(b["Name"]) for page in pages for b in page.get("Buckets", [])]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        found = Counter(pool.map(one, names))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    rotating = sum(1 for f in keys.values() if f.result())
    detail = f"{len(keys)} keys ({rotating} rotating), " + ", ".join(
        f"{k} {v}" for k, v in sorted(found.items())
    )
    return Run(wall, cpu, observed.calls, sum(observed.attempts.values()), len(names), detail)


def _run_command(cmd: list[str], url: str, log: Path, out: IO[str]) -> CommandRun:
    """Run a command with AWS_ENDPOINT_URL=url; its wall time and moto's requests, or why not."""
    env = {**os.environ, "AWS_ENDPOINT_URL": url}
    before = moto_requests(log)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True, timeout=COMMAND_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return CommandRun(failed=f"no answer within {COMMAND_TIMEOUT_S} s")
    except OSError as exc:
        return CommandRun(failed=str(exc))
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # atrest exits 1 when a check fails; Prowler runs with -z
        tail = (proc.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        return CommandRun(failed=f"exit {proc.returncode}: {tail}")
    return CommandRun(wall=wall, requests=moto_requests(log) - before)


def run_prowler(prowler: str, url: str, log: Path, workdir: Path) -> CommandRun:
    """Prowler's two checks against url; wall time, moto's requests, findings per check."""
    out = Path(tempfile.mkdtemp(prefix="prowler-", dir=workdir))
    cmd = [prowler, "aws", "--check", *PROWLER_CHECKS, "--region", REGION, "--no-banner"]
    cmd += ["--no-color", "--output-formats", "csv", "--output-directory", str(out), "-z"]
    with (out / "stdout.txt").open("w") as stdout:
        result = _run_command(cmd, url, log, stdout)
    if result.failed:
        return result
    found: Counter[str] = Counter()
    for path in out.glob("*.csv"):
        with path.open(newline="") as f:
            found.update(f"{r['CHECK_ID']} {r['STATUS']}" for r in csv.DictReader(f, delimiter=";"))
    detail = ", ".join(f"{k} {v}" for k, v in sorted(found.items())) or "no findings written"
    return dataclasses.replace(result, detail=detail)


def run_atrest_command(url: str, concurrency: int, log: Path, workdir: Path) -> CommandRun:
    """`atrest probe --format json` over every bucket, as a user runs it; output checked."""
    exe = Path(sys.executable).with_name("atrest")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "app.cli"]
    cmd += ["probe", "--option", OPTION, "--endpoint-url", url, "--region", REGION]
    cmd += ["--concurrency", str(concurrency), "--format", "json"]
    path = workdir / "atrest-probe.json"
    with path.open("w") as out:
        result = _run_command(cmd, url, log, out)
    if result.failed:
        return result
    try:
        buckets = len(json.loads(path.read_text())["buckets"])
    except (ValueError, KeyError, TypeError) as exc:
        return CommandRun(failed=f"unreadable JSON output: {exc!r}")
    return dataclasses.replace(result, detail=f"{buckets:,} buckets in its JSON")


def find_prowler(explicit: str | None, install: bool) -> tuple[str | None, str]:
    """The prowler executable to use, or None and the reason."""
    if explicit:
        path = shutil.which(explicit)
        return (path, "") if path else (None, f"--prowler {explicit}: not an executable")
    exe = PROWLER_VENV / "bin" / "prowler"
    if not exe.exists() and install:
        print(f"installing Prowler into {PROWLER_VENV} (pip install prowler) ...", flush=True)
        pip = str(PROWLER_VENV / "bin" / "pip")  # Prowler 5 wants Python 3.9 to 3.12
        for step in (
            [sys.executable, "-m", "venv", str(PROWLER_VENV)],
            [pip, "install", "prowler"],
        ):
            proc = subprocess.run(step, capture_output=True, text=True)
            if proc.returncode != 0:
                tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
                return None, f"installing it failed ({' '.join(step[:3])} ...): {tail}"
    if exe.exists():
        return str(exe), ""
    return None, f"not found at {exe} (--install-prowler creates it, --prowler PATH names one)"


# The benchmark ----------------------------------------------------------------------------


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc), 0.0 where unavailable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass
class Setting:
    """The figures of one setting: every atrest and bare run, the two commands."""

    label: str
    latency_ms: float
    atrest: list[Run] = dataclasses.field(default_factory=list)
    bare: list[Run] = dataclasses.field(default_factory=list)
    command: CommandRun | None = None
    prowler: CommandRun | None = None

    @property
    def best(self) -> tuple[Run, Run]:
        """The fastest atrest run and the fastest bare run."""
        return min(self.atrest, key=lambda r: r.wall), min(self.bare, key=lambda r: r.wall)


@dataclasses.dataclass(frozen=True)
class World:
    """What every measurement shares: the server, its log, the configuration, Prowler."""

    configuration: dict[str, Any]
    server_pid: int
    log: Path
    workdir: Path
    prowler: str | None
    prowler_reason: str


def measure(setting: Setting, url: str, args: argparse.Namespace, world: World) -> None:
    """--repeat atrest and bare runs, interleaved; then the two commands when asked."""
    print(f"{setting.label}: atrest and the bare loop, {args.repeat} runs each ...", flush=True)
    atrest = functools.partial(run_atrest, url, args.concurrency, world.configuration)
    bare = functools.partial(run_bare, url, args.concurrency)
    for _ in range(args.repeat):
        for runs, work in ((setting.atrest, atrest), (setting.bare, bare)):
            before = server_cpu(world.server_pid)
            run = work()
            runs.append(dataclasses.replace(run, server_cpu=server_cpu(world.server_pid) - before))
    if world.prowler and (args.prowler_latency or not setting.latency_ms):
        print(f"{setting.label}: `atrest probe` and Prowler, once each ...", flush=True)
        setting.command = run_atrest_command(url, args.concurrency, world.log, world.workdir)
        setting.prowler = run_prowler(world.prowler, url, world.log, world.workdir)


def print_machine(args: argparse.Namespace, kinds: Counter[str], prowler: str | None) -> None:
    """Machine facts and the set-up, so figures from different machines can be compared."""
    versions = {p: importlib.metadata.version(p) for p in ("moto", "boto3")}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, load average {load}; python "
        f"{platform.python_version()}, boto3 {versions['boto3']}, moto {versions['moto']} "
        "(moto_server in its own process)"
    )
    print(
        f"world: {args.buckets:,} buckets, {args.keys} customer keys (half rotating); option "
        f"{OPTION}, no object sampling; concurrency {args.concurrency}"
    )
    for label, n in kinds.items():
        print(f"  {n:>6,}  {label}")
    print(
        f"latency setting: +{args.latency_ms:g} ms per request, added by a reverse proxy on "
        "loopback (not a botocore hook), for every client alike"
    )
    if prowler:
        version = subprocess.run([prowler, "--version"], capture_output=True, text=True).stdout
        print(
            f"prowler: {version.strip()} ({prowler}), checks {' '.join(PROWLER_CHECKS)}; its "
            "own concurrency (not --concurrency)"
        )


def _per_bucket(run: Run) -> float:
    return sum(run.calls.values()) / max(1, run.buckets)


def _speedup(s: Setting) -> float | None:
    """Prowler's wall time over `atrest probe`'s, where both ran to the end."""
    if s.prowler is None or s.command is None or s.prowler.failed or s.command.failed:
        return None
    return s.prowler.wall / s.command.wall


def print_results(settings: list[Setting], world: World) -> None:
    """The table, the runs and what each client found, the commands, and the targets."""
    header = (
        f"{'setting':<11} {'atrest s':>8} {'bare s':>7} {'ratio':>5} {'calls/bucket':>12} "
        f"{'buckets/s':>9} {'CPU s atrest/bare':>17} {'moto CPU s':>11} {'prowler s':>9} "
        f"{'prowler/atrest':>14}"
    )
    print()
    print(header)
    print("-" * len(header))
    for s in settings:
        (a, b), speedup = s.best, _speedup(s)
        prowler = f"{s.prowler.wall:>9.1f}" if s.prowler and not s.prowler.failed else f"{'-':>9}"
        print(
            f"{s.label:<11} {a.wall:>8.2f} {b.wall:>7.2f} {a.wall / b.wall:>5.2f} "
            f"{_per_bucket(a):>12.3f} {a.buckets / a.wall:>9,.0f} "
            f"{f'{a.cpu:.1f} / {b.cpu:.1f}':>17} {f'{a.server_cpu:.1f} / {b.server_cpu:.1f}':>11} "
            f"{prowler} "
            f"{'-' if speedup is None else f'{speedup:.1f}':>14}"
        )
    print(
        "best of the runs; ratio: atrest / bare; calls: botocore API calls (retries excluded); "
        "CPU: this\nprocess, all threads, and the moto process, during the best runs; "
        "prowler/atrest: the two\ncommands' wall times, start-up included"
    )
    for s in settings:
        print(f"{s.label}:")
        for name, runs in (("atrest", s.atrest), ("bare", s.bare)):
            best = min(runs, key=lambda r: r.wall)
            calls = ", ".join(f"{op} {n:,}" for op, n in sorted(best.calls.items()))
            walls = ", ".join(f"{r.wall:.2f}" for r in runs)
            print(
                f"  {name}: runs {walls} s; {best.buckets:,} buckets, "
                f"{_per_bucket(best):.3f} calls/bucket: {calls}; {best.attempts:,} HTTP attempts"
            )
            print(f"    found: {best.detail}")
        for name, c in (("atrest probe", s.command), ("prowler", s.prowler)):
            if c is None:
                continue
            if c.failed:
                print(f"  {name}: not run to the end: {c.failed}")
                continue
            print(
                f"  {name}: {c.wall:.1f} s, {c.requests:,} requests to moto "
                f"({c.requests / s.atrest[0].buckets:.1f}/bucket); {c.detail}"
            )
    if world.prowler is None:
        print(f"Prowler: not run: {world.prowler_reason}")
    print()
    print("targets:")
    for s in settings:
        (a, b), speedup = s.best, _speedup(s)
        lines = [
            (
                f"{_per_bucket(a):.2f} API calls per bucket <= {TARGET_CALLS_PER_BUCKET:g}",
                _per_bucket(a) <= TARGET_CALLS_PER_BUCKET,
            ),
            (
                f"{a.wall / b.wall:.2f} x the bare loop <= {TARGET_RATIO_TO_BARE:g}",
                a.wall / b.wall <= TARGET_RATIO_TO_BARE,
            ),
        ]
        if speedup is not None:
            lines.append(
                (
                    f"{speedup:.1f} x faster than Prowler >= {TARGET_PROWLER_SPEEDUP:g}",
                    speedup >= TARGET_PROWLER_SPEEDUP,
                )
            )
        for what, ok in lines:
            print(f"  {s.label}: {what}: {'met' if ok else 'NOT MET'}")
    if not any(_speedup(s) for s in settings):
        reason = world.prowler_reason or "Prowler or `atrest probe` did not run to the end"
        print(f"  faster than Prowler: not measured ({reason})")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")


def run(args: argparse.Namespace) -> None:
    """Start moto, seed it, measure both settings, print; always stop the children."""
    prowler, reason = None, "--no-prowler"
    if not args.no_prowler:
        prowler, reason = find_prowler(args.prowler, args.install_prowler)
    configuration = dict(load_ruleset().options[OPTION].configuration)
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="atrest-bench-")))
        url, log, server = stack.enter_context(moto_server(workdir))
        world = World(configuration, server.pid, log, workdir, prowler, reason)
        start = time.perf_counter()
        kinds = seed(url, args.buckets, args.keys)
        print_machine(args, kinds, prowler)
        print(f"seeded in {time.perf_counter() - start:.1f} s; warming up ...", flush=True)
        run_atrest(url, args.concurrency, configuration)  # imports, first clients: not measured
        run_bare(url, args.concurrency)
        settings = [
            Setting("no latency", 0.0),
            Setting(f"+{args.latency_ms:g} ms", args.latency_ms),
        ]
        measure(settings[0], url, args, world)
        slow = stack.enter_context(latency_proxy(url, args.latency_ms))
        measure(settings[1], slow, args, world)
    print_results(settings, world)


def main() -> None:
    """Parse the arguments, set dummy credentials, run; a failure ends it with a message."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buckets", type=int, default=1_000)
    parser.add_argument("--keys", type=int, default=20, help="customer-managed KMS keys")
    parser.add_argument("--concurrency", type=int, default=16, help="buckets probed at once")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="added to every request")
    parser.add_argument("--repeat", type=int, default=3, help="runs of atrest and bare (best)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--no-prowler", action="store_true", help="skip the Prowler comparison")
    which.add_argument("--prowler", metavar="PATH", help=f"default: {PROWLER_VENV}/bin/prowler")
    which.add_argument(
        "--install-prowler", action="store_true", help=f"create {PROWLER_VENV} if missing"
    )
    parser.add_argument(
        "--prowler-latency",
        action="store_true",
        help="run Prowler in the latency setting too (about 3 minutes more)",
    )
    args = parser.parse_args()
    if min(args.buckets, args.keys, args.concurrency, args.repeat) < 1 or args.latency_ms <= 0:
        parser.error("--buckets, --keys, --concurrency, --repeat and --latency-ms must be > 0")
    # Never AWS: dummy credentials, no profile; every client is given moto's (or the proxy's) URL.
    os.environ.update(DUMMY_ENVIRONMENT)
    for name in CLEARED_ENVIRONMENT:
        os.environ.pop(name, None)
    # SIGTERM unwinds like Ctrl-C, so the servers are stopped and the temp folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run(args)
    except (RuntimeError, ClientError) as exc:
        sys.exit(f"bench/probe.py: {exc}")
    except KeyboardInterrupt:
        sys.exit("bench/probe.py: interrupted; servers stopped, temporary files removed")


if __name__ == "__main__":
    main()
