"""Accounts and access: every route declares a permission; each role gets exactly what it may
do (the role matrix); CSRF; security headers; the first-run set-up; sign-in and its rate
limit; API tokens. Real app (TestClient) on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.accounts.limiter import SIGNIN_LIMITER
from app.accounts.roles import GRANTS, ROLES, Permission
from app.core.config import Settings
from app.main import create_app
from tests.support import sign_in, signed_in_client

PUBLIC_FRAMEWORK_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
ANSWERS = {"audit_key_usage": True}


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.db.dispose()


def declared(route: APIRoute) -> set[Permission]:
    """The permissions a route's dependencies declare (requires(...) marks its checker)."""
    found: set[Permission] = set()
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if permission is not None:
            found.add(permission)
        stack.extend(dep.dependencies)
    return found


def app_routes(app: FastAPI) -> list[APIRoute]:
    routes = []
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        candidates = inner.routes if inner is not None else [route]
        routes.extend(r for r in candidates if isinstance(r, APIRoute))
    return routes


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    routes = app_routes(app)
    assert len(routes) > 40
    missing = [f"{sorted(r.methods)} {r.path}" for r in routes if len(declared(r)) != 1]
    assert missing == []
    other = [
        r for r in app.routes if not isinstance(r, APIRoute) and not hasattr(r, "original_router")
    ]
    paths = {getattr(r, "path", "") for r in other}
    assert paths <= PUBLIC_FRAMEWORK_ROUTES | {"/static"}, paths


# The role matrix --------------------------------------------------------------------------


def setup_world(app: FastAPI) -> dict[str, Any]:
    """One decision with a version, a ticket and a proposal, made by an admin."""
    with signed_in_client(app, role="admin", name="root") as admin:
        decision = admin.post("/api/decisions", json={"title": "Lake", "answers": ANSWERS}).json()
        ticket = admin.post(
            f"/api/decisions/{decision['id']}/tickets",
            json={"url": "https://acme.atlassian.net/browse/SEC-1"},
        ).json()
    return {"id": decision["id"], "ticket": ticket["id"]}


def requests_for(world: dict[str, Any]) -> list[tuple[Permission, str, str, dict[str, Any]]]:
    """(permission needed, method, path, request kwargs) for a representative of each route."""
    d = world["id"]
    return [
        (Permission.READ, "GET", "/", {}),
        (Permission.READ, "GET", "/decisions", {}),
        (Permission.READ, "GET", f"/decisions/{d}", {}),
        (Permission.READ, "GET", f"/api/decisions/{d}", {}),
        (Permission.READ, "GET", f"/api/decisions/{d}/versions", {}),
        (Permission.READ, "GET", f"/decisions/{d}/ticket.md", {}),
        (Permission.READ, "POST", "/api/recommendations", {"json": ANSWERS}),
        (Permission.EDIT, "GET", "/decisions/new", {}),
        (Permission.EDIT, "POST", "/api/decisions", {"json": {"title": "New", "answers": {}}}),
        (Permission.EDIT, "PATCH", f"/api/decisions/{d}", {"json": {"owner": "x"}}),
        (
            Permission.EDIT,
            "POST",
            f"/decisions/{d}/tickets",
            {"data": {"url": "https://github.com/a/b/issues/1"}},
        ),
        (Permission.EDIT, "POST", f"/api/decisions/{d}/approvals", {"json": {"action": "propose"}}),
        (Permission.PROBE, "POST", f"/api/decisions/{d}/probes?target=none", {}),
        (Permission.EXPORT, "GET", "/decisions.csv", {}),
        (Permission.AUDIT, "GET", "/audit", {}),
        (Permission.ADMIN, "GET", "/users", {}),
    ]


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_each_role_gets_what_it_may_do_and_403_otherwise(
    app: FastAPI, role: str
) -> None:
    world = setup_world(app)
    with signed_in_client(app, role=role) as client:
        for permission, method, path, kwargs in requests_for(world):
            response = client.request(method, path, follow_redirects=False, **kwargs)
            allowed = permission in GRANTS[role]
            if allowed:
                assert response.status_code not in (401, 403), (role, method, path, response.text)
            else:
                assert response.status_code == 403, (role, method, path, response.status_code)


