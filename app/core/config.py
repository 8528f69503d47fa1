"""The one settings object: every setting comes from here (environment prefix ATREST_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.advisor.loader import default_rules_dir


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

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError(f"unsupported database URL scheme in {url.split(':', 1)[0]!r}")
        return url


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
