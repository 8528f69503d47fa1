"""The audit tests' sessions: the app's own, on each real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import make_sessionmaker


@pytest.fixture
def sessions(db_engine: DbEngine) -> sessionmaker[Session]:
    """The app's sessions on this test's migrated database."""
    return make_sessionmaker(db_engine)
