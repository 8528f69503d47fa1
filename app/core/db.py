"""Database wiring: the declarative base with a naming convention, engines and migrations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Request
from sqlalchemy import MetaData, create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.core.config import Settings, SettingsInvalid, setting_hint

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# pg_advisory_lock key held while migrating PostgreSQL: the bytes of "atrestmg".
MIGRATION_LOCK_ID = 0x6174_7265_7374_6D67


class Base(DeclarativeBase):
    """Base of every SQLAlchemy model; constraint names follow NAMING_CONVENTION."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# How long a SQLite writer waits for the lock before "database is locked". SQLite's busy
# handler does not queue waiters fairly: with 20 concurrent writers one request waited up to
# 7.6 s in bench/concurrency.py, and a 10 s limit let one in ~1,800 fail; 30 s gives margin.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(settings: Settings) -> URL:
    """The configured database URL, parsed.

    Raises:
        SettingsInvalid: naming ATREST_DATABASE_URL when it does not parse, never showing it
            (it may hold a password).
    """
    try:
        return make_url(settings.database_url)
    except (ArgumentError, ValueError):
        raise SettingsInvalid(
            "setting ATREST_DATABASE_URL: not a database URL: expected sqlite:///path or "
            "postgresql+psycopg://user@host/db",
            setting_hint("database_url"),
        ) from None


def missing_sqlite_file(settings: Settings) -> str | None:
    """The path of the configured SQLite database file when it does not exist (a command that
    only reads must say so rather than connect, which would create an empty file)."""
    url = database_url(settings)
    path = url.database
    if url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return None
    return None if Path(path).exists() else path


def make_engine(settings: Settings) -> Engine:
    """A SQLAlchemy engine for the configured database."""
    # A liveness ping on every checkout costs a round trip per request: worth it against a
    # server that may restart (PostgreSQL), pointless for a local SQLite file.
    is_sqlite = settings.database_url.startswith("sqlite")
    # Every change made through a session is recorded in the audit log. The recorder listens
    # on the Session class (the CLI opens plain Session(engine)s), installed once here since
    # every engine of the app, the CLI and the probe workers comes from here.
    from app.audit.recorder import install

    install()
    # Statement parameters hold user input and token digests: never in an error's message,
    # so never in a logged traceback.
    url = database_url(settings)
    return create_engine(url, pool_pre_ping=not is_sqlite, hide_parameters=True)


def upgrade_database(settings: Settings) -> None:
    """Run `alembic upgrade head` against the configured database."""
    from alembic import command
    from alembic.config import Config

    from app.core.logging import logging_configured

    url = database_url(settings)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    # `atrest serve` has set up its JSON logs: alembic.ini's logging config would replace them.
    config.attributes["skip_logging"] = logging_configured()
    if not settings.database_url.startswith("postgresql"):
        command.upgrade(config, "head")
        return
    # Several app processes may start at once against one PostgreSQL database: a session-level
    # advisory lock makes them migrate one at a time (the later ones find the schema at head).
    locker = create_engine(
        url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        hide_parameters=True,
    )
    try:
        with locker.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            try:
                command.upgrade(config, "head")
            finally:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
    finally:
        locker.dispose()


#: What a database that cannot be used raises (unreachable, refused, a URL that does not
#: parse, a driver that is not installed, a missing file or table), as opposed to a bug.
UNUSABLE_DATABASE = (OperationalError, InterfaceError, ArgumentError)


def database_problem(exc: Exception) -> tuple[str, str | None]:
    """What to tell a person about a database that cannot be used: a line naming the setting
    and the driver's own first line (never the URL, which may hold a password), and the
    driver's hint (its second line), if it gives one."""
    cause = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("(Background on this error")]
    first = lines[0] if lines else type(cause).__name__
    return f"ATREST_DATABASE_URL: the database cannot be used: {first}", (
        lines[1] if len(lines) > 1 else None
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that do not expire objects on commit (templates read them after)."""
    return sessionmaker(engine, expire_on_commit=False)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked; WAL and a busy timeout let concurrent requests share the file."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Concurrent requests: readers do not wait for a writer (WAL), and a writer waits for
        # another writer instead of failing at once with "database is locked".
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()


def get_session(request: Request) -> Iterator[Session]:
    """The request's unit of work: one session, committed once if the route succeeds."""
    session: Session = request.app.state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
