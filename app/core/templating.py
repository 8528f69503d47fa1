"""The Jinja2 environment shared by every page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from app.core.htmx import HTMX_VERSION

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def make_templates() -> Jinja2Templates:
    """Templates from templates/, with autoescaping on and the app's filters."""
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    # Templates ship with the code: no stat() of every template file on every render.
    env.auto_reload = False
    env.globals["htmx_version"] = HTMX_VERSION
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    env.filters["answer"] = show_answer
    env.filters["by_rule"] = exclusions_by_rule
    return templates


def show_answer(value: Any) -> str:
    """An answer as a person reads it: yes/no, a list joined by commas, 'none' for []."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(value) if value else "none"
    return "" if value is None else str(value)


def exclusions_by_rule(excluded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Excluded options grouped by the rule that excluded them, in order of appearance."""
    groups: dict[str, dict[str, Any]] = {}
    for entry in excluded:
        for reason in entry["reasons"]:
            group = groups.setdefault(reason["rule"], {**reason, "options": []})
            group["options"].append(entry["option"])
    return list(groups.values())
