"""Sign-in, sign-out, the first-run set-up page, users (admin) and API tokens (thin routes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.accounts import service
from app.accounts.access import SESSION_COOKIE, PrincipalDep, requires
from app.accounts.limiter import SIGNIN_LIMITER
from app.accounts.roles import ROLES, Permission
from app.audit.events import record_event
from app.core.deps import AdvisorDep, FormDep, IdPath, SessionDep, TemplatesDep
from app.core.errors import Conflict, Forbidden, Invalid
from app.core.network import client_address, parse_address, peer_address, relayed

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host, no //) is followed after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _page(
    request: Request,
    templates: TemplatesDep,
    engine: AdvisorDep,
    template: str,
    status_code: int = 200,
    **context: object,
) -> Response:
    return templates.TemplateResponse(
        request, template, {"ruleset": engine.ruleset, **context}, status_code=status_code
    )


@router.get("/signin", name="signin", dependencies=[requires(Permission.PUBLIC)])
def signin_page(
    request: Request,
    templates: TemplatesDep,
    engine: AdvisorDep,
    next: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """The sign-in form."""
    return _page(request, templates, engine, "accounts/signin.html", next=_safe_next(next))


@router.post("/signin", name="signin_post", dependencies=[requires(Permission.PUBLIC)])
def signin(
    request: Request,
    form: FormDep,
    session: SessionDep,
    templates: TemplatesDep,
    engine: AdvisorDep,
) -> Response:
    """Check name and password (rate-limited per address and name); start a session."""
    name = str(form.get("name", "")).strip().lower()
    target = _safe_next(str(form.get("next", "")))
    client = client_address(request)
    wait = SIGNIN_LIMITER.retry_after(client, name)
    if wait:
        return _page(
            request,
            templates,
            engine,
            "accounts/signin.html",
            status_code=429,
            next=target,
            name=name,
            error=f"Too many failed sign-ins: try again in {wait} seconds.",
        )
    too_long = len(name) > service.MAX_NAME
    user = (
        None
        if too_long
        else service.authenticate(
            session=session, name=name, password=str(form.get("password", ""))
        )
    )
    if user is None:
        SIGNIN_LIMITER.failed(client, name)
        service.record_failed_signin(session=session, name=name, client=client)
        # A name no account can have is refused naming the field (the limit is no secret);
        # any other failure says only that the name or the password is wrong.
        return _page(
            request,
            templates,
            engine,
            "accounts/signin.html",
            status_code=422 if too_long else 401,
            next=target,
            name=name[: service.MAX_NAME] if too_long else name,
            error=f"name: {len(name)} characters is longer than an account name can be "
            f"({service.MAX_NAME} at most)."
            if too_long
            else "Wrong name or password.",
        )
    SIGNIN_LIMITER.succeeded(client, name)
    _, cookie = service.start_session(session=session, user=user)
    request.state.set_session_cookie = cookie
    _signed_in(request, session, user.name, "password")
    return RedirectResponse(target, status_code=303)


def _signed_in(request: Request, session: Session, name: str, via: str) -> None:
    """Record a successful sign-in in the audit log (who, how, from where)."""
    record_event(
        session,
        action="signin.succeeded",
        subject=f"user {name}",
        request=request,
        actor=name,
        details={"via": via},
    )


@router.post("/signout", name="signout", dependencies=[requires(Permission.READ)])
def signout(request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    """End the session: its row is deleted and the cookie cleared."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        service.end_session(session=session, cookie=cookie)
        record_event(session, action="signout", subject=f"user {principal.name}", request=request)
    request.state.clear_session_cookie = True
    return RedirectResponse(str(request.url_for("signin")), status_code=303)


def _loopback(request: Request) -> bool:
    """Whether the request comes straight from this machine: a loopback TCP peer, neither a
    trusted proxy nor relaying for someone (a proxy's forwarding headers)."""
    if relayed(request):
        return False
    peer = peer_address(request)
    address = parse_address(peer)
    return address.is_loopback if address is not None else peer == "testclient"


@router.get("/setup", name="setup", dependencies=[requires(Permission.PUBLIC)])
def setup_page(
    request: Request, session: SessionDep, templates: TemplatesDep, engine: AdvisorDep
) -> Response:
    """The one-time set-up page: create the first admin (loopback clients only)."""
    if service.count_users(session=session) > 0:
        return RedirectResponse(str(request.url_for("signin")), status_code=303)
    if not _loopback(request):
        raise Forbidden(
            "the set-up page answers only on this machine (127.0.0.1); or create the first "
            "admin with: atrest users create NAME --role admin --password-stdin"
        )
    return _page(request, templates, engine, "accounts/setup.html")


