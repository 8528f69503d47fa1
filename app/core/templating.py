"""The Jinja2 environment shared by every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def make_templates() -> Jinja2Templates:
    """Templates from templates/, with autoescaping on."""
    return Jinja2Templates(directory=str(TEMPLATES_DIR))
