"""docs/CONTRACT.md is held to the code: its questions and values are the rule set's, its
check ids the probe's, its available commands and options the CLI's; the README links it."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from app.advisor.loader import load_ruleset
from app.cli import cli
from app.probe.checks import CHECK_IDS

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = (ROOT / "docs" / "CONTRACT.md").read_text()


def section(title: str) -> str:
    return CONTRACT.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def rows(text: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in text.splitlines()
        if line.startswith("| `")
    ]


def test_every_question_and_value_is_the_rule_sets() -> None:
    questions = load_ruleset().questions
    table = {r[0].strip("`"): r for r in rows(section("Answers"))}
    assert set(table) == set(questions)
    for qid, (_, kind, values) in table.items():
        q = questions[qid]
        assert kind == q.type, qid
        if q.type in ("enum", "list"):
            named = re.findall(r"`([^`]+)`", values)
            assert set(named) - {"[]"} == set(q.values), qid


def test_check_ids_are_the_probes() -> None:
    table = [r[0].strip("`") for r in rows(section("Probe JSON"))]
    assert table == list(CHECK_IDS)


def options_of(command: object) -> set[str]:
    """The options of a command and of its subcommands."""
    found = {o for p in getattr(command, "params", []) for o in getattr(p, "opts", [])}
    for sub in getattr(command, "commands", {}).values():
        found |= options_of(sub)
    return found


def test_available_commands_and_their_options_exist() -> None:
    available = section("Commands").split("Planned, not built yet", 1)[0]
    root = typer.main.get_command(cli)
    commands = root.commands  # type: ignore[attr-defined]
    for row in rows(available):
        usage = row[0].strip("`")
        for name in re.findall(r"atrest ([a-z]+)", usage):
            assert name in commands, name
        first = re.match(r"atrest ([a-z]+)", usage)
        assert first is not None
        options = options_of(commands[first[1]])
        for option in re.findall(r"--[a-z-]+", usage):
            assert option in options, (usage, option)


def test_the_readme_links_the_projects_contract() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "docs/CONTRACT.md" in readme and "../shared" not in readme
