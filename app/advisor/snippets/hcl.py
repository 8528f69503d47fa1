"""A small HCL writer for the Terraform snippet, formatted as `terraform fmt` does (pure)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any


class _Raw(str):
    """An HCL expression written as is (a reference or a template), not a quoted string."""


@dataclass(frozen=True)
class _Block:
    """An HCL block: a header and attributes `(name, value)`, nested blocks or comment lines."""

    header: str
    body: tuple[Any, ...]


def _hcl_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name) else json.dumps(name)


def _hcl(value: Any, indent: int) -> str:
    """An HCL expression for a plain value (strings escaped, `_Raw` written as is)."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    pad = "  " * indent
    if isinstance(value, list):
        items = [_hcl(v, indent + 1) for v in value]
        if all("\n" not in i for i in items) and sum(len(i) + 2 for i in items) < 60:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"{pad}  {i},\n" for i in items) + pad + "]"
    if isinstance(value, dict):
        return "{\n" + _hcl_attributes(list(value.items()), indent + 1) + pad + "}"
    raise TypeError(f"no HCL form for {type(value).__name__}")


def _hcl_attributes(items: list[tuple[str, Any]], indent: int) -> str:
    """Attribute lines aligned as `terraform fmt` does: a multi-line value breaks the group."""
    pad = "  " * indent
    rendered = [(_hcl_key(k), _hcl(v, indent)) for k, v in items]
    text, group = "", list[tuple[str, str]]()
    for name, value in [*rendered, ("", "\n")]:
        if "\n" not in value:
            group.append((name, value))
            continue
        width = max((len(n) for n, _ in group), default=0)
        text += "".join(f"{pad}{n.ljust(width)} = {v}\n" for n, v in group)
        text += f"{pad}{name} = {value}\n" if name else ""
        group = []
    return text


def _hcl_block(block: _Block, indent: int = 0) -> str:
    pad = "  " * indent
    text = f"{pad}{block.header} {{\n"
    run: list[tuple[str, Any]] = []
    for item in (*block.body, None):
        if isinstance(item, tuple):
            run.append(item)
            continue
        if run:
            text += _hcl_attributes(run, indent + 1)
            run = []
        if isinstance(item, _Block):
            text += ("\n" if not text.endswith("{\n") else "") + _hcl_block(item, indent + 1)
        elif isinstance(item, str):
            text += f"{pad}  # {item}\n"
    return text + pad + "}\n"


def _blk(header: str, *body: Any) -> _Block:
    return _Block(header, body)