@router.post("/setup", name="setup_post", dependencies=[requires(Permission.PUBLIC)])
def setup(
    request: Request,
    form: FormDep,
    session: SessionDep,
    templates: TemplatesDep,
    engine: AdvisorDep,
) -> Response:
    """Create the first admin and sign them in; refused once any account exists."""
    if service.count_users(session=session) > 0:
        raise Conflict("an account already exists: sign in instead")
    if not _loopback(request):
        raise Forbidden("the set-up page answers only on this machine (127.0.0.1)")
    name = str(form.get("name", ""))
    password = str(form.get("password", ""))
    if password != str(form.get("password2", "")):
        return _page(
            request,
            templates,
            engine,
            "accounts/setup.html",
            status_code=422,
            name=name,
            error="The two passwords differ.",
        )
    session.info["actor"] = f"set-up page ({name.strip().lower()})"
    try:
        user = service.create_first_admin(session=session, name=name, password=password)
    except Invalid as exc:
        return _page(
            request,
            templates,
            engine,
            "accounts/setup.html",
            status_code=422,
            name=name,
            error=exc.brief,
        )
    request.app.state.has_users = True
    session.info["actor"] = user.name
    _, cookie = service.start_session(session=session, user=user)
    request.state.set_session_cookie = cookie
    _signed_in(request, session, user.name, "set-up page")
    return RedirectResponse(str(request.url_for("users")), status_code=303)


@router.get("/users", name="users", dependencies=[requires(Permission.ADMIN)])
def users_page(
    request: Request, session: SessionDep, templates: TemplatesDep, engine: AdvisorDep
) -> Response:
    """Every account with its role; invite (create) a user."""
    return _page(
        request,
        templates,
        engine,
        "accounts/users.html",
        users=service.list_users(session=session),
        roles=ROLES,
    )


@router.post("/users", name="users_create", dependencies=[requires(Permission.ADMIN)])
def users_create(
    request: Request,
    form: FormDep,
    session: SessionDep,
    templates: TemplatesDep,
    engine: AdvisorDep,
) -> Response:
    """Create an account with a first password (the user changes nothing else here)."""
    name, role = str(form.get("name", "")), str(form.get("role", ""))
    try:
        service.create_user(
            session=session, name=name, role=role, password=str(form.get("password", ""))
        )
    except (Invalid, Conflict) as exc:
        message = exc.brief
        return _page(
            request,
            templates,
            engine,
            "accounts/users.html",
            status_code=exc.status,
            users=service.list_users(session=session),
            roles=ROLES,
            error=message,
            name=name,
            role=role,
        )
    return RedirectResponse(str(request.url_for("users")), status_code=303)


@router.post("/users/{name}", name="users_update", dependencies=[requires(Permission.ADMIN)])
def users_update(
    request: Request, form: FormDep, session: SessionDep, principal: PrincipalDep, name: str
) -> Response:
    """Change a user's role, or switch the account off or on (not one's own; never the last
    active admin's)."""
    assert principal.user is not None
    role = str(form.get("role", "")) or None
    active = {"on": True, "off": False}.get(str(form.get("active", "")))
    service.update_user(
        session=session, name=name, role=role, active=active, acting_user_id=principal.user.id
    )
    return RedirectResponse(str(request.url_for("users")), status_code=303)


@router.get("/tokens", name="tokens", dependencies=[requires(Permission.READ)])
def tokens_page(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    templates: TemplatesDep,
    engine: AdvisorDep,
) -> Response:
    """Your API tokens: create one (shown once), revoke one."""
    assert principal.user is not None
    return _page(
        request,
        templates,
        engine,
        "accounts/tokens.html",
        tokens=service.list_tokens(session=session, user_id=principal.user.id),
    )


@router.post("/tokens", name="tokens_create", dependencies=[requires(Permission.READ)])
def tokens_create(
    request: Request,
    form: FormDep,
    session: SessionDep,
    principal: PrincipalDep,
    templates: TemplatesDep,
    engine: AdvisorDep,
) -> Response:
    """Create a token and show it once."""
    assert principal.user is not None
    _, plain = service.issue_token(
        session=session, user_id=principal.user.id, label=str(form.get("label", "")).strip()
    )
    return _page(
        request,
        templates,
        engine,
        "accounts/tokens.html",
        tokens=service.list_tokens(session=session, user_id=principal.user.id),
        new_token=plain,
    )


@router.post(
    "/tokens/{token_id}/revoke", name="tokens_revoke", dependencies=[requires(Permission.READ)]
)
def tokens_revoke(
    request: Request, session: SessionDep, principal: PrincipalDep, token_id: IdPath
) -> Response:
    """Revoke one of your tokens."""
    assert principal.user is not None
    service.revoke_token(session=session, user_id=principal.user.id, token_id=token_id)
    return RedirectResponse(str(request.url_for("tokens")), status_code=303)
