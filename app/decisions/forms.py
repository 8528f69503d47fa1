"""Turn questionnaire and decision forms into data, naming each refused field (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.datastructures import FormData

from app.advisor.schema import Question
from app.core.errors import Problem

PRESENT_SUFFIX = "__present"
"""A hidden field marking that a list question was on the form (so no box ticked = [])."""


def answers_from_form(
    questions: Iterable[Question], form: FormData
) -> tuple[dict[str, Any], list[Problem]]:
    """The answers a questionnaire step's form holds; unanswered questions are left out."""
    answers: dict[str, Any] = {}
    problems: list[Problem] = []
    for q in questions:
        if q.type == "list":
            if q.id + PRESENT_SUFFIX not in form and q.id not in form:
                continue
            items = [str(v) for v in form.getlist(q.id)]
            bad = [v for v in items if v not in q.values]
            if bad:
                problems.append(Problem((q.id,), bad, f"not allowed: {', '.join(bad)}"))
            else:
                answers[q.id] = [v for v in q.values if v in items]
            continue
        raw = form.get(q.id)
        if raw is None or raw == "":
            continue
        value = str(raw)
        if q.type == "bool":
            if value not in ("true", "false"):
                problems.append(Problem((q.id,), value, "choose yes or no"))
            else:
                answers[q.id] = value == "true"
        elif value in q.values:
            answers[q.id] = value
        else:
            problems.append(Problem((q.id,), value, f"'{value}' is not one of the choices"))
    return answers, problems


def text_field(
    form: FormData, name: str, *, required: bool = False, max_length: int = 200
) -> tuple[str | None, Problem | None]:
    """A trimmed text field, or a problem naming it."""
    value = str(form.get(name) or "").strip()
    if "\x00" in value:
        return None, Problem(
            (name,), value.replace("\x00", "\\u0000"), "must not contain a NUL character"
        )
    if required and not value:
        return None, Problem((name,), value, "is required")
    if len(value) > max_length:
        return None, Problem((name,), value[:40] + "...", f"is longer than {max_length} characters")
    return (value or None), None


def scope_from_form(form: FormData) -> dict[str, Any]:
    """The scope fields of the details form: accounts and buckets separated by commas or
    spaces, tags one `key=value` per line. Validation is the Scope schema's."""
    accounts = str(form.get("scope_accounts") or "").replace(",", " ").split()
    buckets = str(form.get("scope_buckets") or "").replace(",", " ").split()
    readers = str(form.get("scope_reader_accounts") or "").replace(",", " ").split()
    return {
        "accounts": accounts,
        "reader_accounts": readers,
        "buckets": buckets,
        "tags": parse_tag_lines(form),
    }


def tag_lines(tags: dict[str, str] | None) -> str:
    """Tags as the details form shows them: one `key=value` per line, with `\\` and `=` in a
    key written `\\\\` and `\\=` (AWS tag keys may hold `=`), so `parse_tag_lines` reads
    back exactly what was shown."""
    lines = []
    for key, value in (tags or {}).items():
        lines.append(key.replace("\\", "\\\\").replace("=", "\\=") + "=" + value)
    return "".join(line + "\n" for line in lines)


def parse_tag_lines(form: FormData) -> dict[str, str]:
    """The tags of the details form (`tag_lines` read back): the key ends at the first `=`
    that no backslash escapes; the value is the rest of the line as it is."""
    tags: dict[str, str] = {}
    for line in str(form.get("scope_tags") or "").splitlines():
        if not line.strip():
            continue
        key, i, escaped = [], 0, False
        while i < len(line):
            char = line[i]
            if escaped:
                key.append(char)
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "=":
                break
            else:
                key.append(char)
            i += 1
        tags["".join(key).strip()] = line[i + 1 :].strip()
    return tags
