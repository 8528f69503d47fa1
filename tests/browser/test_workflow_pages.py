"""Issue 14 in the browser: the export form works from its own page (empty days are no bound,
a refused value comes back beside its field, never raw JSON), and an htmx error shows in the
page's error area instead of replacing the section whose button asked."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

Shot = Callable[[Page, str], Path]


def api(page: Page, base: str, method: str, path: str, data: object | None = None) -> object:
    headers = json.loads(page.locator("body").get_attribute("hx-headers:inherited") or "{}")
    response = page.request.fetch(
        base + path, method=method, data=data, headers={"X-CSRF-Token": headers["X-CSRF-Token"]}
    )
    assert response.ok, response.text()
    return response.json() if response.status != 204 else None


def test_the_export_form_downloads_with_empty_days_and_names_a_refused_one(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    page.goto(live_server + "/decisions")
    api(page, live_server, "POST", "/api/decisions", {"title": "=Lake", "answers": {}})
    page.goto(live_server + "/decisions")
    page.locator("#export summary").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()  # both days left empty
    body = Path(download.value.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["title"] for r in rows] == ["'=Lake"]
    # A day the form cannot hold (typed into the URL): the page again, the message beside it.
    page.goto(live_server + "/decisions.csv?status=&since=last+tuesday&until=")
    expect(page.locator("#export")).to_have_attribute("open", "")
    expect(page.locator("#export-since-error")).to_contain_text("'last tuesday' is not a day")
    assert "detail" not in page.locator("body").inner_text()
    screenshot(page, "decisions-export-refused-day")
    page.goto(live_server + "/decisions/1/diff?before=x&after=1")
    expect(page.locator("main")).to_contain_text("before")
    assert not page.locator("body").inner_text().lstrip().startswith("{")


def test_an_htmx_error_shows_in_the_error_area_and_leaves_the_section(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    page.goto(live_server + "/decisions")
    made = api(page, live_server, "POST", "/api/decisions", {"title": "Lake", "answers": {}})
    assert isinstance(made, dict)
    d = made["id"]
    link = api(
        page,
        live_server,
        "POST",
        f"/api/decisions/{d}/tickets",
        {"url": "https://github.com/acme/infra/issues/7"},
    )
    assert isinstance(link, dict)
    page.goto(f"{live_server}/decisions/{d}")
    tickets = page.locator("#tickets")
    expect(tickets).to_contain_text("acme/infra#7")
    # Someone else unlinks it meanwhile: this page's Unlink now meets a 404.
    api(page, live_server, "DELETE", f"/api/decisions/{d}/tickets/{link['id']}")
    page.get_by_role("button", name="Unlink acme/infra#7").click()
    expect(page.locator("#htmx-error")).to_contain_text("Not found")
    expect(tickets.get_by_role("heading", name="Tickets")).to_be_visible()
    expect(page.get_by_label("Ticket URL")).to_be_visible()  # the section is still there
    screenshot(page, "decision-htmx-error-area")


def test_the_pdf_link_says_it_is_being_prepared_until_the_file_arrives(
    page: Page, live_server: str, screenshot: Shot
) -> None:
    page.goto(live_server + "/decisions")
    made = api(page, live_server, "POST", "/api/decisions", {"title": "Lake", "answers": {}})
    assert isinstance(made, dict)
    page.goto(f"{live_server}/decisions/{made['id']}")
    link = page.locator("a[data-preparing]")
    expect(link).to_have_text("PDF")
    with page.expect_download(timeout=60_000) as download:
        link.click()
        expect(link).to_contain_text("Preparing the PDF")
        expect(link).to_have_attribute("aria-busy", "true")
        screenshot(page, "decision-pdf-preparing")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    expect(link).to_have_text("PDF", timeout=10_000)  # back once the file came
    expect(link).not_to_have_attribute("aria-busy", "true")
