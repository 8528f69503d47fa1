"""The one settings object: every setting comes from here (environment prefix ATREST_)."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from app.advisor.loader import default_rules_dir
from app.probe.target import Target


class Settings(BaseSettings):
    """Application settings, read from the environment (ATREST_*) and an optional .env file."""

    model_config = SettingsConfigDict(env_prefix="ATREST_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./atrest.db",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    rules_dir: Path = Field(default_factory=default_rules_dir, description="The rules/ folder")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    probe_targets: list[Target] = Field(
        default_factory=list,
        description=(
            "Targets the web app may probe, as JSON: "
            '[{"name": "prod", "profile": "audit", "role_arn": "arn:aws:iam::...:role/x", '
            '"region": "eu-west-1"}]; never an endpoint typed by a user'
        ),
    )
    probe_workers: int = Field(default=2, ge=1, le=16, description="Probes run at once")
    probe_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How often a process writes the heartbeat of the probe runs it holds",
    )
    probe_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description=(
            "A queued or running probe run without a heartbeat for this long is stale (its "
            "process died or lost the database): any app process marks it interrupted"
        ),
    )
    probe_sweep_seconds: float = Field(
        default=15.0, gt=0, le=600, description="How often each app process looks for stale runs"
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description=(
            "Addresses of an SSO front end (oauth2-proxy ...) allowed to name the user in "
            'proxy_user_header, as JSON: ["10.0.0.5/32"]; empty: the header is ignored'
        ),
    )
    proxy_user_header: str = Field(default="X-Forwarded-User", max_length=100)
    proxy_default_role: Literal["viewer", "architect", "auditor"] | None = Field(
        default=None,
        description="Role given to a proxy-vouched user without an account; None: refuse them",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body")
    secure_cookies: bool | None = Field(
        default=None, description="Mark cookies Secure; None: when the request came over https"
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object a line on stderr; text: for people"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    shutdown_timeout: int = Field(
        default=20,
        ge=1,
        le=600,
        description="Seconds `atrest serve` lets open requests finish after SIGTERM",
    )
    report_fact_max_age_days: int = Field(
        default=365, ge=1, description="Reports mark facts older than this many days as stale"
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}")
        # Whether the rest parses is checked where a database is opened (app.core.db.
        # database_url): SQLAlchemy's parser costs a tenth of a second to import, which
        # `atrest recommend` and `atrest questions`, never touching a database, do not pay.
        return url

    @field_validator("probe_targets")
    @classmethod
    def _unique_targets(cls, targets: list[Target]) -> list[Target]:
        names = [t.name for t in targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"probe target names must be unique: {', '.join(twice)} repeated")
        return targets

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> Settings:
        if self.probe_lease_seconds < 3 * self.probe_heartbeat_seconds:
            raise ValueError(
                f"probe_lease_seconds ({self.probe_lease_seconds:g}) must be at least three "
                f"heartbeats (probe_heartbeat_seconds {self.probe_heartbeat_seconds:g}): a live "
                "run would otherwise be taken for dead"
            )
        return self

    def probe_target(self, name: str) -> Target | None:
        """The configured probe target called `name`, or None."""
        return next((t for t in self.probe_targets if t.name == name), None)


class SettingsInvalid(ValueError):
    """A setting that cannot be used: the message names it (ATREST_...) and says why; `hint`
    says what is expected, when the setting's description says it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _env_name(field: str) -> str:
    return f"ATREST_{field.upper()}"


def setting_hint(field: str) -> str | None:
    info = Settings.model_fields.get(field)
    return (
        None if info is None or not info.description else f"{_env_name(field)}: {info.description}"
    )


def load_settings() -> Settings:
    """The settings from the environment and .env.

    Raises:
        SettingsInvalid: naming the first setting that cannot be parsed or is out of range.
    """
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "_".join(str(part) for part in err["loc"][:1])
        message = str(err["msg"]).removeprefix("Value error, ")
        inner = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"][1:])
        where = f"setting {_env_name(field)}{inner}" if field else "settings"
        raise SettingsInvalid(f"{where}: {message}", setting_hint(field)) from None
    except SettingsError as exc:  # a value that is not even JSON, before any validation
        found = re.search(r'field "([^"]+)"', str(exc))
        field = found.group(1) if found else ""
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            why = f"not valid JSON ({cause.msg} at line {cause.lineno}, column {cause.colno})"
        else:
            why = str(cause or exc).splitlines()[0] if str(cause or exc) else "cannot be read"
        where = f"setting {_env_name(field)}" if field else "settings"
        raise SettingsInvalid(f"{where}: {why}", setting_hint(field)) from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once (SettingsInvalid names a bad one)."""
    return load_settings()
