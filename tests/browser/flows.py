"""Steps the browser journeys share: signing in and out with a password, inviting a user."""

from __future__ import annotations

from playwright.sync_api import Page, expect

PASSWORD = "a long passphrase"


def set_up_admin(page: Page, base: str, name: str = "ada") -> None:
    """A fresh installation's set-up page: create the first admin (signed in after)."""
    page.goto(base + "/")
    expect(page.get_by_role("heading", name="Set up atrest")).to_be_visible()
    page.get_by_label("Admin name").fill(name)
    page.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Create the admin and sign in").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(base + "/signin")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def invite(page: Page, name: str, role: str) -> None:
    """On the Users page: create an account with the shared first password."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_label("First password").fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.locator("table")).to_contain_text(name)
