"""No page breaks its own Content-Security-Policy: Chromium's console stays free of CSP
violations on the pages people use most (the result page included)."""

from __future__ import annotations

import json

from playwright.sync_api import ConsoleMessage, Page


def test_the_main_pages_raise_no_csp_violation(page: Page, live_server: str) -> None:
    messages: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        messages.append(message.text)

    page.on("console", keep)
    page.goto(live_server + "/decisions")
    headers = json.loads(page.locator("body").get_attribute("hx-headers:inherited") or "{}")
    made = page.request.post(
        live_server + "/api/decisions",
        data={"title": "Lake", "answers": {"audit_key_usage": True}},
        headers={"X-CSRF-Token": headers["X-CSRF-Token"]},
    ).json()
    d = made["id"]
    paths = ("/", "/decisions", "/decisions/new", f"/decisions/{d}", f"/decisions/{d}/edit")
    for path in (*paths, f"/decisions/{d}/reevaluate", f"/decisions/{d}/ticket.md", "/audit"):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
    violations = [
        m for m in messages if "Content Security Policy" in m or "Content-Security-Policy" in m
    ]
    assert violations == []
