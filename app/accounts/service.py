"""Accounts: users, passwords (argon2), API tokens, sign-in sessions (keyword-only services
that flush but never commit, raising the domain errors of app.core.errors)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, false, func, select, text, update
from sqlalchemy.orm import Session

from app.accounts.models import ApiToken, LoginSession, User
from app.accounts.roles import ROLES
from app.core.errors import Conflict, Forbidden, Invalid, NotFound, Problem
from app.decisions.models import utcnow

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MAX_NAME = 64
MIN_PASSWORD = 12
TOKEN_PREFIX = "atr_"
SESSION_LIFETIME = dt.timedelta(hours=12)
TOKEN_TOUCH_EVERY = dt.timedelta(minutes=5)
#: Sign-in sessions an account keeps at once: signing in again ends the oldest beyond it.
MAX_SESSIONS_PER_USER = 10
# pg_advisory_xact_lock key held while the first or the last admin is decided: "atrestac".
ACCOUNTS_LOCK_ID = 0x6174_7265_7374_6163

_hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as much as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a token or session id is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def count_users(*, session: Session) -> int:
    """How many accounts exist (0 on a fresh installation)."""
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def _take_accounts_lock(session: Session) -> None:
    """Make the changes that decide who is admin take turns until their commit, so what is
    read after this is what the others committed: on PostgreSQL a transaction-level advisory
    lock; on SQLite the database's one write lock, which any write takes (this one changes
    nothing)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": ACCOUNTS_LOCK_ID})
    else:
        connection.execute(update(User).where(false()).values(role=User.role))


def _check(name: str, role: str, password: str | None) -> None:
    problems = []
    if not NAME.match(name):
        problems.append(
            Problem(("name",), name, "must be 2-64 characters: a-z, 0-9, '.', '_', '@', '-'")
        )
    if role not in ROLES:
        problems.append(Problem(("role",), role, f"must be one of {', '.join(ROLES)}"))
    if password is not None and len(password) < MIN_PASSWORD:
        problems.append(
            Problem(("password",), "(hidden)", f"must be at least {MIN_PASSWORD} characters")
        )
    if problems:
        raise Invalid(problems)


def create_user(*, session: Session, name: str, role: str, password: str | None = None) -> User:
    """A new account; without a password it can only sign in through a trusted proxy or a token.

    Raises:
        Invalid: a malformed name, an unknown role or a short password.
        Conflict: the name is taken.
    """
    name = name.strip().lower()
    _check(name, role, password)
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise Conflict(f"user {name!r} already exists")
    user = User(
        name=name,
        role=role,
        password_hash=None if password is None else _hasher.hash(password),
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def create_first_admin(*, session: Session, name: str, password: str) -> User:
    """The first account of a fresh installation, an admin: of set-up forms sent at once,
    exactly one creates it (the others find it once they have the accounts lock).

    Raises:
        Conflict: an account exists already.
        Invalid: a malformed name or a short password.
    """
    _take_accounts_lock(session)
    if count_users(session=session) > 0:
        raise Conflict("an account already exists: sign in instead")
    return create_user(session=session, name=name, role="admin", password=password)


def get_user(*, session: Session, name: str) -> User:
    """The account called `name`.

    Raises:
        NotFound: no such account.
    """
    user = session.scalar(select(User).where(User.name == name.strip().lower()))
    if user is None:
        raise NotFound(f"user {name!r} does not exist")
    return user


def list_users(*, session: Session) -> Sequence[User]:
    """Every account, by name."""
    return session.scalars(select(User).order_by(User.name)).all()


def _keep_an_admin(session: Session, user: User, acting_user_id: int | None) -> None:
    """Refuse to take away the last active admin, judged under the accounts lock (two admins
    demoting each other at once: the second finds the first's change and is refused)."""
    _take_accounts_lock(session)
    session.refresh(user)
    if user.role != "admin" or not user.active:
        return
    if acting_user_id is not None:
        acting = session.execute(
            select(User.role, User.active).where(User.id == acting_user_id)
        ).one_or_none()
        if acting is None or acting.role != "admin" or not acting.active:
            raise Forbidden("you are no longer an active admin: reload the page")
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict(f"{user.name} is the last active admin: make another account admin first")


def update_user(
    *,
    session: Session,
    name: str,
    role: str | None = None,
    active: bool | None = None,
    acting_user_id: int | None = None,
) -> User:
    """Change an account's role or switch it off; switching off ends its sessions.

    Raises:
        NotFound: no such account.
        Invalid: an unknown role.
        Forbidden: `acting_user_id` (the admin asking) is the account itself.
        Conflict: it would leave no active admin.
    """
    user = get_user(session=session, name=name)
    if acting_user_id is not None and user.id == acting_user_id:
        raise Forbidden("you cannot change your own role or switch yourself off")
    if role is not None:
        _check(user.name, role, None)
    if user.role == "admin" and ((role is not None and role != "admin") or active is False):
        _keep_an_admin(session, user, acting_user_id)
    if role is not None:
        user.role = role
    if active is not None:
        user.active = active
        if not active:
            for s in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
                session.delete(s)
    session.flush()
    return user


def authenticate(*, session: Session, name: str, password: str) -> User | None:
    """The active account whose name and password match, else None (same cost either way)."""
    user = session.scalar(select(User).where(User.name == name.strip().lower()))
    stored = user.password_hash if user is not None and user.active else None
    try:
        _hasher.verify(stored or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if stored is not None else None


def issue_token(*, session: Session, user_id: int, label: str = "api") -> tuple[ApiToken, str]:
    """A new API token for the account; the plain token is returned once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user_id,
        label=label[:100] or "api",
        digest=digest(plain),
        prefix=plain[:12],
        created_at=utcnow(),
    )
    session.add(token)
    session.flush()
    return token, plain


def revoke_token(*, session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of the account's tokens.

    Raises:
        NotFound: the account has no such token.
    """
    token = session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    if token is None:
        raise NotFound(f"you have no token {token_id}")
    token.revoked_at = token.revoked_at or utcnow()
    session.flush()


def user_for_token(*, session: Session, plain: str) -> User | None:
    """The active account a bearer token belongs to, unless it is revoked or unknown."""
    if not plain.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.digest == digest(plain)))
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or now - _aware(token.last_used_at) > TOKEN_TOUCH_EVERY:
        token.last_used_at = now
    return user


