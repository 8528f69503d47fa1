"""The probe journey in Chromium: run a probe from a decision page against the demo world in
moto, watch the progress bar give way to the results, open a finding with its remediation,
link it to a ticket, filter; and the same run without JavaScript (the page refreshes itself).

Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.core.config import Settings
from app.demo import sample_answers, seed
from app.probe.target import Target
from tests.conftest import LiveServer
from tests.probe.conftest import REGION

Shot = Callable[[Page, str], Path]
pytestmark = pytest.mark.browser


@pytest.fixture
def settings(database_url: str, moto: str) -> Settings:
    """This module's app probes the demo world seeded into moto (one configured target)."""
    from app.core.db import upgrade_database

    seed(moto, region=REGION)
    target = Target(name="demo", label="Demo account", endpoint_url=moto, region=REGION)
    configured = Settings(database_url=database_url, probe_targets=[target])
    upgrade_database(configured)
    return configured


def new_decision(base: LiveServer) -> int:
    body = json.dumps({"title": "Payments data lake", "answers": sample_answers()}).encode()
    headers = {"Content-Type": "application/json", **base.auth_headers()}
    request = urllib.request.Request(base + "/api/decisions", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(json.load(response)["id"])


def test_probe_from_the_decision_page_with_progress_results_ticket_and_filter(
    page: Page, live_server: LiveServer, screenshot: Shot
) -> None:
    decision = new_decision(live_server)
    page.goto(f"{live_server}/decisions/{decision}")
    probe = page.locator("#probe")
    expect(probe).to_contain_text("Live probe")
    probe.get_by_label("Target").select_option("demo")
    probe.get_by_role("button", name="Run probe").click()
    expect(page.get_by_role("heading", name="Probe run #1 · Demo account")).to_be_visible()
    results = page.locator("#probe-results")
    expect(results).to_be_visible(timeout=60_000)  # the polled body swapped in the results
    expect(page.locator(".summary")).to_contain_text("of 15 buckets")
    screenshot(page, "probe-results")
    # Bucket names and Regions do not wrap mid-word: each shows on one line on a laptop screen.
    page.set_viewport_size({"width": 1024, "height": 800})
    heights = page.evaluate(
        """() => [...document.querySelectorAll('#probe-results td:first-child code, '
                 + '#probe-results td.region')].map(e => [e.textContent, e.getClientRects().length])"""
    )
    assert heights and all(lines == 1 for _, lines in heights), heights
    vault = page.locator("tr", has_text="atrest-demo-ledger-snapshots")
    finding = vault.locator("details.finding", has_text="kms-key-state")
    finding.locator("summary").click()
    expect(finding).to_contain_text("aws kms enable-key")
    finding.get_by_label("Ticket URL").fill("https://github.com/acme/infra/issues/42")
    finding.get_by_role("button", name="Link ticket").click()
    expect(finding.get_by_role("link", name="github acme/infra#42")).to_be_visible()
    screenshot(page, "probe-finding-ticket")
    page.get_by_label("Check asking for action").select_option("tls-only")
    page.get_by_role("button", name="Filter").click()
    expect(results).to_contain_text("atrest-demo-payments-staging")
    expect(results).not_to_contain_text("atrest-demo-hr-documents")
    assert "check=tls-only" in page.url
    screenshot(page, "probe-filtered")
    page.goto(f"{live_server}/decisions/{decision}")
    expect(page.locator("#probe table.runs")).to_contain_text("done")


def test_probe_without_javascript_refreshes_until_the_results(
    page_nojs: Page, live_server: LiveServer, screenshot: Shot
) -> None:
    decision = new_decision(live_server)
    page_nojs.goto(f"{live_server}/decisions/{decision}")
    page_nojs.get_by_role("button", name="Run probe").click()
    expect(page_nojs.locator("#probe-results")).to_be_visible(timeout=60_000)
    expect(page_nojs.locator(".summary")).to_contain_text("of 15 buckets")
    screenshot(page_nojs, "probe-results-nojs")
