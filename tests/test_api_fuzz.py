"""Generated requests, none of which may get a 5xx: schemathesis against the app's own OpenAPI
spec (a bounded number of requests per API operation, signed in with an admin's API token),
then the pages and forms the spec leaves out and the JSON bodies it cannot write, filled with
text that breaks naive code: NUL, lone surrogates, very long strings, digits that are not
ASCII, LIKE wildcards, the last day there is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.limiter import SIGNIN_LIMITER
from app.core.config import Settings
from app.decisions.models import Decision
from app.main import create_app
from app.probe.records import ProbeBucket, ProbeRun
from tests.support import sign_in

EXAMPLES_PER_OPERATION = 12


@pytest.mark.slow
def test_generated_requests_to_every_api_operation_never_get_a_5xx(settings: Settings) -> None:
    app = create_app(settings)
    from app.accounts import service as accounts

    sign_in(app, role="admin", name="fuzz")
    with app.state.sessions() as session:
        user = accounts.get_user(session=session, name="fuzz")
        _, token = accounts.issue_token(session=session, user_id=user.id, label="fuzz")
        session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @examples(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,  # the same examples every run: CI stays reproducible
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=auth)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    app.state.db.dispose()
    assert operations >= 15
    assert failures == []


# Pages, forms and raw JSON -------------------------------------------------------------------
#
# The page routes are not in the OpenAPI spec, and schemathesis writes JSON as UTF-8, which
# cannot hold a lone surrogate. So: each route once per breaking value in every place it reads
# text (each query parameter alone; the free-text form fields with the choice fields valid, and
# the reverse; every string of a JSON body), then a few generated requests per route.

#: Values that broke naive code here: stored NUL, str.isdigit's "²", numbers past any column,
#: text past a column's length, a date with no day after it; and, in JSON (the only place a
#: client can write one: forms and URLs are UTF-8), a lone surrogate.
BREAKING = ["a\x00b", "²", "9" * 30, "x" * 300, "9999-12-31"]
JSON_ONLY = ["\ud800x"]
#: Hidden fields holding a number: each gets a number that is not one alone (with every other
#: field valid), since a route reads them only once the rest passed.
NUMBERS = ("run_id", "version", "revision")
NOT_A_NUMBER = "²"
GENERATED_PER_ROUTE = 3
#: Form fields a person types into, each with a value the forms accept.
FREE_TEXT = {
    "name": "fuzz-b",
    "password": "correct horse battery",
    "password2": "correct horse battery",
    "label": "ci",
    "comment": "ok",
    "title": "Lake",
    "description": "d",
    "owner": "o",
    "scope_accounts": "",
    "scope_buckets": "",
    "scope_tags": "",
    "url": "https://github.com/acme/infra/issues/7",
    "bucket": "logs-1",
}
#: Form fields a page fills in from a list or a hidden value ({run} is the world's run).
CHOSEN = {
    "action": "propose",
    "role": "viewer",
    "active": "on",
    "check": "tls-only",
    "run_id": "{run}",
    "version": "",  # optional: given, it must be the current one, which the edits move on
    "revision": "",
    "status": "draft",
    "target": "t",
    "nav": "next",
    "next": "/",
}
SKIPPED = {"/signout"}  # it would end the fuzzer's own session
FORMATS = {"fmt": ["csv", "json", "md"]}  # no pdf: WeasyPrint takes seconds a report
text = st.one_of(st.sampled_from(BREAKING + JSON_ONLY), st.text(max_size=20))


def _routes(app: FastAPI) -> list[APIRoute]:
    found = []
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        for candidate in inner.routes if inner is not None else [route]:
            if isinstance(candidate, APIRoute) and candidate.path not in SKIPPED:
                found.append(candidate)
    return found


def _encoded(pairs: dict[str, str]) -> str:
    # surrogatepass: a lone surrogate travels as the (invalid UTF-8) bytes a client could send.
    return urlencode(pairs, errors="surrogatepass")


class Pages:
    """The app signed in as an admin, a draft decision (the approval form proposes it, with a
    comment) with a finished probe run of one bucket for paths to point at, and the requests
    sent so far."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        cookie, csrf = sign_in(app, role="admin", name="fuzz")
        # raise_server_exceptions: a streamed body that fails after its 200 shows up too.
        self.client = TestClient(
            app,
            follow_redirects=False,
            headers={"X-CSRF-Token": csrf},
            cookies={"atrest_session": cookie},
        )
        with app.state.sessions() as session:
            decision = session.scalar(select(Decision.id))
            if decision is None:
                self.client.post("/api/decisions", json={"title": "Lake", "answers": {}})
                decision = session.scalar(select(Decision.id))
        with Session(app.state.db) as session:
            run = ProbeRun(
                decision_id=decision,
                decision_version=1,
                target_name="t",
                target_title="t",
                option="sse-s3",
                configuration={},
                status="done",
            )
            session.add(run)
            session.flush()
            session.add(ProbeBucket(run_id=run.id, bucket="logs-1", region="x", status="pass"))
            session.commit()
            self.ids = {"decision_id": decision, "run_id": run.id}
        self.questions = list(app.state.advisor.ruleset.questions)
        self.sent = 0
        self.failures: list[str] = []

    def path(self, route: APIRoute, text_value: str, variant: int = 0) -> str:
        """The route's path: ids of the world, `text_value` in a text parameter (a user), the
        `variant`th format in a format parameter."""
        path = route.path
        for param in route.dependant.path_params:
            if param.name in FORMATS:
                value = FORMATS[param.name][variant % len(FORMATS[param.name])]
            elif param.name in self.ids or param.field_info.annotation is int:
                value = str(self.ids.get(param.name, 1))
            else:
                value = text_value
            path = path.replace(f"{{{param.name}}}", quote(value, safe="", errors="surrogatepass"))
        return path

    def send(
        self,
        route: APIRoute,
        path: str,
        query: dict[str, str],
        form: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """One request; a 5xx or an exception the app let through is a failure."""
        method = sorted(route.methods)[0]
        url = path + ("?" + _encoded(query) if query else "")
        headers, content = {}, None
        if body is not None:
            headers, content = {"content-type": "application/json"}, json.dumps(body).encode()
        elif form is not None and method != "GET":
            headers = {"content-type": "application/x-www-form-urlencoded"}
            content = _encoded(form).encode()
        if route.path == "/signin":
            SIGNIN_LIMITER._failures.clear()  # or every later sign-in is a 429 and proves nothing
        self.sent += 1
        try:
            status = self.client.request(method, url, content=content, headers=headers).status_code
        except Exception as exc:
            status, reason = 500, f"{type(exc).__name__}: {exc}"[:160]
        else:
            reason = ""
        if status >= 500:
            shown = {"query": query, "form": form, "json": body}
            self.failures.append(f"{method} {url[:100]} -> {status} {reason} {shown}"[:400])

    def form(
        self, value: str | None, chosen: str | None, only: str | None = None
    ) -> dict[str, str]:
        """Every form field: free text as `value` (else valid), choices as `chosen` (else
        valid; the questions answered `chosen` too), or only the field `only` as `chosen`."""
        free = {k: v if value is None else value for k, v in FREE_TEXT.items()}
        picks = {k: v.format(run=self.ids["run_id"]) for k, v in CHOSEN.items()}
        if only is not None and chosen is not None:
            picks[only] = chosen
        elif chosen is not None:
            picks = dict.fromkeys([*picks, *self.questions], chosen)
        return {**free, **picks}


@pytest.fixture
def pages(settings: Settings) -> Iterator[Pages]:
    SIGNIN_LIMITER._failures.clear()
    app = create_app(settings)
    yield Pages(app)
    app.state.db.dispose()
    SIGNIN_LIMITER._failures.clear()


@pytest.mark.slow
def test_breaking_text_in_every_page_form_and_json_body_never_gets_a_5xx(pages: Pages) -> None:
    routes = _routes(pages.app)
    for route in routes:
        queries = [p.name for p in route.dependant.query_params]
        for value in BREAKING + (JSON_ONLY if route.body_field is not None else []):
            path = pages.path(route, value)
            for name in queries if value in BREAKING else ():
                pages.send(route, pages.path(route, "fuzz"), {name: value})
            if route.body_field is not None:
                strings = dict.fromkeys([*FREE_TEXT, *CHOSEN], value)
                answers = dict.fromkeys(pages.questions, value)
                pages.send(route, path, {}, body={**strings, "answers": answers, value: value})
            elif "GET" not in route.methods:
                pages.send(route, path, {}, form=pages.form(value, None))
                pages.send(route, pages.path(route, "fuzz"), {}, form=pages.form(None, value))
                for field in NUMBERS if value == NOT_A_NUMBER else ():
                    form = pages.form(None, value, only=field)
                    pages.send(route, pages.path(route, "fuzz"), {}, form=form)
            elif not queries:
                pages.send(route, path, {})
    assert len(routes) >= 45
    assert pages.failures == []
    assert pages.sent > 400


@pytest.mark.slow
def test_generated_pages_forms_and_json_bodies_never_get_a_5xx(pages: Pages) -> None:
    fields = [*FREE_TEXT, *CHOSEN, *pages.questions]
    for route in _routes(pages.app):
        queries = [p.name for p in route.dependant.query_params] or ["q"]
        wanted = {
            "name": text,  # a text path parameter (a user's name)
            "query": st.dictionaries(st.sampled_from(queries), text, max_size=3),
            "form": st.dictionaries(st.sampled_from(fields), text, max_size=8),
        }
        if route.body_field is not None:  # keys and strings a schema-driven client avoids
            leaf = st.one_of(st.none(), st.booleans(), st.integers(), text)
            values = st.recursive(
                leaf,
                lambda inner: (
                    st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3)
                ),
                max_leaves=6,
            )
            wanted["json"] = st.dictionaries(st.sampled_from(fields) | text, values, max_size=4)
        _generate(pages, route, wanted)
    assert pages.failures == []


def _generate(pages: Pages, route: APIRoute, wanted: dict[str, Any]) -> None:
    """GENERATED_PER_ROUTE requests to `route` drawn from `wanted`."""

    @examples(
        max_examples=GENERATED_PER_ROUTE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.fixed_dictionaries(wanted))
    def run(case: dict[str, Any]) -> None:
        path = pages.path(route, case["name"], variant=pages.sent)
        pages.send(route, path, case["query"], form=case["form"], body=case.get("json"))

    run()
