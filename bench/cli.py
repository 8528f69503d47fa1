"""Benchmark of the command line: how long `atrest recommend` and `atrest questions` take to
start, print and exit, against `python -c pass` in the same run.

Run with `make bench` (or `.venv/bin/python bench/cli.py [--runs N]`). Targets (issue 13):
`atrest recommend --answers FILE --format json` and `atrest questions` in <= 0.3 s wall time,
and none of the heavy modules (FastAPI, SQLAlchemy, WeasyPrint, boto3) imported by them.
Each command runs as a user runs it: the console script in a new process, its output read
from a pipe. Runs alternate between the commands, so a busy moment hits them all alike.
"""

from __future__ import annotations

import argparse
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
TARGET_S = 0.3
HEAVY = ("fastapi", "sqlalchemy", "weasyprint", "boto3", "botocore", "starlette", "jinja2")

#: A realistic answers file: a regulated workload that wants its own key and one audit trail.
ANSWERS = {
    "compliance_frameworks": ["pci-dss"],
    "audit_key_usage": True,
    "key_policy_control": True,
    "rotation": "annual",
    "request_volume": "high",
}


def atrest_command() -> list[str]:
    """The installed console script, or the module when there is none."""
    script = ROOT / ".venv" / "bin" / "atrest"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def wall_time(argv: list[str]) -> float:
    """Seconds from starting the process to its exit; a failing command stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the answers conflict, still a full answer
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")
    return elapsed


def heavy_imports(args: list[str]) -> list[str]:
    """The heavy top-level packages a command imports (from `python -X importtime`)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "app.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    found = set()
    for line in done.stderr.splitlines():
        name = line.rsplit("|", 1)[-1].strip()
        if name.split(".")[0] in HEAVY:
            found.add(name.split(".")[0])
    return sorted(found)


def main() -> None:
    """Run every command --runs times, interleaved, and print medians, p90s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        answers = Path(folder) / "answers.json"
        answers.write_text(json.dumps(ANSWERS))
        atrest = atrest_command()
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "atrest recommend --format json": (
                [*atrest, "recommend", "--answers", str(answers), "--format", "json"],
                ["recommend", "--answers", str(answers), "--format", "json"],
            ),
            "atrest recommend (text)": ([*atrest, "recommend", "--answers", str(answers)], None),
            "atrest questions": ([*atrest, "questions"], ["questions"]),
            "atrest questions --format json": ([*atrest, "questions", "--format", "json"], None),
        }
        for argv, _ in commands.values():  # warm the file cache and .pyc files
            wall_time(argv)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv, _) in commands.items():
                times[name].append(wall_time(argv))
        load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
        print(
            f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        print(f"{args.runs} runs of each command, interleaved; wall time of a new process")
        baseline = statistics.median(times["python -c pass"])
        for name, (_, importing) in commands.items():
            values = sorted(times[name])
            median = statistics.median(values)
            p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
            line = f"  {name:34} median {median * 1000:6.0f} ms, p90 {p90 * 1000:6.0f} ms"
            if name != "python -c pass":
                line += f", {median / baseline:5.1f}x python -c pass"
                line += f"; target <= {TARGET_S * 1000:.0f} ms: "
                line += "met" if median <= TARGET_S else "NOT MET"
            print(line)
            if importing is not None:
                heavy = heavy_imports(importing)
                print(f"    heavy modules imported: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
