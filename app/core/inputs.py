"""Text no route may receive, refused in one place before any route runs; whole numbers typed
as text.

A NUL character cannot be stored by PostgreSQL (SQLite takes it, so the two would differ), and
a lone surrogate ("\\ud800" in JSON) is not Unicode text at all: it cannot be encoded as UTF-8,
so writing it to the database, to a page or even into an error message fails. `refuse_bad_text`
is a dependency of the whole app (create_app): it looks at every path parameter, query
parameter, form field and JSON string (names and keys too) and refuses the first such text
with a 422 naming the field and showing the value with the character escaped.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from app.core.deps import MAX_ID
from app.core.errors import Invalid, Problem

_BAD = re.compile("[\x00\ud800-\udfff]")
_SHOWN = 200  # characters of a refused value echoed back
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def bad_character(text: str) -> str | None:
    """Why `text` cannot be accepted (it holds a NUL or a lone surrogate), or None."""
    found = _BAD.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain a NUL character (\\u0000)"
    return (
        f"must not contain a lone surrogate (\\u{ord(found.group()):04x}): it is not Unicode text"
    )


def shown(text: str) -> str:
    """`text` as an error message may echo it: NUL and surrogates escaped, at most 200 chars."""
    escaped = _BAD.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return escaped if len(escaped) <= _SHOWN else escaped[:_SHOWN] + "…"


def _json_problem(data: Any) -> Problem | None:
    """The first bad key or string in parsed JSON (walked without recursion: any depth)."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        loc, value = stack.pop()
        if isinstance(value, str):
            why = bad_character(value)
            if why:
                return Problem(loc, shown(value), why)
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                why = bad_character(key)
                if why:
                    return Problem((*loc, shown(key)), shown(key), "a key " + why)
                stack.append(((*loc, key), item))
        elif isinstance(value, list):
            stack.extend(((*loc, i), item) for i, item in reversed(list(enumerate(value))))
    return None


def _pairs_problem(where: str, pairs: Any) -> Problem | None:
    for name, value in pairs:
        text = (value.filename or "") if isinstance(value, UploadFile) else str(value)
        for checked, why in ((name, bad_character(name)), (text, bad_character(text))):
            if why:
                return Problem((shown(name),), shown(checked), why, where=where)
    return None


async def refuse_bad_text(request: Request) -> None:
    """Refuse a request whose path, query, form or JSON holds a NUL or a lone surrogate.

    Raises:
        Invalid: naming the first such field (where: path, query or body) and its value.
    """
    problem = _pairs_problem("path", request.path_params.items()) or _pairs_problem(
        "query", request.query_params.multi_items()
    )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if problem is None and kind in _FORM_TYPES:
        problem = _pairs_problem("body", (await request.form()).multi_items())
    elif problem is None and (kind == "application/json" or kind.endswith("+json")):
        try:  # parsed once: FastAPI has already read a route's JSON body through this
            data = await request.json() if await request.body() else None
        except (ValueError, RecursionError):
            data = None  # not JSON: the route's own parsing says so, if it reads JSON at all
        problem = _json_problem(data)
    if problem is not None:
        raise Invalid([problem])


def parse_id(text: str) -> int | None:
    """A database id written in ASCII digits (not "²" or "٣", which str.isdigit accepts), or
    None when `text` is not one."""
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
