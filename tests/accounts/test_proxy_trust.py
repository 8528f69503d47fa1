"""Whom the app believes about the caller: the TCP peer of the connection, always; forwarded
headers (X-Forwarded-For, X-Forwarded-Proto, the SSO user header) only when that peer is a
configured proxy. Real uvicorn servers on real sockets: the in-process live server (started
with the same uvicorn options as `atrest serve`) and the `atrest serve` command itself.

Every address is on loopback: 127.0.0.2 plays the trusted proxy (a client socket bound to
it), 127.0.0.1 an untrusted caller on the same machine.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.accounts.limiter import SIGNIN_LIMITER
from app.audit.models import AuditEntry
from app.core.config import Settings
from app.core.db import upgrade_database
from app.main import create_app
from tests.support import COMMAND

PROXY = "127.0.0.2"  # the configured proxy: requests made from a socket bound to it
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """This module's app trusts 127.0.0.2 alone as its SSO proxy."""
    settings = Settings(database_url=database_url, trusted_proxies=[f"{PROXY}/32"])
    upgrade_database(settings)
    return settings


@pytest.fixture(autouse=True)
def fresh_limiter() -> Iterator[None]:
    """The sign-in limiter counts per process: start and end each test with none counted."""
    SIGNIN_LIMITER._failures.clear()
    yield
    SIGNIN_LIMITER._failures.clear()


def make_user(settings: Settings, name: str, role: str = "admin") -> None:
    db = create_engine(settings.database_url)
    try:
        with Session(db) as session:
            accounts.create_user(session=session, name=name, role=role, password=PASSWORD)
            session.commit()
    finally:
        db.dispose()


def count(settings: Settings, sql: str) -> int:
    db = create_engine(settings.database_url)
    try:
        with db.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        db.dispose()


def failed_signin_clients(settings: Settings) -> list[str]:
    """The addresses the audit log recorded for failed sign-ins, oldest first."""
    db = create_engine(settings.database_url)
    try:
        with Session(db) as session:
            entries = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "signin.failed")
                .order_by(AuditEntry.seq)
            ).all()
            return [str((e.after or {}).get("client")) for e in entries]
    finally:
        db.dispose()


