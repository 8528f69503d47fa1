"""The `atrest` command: questions, recommend, rules check, serve."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import yaml
from pydantic import ValidationError

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
from app.core.config import Settings, get_settings

cli = typer.Typer(
    name="atrest",
    help="Encryption-at-rest advisor for Amazon S3.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
rules_cli = typer.Typer(help="Work with the rule set in rules/.", no_args_is_help=True)
cli.add_typer(rules_cli, name="rules")

EXIT_BAD_INPUT = 2


class QuestionsFormat(StrEnum):
    """Output formats of `atrest questions`."""

    text = "text"
    json = "json"


class RecommendFormat(StrEnum):
    """Output formats of `atrest recommend`."""

    text = "text"
    json = "json"
    markdown = "markdown"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line to stderr and exit with the given code."""
    typer.echo(f"atrest: {message}", err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "ATREST_" + "_".join(str(p) for p in err["loc"]).upper()
        fail(f"setting {name}: {err['msg']}")


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
    """Evaluate an answers file and print the recommendation."""
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


@rules_cli.command("check")
def rules_check() -> None:
    """Validate rules/ and verify the rule set over the whole answer space."""
    from app.advisor.verify import verify

    engine = _engine()
    report = verify(engine, progress=lambda msg: typer.echo(msg, err=True))
    typer.echo(report.summary(), nl=False)
    if not report.ok:
        raise typer.Exit(1)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
) -> None:
    """Apply database migrations and start the web app."""
    import uvicorn

    from app.core.db import upgrade_database
    from app.main import create_app

    settings = _settings()
    _engine()
    upgrade_database(settings)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port)


def main() -> None:
    """Entry point of the console script."""
    cli()


if __name__ == "__main__":
    main()
