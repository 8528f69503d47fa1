"""create_app(): the FastAPI application, its routers and the one place errors are mapped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.accounts import routes as accounts_pages
from app.accounts.access import SetupRequired
from app.advisor import get_engine
from app.audit import routes as audit_pages
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_sessionmaker
from app.core.errors import DomainError, Invalid, NotSignedIn, Problem, Unavailable
from app.core.health import error_class, migration_heads
from app.core.health import router as health_router
from app.core.htmx import is_htmx
from app.core.inputs import refuse_bad_text
from app.core.logging import RequestIdMiddleware
from app.core.network import ForwardedProtoMiddleware
from app.core.pagecache import PageCache
from app.core.security import SecurityMiddleware
from app.core.templating import make_templates
from app.decisions import api as decisions_api
from app.decisions import questionnaire
from app.decisions import routes as decisions_pages
from app.probe import routes as probe_pages
from app.probe.background import Lease, ProbeWorkers
from app.reports import routes as report_pages

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
DATABASE_UNAVAILABLE = "the database is unreachable or not answering: try again in a few seconds"
RETRY_AFTER_S = 5
logger = logging.getLogger(__name__)


def serve_worker() -> FastAPI:
    """The app of one worker process of `atrest serve --workers N` (uvicorn's factory): the
    settings from the environment, as the parent read them, and the same JSON logs. The
    parent has applied the migrations already."""
    from app.core.logging import configure_logging

    settings = get_settings()
    configure_logging(settings)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app: state (settings, advisor, database, templates), routes, errors."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Runs left by a dead process are marked interrupted now, then every sweep interval;
        # the runs this process holds are kept alive by its heartbeat.
        app.state.probe_workers.start()
        yield
        # Running probes stop at their next bucket and are marked interrupted.
        app.state.probe_workers.shutdown()

    app = FastAPI(
        title="atrest",
        description=(
            "Encryption-at-rest advisor for Amazon S3: recommendations, decisions, tickets, "
            "live probes."
        ),
        version="0.1.0",
        lifespan=lifespan,
        # Before any route (and its sign-in check): NUL or lone surrogates anywhere are a 422.
        dependencies=[Depends(refuse_bad_text)],
    )
    app.state.settings = settings
    app.state.advisor = get_engine(settings.rules_dir)
    app.state.db = make_engine(settings)
    app.state.sessions = make_sessionmaker(app.state.db)
    app.state.templates = make_templates()
    app.state.page_cache = PageCache()
    app.state.probe_workers = ProbeWorkers(
        app.state.sessions, settings.probe_workers, lease=Lease.of(settings)
    )
    app.state.migration_heads = migration_heads()  # for /readyz
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_body_bytes,
        secure_cookies=settings.secure_cookies,
    )
    app.add_middleware(RequestIdMiddleware)
    # Outermost: a trusted proxy's X-Forwarded-Proto sets the scheme the others see.
    app.add_middleware(ForwardedProtoMiddleware, trusted_proxies=settings.trusted_proxies)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.include_router(questionnaire.router)  # before /decisions/{id}: it owns /decisions/new
    app.include_router(decisions_pages.router)
    app.include_router(decisions_api.router)
    app.include_router(probe_pages.router)
    app.include_router(probe_pages.api)
    app.include_router(health_router)
    app.include_router(accounts_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(report_pages.router)

    @app.exception_handler(DomainError)
    def domain_error(request: Request, exc: DomainError) -> Response:
        """Map a service's error to JSON (API), a fragment (HTMX) or a page."""
        api = request.url.path.startswith("/api/")
        if isinstance(exc, NotSignedIn) and not api:
            # Pages send the browser to sign in (or to the first-run set-up) and back.
            name = "setup" if isinstance(exc, SetupRequired) else "signin"
            target = str(request.url_for(name))
            if name == "signin" and request.method == "GET":
                target += "?" + urlencode(
                    {
                        "next": request.url.path
                        + ("?" + request.url.query if request.url.query else "")
                    }
                )
            if is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        if api:
            if isinstance(exc, Invalid):
                detail = [
                    {
                        "loc": [p.where, *p.loc],
                        "msg": p.message,
                        "input": p.value,
                        "type": "value_error",
                    }
                    for p in exc.problems
                ]
                return JSONResponse({"detail": detail}, status_code=exc.status)
            return JSONResponse({"detail": exc.message}, status_code=exc.status)
        template = "partials/error.html" if is_htmx(request) else "error.html"
        # htmx 4 swaps error responses too: the message goes to the page's one error area
        # (base.html), never over the section whose button asked.
        headers = (
            {"HX-Retarget": "#htmx-error", "HX-Reswap": "innerHTML"} if is_htmx(request) else {}
        )
        return HTMLResponse(
            app.state.templates.get_template(template).render(
                request=request,
                status=exc.status,
                message=exc.message,
                ruleset=app.state.advisor.ruleset,
            ),
            status_code=exc.status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        """A value FastAPI's own validation refused: JSON for the API (FastAPI's shape), and
        for a browser a page (or an htmx message) naming each field, never raw JSON."""
        if request.url.path.startswith("/api/"):
            return await request_validation_exception_handler(request, exc)
        problems = [
            Problem(
                tuple(e["loc"][1:]) or ("request",),
                e.get("input"),
                str(e["msg"]),
                where=str(e["loc"][0]) if e["loc"] else "request",
            )
            for e in exc.errors()
        ]
        return domain_error(request, Invalid(problems))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(PoolTimeout)
    def database_unavailable(request: Request, exc: Exception) -> Response:
        """The database is unreachable or not answering: 503 (page, fragment or JSON) with
        Retry-After, never a 500; the log names the error class only, never the URL."""
        error = error_class(exc)
        logger.warning("database unavailable (%s)", error, extra={"error": error})
        response = domain_error(request, Unavailable(DATABASE_UNAVAILABLE))
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    return app
