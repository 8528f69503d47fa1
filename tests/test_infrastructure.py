"""The test infrastructure itself: both databases are real and private to each test, the live
server answers, and Chromium drives it with and without JavaScript."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import PROJECT_ROOT

if TYPE_CHECKING:
    from conftest import DatabaseFactory, LiveServer

HOME_HEADING = "Which encryption at rest fits your buckets?"


def kind_of(request: pytest.FixtureRequest) -> str:
    """The database kind ("sqlite" or "postgresql") this test was parametrised with."""
    kind: str = request.node.callspec.params["database_url"]
    return kind


def connect(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)


def test_database_url_is_the_engine_it_is_named_after(
    database_url: str, request: pytest.FixtureRequest
) -> None:
    db = connect(database_url)
    try:
        with db.connect() as connection:
            if kind_of(request) == "postgresql":
                assert db.dialect.name == "postgresql"
                version = connection.execute(text("select version()")).scalar_one()
                assert "PostgreSQL" in version
            else:
                assert db.dialect.name == "sqlite"
                assert connection.execute(text("select sqlite_version()")).scalar_one()
                assert database_url.endswith("/atrest.db")
    finally:
        db.dispose()


def test_each_test_gets_a_database_of_its_own(
    database_url: str, database_factory: DatabaseFactory, request: pytest.FixtureRequest
) -> None:
    db = connect(database_url)
    with db.begin() as connection:
        connection.execute(text("create table isolation_probe (note varchar(20))"))
        connection.execute(text("insert into isolation_probe values ('written')"))
    with db.connect() as connection:
        assert (
            connection.execute(text("select note from isolation_probe")).scalar_one() == "written"
        )
    db.dispose()

    fresh_url = database_factory.create(kind_of(request))
    assert fresh_url != database_url
    fresh = connect(fresh_url)
    try:
        assert not inspect(fresh).has_table("isolation_probe")
    finally:
        fresh.dispose()


def test_postgres_databases_are_dropped_afterwards(database_factory: DatabaseFactory) -> None:
    url = database_factory.create("postgresql")
    name = url.rsplit("/", 1)[1]
    assert name.startswith("atrest_t_")
    server = connect(url.rsplit("/", 1)[0] + "/postgres")

    def exists() -> bool:
        with server.connect() as connection:
            query = text("select count(*) from pg_database where datname = :name")
            count: int = connection.execute(query, {"name": name}).scalar_one()
            return count == 1

    try:
        assert exists()
        database_factory.drop_all()
        assert not exists()
    finally:
        server.dispose()


def test_settings_point_at_the_test_database_migrated_to_head(
    settings: Settings, database_url: str
) -> None:
    assert settings.database_url == database_url
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    db = connect(database_url)
    try:
        with db.connect() as connection:
            assert set(MigrationContext.configure(connection).get_current_heads()) == heads
    finally:
        db.dispose()


def test_live_server_serves_the_home_page(live_server: LiveServer) -> None:
    request = urllib.request.Request(f"{live_server}/", headers=live_server.auth_headers())
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        body = response.read().decode()
    title = re.search(r"<title>(.*?)</title>", body, re.S)
    assert title is not None
    assert "atrest" in title.group(1)
    assert HOME_HEADING in body


def test_chromium_shows_the_home_page(
    page: Page,
    live_server: str,
    screenshot: Callable[[Page, str], Path],
    request: pytest.FixtureRequest,
) -> None:
    page.goto(f"{live_server}/")
    expect(page).to_have_title(re.compile("atrest"))
    expect(page.get_by_role("heading", name=HOME_HEADING)).to_be_visible()
    path = screenshot(page, request.node.name)
    assert path.parent.name == "screenshots"
    assert path.parent.parent.name == "test-artifacts"
    assert path.stat().st_size > 0


def test_page_nojs_loads_the_home_page_without_running_scripts(
    page_nojs: Page, live_server: str
) -> None:
    page_nojs.goto(f"{live_server}/")
    expect(page_nojs.get_by_role("heading", name=HOME_HEADING)).to_be_visible()
    page_nojs.set_content('<p id="ran">no</p><script>ran.textContent = "yes"</script>')
    expect(page_nojs.locator("#ran")).to_have_text("no")


def test_page_runs_scripts(page: Page) -> None:
    page.set_content('<p id="ran">no</p><script>ran.textContent = "yes"</script>')
    expect(page.locator("#ran")).to_have_text("yes")


BROWSER_FIRST = """

@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items):
    result = yield
    items.sort(key=lambda item: 0 if item.get_closest_marker("browser") else 1)
    return result
"""


def test_async_tests_run_even_after_a_browser_test(pytester: pytest.Pytester) -> None:
    """Playwright marks its loop as running between sync calls; the conftest lifts that mark
    for other tests, which matters when something (e.g. --failed-first) runs browsers first."""
    conftest = Path(__file__).with_name("conftest.py").read_text()
    pytester.makeconftest(conftest + BROWSER_FIRST)
    pytester.makepyfile(
        """
        import asyncio

        import pytest

        def test_browser(page):
            page.set_content("<p>hello</p>")

        def test_asyncio_run():
            assert asyncio.run(asyncio.sleep(0, result=42)) == 42

        @pytest.mark.anyio
        async def test_anyio():
            await asyncio.sleep(0)
        """
    )
    result = pytester.runpytest_subprocess("-v", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*::test_browser PASSED*", "*::test_asyncio_run PASSED*"])
    result.assert_outcomes(passed=3)
