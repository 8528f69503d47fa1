"""The details form reads back exactly what it shows: tags whose keys hold `=` or `\\`
survive a save, and a form saved unchanged changes nothing (an approved decision stays
approved, the revision stays)."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi.testclient import TestClient

TAGS = {"cost=center": "42", "back\\slash": "v=1=2", "team": "data platform", "a": ""}


class DetailsForm(HTMLParser):
    """The fields of the details form as a browser would submit them (textareas in CRLF)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.inside = False
        self.textarea: str | None = None
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and "/details" in (a.get("action") or ""):
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""
        elif tag == "textarea":
            self.textarea = str(a["name"])
            self.fields[self.textarea] = ""
        elif tag == "select":
            self.select = str(a["name"])
        elif tag == "option" and self.select and "selected" in a:
            self.fields[self.select] = a.get("value") or ""

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea:
            text = self.fields[self.textarea]
            text = text[1:] if text.startswith("\n") else text  # HTML drops the first newline
            self.fields[self.textarea] = text.replace("\n", "\r\n")
            self.textarea = None
        elif tag == "select":
            self.select = None
        elif tag == "form":
            self.inside = False


def details_form(client: TestClient, decision: int) -> dict[str, str]:
    parser = DetailsForm()
    parser.feed(client.get(f"/decisions/{decision}").text)
    assert "scope_tags" in parser.fields and "revision" in parser.fields
    return parser.fields


def approved(client: TestClient) -> dict[str, object]:
    from tests.support import signed_in_client

    auditor = signed_in_client(client.app, role="auditor", name="roundtrip-auditor")
    made = client.post(
        "/api/decisions",
        json={
            "title": "Lake",
            "description": "First line.\n\nSecond line.\n",
            "owner": "ada",
            "scope": {"tags": TAGS, "accounts": ["123456789012"]},
            "answers": {"audit_key_usage": True},
        },
    )
    assert made.status_code == 201, made.text
    d = made.json()
    for who, action in ((client, "propose"), (auditor, "approve")):
        step = who.post(f"/api/decisions/{d['id']}/approvals", json={"action": action})
        assert step.status_code == 201
    auditor.close()
    return dict(client.get(f"/api/decisions/{d['id']}").json())


def test_an_unchanged_details_form_changes_nothing(client: TestClient) -> None:
    d = approved(client)
    saved = client.post(f"/decisions/{d['id']}/details", data=details_form(client, d["id"]))  # type: ignore[arg-type]
    assert saved.status_code in (200, 303), saved.text
    after = client.get(f"/api/decisions/{d['id']}").json()
    assert after["scope"]["tags"] == TAGS
    assert after["status"] == "approved" and after["revision"] == d["revision"]
    assert after["description"] == d["description"] and after["updated_at"] == d["updated_at"]
    history = client.get(f"/api/decisions/{d['id']}/approvals").json()
    assert [h["action"] for h in history] == ["propose", "approve"]


def test_a_changed_tag_is_saved_exactly_and_reopens(client: TestClient) -> None:
    d = approved(client)
    form = details_form(client, d["id"])  # type: ignore[arg-type]
    form["scope_tags"] = form["scope_tags"].replace("team=data platform", "team=data=mesh")
    saved = client.post(f"/decisions/{d['id']}/details", data=form)
    assert saved.status_code in (200, 303), saved.text
    after = client.get(f"/api/decisions/{d['id']}").json()
    assert after["scope"]["tags"] == {**TAGS, "team": "data=mesh"}
    assert after["status"] == "draft"  # a change needs approval again
    assert after["description"] == d["description"]  # untouched fields stay as stored


def test_tags_with_line_breaks_are_refused_naming_the_field(client: TestClient) -> None:
    bad = client.post(
        "/api/decisions",
        json={"title": "Lake", "scope": {"tags": {"cost": "center\n42"}}, "answers": {}},
    )
    assert bad.status_code == 422
    assert "tags" in bad.text and "center\\n42" in bad.text
