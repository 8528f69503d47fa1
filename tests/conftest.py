"""Shared fixtures: the real rule set and its engine, real databases (a SQLite file and a fresh
PostgreSQL database), the app served by uvicorn, and Debian's Chromium driven by Playwright.

`make test` provides PostgreSQL and Chromium (scripts/ensure-postgres.sh, ensure-chromium.sh)
and passes the server in ATREST_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.advisor.evaluate import Engine
from app.advisor.loader import RuleSet, load_ruleset
from app.core.config import Settings
from app.core.db import make_engine, upgrade_database
from app.core.network import uvicorn_options
from app.main import create_app

POSTGRES_URL_VARIABLE = "ATREST_TEST_POSTGRES_URL"
DATABASE_KINDS = ("sqlite", "postgresql")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the suite runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BROWSER_TIMEOUT_MS = 10_000
SCREENSHOT_DIR = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
BROWSER_FIXTURES = frozenset({"browser", "page", "page_nojs"})
SERVER_START_TIMEOUT_S = 15.0

pytest_plugins = ("pytester",)  # tests/test_infrastructure.py runs pytest on this conftest


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The rule set of this checkout, loaded and validated once per test session."""
    return load_ruleset()


@pytest.fixture(scope="session")
def engine(ruleset: RuleSet) -> Engine:
    """The engine compiled from the real rule set."""
    return Engine(ruleset)


# Databases -------------------------------------------------------------------------------------


class DatabaseFactory:
    """Fresh, empty databases for one test; drop_all() removes every one it made."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._sqlite_files = 0
        self._postgres: list[tuple[URL, str]] = []

    def create(self, kind: str) -> str:
        """A new empty database of `kind` ("sqlite" or "postgresql"); returns its SQLAlchemy URL."""
        if kind == "sqlite":
            self._sqlite_files += 1
            suffix = "" if self._sqlite_files == 1 else f"-{self._sqlite_files}"
            return f"sqlite:///{self._directory}/atrest{suffix}.db"
        if kind == "postgresql":
            return self._create_postgres()
        raise ValueError(f"unknown database kind {kind!r}; expected one of {DATABASE_KINDS}")

    def drop_all(self) -> None:
        """Drop the PostgreSQL databases made so far (SQLite files go with tmp_path)."""
        while self._postgres:
            server, name = self._postgres.pop()
            with _autocommit(server) as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def _create_postgres(self) -> str:
        server_url = os.environ.get(POSTGRES_URL_VARIABLE)
        if not server_url:
            pytest.fail(
                f"{POSTGRES_URL_VARIABLE} is not set, so the PostgreSQL half of the suite cannot "
                "run. Run `make test`: it starts PostgreSQL (scripts/ensure-postgres.sh) and sets "
                f"the variable. Or export it yourself, e.g. {POSTGRES_URL_VARIABLE}="
                "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                pytrace=False,
            )
        server = make_url(server_url).set(drivername="postgresql+psycopg")
        name = f"atrest_t_{secrets.token_hex(8)}"
        try:
            with _autocommit(server) as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        except SQLAlchemyError as error:
            pytest.fail(
                f"cannot create a test database on {server.render_as_string()} "
                f"({POSTGRES_URL_VARIABLE}): {error}\nRun `make test` (or "
                "scripts/ensure-postgres.sh) to start a server.",
                pytrace=False,
            )
        self._postgres.append((server, name))
        return server.set(database=name).render_as_string(hide_password=False)


@contextmanager
def _autocommit(url: URL) -> Iterator[Connection]:
    """One autocommit connection (CREATE/DROP DATABASE refuse to run in a transaction)."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            yield connection
    finally:
        admin.dispose()


