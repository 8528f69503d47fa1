"""The organisation's first day, in Chromium: a fresh installation's set-up page creates the
first admin, who invites an architect and an auditor; each sees and does only what the role
allows; every step is in the verifiable audit log; the API works with a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import invite, set_up_admin, sign_in, sign_out

Shot = Callable[[Page, str], Path]
pytestmark = pytest.mark.fresh_install


def test_set_up_invite_and_each_role_does_only_what_it_may(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    page.goto(live_server + "/")
    expect(page.get_by_role("heading", name="Set up atrest")).to_be_visible()
    screenshot(page, "accounts-setup")
    set_up_admin(page, live_server)
    invite(page, "ari", "architect")
    invite(page, "aud", "auditor")
    screenshot(page, "accounts-users")
    sign_out(page)

    sign_in(page, live_server, "ari")
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    headers = json.loads(page.locator("body").get_attribute("hx-headers:inherited") or "{}")
    created = page.request.post(
        live_server + "/api/decisions",
        data={"title": "Payments lake", "answers": {"audit_key_usage": True}},
        headers={"X-CSRF-Token": headers["X-CSRF-Token"]},
    )
    assert created.status == 201
    decision = created.json()["id"]
    page.goto(f"{live_server}/decisions/{decision}")
    page.get_by_role("button", name="Propose version 1 for approval").click()
    expect(page.locator("#approval")).to_contain_text("proposed")
    expect(page.get_by_role("link", name="PDF")).to_have_count(0)  # exports are the auditor's
    assert page.request.get(live_server + "/users").status == 403
    screenshot(page, "accounts-architect-proposed")
    sign_out(page)

    sign_in(page, live_server, "aud")
    page.goto(f"{live_server}/decisions/{decision}")
    expect(page.get_by_role("link", name="Edit answers")).to_have_count(0)
    page.get_by_label("Comment").fill("meets PCI DSS 3.5")
    page.get_by_role("button", name="Approve version 1").click()
    expect(page.locator("#approval")).to_contain_text("approved and frozen")
    expect(page.get_by_role("link", name="PDF")).to_be_visible()
    page.get_by_role("link", name="Audit log").first.click()
    log = page.locator("table.audit")
    expect(log).to_contain_text("decision.created")
    expect(log).to_contain_text("ari")
    expect(log).to_contain_text("aud")
    page.get_by_role("link", name="Verify the whole chain").click()
    expect(page.get_by_text("The chain holds")).to_be_visible()
    screenshot(page, "accounts-auditor-audit-log")

    page.goto(live_server + "/tokens")
    page.get_by_label("Label").fill("evidence export")
    page.get_by_role("button", name="Create a token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("atr_")
    screenshot(page, "accounts-token")
    context = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        script = context.request
        listed = script.get(
            live_server + "/api/decisions", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status == 200 and listed.json()[0]["status"] == "approved"
        assert script.get(live_server + "/api/decisions").status == 401
    finally:
        context.close()