def test_without_an_account_pages_redirect_to_sign_in_and_the_api_answers_401(app: FastAPI) -> None:
    sign_in(app, role="viewer")  # an account exists, so no set-up page
    with TestClient(app) as anonymous:
        page = anonymous.get("/decisions?status=draft", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"].endswith("/signin?next=%2Fdecisions%3Fstatus%3Ddraft")
        api = anonymous.get("/api/decisions")
        assert api.status_code == 401 and api.json() == {"detail": "sign in first"}
        assert anonymous.get("/healthz").status_code == 200


# CSRF ---------------------------------------------------------------------------------------


def test_a_state_changing_request_without_or_with_a_wrong_csrf_token_is_refused(
    app: FastAPI,
) -> None:
    cookie, csrf = sign_in(app, role="admin")
    with TestClient(app, cookies={"atrest_session": cookie}) as browser:
        missing = browser.post("/api/decisions", json={"title": "x", "answers": {}})
        assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
        wrong = browser.post(
            "/decisions/new", data={"title": "x", "csrf_token": "forged"}, follow_redirects=False
        )
        assert wrong.status_code == 403
        ok = browser.post(
            "/decisions/new", data={"title": "x", "csrf_token": csrf}, follow_redirects=False
        )
        assert ok.status_code == 303
        assert (
            browser.get("/api/decisions", headers={"X-CSRF-Token": csrf}).json()[0]["title"] == "x"
        )


def test_pages_carry_the_csrf_token_in_every_post_form(app: FastAPI) -> None:
    world = setup_world(app)
    cookie, csrf = sign_in(app, role="admin")
    with TestClient(app, cookies={"atrest_session": cookie}) as browser:
        html = browser.get(f"/decisions/{world['id']}").text
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", html, flags=re.S)
    assert len(forms) >= 4
    for body in forms:
        assert f'name="csrf_token" value="{csrf}"' in body
    assert f'"X-CSRF-Token": "{csrf}"' in html  # htmx requests send it as a header too


def test_api_tokens_need_no_csrf_and_can_be_revoked(app: FastAPI) -> None:
    with signed_in_client(app, role="architect", name="ci") as owner:
        page = owner.post("/tokens", data={"label": "pipeline"})
        token = re.search(r"(atr_[A-Za-z0-9_-]{20,})", page.text).group(1)  # type: ignore[union-attr]
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as script:
            created = script.post("/api/decisions", json={"title": "From CI", "answers": {}})
            assert created.status_code == 201
            assert script.get("/users").status_code == 403  # the token has its owner's role
        token_id = re.search(r"/tokens/(\d+)/revoke", owner.get("/tokens").text).group(1)  # type: ignore[union-attr]
        owner.post(f"/tokens/{token_id}/revoke")
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as script:
            assert script.get("/api/decisions").status_code == 401
            assert (
                script.get(
                    "/api/decisions", headers={"Authorization": "Bearer atr_nope"}
                ).status_code
                == 401
            )


# Headers, limits ------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(app: FastAPI) -> None:
    world = setup_world(app)
    with signed_in_client(app, role="admin") as client:
        for path in (
            "/",
            f"/decisions/{world['id']}",
            "/api/decisions",
            "/static/css/atrest.css",
            "/nope",
            "/signin",
        ):
            headers = client.get(path, follow_redirects=False).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
            assert "unsafe-inline" not in csp, path
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "same-origin", path


def test_a_request_body_over_the_limit_is_refused_with_413(settings: Settings) -> None:
    small = create_app(settings.model_copy(update={"max_body_bytes": 2048}))
    with signed_in_client(small, role="admin") as client:
        response = client.post("/api/decisions", json={"title": "x" * 5000, "answers": {}})
        assert response.status_code == 413
        assert client.get("/api/decisions").json() == []
    small.state.db.dispose()


# Set-up, sign-in ------------------------------------------------------------------------------


def test_a_fresh_installation_sends_everyone_to_set_up_which_creates_the_first_admin(
    app: FastAPI,
) -> None:
    with TestClient(app) as browser:
        first = browser.get("/decisions", follow_redirects=False)
        assert first.status_code == 303 and first.headers["location"].endswith("/setup")
        form = browser.get("/setup")
        assert "Create the admin and sign in" in form.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        short = browser.post(
            "/setup",
            data={"name": "ada", "password": "short", "password2": "short", "csrf_token": csrf},
        )
        assert short.status_code == 422 and "at least 12" in short.text
        done = browser.post(
            "/setup",
            data={
                "name": "ada",
                "password": "a long passphrase",
                "password2": "a long passphrase",
                "csrf_token": csrf,
            },
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"].endswith("/users")
        assert "ada" in browser.get("/users").text
        again = browser.get("/setup", follow_redirects=False)
        assert again.status_code == 303  # gone once an account exists


def test_sign_in_with_the_right_password_and_rate_limit_after_failures(app: FastAPI) -> None:
    with signed_in_client(app, role="admin") as admin:
        admin.post(
            "/users", data={"name": "aud", "role": "auditor", "password": "auditor passphrase"}
        )
    SIGNIN_LIMITER._failures.clear()
    with TestClient(app) as browser:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/signin").text).group(1)  # type: ignore[union-attr]
        for _ in range(5):
            wrong = browser.post(
                "/signin", data={"name": "aud", "password": "nope", "csrf_token": csrf}
            )
            assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        limited = browser.post(
            "/signin", data={"name": "aud", "password": "auditor passphrase", "csrf_token": csrf}
        )
        assert limited.status_code == 429
    SIGNIN_LIMITER._failures.clear()
    with TestClient(app) as browser:
        csrf = re.search(
            r'name="csrf_token" value="([^"]+)"', browser.get("/signin?next=/audit").text
        ).group(1)  # type: ignore[union-attr]
        ok = browser.post(
            "/signin",
            data={
                "name": "aud",
                "password": "auditor passphrase",
                "csrf_token": csrf,
                "next": "/audit",
            },
            follow_redirects=False,
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/audit"
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert browser.get("/audit").status_code == 200
        assert browser.get("/users").status_code == 403
    SIGNIN_LIMITER._failures.clear()


def test_a_trusted_proxy_may_name_the_user_others_may_not(settings: Settings) -> None:
    proxied = create_app(
        Settings(
            database_url=settings.database_url,
            trusted_proxies=["10.0.0.5/32"],
            proxy_default_role="viewer",
        )
    )
    sign_in(proxied, role="admin")
    header = {"X-Forwarded-User": "mallory"}
    with TestClient(proxied, client=("10.0.0.9", 4000)) as elsewhere:  # not the proxy
        assert elsewhere.get("/api/decisions", headers=header).status_code == 401
    with TestClient(proxied, client=("10.0.0.5", 4000)) as proxy:
        assert proxy.get("/api/decisions", headers=header).status_code == 200
        assert proxy.get("/users", headers=header).status_code == 403  # provisioned as viewer
        refused = proxy.post("/api/decisions", headers=header, json={"title": "x", "answers": {}})
        assert refused.status_code == 403  # a viewer, and no CSRF token either
    proxied.state.db.dispose()
