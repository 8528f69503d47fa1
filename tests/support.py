"""Helpers shared by tests that run the real `atrest` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ATREST = Path(sys.executable).with_name("atrest")
COMMAND = [str(ATREST)] if ATREST.exists() else [sys.executable, "-m", "app.cli"]
CONTRACT_KEYS = [
    "ruleset",
    "answers",
    "recommendation",
    "ranking",
    "excluded",
    "conflicts",
    "warnings",
    "facts",
]


def run_atrest(
    *args: str,
    cwd: Path | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean ATREST_* environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=timeout,
        check=False,
    )
