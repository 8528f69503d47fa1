"""The `atrest` command: questions, recommend, rules check, probe, report, serve."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import yaml
from pydantic import ValidationError
from typer.core import TyperGroup

from app.accounts.cli import users_cli
from app.advisor import get_engine
from app.advisor.answers import AnswerError
from app.advisor.evaluate import Engine
from app.advisor.loader import RuleSetError
from app.advisor.render import (
    question_json,
    questions_text,
    recommendation_markdown,
    recommendation_text,
)
from app.audit.cli import audit_cli
from app.core.config import Settings, SettingsInvalid, get_settings
from app.reports.command import report_cli

if TYPE_CHECKING:  # typer >= 0.16 vendors click
    from typer._click import Context


class AtrestGroup(TyperGroup):
    """The `atrest` command group: whichever command meets a setting, a rule file or a
    database it cannot use ends with a line naming it and exit 2 (bad input, CONTRACT.md),
    never a traceback. The one error path of every subcommand's settings and database."""

    def invoke(self, ctx: Context) -> Any:
        """Run the command; turn an unusable setting, rule set or database into exit 2."""
        try:
            return super().invoke(ctx)
        except SettingsInvalid as exc:
            fail(str(exc), hint=exc.hint)
        except RuleSetError as exc:
            fail(f"invalid rule set: {exc}")
        except Exception as exc:
            # SQLAlchemy is imported only by the commands that use a database (so that
            # `atrest recommend` starts fast): without it loaded, no error can be its own.
            if "sqlalchemy" not in sys.modules:
                raise
            from app.core.db import UNUSABLE_DATABASE, database_problem

            if not isinstance(exc, UNUSABLE_DATABASE):
                raise
            message, hint = database_problem(exc)
            fail(message, hint=hint)


cli = typer.Typer(
    cls=AtrestGroup,
    name="atrest",
    help="Encryption-at-rest advisor for Amazon S3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_cli = typer.Typer(help="Work with the rule set in rules/.", no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")
cli.add_typer(report_cli, name="report")
cli.add_typer(users_cli, name="users")
cli.add_typer(audit_cli, name="audit")

EXIT_CONFLICT = 1
EXIT_BAD_INPUT = 2
EXIT_PROBE_UNAVAILABLE = 3


class QuestionsFormat(StrEnum):
    """Output formats of `atrest questions`."""

    text = "text"
    json = "json"


class RecommendFormat(StrEnum):
    """Output formats of `atrest recommend`."""

    text = "text"
    json = "json"
    markdown = "markdown"


