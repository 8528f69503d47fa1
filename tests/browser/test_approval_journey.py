"""The result page and the approval, as an architect and as an auditor would go through them
(issue 14 item 9): the decision's status and every action are at the top, the long tables
folded; the auditor's home shows what awaits their approval, and only what they may approve.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.flows import invite, set_up_admin, sign_in, sign_out

Shot = Callable[[Page, str], Path]
JIRA = "https://acme.atlassian.net/browse/SEC-77"
pytestmark = pytest.mark.fresh_install


def above_the_fold(page: Page, selector: str) -> None:
    """The element is on the first screen of the page, without scrolling."""
    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"] if page.viewport_size else 720
    assert box is not None and box["y"] + box["height"] <= height, (selector, box, height)


def test_architect_proposes_from_the_top_and_the_auditor_approves_from_home(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    set_up_admin(page, live_server)
    invite(page, "ari", "architect")
    invite(page, "aud", "auditor")
    sign_out(page)

    # The architect answers, lands on the result: status and actions first.
    sign_in(page, live_server, "ari")
    expect(page.locator("#awaiting")).to_have_count(0)  # architects do not approve
    page.get_by_role("link", name="Start a decision").click()
    page.get_by_label("Title").fill("Card vault")
    page.get_by_role("button", name="Start the questionnaire").click()
    page.locator('input[name="audit_key_usage"][value="true"]').check()
    expect(page.locator("#panel")).to_contain_text("Your last answer excluded")
    page.get_by_role("button", name="Save and see the result").click()
    status = page.locator("#approval")
    expect(status).to_contain_text("Version 1 is a draft, not yet proposed for approval.")
    for action in ("Propose version 1 for approval",):
        above_the_fold(page, f"button:has-text('{action}')")
    above_the_fold(page, "#approval a:has-text('Link a ticket')")
    # The long tables are folded: the facts are behind their summary.
    facts = page.locator("#facts table")
    expect(facts).to_be_hidden()
    page.locator("#facts summary").click()
    expect(facts).to_be_visible()
    page.locator("#facts summary").click()
    expect(page.locator("#excluded")).to_contain_text("SSE-S3 (S3 managed keys)")
    screenshot(page, "decision-architect-top")

    # Link a ticket from the top: the link takes the architect to the ticket form.
    status.get_by_role("link", name="Link a ticket").click()
    expect(page).to_have_url(re.compile(r"#tickets$"))
    page.get_by_label("Ticket URL").fill(JIRA)
    page.get_by_role("button", name="Link ticket").click()
    expect(page.locator("#tickets")).to_contain_text("SEC-77")
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("button", name="Propose version 1 for approval").click()
    expect(status).to_contain_text("was proposed by ari")
    expect(status).to_contain_text("awaits an auditor's approval")
    expect(page.get_by_role("button", name=re.compile("^Approve"))).to_have_count(0)
    screenshot(page, "decision-architect-proposed")
    sign_out(page)

    # The auditor's home lists it; from there to the approval, at the top of the page.
    sign_in(page, live_server, "aud")
    page.goto(live_server + "/")
    awaiting = page.locator("#awaiting")
    expect(awaiting.get_by_role("heading", name="Awaiting your approval")).to_be_visible()
    expect(awaiting).to_contain_text("Card vault")
    expect(awaiting).to_contain_text("proposed by ari")
    above_the_fold(page, "#awaiting")
    screenshot(page, "home-auditor-awaiting")
    awaiting.get_by_role("link", name="Card vault").click()
    expect(page).to_have_url(re.compile(r"#approval$"))
    expect(page.get_by_role("link", name="Edit answers")).to_have_count(0)
    expect(page.locator("#approval").get_by_role("link", name="PDF")).to_be_visible()
    page.get_by_label("Comment").fill("key policy reviewed")
    page.get_by_role("button", name="Approve version 1").click()
    expect(status).to_contain_text("is approved and frozen (approved by aud")
    expect(status).to_contain_text("proposed by ari")
    page.locator("#approval-history summary").click()
    expect(page.locator("#approval-history table")).to_contain_text("key policy reviewed")
    screenshot(page, "decision-auditor-approved")
    page.goto(live_server + "/")
    expect(awaiting).to_contain_text("Nothing awaits your approval.")
    screenshot(page, "home-auditor-nothing-awaits")
