"""The real `atrest` console script, run as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.advisor.loader import default_rules_dir
from tests.support import CONTRACT_KEYS, run_atrest

atrest = run_atrest


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return path.name


def assert_refused(proc: subprocess.CompletedProcess[str], *names: str, lines: int = 1) -> None:
    """Exit code 2, no traceback, nothing on stdout, `lines` stderr lines naming `names`."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == lines, proc.stderr
    for name in names:
        assert name in proc.stderr, f"{name!r} not named in {proc.stderr!r}"


def test_questions_json_lists_every_question(tmp_path: Path) -> None:
    proc = atrest("questions", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    questions = json.loads(proc.stdout)["questions"]
    assert len(questions) == 18
    for question in questions:
        assert {"id", "text", "why", "type", "values", "default"} <= set(question)
        assert question["type"] in {"bool", "enum", "list"}
    by_id = {q["id"]: q for q in questions}
    assert by_id["fips_validation"]["values"] == ["none", "fips-140-validated", "fips-140-level-3"]
    assert by_id["fips_validation"]["default"] == "none"
    assert by_id["compliance_frameworks"]["default"] == []


def test_questions_text_names_every_question(tmp_path: Path) -> None:
    proc = atrest("questions", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "audit_key_usage" in proc.stdout
    assert "compliance_frameworks" in proc.stdout


def test_recommend_json_from_a_json_file(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '{"audit_key_usage": true}')
    proc = atrest("recommend", "--answers", name, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == CONTRACT_KEYS
    assert data["recommendation"]["option"] == "sse-kms-cmk"


def test_recommend_json_from_a_yaml_file(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.yaml", "audit_key_usage: true\nrotation: annual\n")
    proc = atrest("recommend", "--answers", name, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == CONTRACT_KEYS
    assert data["answers"]["rotation"] == "annual"
    assert data["recommendation"]["option"] == "sse-kms-cmk"


def test_recommend_json_from_stdin(tmp_path: Path) -> None:
    proc = atrest(
        "recommend",
        "--answers",
        "-",
        "--format",
        "json",
        cwd=tmp_path,
        stdin='{"customer_supplied_keys": true}',
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert list(data) == CONTRACT_KEYS
    assert data["recommendation"]["option"] == "sse-c"


def test_recommend_output_is_the_same_for_json_and_yaml(tmp_path: Path) -> None:
    answers = {"dual_layer": True, "compliance_frameworks": ["hipaa"]}
    json_name = write(tmp_path / "a.json", json.dumps(answers))
    yaml_name = write(tmp_path / "a.yaml", yaml.safe_dump(answers))
    outputs = [
        atrest("recommend", "--answers", name, "--format", "json", cwd=tmp_path).stdout
        for name in (json_name, yaml_name)
    ]
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["recommendation"]["option"] == "dsse-kms"


@pytest.mark.parametrize("fmt", ["markdown", "text"])
def test_recommend_readable_formats_show_the_option_title(tmp_path: Path, fmt: str) -> None:
    name = write(tmp_path / "answers.json", '{"audit_key_usage": true}')
    proc = atrest("recommend", "--answers", name, "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "SSE-KMS with a customer managed key" in proc.stdout


def test_recommend_text_of_a_conflict_says_no_option_fits(tmp_path: Path) -> None:
    name = write(tmp_path / "a.json", '{"audit_key_usage": true, "customer_supplied_keys": true}')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "No option meets every requirement" in proc.stdout


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
def test_recommend_exits_1_on_a_conflict_in_every_format(tmp_path: Path, fmt: str) -> None:
    """A pipeline tells a conflict (1) from a recommendation (0) and from bad input (2)."""
    name = write(tmp_path / "a.json", '{"audit_key_usage": true, "customer_supplied_keys": true}')
    proc = atrest("recommend", "--answers", name, "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    if fmt == "json":
        data = json.loads(proc.stdout)
        assert data["recommendation"] is None
        assert data["conflicts"]


def test_unknown_question_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '{"audit_key_usge": true}')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "audit_key_usge")


def test_out_of_range_enum_value_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '{"fips_validation": "fips-140-level-4"}')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "fips_validation", "fips-140-level-4")


def test_non_boolean_for_a_bool_question_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.yaml", 'dual_layer: "yes"\n')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.yaml", "dual_layer", "'yes'")


def test_list_item_not_allowed_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '{"compliance_frameworks": ["hipaa", "iso-27001"]}')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "compliance_frameworks", "iso-27001")


def test_each_bad_answer_gets_its_own_line(tmp_path: Path) -> None:
    name = write(
        tmp_path / "answers.json",
        '{"nope": 1, "rotation": "hourly", "dedicated_hsm": 1}',
    )
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "nope", "rotation", "hourly", "dedicated_hsm", lines=3)
    for line in proc.stderr.strip().splitlines():
        assert "answers.json" in line


def test_malformed_json_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '{"audit_key_usage": true,')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "JSON")


def test_malformed_yaml_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.yaml", "audit_key_usage: [true\n  dual_layer: : true\n")
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.yaml", "YAML")


def test_malformed_stdin_is_refused(tmp_path: Path) -> None:
    proc = atrest("recommend", "--answers", "-", cwd=tmp_path, stdin="{audit_key_usage: [")
    assert_refused(proc, "<stdin>")


def test_missing_file_is_refused(tmp_path: Path) -> None:
    proc = atrest("recommend", "--answers", "missing.json", cwd=tmp_path)
    assert_refused(proc, "missing.json")


def test_top_level_list_is_refused(tmp_path: Path) -> None:
    name = write(tmp_path / "answers.json", '["audit_key_usage"]')
    proc = atrest("recommend", "--answers", name, cwd=tmp_path)
    assert_refused(proc, "answers.json", "mapping")


def test_invalid_rule_set_stops_with_exit_2_naming_the_file(tmp_path: Path) -> None:
    rules = Path(shutil.copytree(default_rules_dir(), tmp_path / "rules"))
    path = rules / "options.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["options"][0]["colour"] = "red"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    name = write(tmp_path / "answers.json", "{}")
    proc = atrest(
        "recommend",
        "--answers",
        name,
        cwd=tmp_path,
        env={"ATREST_RULES_DIR": str(rules)},
    )
    assert_refused(proc, "rules/options.yaml", "sse-s3", "colour")


#: Packages only the commands that serve, probe, report or open a database need (issue 13):
#: `atrest recommend` and `atrest questions` start in a fraction of the time without them.
HEAVY_PACKAGES = ("fastapi", "starlette", "sqlalchemy", "weasyprint", "boto3", "botocore", "jinja2")


@pytest.mark.parametrize(
    "args",
    [
        ("recommend", "--answers", "ANSWERS", "--format", "json"),
        ("recommend", "--answers", "ANSWERS"),
        ("questions",),
        ("questions", "--format", "json"),
    ],
)
def test_recommend_and_questions_import_no_heavy_package(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text('{"audit_key_usage": true}')
    argv = [str(answers) if arg == "ANSWERS" else arg for arg in args]
    # Runs the command in-process as the console script does, then lists what it imported.
    program = (
        "import json, sys\n"
        f"sys.argv = ['atrest', *{argv!r}]\n"
        "from app.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
        "else:\n    code = 0\n"
        f"heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY_PACKAGES!r}))\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, env=env, timeout=120
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert done.stdout.strip(), "the command printed nothing"
    assert report["heavy"] == [], f"atrest {' '.join(args)} imported {report['heavy']}"