def fail(message: str, code: int = EXIT_BAD_INPUT, hint: str | None = None) -> NoReturn:
    """Print one line to stderr (and a hint line, if given) and exit with the given code."""
    typer.echo(f"atrest: {message}", err=True)
    if hint:
        typer.echo(f"atrest: hint: {hint}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsInvalid as exc:
        fail(str(exc), hint=exc.hint)


def _engine() -> Engine:
    try:
        return get_engine(_settings().rules_dir)
    except RuleSetError as exc:
        fail(f"invalid rule set: {exc}")


def read_answers(source: str) -> tuple[str, Any]:
    """Read an answers file (JSON or YAML; '-' is stdin). Returns its display name and data."""
    if source == "-":
        name, text = "<stdin>", sys.stdin.read()
    else:
        path = Path(source)
        name = source
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            fail(f"{name}: no such file")
        except IsADirectoryError:
            fail(f"{name}: is a directory, not an answers file")
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{name}: cannot read: {getattr(exc, 'strerror', None) or exc}")
    try:
        data = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        fail(f"{name}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        fail(f"{name}: not valid YAML{where}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        fail(f"{name}: must hold a mapping of question id to value, not a {type(data).__name__}")
    return name, data


@cli.command()
def questions(
    format: Annotated[
        QuestionsFormat, typer.Option("--format", help="text or json")
    ] = QuestionsFormat.text,
) -> None:
    """List every question: id, text, why it is asked, type, allowed values, default."""
    engine = _engine()
    qs = engine.ruleset.questions
    if format is QuestionsFormat.json:
        payload = {
            "ruleset": engine.ruleset_json,
            "questions": [question_json(q) for q in qs.values()],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        typer.echo(questions_text(qs), nl=False)


@cli.command()
def recommend(
    answers: Annotated[
        str, typer.Option("--answers", help="JSON or YAML answers file; '-' reads stdin")
    ],
    format: Annotated[
        RecommendFormat, typer.Option("--format", help="text, json or markdown")
    ] = RecommendFormat.text,
) -> None:
    """Evaluate an answers file and print the recommendation.

    Exit 0 with a recommendation, 1 when no option meets every requirement (the conflicts
    are printed as usual), 2 on bad input.
    """
    engine = _engine()
    name, data = read_answers(answers)
    try:
        result = engine.evaluate(data)
    except AnswerError as exc:
        for problem in exc.problems:
            typer.echo(f"atrest: {name}: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if format is RecommendFormat.json:
        typer.echo(result.to_json(), nl=False)
    elif format is RecommendFormat.markdown:
        typer.echo(recommendation_markdown(result.data), nl=False)
    else:
        typer.echo(recommendation_text(result.data), nl=False)
    if result.option is None:
        raise typer.Exit(EXIT_CONFLICT)


@rules_cli.command("check")
def rules_check() -> None:
    """Validate rules/ and verify the rule set over the whole answer space."""
    from app.advisor.verify import verify

    engine = _engine()
    report = verify(engine, progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(report.summary(), nl=False)
    if not report.ok:
        raise typer.Exit(1)


class ProbeFormat(StrEnum):
    """Output formats of `atrest probe`."""

    text = "text"
    json = "json"
    sarif = "sarif"


def _expected_from_decision(decision_id: int) -> tuple[str, dict[str, Any]]:
    from sqlalchemy.orm import Session

    from app.core.db import make_engine
    from app.core.errors import NotFound
    from app.decisions.service import get_decision

    db = make_engine(_settings())
    try:
        with Session(db) as session:
            view = get_decision(session=session, decision_id=decision_id)
            result = None if view.current is None else view.current.result
    except NotFound as exc:
        fail(f"--decision {decision_id}: {exc.message}")
    except Exception as exc:  # the database itself: missing file, unreachable server
        fail(f"--decision {decision_id}: cannot read the decision database ({type(exc).__name__})")
    finally:
        db.dispose()
    rec = None if result is None else result.get("recommendation")
    if rec is None:
        fail(f"--decision {decision_id}: the decision has no recommendation to check against")
    return str(rec["option"]), dict(rec["configuration"])


def _expected(
    engine: Engine, option: str | None, decision: int | None, answers: str | None
) -> tuple[str, dict[str, Any]]:
    given = [
        name
        for name, value in (("--option", option), ("--decision", decision), ("--answers", answers))
        if value is not None
    ]
    if len(given) != 1:
        fail(
            "give exactly one of --option, --decision, --answers"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if option is not None:
        found = engine.ruleset.options.get(option)
        if found is None:
            fail(
                f"--option: unknown option '{option}' (known: {', '.join(engine.ruleset.options)})"
            )
        return option, dict(found.configuration)
    if decision is not None:
        return _expected_from_decision(decision)
    assert answers is not None
    name, data = read_answers(answers)
    try:
        result = engine.evaluate(data)
    except AnswerError as exc:
        for problem in exc.problems:
            typer.echo(f"atrest: {name}: {problem}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    rec = result.data["recommendation"]
    if rec is None:
        fail(f"{name}: the answers conflict, so there is no configuration to check against")
    return str(rec["option"]), dict(rec["configuration"])


@cli.command()
def probe(
    option: Annotated[
        str | None, typer.Option("--option", help="check against an option's default configuration")
    ] = None,
    decision: Annotated[
        int | None, typer.Option("--decision", help="check against a saved decision")
    ] = None,
    answers: Annotated[
        str | None,
        typer.Option("--answers", help="check against the recommendation for an answers file"),
    ] = None,
    bucket: Annotated[
        list[str] | None,
        typer.Option("--bucket", help="a bucket to check (repeatable); default: every bucket"),
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="a custom endpoint, e.g. a moto server")
    ] = None,
    region: Annotated[str | None, typer.Option("--region")] = None,
    profile: Annotated[str | None, typer.Option("--profile")] = None,
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="assume this role (read-only) to look")
    ] = None,
    external_id: Annotated[
        str | None, typer.Option("--external-id", help="the ExternalId the role requires")
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=64)] = 8,
    sample_objects: Annotated[
        int,
        typer.Option(
            "--sample-objects",
            min=0,
            max=10_000,
            help="HeadObject on N objects per bucket, drawn from up to 10,000 keys listed",
        ),
    ] = 0,
    format: Annotated[
        ProbeFormat, typer.Option("--format", help="text, json or sarif")
    ] = ProbeFormat.text,
    print_iam_policy: Annotated[
        bool,
        typer.Option("--print-iam-policy", help="print the least-privilege IAM policy and exit"),
    ] = False,
    fail_on: Annotated[
        str,
        typer.Option(
            "--fail-on",
            help="exit 1 when a bucket or finding has one of these statuses "
            "(comma-separated: pass, fail, warn, not-applicable, unknown, error)",
        ),
    ] = "fail,error",
) -> None:
    """Read-only live check of buckets, their KMS keys and CloudTrail against a recommendation."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from app.probe.collectors import all_iam_actions
    from app.probe.render import (
        ITEMS,
        LATE,
        fails_on,
        parse_fail_on,
        sarif_document,
        sarif_results,
        stream_json,
        stream_text,
    )
    from app.probe.runner import ProbeUnavailable, start_probe
    from app.probe.target import Target

    if print_iam_policy:
        statement = {
            "Sid": "AtrestProbeReadOnly",
            "Effect": "Allow",
            "Action": list(all_iam_actions()),
            "Resource": "*",
        }
        typer.echo(json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2))
        return

    try:
        failing_statuses = parse_fail_on(fail_on)
    except ValueError as exc:
        fail(f"--fail-on {fail_on!r}: {exc}")
    expected_option, configuration = _expected(_engine(), option, decision, answers)
    try:
        target = Target(
            endpoint_url=endpoint_url,
            region=region,
            profile=profile,
            role_arn=role_arn,
            external_id=external_id,
        )
    except ValidationError as exc:
        for error in exc.errors():
            option_name = "--" + str(error["loc"][0]).replace("_", "-")
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.echo(f"atrest: {option_name} {error['input']!r}: {message}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    # A progress bar on stderr when it is a terminal; pipelines get clean stdout and stderr.
    bar = Progress(
        TextColumn("atrest probe"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("buckets"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=True,
    )
    task = bar.add_task("probe", total=None)

    try:
        stream = start_probe(
            option=expected_option,
            configuration=configuration,
            target=target,
            buckets=bucket or None,
            concurrency=concurrency,
            sample_objects=sample_objects,
        )
    except ProbeUnavailable as exc:
        fail(f"probe cannot run: {exc}", code=EXIT_PROBE_UNAVAILABLE)
    failing = False

    def buckets() -> Iterator[dict[str, Any]]:
        """The buckets as they are checked, advancing the bar and noting any --fail-on status."""
        nonlocal failing
        bar.update(task, total=stream.total)
        for report in stream:
            bucket_json = report.to_json()
            failing = failing or fails_on(bucket_json, failing_statuses)
            bar.advance(task)
            yield bucket_json

    # Written as the buckets arrive: memory stays flat however many buckets there are.
    with bar:
        if format is ProbeFormat.json:
            document = {**stream.header(), "buckets": ITEMS, "summary": LATE}
            pieces = stream_json(document, buckets(), stream.summary)
        elif format is ProbeFormat.sarif:
            results = (r for b in buckets() for r in sarif_results(b))
            document = sarif_document(stream.header(), ITEMS, LATE)
            pieces = stream_json(document, results, stream.summary)
        else:
            pieces = (
                line + "\n"
                for line in stream_text(stream.header(), stream.names, buckets(), stream.summary)
            )
        for piece in pieces:
            sys.stdout.write(piece)
    sys.stdout.flush()
    raise typer.Exit(1 if failing else 0)


def _interrupt_stale_probe_runs(settings: Settings) -> None:
    """Runs left queued or running by a stopped app (their lease expired) are marked
    interrupted at start; a live process's runs are not (its heartbeat keeps them)."""
    import datetime as dt

    from sqlalchemy.orm import Session

    from app.core.db import make_engine
    from app.probe.service import interrupt_stale_runs

    db = make_engine(settings)
    try:
        with Session(db) as session:
            lease = dt.timedelta(seconds=settings.probe_lease_seconds)
            count = interrupt_stale_runs(session=session, lease=lease)
            session.commit()
    finally:
        db.dispose()
    if count:
        typer.echo(
            f"atrest: {count} probe run(s) left unfinished by a stopped app: interrupted", err=True
        )


@cli.command()
def demo(
    host: Annotated[
        str, typer.Option(envvar="ATREST_HOST", help="Address the web app listens on")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="ATREST_PORT", min=1, max=65535, help="Port of the web app")
    ] = 8000,
    moto_port: Annotated[
        int,
        typer.Option(
            "--moto-port",
            envvar="ATREST_DEMO_MOTO_PORT",
            min=0,
            max=65535,
            help="Port of the demo's moto server on 127.0.0.1 (default 0: a free one)",
        ),
    ] = 0,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="keep the demo's decisions here (default: a temporary SQLite file)",
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="open the sample decision in a browser")
    ] = False,
) -> None:
    """Try everything without AWS: a local moto S3/KMS/CloudTrail/STS with sample buckets."""
    from app.demo import DemoUnavailable, run_demo

    try:
        run_demo(
            host=host,
            port=port,
            moto_port=moto_port,
            database_url=database_url,
            open_browser=open_browser,
            echo=typer.echo,
        )
    except DemoUnavailable as exc:
        fail(str(exc))


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    workers: Annotated[
        int,
        typer.Option(
            envvar="ATREST_WORKERS",
            min=1,
            max=64,
            help="Worker processes sharing the port (default 1); one process uses about one "
            "core, see the README's performance section",
        ),
    ] = 1,
) -> None:
    """Apply database migrations and start the web app; SIGTERM stops it gracefully (exit 0)."""
    import signal
    from types import FrameType

    import uvicorn

    from app.core.db import upgrade_database
    from app.core.logging import configure_logging
    from app.core.network import uvicorn_options
    from app.main import create_app

    settings = _settings()
    configure_logging(settings)  # JSON lines on stderr from here on, uvicorn's too
    _engine()
    upgrade_database(settings)
    _interrupt_stale_probe_runs(settings)
    options = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_config": None,  # configure_logging() did it (each worker does it again)
        "access_log": False,  # RequestIdMiddleware writes the access lines, with the request id
        **uvicorn_options(settings),  # the TCP peer is the client; headers are the app's to judge
    }
    if workers > 1:
        # uvicorn's supervisor starts the workers (each builds its app from the same
        # environment), restarts one that dies, and on SIGTERM stops them all gracefully.
        uvicorn.run("app.main:serve_worker", factory=True, workers=workers, **options)
        return
    web_app = create_app(settings)

    def stopped(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    # On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, gives open requests
    # shutdown_timeout seconds, runs the lifespan's end (running probes stop at their next
    # bucket), then raises the signal again for the handler it found: this one exits with 0.
    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGINT, stopped)
    uvicorn.run(web_app, **options)


def main() -> None:
    """Entry point of the console script."""
    cli()


if __name__ == "__main__":
    main()
