"""The `atrest demo` process: dummy credentials, the moto server, seeding, and uvicorn.

Nothing can reach AWS: every client is pointed at the loopback moto server and the process
runs with dummy credentials and no profile.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from sqlalchemy import select

from app.accounts.models import User
from app.core.config import Settings
from app.demo.decision import SAMPLE_TITLE, create_sample_decision
from app.demo.fidelity import moto_fidelity
from app.demo.world import DEMO_REGION, TRAIL_NAME, DemoBucket, seed
from app.probe.target import Target

INSTALL_HINT = "pip install -e '.[demo]' in the atrest checkout (or make demo)"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
# Anything that could make boto3 in this process pick other credentials or another endpoint.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class DemoUnavailable(RuntimeError):
    """The demo cannot start (moto missing, port taken): the CLI exits 2 with the message."""


@contextmanager
def dummy_credentials(region: str = DEMO_REGION) -> Iterator[None]:
    """Dummy AWS credentials and no profile in this process while open (then restored)."""
    names = (*DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED")
    saved = {name: os.environ.get(name) for name in (*names, *CLEARED_VARIABLES)}
    for name in CLEARED_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(DUMMY_CREDENTIALS)
    os.environ.update(AWS_DEFAULT_REGION=region, AWS_EC2_METADATA_DISABLED="true")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def moto_server(port: int = 0) -> Iterator[str]:
    """A moto server on 127.0.0.1 and `port` (0: a free one), while open; yields its URL.

    Raises:
        DemoUnavailable: moto (with its server extra) is not installed, or the port is taken.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise DemoUnavailable(
            f"the demo needs moto's server ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    # One log line per request would bury the demo's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if port:
        check_port("127.0.0.1", port, option="--moto-port")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def check_port(host: str, port: int, *, option: str = "--port") -> None:
    """Raise DemoUnavailable when a server could not listen on host:port (`option` chooses
    another)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            trial.bind(address)
    except OSError as exc:
        raise DemoUnavailable(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another server may be "
            f"running there: choose another port with {option}"
        ) from None


@dataclass(frozen=True)
class _Started:
    """What run_demo started, for the announcement."""

    app_url: str
    decision_id: int
    moto_url: str
    database_url: str
    temporary: bool
    buckets: Sequence[DemoBucket]


def _announce(echo: Callable[[str], object], s: _Started) -> None:
    """Say what was started, what was seeded, and how to probe it from another terminal."""
    width = max(len(b.name) for b in s.buckets)
    database = s.database_url + ("  (deleted on exit)" if s.temporary else "")
    lines = [
        "atrest demo: everything runs on this machine; nothing reaches AWS.",
        f"  web app          {s.app_url}/",
        f"  sample decision  {s.app_url}/decisions/{s.decision_id}  ({SAMPLE_TITLE})",
        f"  moto server      {s.moto_url}  (S3, KMS, CloudTrail, STS; dummy credentials)",
        f"  database         {database}",
        "",
        "Sign in as "
        + ", ".join(f"{name} ({role})" for name, role in DEMO_ACCOUNTS)
        + f", password {DEMO_PASSWORD}",
        "",
        "Seeded buckets and the probe's verdict on each against sse-kms-cmk:",
        *(
            f"  {b.expected_status:<4}  {b.region:<9}  {b.name:<{width}}  {b.description}"
            for b in s.buckets
        ),
        f"  and trail {TRAIL_NAME}: logging, multi-Region, management events with KMS",
        "",
        "Probe them from another terminal:",
        "  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo atrest probe --option sse-kms-cmk "
        f"--endpoint-url {s.moto_url} --region {DEMO_REGION}",
        "  (add --sample-objects 5 to read objects too; with "
        f"ATREST_DATABASE_URL={s.database_url}, --decision {s.decision_id} instead of --option "
        "checks against the sample decision, audit trail included)",
        "",
        "Ctrl-C stops the web app and the moto server.",
    ]
    for line in lines:
        echo(line)


def _open_when_started(server: Any, url: str) -> None:
    """Open `url` in a browser once uvicorn is up (giving up after 15 s), from a thread."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.started:
            webbrowser.open(url)

    threading.Thread(target=wait_then_open, daemon=True).start()


#: One account per role, to see what each may do (the demo is local and temporary).
DEMO_ACCOUNTS = (("ada", "admin"), ("ari", "architect"), ("aud", "auditor"), ("vic", "viewer"))
DEMO_PASSWORD = "demo-passphrase"


def _demo_accounts(session: Any) -> None:
    """Create the demo's accounts, unless a database given with --database-url has them."""
    from app.accounts import service as accounts

    for name, role in DEMO_ACCOUNTS:
        if session.scalar(select(User.id).where(User.name == name)) is None:
            accounts.create_user(session=session, name=name, role=role, password=DEMO_PASSWORD)


def _prepare(settings: Settings, moto_url: str) -> tuple[list[DemoBucket], int]:
    """Seed moto, migrate the database, save the sample decision; return (buckets, its id)."""
    from app.advisor import get_engine
    from app.core.db import make_engine, make_sessionmaker, upgrade_database

    buckets = seed(moto_url)
    sts = boto3.client("sts", endpoint_url=moto_url, region_name=DEMO_REGION)
    account = str(sts.get_caller_identity()["Account"])
    upgrade_database(settings)
    db = make_engine(settings)
    try:
        with make_sessionmaker(db)() as session, session.begin():
            session.info["actor"] = "demo"
            _demo_accounts(session)
            decision_id = create_sample_decision(
                session=session,
                engine=get_engine(settings.rules_dir),
                buckets=[b.name for b in buckets],
                account=account,
            )
    finally:
        db.dispose()
    return buckets, decision_id


def run_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    moto_port: int = 0,
    database_url: str | None = None,
    open_browser: bool = False,
    echo: Callable[[str], object] = print,
) -> None:
    """Start moto, seed it, save the sample decision and serve the web app until Ctrl-C.

    The default database is a SQLite file in a temporary folder, deleted on exit: moto keeps
    its buckets in memory only, so a lasting database would keep decisions and probe results
    about buckets that no longer exist, and gain one more sample decision per run.

    Args:
        host: Address the web app listens on.
        port: Its port.
        moto_port: The moto server's port on 127.0.0.1 (0: a free one).
        database_url: A database to use instead of the temporary one.
        open_browser: Open the sample decision in a browser once the app is up.
        echo: Where the announcement goes, line by line.

    Raises:
        DemoUnavailable: moto is not installed, or the port is taken.
    """
    import uvicorn

    from app.core.network import uvicorn_options
    from app.main import create_app

    check_port(host, port)
    with ExitStack() as stack:
        stack.enter_context(dummy_credentials())
        moto_url = stack.enter_context(moto_server(moto_port))
        stack.enter_context(moto_fidelity())
        temporary = database_url is None
        if database_url is None:
            folder = tempfile.TemporaryDirectory(prefix="atrest-demo-", ignore_cleanup_errors=True)
            database_url = f"sqlite:///{Path(stack.enter_context(folder)) / 'atrest-demo.db'}"
        target = Target(
            name="demo",
            label="Demo account (moto on 127.0.0.1)",
            endpoint_url=moto_url,
            region=DEMO_REGION,
        )
        settings = Settings(database_url=database_url, probe_targets=[target], host=host, port=port)
        buckets, decision_id = _prepare(settings, moto_url)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        app_url = f"http://{shown}:{port}"
        started = _Started(app_url, decision_id, moto_url, database_url, temporary, buckets)
        _announce(echo, started)
        config = uvicorn.Config(
            create_app(settings), host=host, port=port, **uvicorn_options(settings)
        )
        server = uvicorn.Server(config)
        if open_browser:
            _open_when_started(server, f"{app_url}/decisions/{decision_id}")
        # uvicorn re-raises the Ctrl-C it has handled: stopping is the demo's normal end.
        with suppress(KeyboardInterrupt):
            server.run()
    echo("atrest demo: stopped; the moto server and its buckets are gone.")
