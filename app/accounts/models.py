"""SQLAlchemy models of accounts: users, their API tokens and their sign-in sessions.

No secret is stored in the clear: passwords as argon2 hashes, API tokens and session ids as
SHA-256 digests (they are 256-bit random values, so a fast digest is enough), looked up by
digest.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.decisions.models import utcnow


class User(Base):
    """An account: a name to sign in with, a role, and a password unless an SSO proxy vouches."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", lazy="raise", cascade="all, delete-orphan"
    )


class ApiToken(Base):
    """A personal API token for scripts (`Authorization: Bearer <token>`), revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="tokens", lazy="raise")


class LoginSession(Base):
    """A signed-in browser: the cookie holds the id, the row its digest and the CSRF token."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _audit() -> None:
    """Users and their tokens are audited (role changes, switching off, tokens made and
    revoked); no secret or digest is ever recorded. Sign-in sessions are not: failed sign-ins
    are recorded instead (app/accounts/service.py)."""
    from app.audit.registry import register

    register(User, prefix="user", decision_key=None, exclude={"password_hash"})
    register(
        ApiToken,
        prefix="api_token",
        decision_key=None,
        exclude={"digest", "last_used_at"},
        quiet={"last_used_at"},
        subject=lambda t: (
            f"api token {t.get('id')} ({t.get('prefix')}…) of user {t.get('user_id')}"
        ),
    )


_audit()
