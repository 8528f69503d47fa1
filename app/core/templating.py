"""The Jinja2 environment shared by every page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

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
    env.globals["answer_label"] = answer_label
    env.filters["by_rule"] = exclusions_by_rule
    env.globals["csrf_field"] = csrf_field
    env.globals["csrf_token"] = csrf_token
    env.globals["can"] = can
    env.globals["me"] = me
    return templates


@pass_context
def csrf_token(ctx: Context) -> str:
    """The CSRF token of the request being rendered ("" outside a request)."""
    request = ctx.get("request")
    return str(getattr(request.state, "csrf_token", "")) if request is not None else ""


@pass_context
def csrf_field(ctx: Context) -> Markup:
    """The hidden form field every state-changing form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(csrf_token(ctx))


@pass_context
def me(ctx: Context) -> Any:
    """The caller of the request being rendered (app.accounts.access.Principal), or None."""
    request = ctx.get("request")
    return getattr(request.state, "principal", None) if request is not None else None


@pass_context
def can(ctx: Context, permission: str) -> bool:
    """Whether the caller may do `permission` (to hide buttons that would be refused)."""
    principal = me(ctx)
    return bool(principal is not None and principal.can(permission))


def show_answer(value: Any) -> str:
    """An answer as a person reads it: yes/no, a list joined by commas, 'none' for []."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(value) if value else "none"
    return "" if value is None else str(value)


def answer_label(question: Any, value: Any) -> str:
    """An answer in the words of its question's value labels (yes/no, a list joined by
    commas); the id is kept only where the question has no label for it."""
    if isinstance(value, bool) or value is None:
        return show_answer(value)
    labels = getattr(question, "value_labels", None) or {}
    if isinstance(value, list | tuple):
        return ", ".join(labels.get(str(v), str(v)) for v in value) if value else "none"
    return str(labels.get(str(value), value))


def exclusions_by_rule(excluded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Excluded options grouped by the rule that excluded them, in order of appearance."""
    groups: dict[str, dict[str, Any]] = {}
    for entry in excluded:
        for reason in entry["reasons"]:
            group = groups.setdefault(reason["rule"], {**reason, "options": []})
            group["options"].append(entry["option"])
    return list(groups.values())
