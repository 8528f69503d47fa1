"""`atrest audit ...`: the audit log from the command line (added to app.cli as `audit`)."""

from __future__ import annotations

import typer

EXIT_BROKEN = 1
EXIT_UNREADABLE = 2

audit_cli = typer.Typer(no_args_is_help=True)


@audit_cli.callback()
def audit() -> None:
    """The audit log: who changed what, when, hash-chained so tampering shows."""


def _unreadable(message: str) -> typer.Exit:
    typer.echo(f"atrest: cannot read the audit log: {message}", err=True)
    return typer.Exit(EXIT_UNREADABLE)


@audit_cli.command()
def verify() -> None:
    """Check every entry's hash and link and the head: exit 0 if intact, 1 at the first bad
    entry, 2 if the database cannot be read."""
    # Imported here: `atrest recommend` and `atrest questions` load this module too, and
    # start in a fraction of the time without SQLAlchemy (bench/cli.py).
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from app.audit.service import verify_chain
    from app.core.config import get_settings
    from app.core.db import make_engine, missing_sqlite_file

    settings = get_settings()  # a bad setting: the atrest group's one message, exit 2
    missing = missing_sqlite_file(settings)
    if missing is not None:  # connecting would create an empty file: say there is none
        raise _unreadable(f"no database at {missing}")
    db = make_engine(settings)
    try:
        with Session(db) as session:
            result = verify_chain(session=session)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc  # the driver's own message, if any
        detail = (str(cause).splitlines() or [""])[0]
        raise _unreadable(f"{type(exc).__name__}: {detail}") from None
    finally:
        db.dispose()
    if not result.ok:
        typer.echo(f"audit log broken at entry {result.first_bad_seq}: {result.reason}", err=True)
        raise typer.Exit(EXIT_BROKEN)
    typer.echo(f"audit log intact: {result.checked} entries, head {result.head_hash}")
