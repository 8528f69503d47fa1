"""Helpers shared by tests that run the real `atrest` console script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ATREST = Path(sys.executable).with_name("atrest")
COMMAND = [str(ATREST)] if ATREST.exists() else [sys.executable, "-m", "app.cli"]
CONTRACT_KEYS = [
    "ruleset",
    "answers",
    "recommendation",
    "ranking",
    "excluded",
    "conflicts",
    "warnings",
    "facts",
]


def run_atrest(
    *args: str,
    cwd: Path | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean ATREST_* environment plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=timeout,
        check=False,
    )


def sign_in(app: Any, *, role: str = "admin", name: str | None = None) -> tuple[str, str]:
    """Create an account with `role` in the app's database and a sign-in session for it.

    Returns:
        (session cookie value, CSRF token): what a signed-in browser holds.
    """
    from app.accounts import service as accounts

    with app.state.sessions() as session:
        user = accounts.create_user(
            session=session,
            name=name or f"test-{role}",
            role=role,
            password="correct horse battery",
        )
        login, cookie = accounts.start_session(session=session, user=user)
        session.commit()
        return cookie, login.csrf_token


def signed_in_client(app: Any, *, role: str = "admin", name: str | None = None) -> Any:
    """A TestClient that is signed in with `role` and sends the CSRF header on every request."""
    from fastapi.testclient import TestClient

    cookie, csrf = sign_in(app, role=role, name=name)
    return TestClient(app, headers={"X-CSRF-Token": csrf}, cookies={"atrest_session": cookie})