@pytest.fixture
def database_factory(tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Makes extra fresh databases in a test; all are dropped at teardown."""
    factory = DatabaseFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.drop_all()


@pytest.fixture(params=DATABASE_KINDS, ids=DATABASE_KINDS)
def database_url(request: pytest.FixtureRequest, database_factory: DatabaseFactory) -> str:
    """The URL of an empty database of this test's own: a SQLite file, or a PostgreSQL database
    created on the server in ATREST_TEST_POSTGRES_URL (fails, never skips, when it is unset)."""
    kind: str = request.param
    return database_factory.create(kind)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings pointing at this test's database, migrated to the Alembic head."""
    settings = Settings(database_url=database_url)
    upgrade_database(settings)
    return settings


@pytest.fixture
def db_engine(settings: Settings) -> Iterator[DbEngine]:
    """A SQLAlchemy engine on this test's migrated database, disposed at teardown."""
    db = make_engine(settings)
    try:
        yield db
    finally:
        db.dispose()


# The app on a real port ------------------------------------------------------------------------


@pytest.fixture
def live_server(settings: Settings, request: pytest.FixtureRequest) -> Iterator[str]:
    """The app served by uvicorn in a background thread on a free 127.0.0.1 port (once per
    database, through `settings`); yields the base URL without a trailing slash, with an admin
    signed in (its cookie on the URL object) unless the test is marked `fresh_install`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port
    host, port = listener.getsockname()
    web_app = create_app(settings)
    # The uvicorn options of `atrest serve` (the TCP peer is the client), a shorter stop.
    options = uvicorn_options(settings) | {"timeout_graceful_shutdown": 5}
    config = uvicorn.Config(
        web_app, host=host, port=port, log_level="warning", access_log=False, **options
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            pytest.fail(f"uvicorn did not start on {host}:{port} (see the log above)")
        time.sleep(0.01)
    try:
        base = LiveServer(f"http://{host}:{port}")
        if request.node.get_closest_marker("fresh_install") is None:
            from tests.support import sign_in  # here: pytester copies of this file lack tests/

            base.cookie, base.csrf = sign_in(web_app, role="admin")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        listener.close()


# Chromium through Playwright -------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, launched once per session through Playwright's sync API."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test` or scripts/ensure-chromium.sh")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        pytest.fail("Playwright's sync API needs a plain (sync) test, not an async one")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


class LiveServer(str):
    """The live server's base URL, carrying the session cookie of an admin signed in there."""

    cookie: str = ""
    csrf: str = ""

    def auth_headers(self) -> dict[str, str]:
        """Headers for a scripted request as that admin (cookie and CSRF token)."""
        return {"Cookie": f"atrest_session={self.cookie}", "X-CSRF-Token": self.csrf}


@contextmanager
def _new_page(
    browser: Browser, *, java_script_enabled: bool, server: LiveServer | None = None
) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=java_script_enabled)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    if server is not None and server.cookie:  # journeys start signed in as an admin
        context.add_cookies([{"name": "atrest_session", "value": server.cookie, "url": server}])
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies or storage shared between tests), signed
    in as an admin when the test uses the live server."""
    with _new_page(browser, java_script_enabled=True, server=_server_of(request)) as new_page:
        yield new_page


@pytest.fixture
def page_nojs(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context with JavaScript disabled, to check the no-HTMX fallbacks."""
    with _new_page(browser, java_script_enabled=False, server=_server_of(request)) as new_page:
        yield new_page


def _server_of(request: pytest.FixtureRequest) -> LiveServer | None:
    if "live_server" not in request.fixturenames:
        return None
    server = request.getfixturevalue("live_server")
    return server if isinstance(server, LiveServer) else None


def take_screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of `page` as test-artifacts/screenshots/<name>.png; returns the path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "screenshot"
    path = SCREENSHOT_DIR / f"{safe_name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path]:
    """The screenshot(page, name) helper: saves under test-artifacts/screenshots/."""
    return take_screenshot


# Keeping Playwright's event loop away from async tests -----------------------------------------
#
# Between two sync calls, Playwright leaves its own event loop marked as the running loop of the
# main thread. While the session's browser is open, asyncio.run() and anyio tests would then
# refuse to start ("cannot be called from a running event loop"). So browser tests run last,
# and, should another plugin reorder them (e.g. --failed-first), the mark is lifted around every
# other test's setup and call.


def _uses_browser(item: pytest.Item) -> bool:
    return not BROWSER_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that use Chromium `browser` and run them after all the others."""
    in_browser = [item for item in items if _uses_browser(item)]
    for item in in_browser:
        item.add_marker(pytest.mark.browser)
    items[:] = [item for item in items if not _uses_browser(item)] + in_browser


@contextmanager
def _playwright_loop_lifted(item: pytest.Item) -> Iterator[None]:
    loop = asyncio._get_running_loop()
    if loop is None or _uses_browser(item):
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Run a non-browser test's setup without Playwright's loop marked as running."""
    with _playwright_loop_lifted(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run a non-browser test without Playwright's loop marked as running."""
    with _playwright_loop_lifted(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Tear down a non-browser test without Playwright's loop marked as running, except after
    the last test, when the session's browser itself is closed and needs its loop."""
    if nextitem is None:
        return (yield)
    with _playwright_loop_lifted(item):
        return (yield)
