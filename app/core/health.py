"""Health probes: /healthz (the process answers) and /readyz (the database answers and its
schema is at the migrations' head), for load balancers, Docker and Kubernetes."""

from __future__ import annotations

import logging
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.accounts.access import requires
from app.accounts.roles import Permission
from app.core.db import PROJECT_ROOT

router = APIRouter(tags=["ops"])
logger = logging.getLogger(__name__)


def migration_heads() -> tuple[str, ...]:
    """The head revision(s) of the migration scripts in alembic/ (read once, at start-up)."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    return tuple(sorted(ScriptDirectory.from_config(config).get_heads()))


def error_class(exc: BaseException) -> str:
    """The driver's error class when there is one (psycopg.OperationalError), else the
    exception's: never its message, which may name the host, the user or the URL."""
    cause = getattr(exc, "orig", None) or exc
    kind = type(cause)
    return f"{kind.__module__.split('.')[0]}.{kind.__qualname__}"


def readiness(engine: Engine, heads: tuple[str, ...]) -> tuple[bool, dict[str, Any]]:
    """Whether `SELECT 1` works and the database's alembic_version is `heads`, with the body
    /readyz answers."""
    head = ",".join(heads)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    except Exception as exc:  # any failure to reach the database means "not ready", not a 500
        error = error_class(exc)
        logger.warning("readiness: database unreachable (%s)", error, extra={"error": error})
        return False, {
            "status": "unavailable",
            "database": "unreachable",
            "error": error,
            "reason": f"database unreachable ({error})",
        }
    if current != heads:
        at = ",".join(current) or None
        logger.warning(
            "readiness: migrations not current (database %s, head %s)", at or "empty", head
        )
        return False, {
            "status": "unavailable",
            "database": "ok",
            "migrations": at,
            "head": head,
            "reason": f"migrations not current: database at {at or 'no revision'}, head is {head}",
        }
    return True, {"status": "ready", "database": "ok", "migrations": head}


# Neither probe resolves the caller: a cookie or token never makes them touch the database.
@router.get(
    "/healthz",
    name="healthz",
    summary="Liveness",
    dependencies=[requires(Permission.PUBLIC, identify=False)],
)
def healthz(request: Request) -> dict[str, str]:
    """Liveness probe with the rule set version; touches no database."""
    return {"status": "ok", "ruleset": request.app.state.advisor.ruleset.version}


@router.get(
    "/readyz",
    name="readyz",
    summary="Readiness",
    responses={503: {"description": "Database unreachable or migrations not current"}},
    dependencies=[requires(Permission.PUBLIC, identify=False)],
)
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers and is migrated to the head; 503 with the reason if not."""
    ready, body = readiness(request.app.state.db, request.app.state.migration_heads)
    return JSONResponse(body, status_code=200 if ready else 503)
