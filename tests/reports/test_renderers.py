"""Every format rendered from one report model and read back: the JSON against its schema, the
CSV with the csv module, the Markdown's headings, the PDF's text (pdftotext), pages and images
(pdftoppm, kept under test-artifacts/reports/ to look at)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from app.reports import render, verify_report
from app.reports.common import SECTIONS
from app.reports.csv_report import COLUMNS
from app.reports.markdown import slug
from app.reports.model import SCHEMA_FILE, Report, report_schema
from tests.reports.conftest import BUCKETS, ReportOf, Seeded

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
KINDS = ("with_evidence", "without_evidence")


@pytest.fixture(params=KINDS)
def report(request: pytest.FixtureRequest, seeded: Seeded, report_of: ReportOf) -> Report:
    """The report of a decision with probe evidence, or of one without."""
    return report_of(getattr(seeded, request.param))


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run scripts/ensure-report-tools.sh (Poppler)")
    return path


def test_the_committed_schema_is_the_one_the_model_generates() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == report_schema(), (
        "app/reports/report.schema.json is stale: regenerate it with "
        '.venv/bin/python -c "from app.reports.model import write_schema; write_schema()"'
    )


def test_json_report_validates_against_its_schema_and_holds_the_model(report: Report) -> None:
    data = json.loads(render(report, "json"))
    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA_FILE.read_text(encoding="utf-8")),
        format_checker=jsonschema.FormatChecker(),
    )
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []
    assert Report.model_validate(data) == report
    # Unknown fields are refused by the schema (a report is what the model says, no more).
    data["decision"]["extra"] = 1
    assert not validator.is_valid(data)


def test_csv_has_one_row_per_answer_finding_and_audit_entry(report: Report) -> None:
    text = render(report, "csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows and tuple(rows[0]) == COLUMNS
    answers = [r for r in rows if r["record"] == "answer"]
    findings = [r for r in rows if r["record"] == "finding"]
    entries = [r for r in rows if r["record"] == "audit"]
    assert len(answers) + len(findings) + len(entries) == len(rows)
    assert [int(r["seq"]) for r in entries] == [e.seq for e in report.audit.entries]
    assert entries and all(r["question_id"] == r["check"] == "" for r in entries)
    assert [r["question_id"] for r in answers] == [q.id for q in report.questions]
    audit = next(r for r in answers if r["question_id"] == "audit_key_usage")
    assert (audit["answer"], audit["answer_text"], audit["bucket"]) == ("true", "yes", "")
    assert all(r["report_sha256"] == report.digest.value for r in rows)
    if report.probe is None:
        assert findings == []
        return
    assert len(findings) == sum(len(b.findings) for b in report.probe.buckets) == BUCKETS * 11
    tls = next(
        r for r in findings if r["bucket"] == "payments-curated" and r["check"] == "tls-only"
    )
    assert (tls["status"], tls["change"], tls["question_id"]) == ("fail", "new", "")
    assert tls["tickets"] == "https://github.com/acme/infra/issues/7"
    assert tls["message"].startswith("The bucket policy does not deny")


def test_markdown_has_every_section_heading_in_order(report: Report) -> None:
    text = render(report, "md").decode("utf-8")
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == f"# Auditor's report: {report.decision.title}"
    sections = [h[3:] for h in headings if h.startswith("## ")]
    assert sections == ["Contents", *(title for _, title in SECTIONS)]
    # Each contents link points at the anchor GitHub gives its heading.
    links = re.findall(r"^\d+\. \[(.+)\]\(#(.+)\)$", text, flags=re.M)
    assert [(title, slug(title)) for title, _ in links] == links and len(links) == len(SECTIONS)
    subsections = [h[4:] for h in headings if h.startswith("### ")]
    assert "Approvals" in subsections
    assert report.approvals.summary in text
    assert report.audit.chain.summary in text and report.audit.entries
    assert f"| {report.audit.entries[0].seq} | " in text
    if report.probe is not None:
        assert "Findings that need action" in subsections
        tls = [h for h in headings if h.startswith("#### tls-only: FAIL (medium), ")]
        assert len(tls) == 1 and tls[0].endswith(" buckets, 1 new")
        assert "payments-curated" in text and "acme/infra#7" in text
    else:
        assert "No probe run of this decision has finished" in text


def _pdf_pages(pdf: Path) -> list[str]:
    """The text of each page in reading order, whitespace runs as one space (pdftotext)."""
    done = subprocess.run(
        [_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return [" ".join(page.split()) for page in done.stdout.split("\f")[:-1]]


def _to_png(pdf: Path, name: str) -> list[Path]:
    """Every page as a PNG under test-artifacts/reports/ (to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(
        [_tool("pdftoppm"), "-r", "60", "-png", str(pdf), str(ARTIFACTS / name)], check=True
    )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


def test_pdf_reads_as_a_filed_document(
    report: Report, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(report, "pdf"))
    assert pdf.read_bytes().startswith(b"%PDF-")
    texts = _pdf_pages(pdf)
    pages, text = len(texts), " ".join(texts)
    # Cover: title, approval, digest; then contents with page numbers.
    cover = texts[0]
    assert report.decision.title in cover and report.approvals.summary in cover
    assert report.digest.value in cover.replace(" ", "")
    contents = texts[1]
    assert "Contents" in contents
    for _, title in SECTIONS:
        assert re.search(rf"{re.escape(title)} ?\.+ ?\d+", contents), title
    # Every page says which page of how many it is.
    for page, page_text in enumerate(texts, start=1):
        assert f"Page {page} of {pages}" in page_text
    # The approvals, the facts with their marks, the answers.
    for step in report.approvals.steps:
        assert step.actor in text and step.comment is not None and step.comment in text
    # Each fact shows when it became true and when its source was last checked.
    assert "Checked" in text
    for f in report.facts:
        assert f.as_of.isoformat() in text
        assert (f.checked.isoformat() if f.checked else "never") in text
        for mark in f.marks:
            assert mark.upper().split()[0] in text
    assert report.audit.chain.summary.split(":")[0] in text
    assert report.audit.entries[0].action in text
    assert report.questions[0].text.split()[0] in text
    if report.probe is not None:
        assert "Default encryption is AES256; sse-kms-cmk expects aws:kms." in text
        assert "payments-curated" in text and "Verdict: not compliant." in text
        # A table that crosses pages repeats its header on each.
        headed = [page for page in texts if "Status: checks that need action" in page]
        assert len(headed) >= 2, "the buckets table should span pages with its header repeated"
    else:
        assert "No probe run of this decision has finished" in text
    # The JSON report it was rendered from travels inside it, and verifies.
    attached = tmp_path / "attached"
    attached.mkdir()
    subprocess.run([_tool("pdfdetach"), "-saveall", "-o", str(attached), str(pdf)], check=True)
    name = f"atrest-report-{report.decision.id}-v{report.decision.version}.json"
    assert [p.name for p in attached.iterdir()] == [name]
    embedded = (attached / name).read_bytes()
    assert verify_report(embedded).intact
    assert json.loads(embedded)["digest"]["value"] == report.digest.value
    kind = request.node.callspec.params["report"]
    database = request.node.callspec.params["database_url"]
    images = _to_png(pdf, f"{kind}-{database}")
    assert len(images) == pages
