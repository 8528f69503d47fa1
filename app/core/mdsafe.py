"""User text inside Markdown the product writes (tickets, reports), made inert.

Text that people type (titles, descriptions, owners, comments, tags) or that comes from an
AWS account (names, descriptions) must not become Markdown of its own when a ticket or a
report is pasted into GitHub, GitLab or Jira: no fake `## Configuration to apply` section, no
task-list items, no `<!--` that hides the real configuration, no raw HTML, no `javascript:`
links or remote images, no `@everyone` or `@team` mentions that notify people.

- `inline(text)`: for a heading, a list item or a table cell: one line, HTML comments
  dropped, the characters that open links, images, HTML, code, emphasis and table cells
  escaped with a backslash (CommonMark escapes any ASCII punctuation), mentions shown as code.
- `fenced(text)`: for a multi-line text (a description): a fenced block, with a fence longer
  than any backtick run in the text, so nothing inside is rendered; HTML comments dropped.
"""

from __future__ import annotations

import re

# `<!--` up to its `-->`, or to the end when it is never closed (which hides the rest on GitHub).
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# What opens a construct mid-line: code, emphasis, links and images, HTML and entities, tables,
# strikethrough, and the backslash itself.
_SPECIAL = re.compile(r"([\\`*\[\]<>!|&~])")
# @user, @org/team, @everyone, @here: not after a word character (so e-mail addresses stay).
_MENTION = re.compile(r"(?<![\w@`])@[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?")


class Inline(str):
    """Text already made safe by `inline`: renderers pass it through as it is."""

    __slots__ = ()


def drop_comments(text: str) -> str:
    """The text without HTML comments (an unclosed one is dropped to the end)."""
    return _COMMENT.sub("", text)


def inline(text: object) -> Inline:
    """The text as inert inline Markdown on one line."""
    if isinstance(text, Inline):
        return text
    plain = " ".join(drop_comments("" if text is None else str(text)).split())
    out, start = [], 0
    for m in _MENTION.finditer(plain):
        out.append(_SPECIAL.sub(r"\\\1", plain[start : m.start()]))
        out.append(f"`{m.group(0)}`")
        start = m.end()
    out.append(_SPECIAL.sub(r"\\\1", plain[start:]))
    return Inline("".join(out))


def fenced(text: str, info: str = "text") -> list[str]:
    """The text as the lines of a fenced code block that nothing inside can close."""
    body = drop_comments(text).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *body.split("\n"), fence]


def code(text: object) -> Inline:
    """The text as one inline code span that no backtick in it can end."""
    plain = " ".join(drop_comments("" if text is None else str(text)).split())
    longest = max((len(run) for run in re.findall(r"`+", plain)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if plain.startswith("`") or plain.endswith("`") else ""
    return Inline(f"{ticks}{pad}{plain.replace('|', chr(92) + '|')}{pad}{ticks}")
