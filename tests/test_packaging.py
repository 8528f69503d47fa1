"""The project installs under a name of its own: "atrest" on PyPI is an unrelated project, so
nothing tells anyone to install by that name, and nothing looks the version up under it."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

from app import DISTRIBUTION

ROOT = Path(__file__).resolve().parents[1]
# `pip install atrest`, `pip install 'atrest[demo]'`, `pip install "atrest>=1"` ...
INSTALL_BY_NAME = re.compile(r"pip3? install\s+(?:-U\s+|--upgrade\s+)?['\"]?atrest(?![\w-])")


def test_the_distribution_is_not_named_atrest_and_keeps_the_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION != "atrest"
    assert project["scripts"]["atrest"] == "app.cli:main"
    assert metadata.distribution(DISTRIBUTION).entry_points.select(name="atrest")


def test_no_document_or_message_says_to_install_by_the_taken_name() -> None:
    files = [ROOT / "README.md", ROOT / "Makefile", ROOT / "Dockerfile"]
    files += [p for p in (ROOT / "app").rglob("*.py")] + list((ROOT / "docs").rglob("*.md"))
    offenders = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in files
        if path.exists()
        for m in INSTALL_BY_NAME.finditer(path.read_text())
    ]
    assert offenders == []
    assert INSTALL_BY_NAME.search("pip install 'atrest[demo]'")  # the pattern catches it
    assert not INSTALL_BY_NAME.search("pip install -e '.[demo]'")
