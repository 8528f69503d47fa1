"""The one settings object: every setting comes from here (environment prefix ATREST_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}")
        return url

    @field_validator("probe_targets")
    @classmethod
    def _unique_targets(cls, targets: list[Target]) -> list[Target]:
        names = [t.name for t in targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"probe target names must be unique: {', '.join(twice)} repeated")
        return targets

    def probe_target(self, name: str) -> Target | None:
        """The configured probe target called `name`, or None."""
        return next((t for t in self.probe_targets if t.name == name), None)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
