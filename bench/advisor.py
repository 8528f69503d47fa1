"""Benchmark of the advisor: evaluations per second on one core, and `atrest rules check` wall time.

Run with `make bench` (or `.venv/bin/python bench/advisor.py [--evaluations N] [--skip-check]`).
Targets (issue 2): >= 20,000 evaluations/s; the full verification under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.advisor.evaluate import Engine  # noqa: E402
from app.advisor.loader import load_ruleset  # noqa: E402
from app.advisor.schema import Question  # noqa: E402

TARGET_EVALS_PER_S = 20_000
TARGET_CHECK_S = 60.0


def random_answers(questions: dict[str, Question], rng: random.Random) -> dict[str, Any]:
    """A valid answer set: each question answered with probability 1/2, uniformly."""
    answers: dict[str, Any] = {}
    for qid, q in questions.items():
        if rng.random() < 0.5:
            continue
        if q.type == "bool":
            answers[qid] = rng.random() < 0.3
        elif q.type == "enum":
            answers[qid] = rng.choice(q.values)
        else:
            answers[qid] = [v for v in q.values if rng.random() < 0.2]
    return answers


def _rate(sets: list[dict[str, Any]], rounds: int, work: Any) -> list[float]:
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for answers in sets:
            work(answers)
        rates.append(len(sets) / (time.perf_counter() - start))
    return rates


def _report(label: str, rates: list[float], target: float | None) -> None:
    mean = statistics.mean(rates)
    print(
        f"  {label}: mean {mean:,.0f}/s (min {min(rates):,.0f}, max {max(rates):,.0f}), {1e6 / mean:,.1f} us each"
    )
    if target is not None:
        print(f"    target >= {target:,.0f}/s: {'met' if mean >= target else 'NOT MET'}")


def bench_evaluations(n: int, rounds: int) -> None:
    """Time evaluations over n varied answer sets, several rounds; print the figures."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    engine = Engine(load_ruleset())
    rng = random.Random(20261129)
    sets = [random_answers(engine.ruleset.questions, rng) for _ in range(n)]
    conflicts = sum(engine.evaluate(a).option is None for a in sets)
    print(
        f"evaluations: {n:,} varied answer sets x {rounds} rounds, one core ({conflicts:,} sets conflict)"
    )
    _report(
        "decisions (validate, exclude, rank, smallest conflict sets)",
        _rate(sets, rounds, engine.evaluate),
        TARGET_EVALS_PER_S,
    )
    _report(
        "full results (the above + the contract's JSON as Python data)",
        _rate(sets, rounds, lambda a: engine.evaluate(a).data),
        TARGET_EVALS_PER_S,
    )
    _report(
        "JSON text (the above + json.dumps, as `recommend --format json`)",
        _rate(sets[: n // 4], 1, lambda a: engine.evaluate(a).to_json()),
        None,
    )


def bench_rules_check() -> None:
    """Run `atrest rules check` as a user would and print its wall time."""
    atrest = ROOT / ".venv" / "bin" / "atrest"
    cmd = [str(atrest)] if atrest.exists() else [sys.executable, "-m", "app.cli"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "rules", "check"], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()
    print(
        f"atrest rules check: exit {proc.returncode}, wall time {wall:.1f} s ({os.cpu_count()} cores)"
    )
    print(f"  {last}")
    print(f"  target < {TARGET_CHECK_S:.0f} s: {'met' if wall < TARGET_CHECK_S else 'NOT MET'}")


def main() -> None:
    """Parse arguments and run the benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--evaluations", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}")
    bench_evaluations(args.evaluations, args.rounds)
    if not args.skip_check:
        bench_rules_check()


if __name__ == "__main__":
    main()
