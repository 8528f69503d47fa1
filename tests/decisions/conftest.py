"""A test client of the app over each database (the `settings` fixture is parametrised)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.core.config import Settings
from app.main import create_app
from tests.support import signed_in_client


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app on a fresh, migrated database (SQLite and PostgreSQL), signed in as an admin
    (every permission; tests/accounts covers each role)."""
    app = create_app(settings)
    with signed_in_client(app, role="admin") as test_client:
        yield test_client
    app.state.db.dispose()


@pytest.fixture
def auditor(client: TestClient) -> Iterator[TestClient]:
    """An auditor signed in on the same app: approvals need someone other than the proposer
    and the last editor (separation of duties)."""
    with signed_in_client(client.app, role="auditor", name="test-auditor") as test_client:
        yield test_client


@pytest.fixture
def rows(client: TestClient) -> Callable[[str], int]:
    """How many rows a table holds, read straight from the database."""

    def count(table: str) -> int:
        with client.app.state.db.connect() as conn:  # type: ignore[attr-defined]
            return int(conn.execute(text(f"select count(*) from {table}")).scalar_one())

    return count
