"""A decision names the accounts that read its objects (scope.reader_accounts): its page,
snippets and ticket grant exactly those; without them the page says where to add them."""

from __future__ import annotations

import html

from fastapi.testclient import TestClient

ANSWERS = {"cross_account_access": True, "audit_key_usage": True}


def make(client: TestClient, scope: dict[str, object] | None = None) -> int:
    body: dict[str, object] = {"title": "Shared lake", "answers": ANSWERS}
    if scope is not None:
        body["scope"] = scope
    made = client.post("/api/decisions", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_the_page_and_ticket_grant_the_named_readers(client: TestClient) -> None:
    d = make(client, {"reader_accounts": ["444455556666"]})
    page = html.unescape(client.get(f"/decisions/{d}").text)
    assert 'id="readers-missing"' not in page
    assert '"cross_account_readers": [\n    "444455556666"\n  ]' in page  # the configuration
    assert "<reader account id>" not in page
    assert "AllowReaderAccountsToDecryptThroughS3" in page  # the snippets' key policy
    ticket = client.get(f"/decisions/{d}/ticket.md?raw=true").text
    assert "`444455556666` use the key for `kms:Decrypt` only through S3" in ticket
    # The stored result keeps the placeholder: the decision's scope fills it when shown.
    version = client.get(f"/api/decisions/{d}").json()["current"]
    assert version["result"]["recommendation"]["configuration"]["cross_account_readers"] == [
        "<reader account id>"
    ]


def test_without_readers_the_page_says_where_to_name_them(client: TestClient) -> None:
    d = make(client)
    page = client.get(f"/decisions/{d}").text
    assert 'id="readers-missing"' in page and 'id="d-readers"' in page
    saved = client.post(
        f"/decisions/{d}/details",
        data={
            "title": "Shared lake",
            "status": "draft",
            "scope_reader_accounts": "444455556666, 777788889999",
        },
    )
    assert saved.status_code in (200, 303), saved.text
    scope = client.get(f"/api/decisions/{d}").json()["scope"]
    assert scope["reader_accounts"] == ["444455556666", "777788889999"]
    page = html.unescape(client.get(f"/decisions/{d}").text)
    assert 'id="readers-missing"' not in page and "777788889999" in page


def test_a_reader_account_that_is_not_12_digits_is_refused(client: TestClient) -> None:
    d = make(client)
    bad = client.post(
        f"/decisions/{d}/details",
        data={"title": "Shared lake", "status": "draft", "scope_reader_accounts": "12345"},
    )
    assert bad.status_code == 422 and "12345" in bad.text
    api = client.patch(f"/api/decisions/{d}", json={"scope": {"reader_accounts": ["x"]}})
    assert api.status_code == 422 and "reader_accounts" in api.text
