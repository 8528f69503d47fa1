"""Benchmark of the auditor's report: time and peak memory to render the PDF of a decision whose
probe evidence covers 1,000 buckets (11 findings each).

Run with `.venv/bin/python bench/report.py [--buckets 1000] [--failing 0.25] [--repeat 3]`
(about a minute on 2 idle cores). Targets (issue 5): at most 5 s and 300 MB.

What runs: a temporary SQLite database, migrated, holding an approved decision with a ticket and
two finished probe runs of --buckets buckets (the latest compared with the one before it),
every bucket with the 11 findings of the contract's checks; --failing of the buckets (default
one in four) have one to three findings that need action (tests/reports/factory.py); the
previous run differed on one bucket in fifty (some problems fixed since, some new). Then, in
a fresh Python process each time (so that the figures are those of one `atrest report` run and
nothing else):
  time: build_report (the database read and the model) and render(report, "pdf") (the
    template and WeasyPrint, whose import and font set-up the first PDF pays), wall clock and
    CPU; best of --repeat and median. Peak memory of that process as the kernel counts it
    (ru_maxrss: the Python heap and WeasyPrint's native allocations (Pango, HarfBuzz, cairo-free
    pydyf), plus the interpreter and the imported modules).
  Python heap: the same in one more process under tracemalloc (slower: not timed), peak of
    the Python allocations alone during build + render.
  command: `atrest report ID --format pdf -o FILE` as a user runs it, wall clock (start-up,
    imports, database, rendering, writing).
The load average is printed first: other work on the machine slows the wall clock figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 5.0
TARGET_MB = 300.0

# Run in a fresh interpreter: prints one JSON line of figures.
MEASURE = r"""
import json, resource, sys, time, tracemalloc
sys.path.insert(0, sys.argv[1])
database_url, decision_id, traced = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
from sqlalchemy.orm import Session
from app.advisor import get_engine
from app.core.config import Settings
from app.core.db import make_engine
from app.reports import render
from app.reports.build import build_report
settings = Settings(database_url=database_url)
engine = get_engine(settings.rules_dir)
db = make_engine(settings)
before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if traced:
    tracemalloc.start()
wall0, cpu0 = time.perf_counter(), time.process_time()
with Session(db) as session:
    report = build_report(session=session, engine=engine, settings=settings, decision_id=decision_id)
wall1, cpu1 = time.perf_counter(), time.process_time()
pdf = render(report, "pdf")
wall2, cpu2 = time.perf_counter(), time.process_time()
open(sys.argv[5], "wb").write(pdf)
heap = tracemalloc.get_traced_memory()[1] if traced else None
print(json.dumps({
    "build_s": wall1 - wall0, "render_s": wall2 - wall1, "cpu_s": cpu2 - cpu0,
    "rss_before_mb": before_kb / 1024,
    "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "heap_peak_mb": None if heap is None else heap / 2**20,
    "pdf_bytes": len(pdf),
    "buckets": len(report.probe.buckets) if report.probe else 0,
    "findings": sum(len(b.findings) for b in report.probe.buckets) if report.probe else 0,
}))
"""


def seed(database_url: str, buckets: int, failing: float) -> int:
    """A migrated database with the benchmark's decision; returns its id."""
    from sqlalchemy.orm import Session

    from app.advisor import get_engine
    from app.core.config import Settings
    from app.core.db import make_engine, upgrade_database
    from tests.reports.factory import T0, BucketSpec, add_run, make_decision

    settings = Settings(database_url=database_url)
    upgrade_database(settings)
    engine = get_engine(settings.rules_dir)
    db = make_engine(settings)
    kinds = ("default-encryption", "kms-key-rotation", "tls-only", "sse-c-blocked", "kms-key-state")
    every = max(1, round(1 / failing)) if failing > 0 else 0

    def specs(previous: bool) -> list[BucketSpec]:
        """The buckets of a run; the previous run differs on one bucket in fifty."""
        out = []
        for i in range(buckets):
            problems: tuple[str, ...] = ()
            if every and i % every == 0:
                problems = tuple(kinds[(i + k) % len(kinds)] for k in range(1 + i % 3))
            if previous and i % 50 == 1:
                problems = ("default-encryption",)  # fixed since
            if previous and i % 100 == 0:
                problems = problems[1:]  # new since
            out.append(BucketSpec(f"data-{i:05d}-archive", problems=problems))
        return out

    try:
        with Session(db) as session:
            decision = make_decision(session, engine)
            earlier = T0 - dt.timedelta(days=7)
            add_run(
                session, decision_id=decision, version=1, buckets=specs(True), finished_at=earlier
            )
            add_run(session, decision_id=decision, version=1, buckets=specs(False), finished_at=T0)
            session.commit()
    finally:
        db.dispose()
    return decision


