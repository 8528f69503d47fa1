"""`atrest users`: create accounts and API tokens from the command line (first admin, scripts)."""

from __future__ import annotations

import sys
from typing import Annotated, NoReturn

import typer

from app.core.errors import DomainError

users_cli = typer.Typer(help="Accounts: create users and API tokens.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"atrest: {message}", err=True)
    raise typer.Exit(code)


@users_cli.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The sign-in name (a-z, 0-9, . _ @ -)")],
    role: Annotated[str, typer.Option("--role", help="viewer, architect, auditor or admin")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
    api_token: Annotated[
        bool, typer.Option("--api-token", help="also create an API token and print it on stdout")
    ] = False,
) -> None:
    """Create an account; with --api-token print a new token (alone on its line)."""
    from app.accounts import service
    from app.core.config import get_settings
    from app.core.db import make_engine, make_sessionmaker, upgrade_database

    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("--password-stdin: standard input held no password")
    settings = get_settings()
    upgrade_database(settings)
    db = make_engine(settings)
    try:
        with make_sessionmaker(db)() as session:
            session.info["actor"] = "cli"
            user = service.create_user(session=session, name=name, role=role, password=password)
            plain = None
            if api_token:
                _, plain = service.issue_token(session=session, user_id=user.id, label="cli")
            session.commit()
    except DomainError as exc:
        _fail(exc.message)
    finally:
        db.dispose()
    typer.echo(f"atrest: created {user.name} ({user.role})", err=True)
    if plain is not None:
        typer.echo(plain)


@users_cli.command("list")
def list_users() -> None:
    """Every account: name, role, active."""
    from app.accounts import service
    from app.core.config import get_settings
    from app.core.db import make_engine, make_sessionmaker

    db = make_engine(get_settings())
    try:
        with make_sessionmaker(db)() as session:
            for user in service.list_users(session=session):
                state = "active" if user.active else "switched off"
                typer.echo(f"{user.name}\t{user.role}\t{state}")
    finally:
        db.dispose()
