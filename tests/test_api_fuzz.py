"""Schemathesis against the app's own OpenAPI spec: a bounded number of generated requests per
API operation, signed in with an admin's API token; no answer may be a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from app.core.config import Settings
from app.main import create_app
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
