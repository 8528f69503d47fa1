"""`atrest report`: an auditor's report of a saved decision, and the check of a JSON copy.

    atrest report DECISION_ID [--format md|json|csv|pdf] [-o FILE] [--version N]
    atrest report verify FILE

A decision id is a whole number, so `verify` cannot be mistaken for one: the group runs its
hidden `decision` command for anything that is not a subcommand name. Exit codes (CONTRACT.md):
0 written / intact, 1 `verify` found the copy changed (digest mismatch), 2 bad input: a missing
decision, version or file, a malformed report, a PDF asked for on a terminal. Heavy imports
(SQLAlchemy, WeasyPrint) happen inside the commands: `atrest` starts as fast as before.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer >= 0.16 vendors click; older releases use click itself
    from typer._click import Context

DEFAULT_COMMAND = "decision"
EXIT_TAMPERED = 1


class ReportGroup(TyperGroup):
    """`atrest report DECISION_ID ...` runs the hidden `decision` command; subcommands by name."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        """Route anything that is not a subcommand name (or help) to the default command."""
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        """Usage as a user types it."""
        return ["DECISION_ID [--format md|json|csv|pdf] [-o FILE] [--version N] | verify FILE"]


report_cli = typer.Typer(
    cls=ReportGroup,
    name="report",
    no_args_is_help=True,
    help=(
        "An auditor's report of a saved decision (`atrest report DECISION_ID --format "
        "md|json|csv|pdf [-o FILE] [--version N]`), or the check of a JSON report "
        "(`atrest report verify FILE`)."
    ),
)


class ReportFormat(StrEnum):
    """Formats of `atrest report`."""

    md = "md"
    json = "json"
    csv = "csv"
    pdf = "pdf"


def _build(decision_id: int, version: int | None) -> Any:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.orm import Session

    from app.cli import _engine, _settings, fail
    from app.core.db import make_engine, missing_sqlite_file
    from app.core.errors import NotFound
    from app.reports.build import build_report

    settings = _settings()
    engine = _engine()
    missing = missing_sqlite_file(settings)
    if missing is not None:
        fail(f"no decision database at {missing} (set ATREST_DATABASE_URL)")
    db = make_engine(settings)
    try:
        with Session(db) as session:
            return build_report(
                session=session,
                engine=engine,
                settings=settings,
                decision_id=decision_id,
                version=version,
            )
    except NotFound as exc:
        fail(exc.message)
    except SQLAlchemyError as exc:  # the database itself: unreachable, not migrated
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        fail(f"cannot read the decision database ({type(exc).__name__}: {first})")
    finally:
        db.dispose()


@report_cli.command(DEFAULT_COMMAND, hidden=True)
def decision(
    decision_id: Annotated[int, typer.Argument(metavar="DECISION_ID", help="a saved decision")],
    format: Annotated[
        ReportFormat, typer.Option("--format", help="md, json, csv or pdf")
    ] = ReportFormat.md,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write here instead of stdout")
    ] = None,
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="an earlier version (default: the latest)"),
    ] = None,
) -> None:
    """Write the auditor's report of a decision version (default: the latest)."""
    from app.cli import fail
    from app.reports import render

    if output is None and format is ReportFormat.pdf and sys.stdout.isatty():
        fail("a PDF is binary: give -o FILE or redirect stdout to a file")
    report = _build(decision_id, version)
    data = render(report, format.value)
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")
    typer.echo(
        f"atrest: wrote {output} ({len(data):,} bytes): decision {report.decision.id} "
        f"version {report.decision.version}, report sha256 {report.digest.value}",
        err=True,
    )


@report_cli.command("verify")
def verify(
    file: Annotated[str, typer.Argument(metavar="FILE", help="a JSON report; '-' reads stdin")],
) -> None:
    """Check that a JSON report is intact: its content still hashes to the digest it records."""
    from app.cli import fail
    from app.reports import verify_report

    try:
        text = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except FileNotFoundError:
        fail(f"{file}: no such file")
    except IsADirectoryError:
        fail(f"{file}: is a directory, not a report")
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
    outcome = verify_report(text)
    name = "<stdin>" if file == "-" else file
    if outcome.status == "malformed":
        fail(f"{name}: {outcome.message}")
    if outcome.status == "tampered":
        fail(f"{name}: {outcome.message}", code=EXIT_TAMPERED)
    typer.echo(f"{name}: {outcome.message}")
