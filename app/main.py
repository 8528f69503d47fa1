"""create_app(): the FastAPI application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.advisor import get_engine
from app.core.config import Settings, get_settings
from app.core.templating import make_templates

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app: static files, templates and routes."""
    settings = settings or get_settings()
    engine = get_engine(settings.rules_dir)
    templates = make_templates()
    app = FastAPI(title="atrest", description="Encryption-at-rest advisor for Amazon S3")
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.get("/", response_class=HTMLResponse, name="home")
    def home(request: Request) -> HTMLResponse:
        """The landing page: the options the advisor weighs and the rule set in force."""
        rs = engine.ruleset
        return templates.TemplateResponse(
            request,
            "home.html",
            {"ruleset": rs, "options": list(rs.options.values()), "steps": list(rs.steps.values())},
        )

    @app.get("/healthz", name="healthz")
    def healthz() -> dict[str, str]:
        """Liveness probe with the rule set version."""
        return {"status": "ok", "ruleset": engine.ruleset.version}

    return app
