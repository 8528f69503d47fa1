"""The web app's start-up: home page, static files, health, migrations, bad settings."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import upgrade_database
from app.main import create_app
from tests.support import run_atrest, signed_in_client


def client(tmp_path: Path) -> TestClient:
    """The app on a fresh SQLite file, signed in as a viewer (reading is all these tests do)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/atrest.db")
    upgrade_database(settings)
    return signed_in_client(create_app(settings), role="viewer")  # type: ignore[no-any-return]


def test_home_page_lists_every_option_and_the_rule_set(tmp_path: Path, ruleset) -> None:
    response = client(tmp_path).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for option in ruleset.options.values():
        assert option.title in response.text
    assert ruleset.version in response.text
    assert "/static/css/atrest.css" in response.text


def test_stylesheet_and_health_are_served(tmp_path: Path, ruleset) -> None:
    c = client(tmp_path)
    assert c.get("/static/css/atrest.css").status_code == 200
    assert c.get("/healthz").json() == {"status": "ok", "ruleset": ruleset.version}


def test_migrations_run_against_a_fresh_sqlite_file(tmp_path: Path) -> None:
    upgrade_database(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))
    upgrade_database(Settings(database_url=f"sqlite:///{tmp_path}/fresh.db"))  # idempotent


def test_serve_refuses_a_bad_setting_with_exit_2_naming_it(tmp_path: Path) -> None:
    proc = run_atrest(
        "serve",
        cwd=tmp_path,
        env={"ATREST_DATABASE_URL": "mysql://root@localhost/atrest"},
        timeout=60,
    )
    assert proc.returncode == 2
    assert "ATREST_DATABASE_URL" in proc.stderr
    assert "mysql" in proc.stderr
    assert "Traceback" not in proc.stderr