def measure(database_url: str, decision: int, out: Path, *, traced: bool) -> dict[str, float]:
    """Build and render once in a fresh interpreter, writing the PDF to `out`; its figures."""
    flag = "1" if traced else "0"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(ROOT), database_url, str(decision), flag, str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"the measuring process failed:\n{done.stderr}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def pages(pdf: Path) -> str:
    """The page count of a PDF (pdfinfo), or '?' without Poppler."""
    try:
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "?"
    found = [line.split()[-1] for line in info.stdout.splitlines() if line.startswith("Pages:")]
    return found[0] if found else "?"


def command(database_url: str, decision: int, out: Path) -> float:
    """Wall time of `atrest report ID --format pdf -o FILE`."""
    atrest = ROOT / ".venv" / "bin" / "atrest"
    cmd = [str(atrest)] if atrest.exists() else [sys.executable, "-m", "app.cli"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}}
    env["ATREST_DATABASE_URL"] = database_url
    start = time.perf_counter()
    done = subprocess.run(
        [*cmd, "report", str(decision), "--format", "pdf", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"atrest report failed:\n{done.stderr}")
    return wall


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT MET"


def main() -> None:
    """Parse arguments, seed, measure and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--buckets", type=int, default=1000)
    parser.add_argument("--failing", type=float, default=0.25, help="share of failing buckets")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="atrest-bench-report-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        start = time.perf_counter()
        decision = seed(url, args.buckets, args.failing)
        print(
            f"seeded: {args.buckets:,} buckets x 11 findings, two runs, "
            f"{args.failing:.0%} failing, in {time.perf_counter() - start:.1f} s"
        )
        pdf = Path(tmp) / "report.pdf"
        runs = [measure(url, decision, pdf, traced=False) for _ in range(args.repeat)]
        traced = measure(url, decision, pdf, traced=True)
        wall = [r["build_s"] + r["render_s"] for r in runs]
        best = min(runs, key=lambda r: r["build_s"] + r["render_s"])
        peak = max(r["rss_peak_mb"] for r in runs)
        print(
            f"report: {int(best['buckets']):,} buckets, {int(best['findings']):,} findings -> "
            f"PDF of {pages(pdf)} pages, {best['pdf_bytes'] / 1024:,.0f} KiB"
        )
        print(
            f"  time, build_report + render pdf: best {min(wall):.2f} s, median "
            f"{statistics.median(wall):.2f} s of {len(wall)} fresh processes "
            f"(best: build {best['build_s']:.2f} s, render {best['render_s']:.2f} s, "
            f"CPU {best['cpu_s']:.2f} s)"
        )
        print(f"    target <= {TARGET_S:.0f} s: {_verdict(min(wall), TARGET_S)}")
        print(
            f"  peak memory of the process (ru_maxrss, Python + WeasyPrint's native memory): "
            f"{peak:.0f} MB ({best['rss_before_mb']:.0f} MB of it before building: interpreter, "
            f"imports, database engine)"
        )
        print(f"    target <= {TARGET_MB:.0f} MB: {_verdict(peak, TARGET_MB)}")
        print(
            f"  Python heap alone (tracemalloc peak during build + render): "
            f"{traced['heap_peak_mb']:.0f} MB"
        )
        wall_cmd = command(url, decision, pdf)
        print(
            f"  `atrest report {decision} --format pdf -o FILE` as a user runs it: {wall_cmd:.2f} s "
            "wall (start-up and imports included)"
        )


if __name__ == "__main__":
    main()
