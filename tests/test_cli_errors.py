"""A setting, a rule file, a database or a report the `atrest` command cannot use is one line
naming it (maybe a hint line) and exit 2 (CONTRACT.md: bad input), never a traceback; run
through the real console script."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

from app.advisor.loader import default_rules_dir
from tests.support import run_atrest

SECRET = "pw-do-not-show"


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_one_line(done: subprocess.CompletedProcess[str], *names: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    # One line naming the fault, and at most one hint line after it (a traceback is dozens).
    assert len(lines) in (1, 2), done.stderr
    assert lines[0].startswith("atrest: ")
    assert all(line.startswith("atrest: hint: ") for line in lines[1:]), done.stderr
    for name in names:
        assert name in lines[0], (name, done.stderr)


def test_a_probe_targets_setting_that_is_not_json_is_named_with_what_is_expected() -> None:
    done = run_atrest("questions", env={"ATREST_PROBE_TARGETS": "not json"}, timeout=60)
    assert_one_line(done, "ATREST_PROBE_TARGETS", "not valid JSON")
    assert done.stderr.splitlines()[1].startswith("atrest: hint: ATREST_PROBE_TARGETS: ")
    nested = run_atrest("audit", "verify", env={"ATREST_PROBE_TARGETS": '[{"nam": "x"}]'})
    assert_one_line(nested, "ATREST_PROBE_TARGETS[0].nam", "Extra inputs are not permitted")


def test_a_database_url_that_does_not_parse_is_named_but_never_shown(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://ada:{SECRET}@::::/x"
    done = run_atrest("users", "list", cwd=tmp_path, env={"ATREST_DATABASE_URL": url})
    assert_one_line(done, "ATREST_DATABASE_URL", "not a database URL")
    assert SECRET not in done.stderr


def test_every_command_meeting_an_unreachable_database_says_so_in_one_line(
    tmp_path: Path,
) -> None:
    url = f"postgresql+psycopg://ada:{SECRET}@127.0.0.1:{closed_port()}/atrest"
    commands = {
        "serve": ("serve", "--port", str(closed_port())),
        "users create": ("users", "create", "bob", "--role", "viewer"),
        "users list": ("users", "list"),
        "audit verify": ("audit", "verify"),
        "report": ("report", "1"),
        "probe --decision": ("probe", "--decision", "1"),
    }
    answers = {}
    for command, args in commands.items():
        done = run_atrest(*args, cwd=tmp_path, env={"ATREST_DATABASE_URL": url}, timeout=60)
        assert_one_line(done)
        assert "database" in done.stderr or "audit log" in done.stderr, command
        assert "Connection refused" in done.stderr or "OperationalError" in done.stderr, command
        assert SECRET not in done.stderr, command
        answers[command] = done.stderr.splitlines()
    assert answers["serve"][0].startswith(
        "atrest: ATREST_DATABASE_URL: the database cannot be used: connection failed"
    )
    assert answers["serve"][1].startswith("atrest: hint: Is the server running")


def test_a_rules_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), rules)
    with (rules / "warnings.yaml").open("ab") as file:
        file.write(b"\n# \xff\xfe not UTF-8\n")
    for args in (("questions",), ("rules", "check")):
        done = run_atrest(*args, env={"ATREST_RULES_DIR": str(rules)}, timeout=60)
        assert_one_line(done, "warnings.yaml", "not UTF-8")


def test_verifying_a_report_nested_100000_deep_is_malformed_not_tampered(tmp_path: Path) -> None:
    for name, text in {
        "lists.json": "[" * 100_000 + "]" * 100_000,
        "objects.json": '{"a":' * 100_000 + "1" + "}" * 100_000,
    }.items():
        (tmp_path / name).write_text(text)
        done = run_atrest("report", "verify", str(tmp_path / name), timeout=60)
        assert_one_line(done, name, "nested too deeply")
