"""Templates: each parses, each url_for names a route, each partial names its swap target."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route

from app.core.config import Settings
from app.core.templating import TEMPLATES_DIR, make_templates
from app.main import create_app

TEMPLATES = sorted(p.relative_to(TEMPLATES_DIR).as_posix() for p in TEMPLATES_DIR.rglob("*.html"))
PARTIALS = [t for t in TEMPLATES if "/partials/" in f"/{t}"]


def route_names(routes: list[Any]) -> set[str]:
    """Every route name, looking inside included routers."""
    names: set[str] = set()
    for route in routes:
        if isinstance(route, Route | Mount):
            names.add(route.name)
        router = getattr(route, "original_router", None)
        if router is not None:
            names |= route_names(router.routes)
    return names


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_parses(name: str) -> None:
    make_templates().env.get_template(name)


def test_every_url_for_names_a_route(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/t.db"))
    names = route_names(app.routes)
    used = set()
    for name in TEMPLATES:
        used |= set(re.findall(r"url_for\('([a-z_]+)'", (TEMPLATES_DIR / name).read_text()))
    assert used, "no url_for found: the pattern is wrong"
    assert used <= names, f"unknown routes: {used - names}"


@pytest.mark.parametrize("name", PARTIALS)
def test_every_partial_starts_with_a_comment_naming_its_swap_target(name: str) -> None:
    first = (TEMPLATES_DIR / name).read_text().splitlines()[0]
    assert re.fullmatch(r"\{# swap target: .+ #\}", first), first


def test_partials_with_a_swap_target_are_returned_by_some_route() -> None:
    """Each '#id' target is the outermost element of its partial (so an HTMX swap fits)."""
    for name in PARTIALS:
        lines = (TEMPLATES_DIR / name).read_text().splitlines()
        target = re.search(r"swap target: #([a-z-]+)", lines[0])
        if target is None:
            continue
        body = "\n".join(line for line in lines[1:] if not line.lstrip().startswith("{%"))
        first_tag = re.search(r"<[a-z]+[^>]*>", body)
        assert first_tag is not None, name
        assert f'id="{target.group(1)}"' in first_tag.group(0), f"{name}: {first_tag.group(0)}"


def test_no_inline_script_and_no_cdn() -> None:
    for name in TEMPLATES:
        text = (TEMPLATES_DIR / name).read_text()
        assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", text), f"inline script in {name}"
        assert "https://cdn" not in text and "unpkg.com" not in text, name


def test_htmx_is_served_from_a_pinned_file(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from app.core.htmx import HTMX_VERSION

    assert re.fullmatch(r"4\.\d+\.\d+", HTMX_VERSION)
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/t.db"))
    response = TestClient(app).get(f"/static/js/htmx-{HTMX_VERSION}.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]
