"""User journeys in Debian's Chromium, driven by Playwright, against the app served by uvicorn.

Each journey saves screenshots under test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], Path]
JIRA = "https://acme.atlassian.net/browse/SEC-123"


def start_decision(page: Page, base: str, title: str) -> None:
    page.goto(base + "/")
    page.get_by_role("link", name="Start a decision").click()
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Start the questionnaire").click()
    expect(page.get_by_text("Step 1 of 6")).to_be_visible()


def answer(page: Page, question: str, value: str) -> None:
    page.locator(f'input[name="{question}"][value="{value}"]').check()


def test_questionnaire_by_clicking_with_live_panel_save_ticket_and_search(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    start_decision(page, live_server, "Payments data lake")
    panel = page.locator("#panel")
    expect(panel).to_contain_text("SSE-S3 (S3 managed keys)")
    answer(page, "audit_key_usage", "true")
    expect(panel).to_contain_text("SSE-KMS with a customer managed key")
    expect(panel).to_contain_text("Your last answer excluded")
    expect(panel.locator("code", has_text="sse-s3").first).to_be_visible()
    screenshot(page, "wizard-step-1-live-panel")

    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Step 2 of 6")).to_be_visible()
    # Step 1 was visited but only one of its three questions answered: not green.
    expect(page.locator(".progress li").first).to_have_class("partial")
    expect(panel).to_contain_text("Why it leads")
    answer(page, "dedicated_hsm", "true")
    expect(panel).to_contain_text("SSE-KMS with a key in a CloudHSM key store")
    # The exclusion of step 1 stays in view beside the new one.
    expect(panel.locator("h3", has_text="Excluded earlier")).to_be_visible()
    expect(panel).to_contain_text("preferred to SSE-KMS with a key in an external key store")
    screenshot(page, "wizard-step-2-live-panel")

    page.get_by_role("button", name="Save and see the result").click()
    expect(
        page.get_by_role(
            "heading", name=re.compile("Recommendation: SSE-KMS with a key in a CloudHSM")
        )
    ).to_be_visible()
    screenshot(page, "decision-page")

    page.get_by_label("Ticket URL").fill(JIRA)
    page.get_by_role("button", name="Link ticket").click()
    expect(page.locator("#tickets")).to_contain_text("SEC-123")
    expect(page.locator("#tickets .badge", has_text="jira")).to_be_visible()
    screenshot(page, "decision-ticket-linked")

    page.get_by_role("link", name="Copy as ticket").click()
    body = page.locator("#ticket-body")
    expect(body).to_have_value(re.compile(r"^# Payments data lake"))
    expect(body).to_have_value(re.compile(r"Acceptance criteria"))
    screenshot(page, "copy-as-ticket")

    page.goto(live_server + "/decisions")
    page.get_by_label("Ticket").fill("SEC-123")
    expect(page.locator("#decision-table")).to_contain_text("Payments data lake")
    page.get_by_label("Ticket").fill("SEC-999")
    expect(page.locator("#decision-table")).to_contain_text("No decision matches")
    page.get_by_label("Ticket").fill("SEC-123")
    expect(page.locator("#decision-table")).to_contain_text("Payments data lake")
    screenshot(page, "decisions-filtered-by-ticket")


def test_a_reload_or_a_closed_tab_mid_way_loses_no_answer(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    start_decision(page, live_server, "Logs archive")
    answer(page, "audit_key_usage", "true")
    expect(page.locator("#panel")).to_contain_text("Your last answer excluded")
    answer(page, "cross_account_access", "true")
    # Wait for this answer's own autosave: its panel names what it excluded (aws/s3 cannot be
    # shared), which the panel of the answer before did not.
    panel = page.locator("#panel")
    expect(panel.locator("code", has_text="sse-kms-aws-managed").first).to_be_visible()
    expect(panel).to_contain_text("SSE-KMS with a customer managed key")
    page.wait_for_load_state("networkidle")
    url = page.url
    page.reload()
    expect(page.locator('input[name="audit_key_usage"][value="true"]')).to_be_checked()
    expect(page.locator('input[name="cross_account_access"][value="true"]')).to_be_checked()
    other = page.context.new_page()
    page.close()
    other.goto(url)
    expect(other.locator('input[name="cross_account_access"][value="true"]')).to_be_checked()
    screenshot(other, "wizard-after-reload")


def test_main_journey_without_javascript(
    page_nojs: Page, live_server: str, screenshot: Shot
) -> None:
    page = page_nojs
    start_decision(page, live_server, "No-JS journey")
    answer(page, "audit_key_usage", "true")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Step 2 of 6")).to_be_visible()
    # The panel is re-rendered with the page: the answer of step 1 shows.
    expect(page.locator("#panel")).to_contain_text("SSE-KMS with a customer managed key")
    page.get_by_role("button", name="Back").click()
    expect(page.locator('input[name="audit_key_usage"][value="true"]')).to_be_checked()
    screenshot(page, "nojs-wizard")
    page.get_by_role("button", name="Save and see the result").click()
    expect(
        page.get_by_role(
            "heading", name=re.compile("Recommendation: SSE-KMS with a customer managed key")
        )
    ).to_be_visible()
    page.get_by_label("Ticket URL").fill(JIRA)
    page.get_by_role("button", name="Link ticket").click()
    expect(page).to_have_url(re.compile(r"/decisions/\d+#tickets$"))
    expect(page.locator("#tickets")).to_contain_text("SEC-123")
    screenshot(page, "nojs-decision")
    page.goto(live_server + "/decisions")
    page.get_by_label("Ticket").fill("SEC-123")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#decision-table")).to_contain_text("No-JS journey")
    screenshot(page, "nojs-decisions-filtered")


def test_history_compare_and_reevaluate(page: Page, live_server: str, screenshot: Shot) -> None:
    start_decision(page, live_server, "Versioned")
    answer(page, "audit_key_usage", "true")
    page.get_by_role("button", name="Save and see the result").click()
    page.get_by_role("link", name="Edit answers").click()
    page.get_by_role("link", name="Key custody").click()
    answer(page, "key_material", "customer-generated")
    page.get_by_role("button", name="Save and see the result").click()
    expect(page.get_by_role("heading", name=re.compile("imported key material"))).to_be_visible()
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_text("The recommendation changes")).to_be_visible()
    screenshot(page, "versions-compared")
    page.go_back()
    page.get_by_role("link", name="Re-evaluate under the current rule set").click()
    expect(page.get_by_text("Same outcome")).to_be_visible()
    screenshot(page, "reevaluate")
