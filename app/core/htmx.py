"""HTMX helpers: recognise an HTMX request and answer it with a fragment, others with a page."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

HTMX_VERSION = "4.0.1"
"""The vendored htmx.org release, served as static/js/htmx-<version>.min.js."""


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it sets the HX-Request header)."""
    return request.headers.get("HX-Request") == "true"


def page_or_partial(
    request: Request,
    templates: Jinja2Templates,
    *,
    page: str,
    partial: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> Response:
    """Render the partial for HTMX requests and the full page (which includes it) otherwise."""
    name = partial if is_htmx(request) else page
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def see_other(request: Request, name: str, fragment: str = "", **params: Any) -> RedirectResponse:
    """A 303 redirect to a named route (after a form post), with an optional query or anchor."""
    return RedirectResponse(str(request.url_for(name, **params)) + fragment, status_code=303)
