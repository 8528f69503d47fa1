"""`atrest report DECISION_ID --format md|json|csv|pdf [-o FILE] [--version N]` and
`atrest report verify FILE`, run as the real console script against each test database."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
from pathlib import Path

from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.core.config import Settings
from tests.reports.conftest import Seeded
from tests.reports.factory import AUDIT, new_version
from tests.support import COMMAND, run_atrest


def _env(settings: Settings) -> dict[str, str]:
    return {"ATREST_DATABASE_URL": settings.database_url}


def test_json_report_written_to_a_file_verifies_and_a_changed_copy_does_not(
    seeded: Seeded, settings: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    done = run_atrest(
        "report", str(seeded.with_evidence), "--format", "json", "-o", str(out), env=_env(settings)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    digest = json.loads(out.read_text(encoding="utf-8"))["digest"]["value"]
    assert f"report sha256 {digest}" in done.stderr
    ok = run_atrest("report", "verify", str(out))
    assert (ok.returncode, ok.stdout.strip()) == (0, f"{out}: intact (sha256 {digest})")
    text = out.read_text(encoding="utf-8")
    tampered = tmp_path / "tampered.json"
    tampered.write_text(text.replace("Ada Auditor", "Ada Auditer", 1), encoding="utf-8")
    bad = run_atrest("report", "verify", str(tampered))
    assert bad.returncode == 1
    assert bad.stderr.startswith(f"atrest: {tampered}: digest mismatch: ")
    assert len(bad.stderr.strip().splitlines()) == 1
    cut = tmp_path / "cut.json"
    cut.write_text(text[:-10], encoding="utf-8")
    malformed = run_atrest("report", "verify", str(cut))
    assert malformed.returncode == 2 and "not valid JSON" in malformed.stderr
    missing = run_atrest("report", "verify", str(tmp_path / "nope.json"))
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        f"atrest: {tmp_path / 'nope.json'}: no such file",
    )
    piped = run_atrest("report", "verify", "-", stdin=text)
    assert piped.returncode == 0 and piped.stdout.startswith("<stdin>: intact")


def test_markdown_and_csv_go_to_stdout_and_an_earlier_version_can_be_asked_for(
    seeded: Seeded, settings: Settings, session: Session, engine: Engine
) -> None:
    new_version(session, engine, seeded.with_evidence, {**AUDIT, "dedicated_hsm": True})
    session.commit()
    env = _env(settings)
    latest = run_atrest("report", str(seeded.with_evidence), env=env)  # md by default
    assert latest.returncode == 0, latest.stderr
    assert latest.stdout.startswith("# Auditor's report: Payments data lake")
    assert "version 2 of 2" in latest.stdout
    first = run_atrest(
        "report", "--format", "md", str(seeded.with_evidence), "--version", "1", env=env
    )
    assert first.returncode == 0 and "version 1 of 2" in first.stdout
    table = run_atrest("report", str(seeded.without_evidence), "--format", "csv", env=env)
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    # No probe run: answers, then the decision's audit entries.
    assert rows and {r["record"] for r in rows} == {"answer", "audit"}


def test_missing_decision_version_or_database_is_a_one_line_error(
    seeded: Seeded, settings: Settings, tmp_path: Path
) -> None:
    env = _env(settings)
    cases = {
        ("report", "9999", "--format", "md"): "atrest: decision 9999 does not exist",
        ("report", str(seeded.with_evidence), "--version", "7"): (
            f"atrest: decision {seeded.with_evidence} has no version 7 (its versions are 1 to 1)"
        ),
    }
    for args, message in cases.items():
        done = run_atrest(*args, env=env)
        assert (done.returncode, done.stderr.strip(), done.stdout) == (2, message, "")
    nowhere = tmp_path / "none.db"
    done = run_atrest("report", "1", env={"ATREST_DATABASE_URL": f"sqlite:///{nowhere}"})
    assert done.returncode == 2 and "no decision database at" in done.stderr
    assert not nowhere.exists()  # reading a report never creates a database
    usage = run_atrest("report", "one", env=env)
    assert usage.returncode == 2


def test_pdf_goes_to_a_file_or_a_pipe_but_never_to_a_terminal(
    seeded: Seeded, settings: Settings, tmp_path: Path
) -> None:
    env = {**os.environ, **_env(settings)}
    out = tmp_path / "r.pdf"
    done = run_atrest(
        "report",
        str(seeded.without_evidence),
        "--format",
        "pdf",
        "-o",
        str(out),
        env=_env(settings),
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    piped = subprocess.run(
        [*COMMAND, "report", str(seeded.without_evidence), "--format", "pdf"],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout.startswith(b"%PDF-")
    leader, follower = pty.openpty()
    try:
        tty = subprocess.run(
            [*COMMAND, "report", str(seeded.without_evidence), "--format", "pdf"],
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            timeout=300,
            check=False,
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert tty.returncode == 2
    assert b"a PDF is binary: give -o FILE or redirect stdout" in tty.stderr
