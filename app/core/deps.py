"""FastAPI dependencies shared by every router: session, advisor engine, templates, settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.advisor.evaluate import Engine
from app.core.config import Settings
from app.core.db import get_session

# The getters of what the app made at start-up are `async def`: FastAPI runs a plain `def`
# dependency in a worker thread, and that hop costs more than the getter (bench/web.py).


async def get_advisor(request: Request) -> Engine:
    """The advisor engine compiled at start-up."""
    engine: Engine = request.app.state.advisor
    return engine


async def get_templates(request: Request) -> Jinja2Templates:
    """The Jinja2 templates of the app."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


async def get_form(request: Request) -> FormData:
    """The request's form body, read on the event loop so that routes can stay `def`."""
    return await request.form()


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the session commits before the response is sent, so a client that
# reads right after a 201 sees what it created.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
AdvisorDep = Annotated[Engine, Depends(get_advisor)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
FormDep = Annotated[FormData, Depends(get_form)]

#: A database id or version number in a path: 1 .. 2**31-1 (PostgreSQL's integer), so an
#: absurd value is a 422 naming it, never a database error.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
