"""`atrest audit verify` (the typer app, run in-process until app.cli adds it): exit 0 with the
entry count and head, 1 at the first bad entry, 2 when the database cannot be read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from app.audit.cli import audit_cli
from app.audit.recorder import append
from app.core.config import Settings, get_settings


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The command reads the process-wide settings: read them anew from each test's env."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(database_url: str) -> Result:
    return CliRunner().invoke(audit_cli, ["verify"], env={"ATREST_DATABASE_URL": database_url})


def test_verify_reports_an_intact_log_then_the_tampered_entry(
    settings: Settings, db_engine: DbEngine
) -> None:
    empty = run(settings.database_url)
    assert empty.exit_code == 0, empty.output
    assert empty.stdout == f"audit log intact: 0 entries, head {'0' * 64}\n"
    with Session(db_engine) as session:
        for n in range(3):
            append(session, action="signin.failed", subject=f"user u{n}", actor="cli-test")
        session.commit()
    intact = run(settings.database_url)
    assert intact.exit_code == 0, intact.output
    assert re.fullmatch(r"audit log intact: 3 entries, head [0-9a-f]{64}\n", intact.stdout)
    with db_engine.begin() as connection:
        connection.execute(text("UPDATE audit_entries SET subject = 'user root' WHERE seq = 2"))
    broken = run(settings.database_url)
    assert broken.exit_code == 1
    assert broken.stdout == ""
    assert broken.stderr.startswith("audit log broken at entry 2: ")


def test_verify_exits_2_without_a_database(tmp_path: Path) -> None:
    missing = run(f"sqlite:///{tmp_path}/nowhere.db")
    assert missing.exit_code == 2
    assert "cannot read the audit log: no database at" in missing.stderr
    assert not (tmp_path / "nowhere.db").exists()


def test_verify_exits_2_when_the_server_is_unreachable() -> None:
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert result.exit_code == 2
    assert result.stderr.startswith("atrest: cannot read the audit log: OperationalError")


def test_verify_exits_2_on_a_database_without_the_log(tmp_path: Path) -> None:
    (tmp_path / "other.db").touch()
    result = run(f"sqlite:///{tmp_path}/other.db")
    assert result.exit_code == 2 and "no such table" in result.stderr
