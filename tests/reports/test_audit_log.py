"""The report's audit log: the decision's entries (changes made through the services, with
their actor), oldest first and cut to the latest ones, and whether the whole chain verified
when the report was generated, in the model and in every format."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.audit.recorder import ACTOR_KEY
from app.decisions.service import add_ticket
from app.reports import render, verify_report
from app.reports.audit_log import audit_log
from app.reports.common import compact_json
from tests.reports.conftest import OWNER, WORKER, ReportOf, Seeded

TICKET = "https://github.com/acme/infra/issues/12"


def _link_ticket_as(session: Session, decision_id: int, actor: str) -> None:
    """A ticket linked through the decisions service by `actor`, committed."""
    session.info[ACTOR_KEY] = actor
    add_ticket(session=session, decision_id=decision_id, url=TICKET)
    session.commit()


def test_report_lists_the_decisions_entries_oldest_first_and_the_chain_verified(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    a = report_of(seeded.with_evidence).audit
    seqs = [e.seq for e in a.entries]
    assert seqs == sorted(seqs) and len(seqs) == a.total and not a.truncated
    actions = [e.action for e in a.entries]
    assert actions[:3] == ["decision.created", "version.created", "ticket.linked"]
    assert actions.count("approval.created") == 2 and actions.count("probe_run.created") == 2
    assert actions[-1] == "finding_ticket.linked"
    assert {e.actor for e in a.entries} == {OWNER, WORKER}
    assert all(e.subject and len(e.hash) == 64 for e in a.entries)
    created = a.entries[0]
    assert created.before is None and created.after is not None
    assert created.after["title"] == "Payments data lake"
    # Only this decision's entries; the chain covers the whole log.
    other = report_of(seeded.without_evidence).audit
    assert not {e.seq for e in other.entries} & set(seqs)
    total = session.scalar(select(func.count()).select_from(AuditEntry))
    last = session.scalar(select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))
    chain = a.chain
    assert (chain.ok, chain.checked, chain.first_bad_seq, chain.reason) == (True, total, None, None)
    assert chain.head_hash == last and last in chain.summary
    assert chain.summary.startswith("The audit log verified intact")


def test_a_change_made_through_the_service_appears_with_its_actor(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    _link_ticket_as(session, seeded.without_evidence, "Ada Auditor")
    r = report_of(seeded.without_evidence)
    last = r.audit.entries[-1]
    assert (last.actor, last.action) == ("Ada Auditor", "ticket.linked")
    assert last.before is None and last.after is not None and last.after["url"] == TICKET
    assert r.audit.chain.head_hash == last.hash
    assert verify_report(render(r, "json")).intact


def test_entries_are_cut_to_the_latest_and_the_report_says_so(
    seeded: Seeded, report_of: ReportOf, session: Session
) -> None:
    full = audit_log(session=session, decision_id=seeded.with_evidence)
    cut = audit_log(session=session, decision_id=seeded.with_evidence, limit=3)
    assert (cut.total, cut.limit, cut.truncated) == (full.total, 3, True)
    assert cut.entries == full.entries[-3:]
    r = report_of(seeded.with_evidence).model_copy(update={"audit": cut})
    md = render(r, "md").decode("utf-8")
    assert f"The log holds {full.total:,} entries about this decision: the latest 3" in md


def test_a_tampered_log_shows_in_every_format_and_the_digest_still_verifies(
    seeded: Seeded, report_of: ReportOf, session: Session, tmp_path: Path
) -> None:
    first = report_of(seeded.without_evidence).audit.entries[0].seq
    session.execute(update(AuditEntry).where(AuditEntry.seq == first).values(actor="somebody else"))
    session.commit()
    r = report_of(seeded.without_evidence)
    chain = r.audit.chain
    assert not chain.ok and chain.first_bad_seq == first and chain.reason
    assert chain.summary.startswith("The audit log FAILED verification")
    assert f"at entry {first}" in chain.summary
    assert verify_report(render(r, "json")).intact
    assert chain.summary in render(r, "md").decode("utf-8")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(r, "pdf"))
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    assert "FAILED verification" in " ".join(done.stdout.split())


def test_every_format_shows_the_entries_and_the_chain_status(
    seeded: Seeded, report_of: ReportOf, session: Session, tmp_path: Path
) -> None:
    _link_ticket_as(session, seeded.with_evidence, "Ada Auditor")
    r = report_of(seeded.with_evidence)
    entries = r.audit.entries
    linked = entries[-1]
    # Markdown: a heading, a table of the entries, before/after as compact JSON.
    md = render(r, "md").decode("utf-8")
    section = md.split("## Audit log\n", 1)[1].split("\n## ", 1)[0]
    assert r.audit.chain.summary in section
    assert "| Seq | When | Who | What | Subject | Before | After |" in section
    rows = [line for line in section.splitlines() if line.startswith(f"| {linked.seq} |")]
    assert len(rows) == 1 and "Ada Auditor | ticket.linked" in rows[0]
    assert f'"url":"{TICKET}"' in rows[0]
    # CSV: one `audit` row per entry, oldest first, with its hash.
    table = list(csv.DictReader(io.StringIO(render(r, "csv").decode("utf-8"), newline="")))
    audit_rows = [row for row in table if row["record"] == "audit"]
    assert [int(row["seq"]) for row in audit_rows] == [e.seq for e in entries]
    last = audit_rows[-1]
    assert (last["actor"], last["action"], last["entry_hash"]) == (
        "Ada Auditor",
        "ticket.linked",
        linked.hash,
    )
    assert last["before"] == "" and last["after"] == compact_json(linked.after)
    assert last["question_id"] == last["bucket"] == ""
    # JSON: the model's section, and the digest still verifies.
    data = render(r, "json")
    assert verify_report(data).intact and b'"audit": {' in data
    # PDF: a chapter with the chain's status in a sentence and the entries' actors.
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(r, "pdf"))
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    text = " ".join(done.stdout.split())
    assert "Audit log" in text and "The audit log verified intact" in text
    assert "Ada Auditor" in text and "ticket.linked" in text


def test_a_long_audit_table_in_the_pdf_repeats_its_header_on_each_page(
    seeded: Seeded, report_of: ReportOf, session: Session, tmp_path: Path
) -> None:
    session.info[ACTOR_KEY] = "Ada Auditor"
    for n in range(80):
        url = f"https://github.com/acme/infra/issues/{100 + n}"
        add_ticket(session=session, decision_id=seeded.without_evidence, url=url)
    session.commit()
    r = report_of(seeded.without_evidence)
    assert r.audit.total > 80 and not r.audit.truncated
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(r, "pdf"))
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    pages = [" ".join(p.split()) for p in done.stdout.split("\f")]
    headed = [p for p in pages if "Seq When" in p and "Change (field: before" in p]
    assert len(headed) >= 2, "the audit table should span pages with its header repeated"