def _prune_sessions(session: Session, user_id: int, now: dt.datetime) -> None:
    """Delete every expired session, and end the account's oldest beyond
    MAX_SESSIONS_PER_USER - 1 (room for the one about to start)."""
    session.execute(
        delete(LoginSession).where(LoginSession.expires_at <= now),
        execution_options={"synchronize_session": False},
    )
    keep = session.scalars(
        select(LoginSession.id)
        .where(LoginSession.user_id == user_id)
        .order_by(LoginSession.expires_at.desc(), LoginSession.id.desc())
        .limit(MAX_SESSIONS_PER_USER - 1)
    ).all()
    session.execute(
        delete(LoginSession).where(LoginSession.user_id == user_id, LoginSession.id.not_in(keep)),
        execution_options={"synchronize_session": False},
    )


def start_session(*, session: Session, user: User) -> tuple[LoginSession, str]:
    """A new sign-in session; returns the row and the cookie value (never stored as such).
    Expired sessions are deleted, and the account's oldest beyond MAX_SESSIONS_PER_USER."""
    plain = secrets.token_urlsafe(32)
    now = utcnow()
    _prune_sessions(session, user.id, now)
    row = LoginSession(
        user_id=user.id,
        digest=digest(plain),
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row, plain


def proxy_session(*, session: Session, user: User) -> tuple[LoginSession, str | None]:
    """The session of a user the SSO proxy vouches for (it names them on every request): their
    newest live session, whatever cookie the request carries, or else a new one, whose cookie
    value is returned for the browser to keep (None when an existing one is reused)."""
    row = session.scalar(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.expires_at > utcnow())
        .order_by(LoginSession.expires_at.desc())
        .limit(1)
    )
    if row is not None:
        return row, None
    return start_session(session=session, user=user)


#: Every signed-in request runs it: one round trip for both rows, the statement built once.
_SESSION_AND_USER = (
    select(LoginSession, User)
    .join(User, User.id == LoginSession.user_id)
    .where(LoginSession.digest == bindparam("digest"))
)


def resolve_session(*, session: Session, cookie: str) -> tuple[User, LoginSession] | None:
    """The active account and session a cookie value stands for, unless expired or unknown."""
    found = session.execute(_SESSION_AND_USER, {"digest": digest(cookie)}).first()
    if found is None:
        return None
    row, user = found
    if _aware(row.expires_at) <= utcnow() or not user.active:
        return None
    return user, row


def end_session(*, session: Session, cookie: str) -> None:
    """Sign out: the session's row is deleted, so the cookie is worthless from now on."""
    row = session.scalar(select(LoginSession).where(LoginSession.digest == digest(cookie)))
    if row is not None:
        session.delete(row)
        session.flush()


def list_tokens(*, session: Session, user_id: int) -> Sequence[ApiToken]:
    """An account's tokens, newest first (revoked ones included, marked)."""
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    ).all()


def record_failed_signin(*, session: Session, name: str, client: str) -> None:
    """Append a failed sign-in to the audit log (the name tried and the address); a name
    longer than any account's is cut to that length (the entry's subject has 200 characters)."""
    from app.audit.recorder import append

    if len(name) > MAX_NAME:
        name = f"{name[:MAX_NAME]}… ({len(name)} characters)"
    append(
        session,
        action="signin.failed",
        subject=f"user {name}",
        actor="anonymous",
        after={"name": name, "client": client},
    )