def from_address(source: str) -> httpx.Client:
    """An HTTP client whose connections come from `source` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=source, trust_env=False)
    return httpx.Client(transport=transport, timeout=30, trust_env=False)


def csrf_of(client: httpx.Client, url: str) -> str:
    page = client.get(url)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def fail_signin(client: httpx.Client, base: str, name: str, **headers: str) -> httpx.Response:
    csrf = csrf_of(client, f"{base}/signin")
    return client.post(
        f"{base}/signin",
        data={"name": name, "password": "wrong password", "csrf_token": csrf},
        headers=headers,
    )


# The in-process live server ---------------------------------------------------------------


def test_a_forwarded_for_naming_the_proxy_does_not_make_a_loopback_caller_the_proxy(
    live_server: str, settings: Settings
) -> None:
    make_user(settings, "ada")
    sessions_before = count(settings, "select count(*) from login_sessions")
    spoofed = {
        "X-Forwarded-For": PROXY,
        "X-Forwarded-User": "ada",
    }
    with from_address("127.0.0.1") as caller:
        users = caller.get(f"{live_server}/users", headers=spoofed, follow_redirects=False)
        assert users.status_code == 303, users.text[:300]
        assert "/signin" in users.headers["location"]
        assert "atrest_session" not in users.headers.get("set-cookie", "")
        api = caller.get(
            f"{live_server}/api/decisions", headers={**spoofed, "X-Forwarded-User": "mallory"}
        )
        assert api.status_code == 401
    assert count(settings, "select count(*) from login_sessions") == sessions_before
    assert count(settings, "select count(*) from users where name = 'mallory'") == 0


def test_the_configured_proxy_may_name_the_user(live_server: str, settings: Settings) -> None:
    make_user(settings, "ada")
    with from_address(PROXY) as proxy:
        users = proxy.get(f"{live_server}/users", headers={"X-Forwarded-User": "ada"})
        assert users.status_code == 200 and "ada" in users.text


def test_a_rotating_forwarded_for_does_not_dodge_the_sign_in_limit(live_server: str) -> None:
    with from_address("127.0.0.1") as caller:
        for i in range(5):  # a new name each time: only the address can be counted
            wrong = fail_signin(
                caller, live_server, f"guess{i}", **{"X-Forwarded-For": f"203.0.113.{i}"}
            )
            assert wrong.status_code == 401
        limited = fail_signin(caller, live_server, "guess9", **{"X-Forwarded-For": "203.0.113.99"})
        assert limited.status_code == 429


def test_the_audit_log_records_the_tcp_peer_not_a_forged_forwarded_for(
    live_server: str, settings: Settings
) -> None:
    with from_address("127.0.0.1") as caller:
        fail_signin(caller, live_server, "ada", **{"X-Forwarded-For": "203.0.113.66"})
    assert failed_signin_clients(settings) == ["127.0.0.1"]


def test_behind_the_proxy_the_client_is_the_right_most_forwarded_address_it_did_not_add(
    live_server: str, settings: Settings
) -> None:
    with from_address(PROXY) as proxy:
        # The caller forged the first entry; the proxy appended the address it saw (and itself).
        chain = f"198.51.100.7, 203.0.113.9, {PROXY}"
        for i in range(5):
            fail_signin(proxy, live_server, f"guess{i}", **{"X-Forwarded-For": chain})
        # Another client behind the same proxy is not held back by the first one's failures.
        other = fail_signin(proxy, live_server, "guess9", **{"X-Forwarded-For": "203.0.113.10"})
        assert other.status_code == 401
        again = fail_signin(proxy, live_server, "guess8", **{"X-Forwarded-For": chain})
        assert again.status_code == 429
    assert failed_signin_clients(settings) == ["203.0.113.9"] * 5 + ["203.0.113.10"]


@pytest.mark.fresh_install
def test_the_set_up_page_answers_only_to_this_machine_directly(live_server: str) -> None:
    with from_address("127.0.0.1") as caller:
        assert caller.get(f"{live_server}/setup").status_code == 200
        relayed = caller.get(f"{live_server}/setup", headers={"X-Forwarded-For": "127.0.0.1"})
        assert relayed.status_code == 403
    with from_address(PROXY) as proxy:  # whatever the proxy relays comes from elsewhere
        assert proxy.get(f"{live_server}/setup").status_code == 403


# The `atrest serve` command -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def atrest_serve(settings: Settings, workdir: Path, trusted: list[str]) -> Iterator[str]:
    """`atrest serve` on a free port with these trusted proxies; yields its URL once ready and
    kills it (by pid) at the end."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    env |= {
        "ATREST_DATABASE_URL": settings.database_url,
        "ATREST_TRUSTED_PROXIES": json.dumps(trusted),
        "ATREST_SHUTDOWN_TIMEOUT": "5",
    }
    stderr = workdir / "serve.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [*COMMAND, "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"atrest serve did not start:\n{stderr.read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=5, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_atrest_serve_believes_forwarded_headers_from_configured_proxies_only(
    settings: Settings, tmp_path: Path
) -> None:
    make_user(settings, "ada")
    with atrest_serve(settings, tmp_path, ["10.0.0.5/32", f"{PROXY}/32"]) as url:
        with from_address("127.0.0.1") as caller:
            spoofed = {"X-Forwarded-For": "10.0.0.5", "X-Forwarded-User": "ada"}
            users = caller.get(f"{url}/users", headers=spoofed, follow_redirects=False)
            assert users.status_code == 303 and "/signin" in users.headers["location"]
            assert "atrest_session" not in users.headers.get("set-cookie", "")
            fail_signin(caller, url, "ada", **{"X-Forwarded-For": "203.0.113.66"})
        with from_address(PROXY) as proxy:
            vouched = proxy.get(
                f"{url}/users",
                headers={"X-Forwarded-User": "ada", "X-Forwarded-Proto": "https"},
            )
            assert vouched.status_code == 200 and "ada" in vouched.text
            assert "Secure" in vouched.headers["set-cookie"]  # the proxy said https
            fail_signin(proxy, url, "ada", **{"X-Forwarded-For": "203.0.113.9"})
    assert failed_signin_clients(settings) == ["127.0.0.1", "203.0.113.9"]


def test_a_relaying_proxy_without_a_user_header_forwards_addresses_only(settings: Settings) -> None:
    make_user(settings, "ada")
    relaying = create_app(
        Settings(
            database_url=settings.database_url,
            trusted_proxies=["10.0.0.5/32"],
            proxy_user_header="",
        )
    )
    try:
        with TestClient(relaying, client=("10.0.0.5", 4000)) as proxy:
            named = proxy.get("/api/decisions", headers={"X-Forwarded-User": "ada"})
            assert named.status_code == 401  # no user header is believed
            page = proxy.get("/signin")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            proxy.post(
                "/signin",
                data={"name": "ada", "password": "wrong password", "csrf_token": csrf},
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
    finally:
        relaying.state.db.dispose()
    assert failed_signin_clients(settings) == ["203.0.113.9"]
