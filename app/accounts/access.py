"""Who is asking and what they may do: the one dependency every route declares.

`requires(Permission.X)` resolves the caller once per request, from (in this order) an
`Authorization: Bearer` API token, a trusted SSO proxy's user header (only from the proxy
addresses configured), or the sign-in session cookie; checks CSRF on every state-changing
request that is not made with a token; sets the audit actor; and refuses with 401 (pages:
a redirect to sign-in) or 403. A fresh installation without any account sends every page to
the set-up page.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.accounts import service
from app.accounts.models import User
from app.accounts.roles import Permission, allows
from app.audit.events import record_event
from app.core.config import Settings
from app.core.deps import FormDep, SessionDep
from app.core.errors import Forbidden, NotSignedIn
from app.core.network import is_trusted_proxy, peer_address

SESSION_COOKIE = "atrest_session"
ANON_CSRF_COOKIE = "atrest_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SetupRequired(NotSignedIn):
    """No account exists yet: the set-up page creates the first admin."""


@dataclass(frozen=True)
class Account:
    """What a request keeps of the caller's account: a snapshot, safe after the session ends
    (error pages render after it closed)."""

    id: int
    name: str
    role: str


@dataclass
class Principal:
    """The caller: an account (or None), how it was recognised, and its CSRF token."""

    user: Account | None
    via: str  # "token" | "session" | "proxy" | "anonymous"
    csrf_token: str

    @property
    def name(self) -> str:
        """The account name, or "anonymous"."""
        return self.user.name if self.user is not None else "anonymous"

    @property
    def role(self) -> str:
        """The account's role, or "" for nobody."""
        return self.user.role if self.user is not None else ""

    def can(self, permission: Permission | str) -> bool:
        """Whether the caller holds `permission` (templates use it to hide what is refused)."""
        return self.user is not None and allows(self.user.role, Permission(permission))

    def demand(self, permission: Permission) -> None:
        """Refuse with 403 unless the caller holds `permission` (a check inside a route whose
        declared permission is the least its actions need)."""
        if not self.can(permission):
            raise Forbidden(
                f"{self.name} ({self.role or 'not signed in'}) may not do this: it needs the "
                f"{permission.value} permission"
            )


def _from_proxy(request: Request, settings: Settings) -> str | None:
    """The user name a trusted proxy vouches for, if the TCP peer is one (never a header's
    claim about who the peer is)."""
    if not is_trusted_proxy(peer_address(request), settings.trusted_proxies):
        return None
    value = request.headers.get(settings.proxy_user_header, "").strip()
    return value or None


def _proxy_user(session: Session, settings: Settings, name: str) -> User | None:
    try:
        return service.get_user(session=session, name=name)
    except Exception:  # NotFound: provision when allowed
        if settings.proxy_default_role is None:
            return None
        return service.create_user(session=session, name=name, role=settings.proxy_default_role)


def _account(user: User) -> Account:
    return Account(id=user.id, name=user.name, role=user.role)


def _identify(request: Request, session: Session, settings: Settings) -> Principal:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        user = service.user_for_token(session=session, plain=auth[7:].strip())
        if user is None:
            raise NotSignedIn("the API token is unknown, revoked, or its account is switched off")
        return Principal(user=_account(user), via="token", csrf_token="")
    cookie = request.cookies.get(SESSION_COOKIE)
    found = None if cookie is None else service.resolve_session(session=session, cookie=cookie)
    proxied = _from_proxy(request, settings)
    if proxied is not None:
        user = _proxy_user(session, settings, proxied)
        if user is None or not user.active:
            raise Forbidden(f"the proxy vouches for {proxied!r}, which has no active account")
        if found is not None and found[0].id == user.id:
            return Principal(user=_account(user), via="proxy", csrf_token=found[1].csrf_token)
        # No cookie of theirs (a script, another browser): their live session, or a new one.
        login, plain = service.proxy_session(session=session, user=user)
        if plain is not None:
            request.state.set_session_cookie = plain
            record_event(
                session,
                action="signin.succeeded",
                subject=f"user {user.name}",
                request=request,
                actor=user.name,
                details={"via": "proxy"},
            )
        return Principal(user=_account(user), via="proxy", csrf_token=login.csrf_token)
    if found is not None:
        return Principal(user=_account(found[0]), via="session", csrf_token=found[1].csrf_token)
    token = request.cookies.get(ANON_CSRF_COOKIE) or ""
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.set_anon_csrf_cookie = token
    return Principal(user=None, via="anonymous", csrf_token=token)


def _check_csrf(request: Request, form: FormData, principal: Principal) -> None:
    """State-changing requests outside API tokens must echo the CSRF token (form or header)."""
    if request.method in SAFE_METHODS or principal.via == "token":
        return
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    expected = principal.csrf_token
    cookie_backed = principal.via != "anonymous" or request.cookies.get(ANON_CSRF_COOKIE)
    if not sent or not expected or not cookie_backed or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            "the form has expired or did not come from this site (CSRF token missing "
            "or wrong): reload the page and try again"
        )


def current_principal(request: Request, session: SessionDep, form: FormDep) -> Principal:
    """The caller of this request (resolved once per request), CSRF-checked."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    principal = _identify(request, session, settings)
    _check_csrf(request, form, principal)
    session.info["actor"] = principal.name
    request.state.principal = principal
    request.state.csrf_token = principal.csrf_token
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def _has_users(request: Request, session: Session) -> bool:
    if getattr(request.app.state, "has_users", False):
        return True
    found = service.count_users(session=session) > 0
    request.app.state.has_users = found
    return found


def requires(permission: Permission, *, identify: bool = True) -> Any:
    """The dependency a route declares: the caller must hold `permission`.

    `identify=False` (PUBLIC only) declares a route that never resolves the caller: no session,
    no database, whatever cookie or token the request carries (the health probes).
    """
    if not identify:
        if permission is not Permission.PUBLIC:
            raise ValueError("only a PUBLIC route may skip identifying its caller")

        def anyone() -> None:
            return None

        anyone.permission = permission  # type: ignore[attr-defined]  # read by the route walk test
        return Depends(anyone)

    async def check(request: Request, session: SessionDep, principal: PrincipalDep) -> Principal:
        # On the event loop (no worker-thread hop per request): only a caller who is not
        # signed in sends it to the database, and then in a worker thread.
        if permission is Permission.PUBLIC:
            return principal
        if principal.user is None:
            if not await run_in_threadpool(_has_users, request, session):
                raise SetupRequired("no account exists yet: create the first admin")
            raise NotSignedIn("sign in first")
        if not allows(principal.user.role, permission):
            raise Forbidden(
                f"{principal.user.name} ({principal.user.role}) may not do this: it needs the "
                f"{permission.value} permission"
            )
        return principal

    check.permission = permission  # type: ignore[attr-defined]  # read by the route walk test
    return Depends(check)
