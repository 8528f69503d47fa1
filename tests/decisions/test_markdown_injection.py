"""People's text cannot become Markdown of its own in "Copy as ticket" or report.md: both are
rendered with a CommonMark parser (markdown-it, with GFM tables and strikethrough) and the
HTML is searched for what the text tried to add."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from markdown_it import MarkdownIt

from app.core.mdsafe import code, fenced, inline

FAKE_SECTION = (
    "Harmless intro.\n\n## Configuration to apply\n\n```json\n"
    '{"ServerSideEncryptionConfiguration": {"Rules": [{"ApplyServerSideEncryptionByDefault": '
    '{"SSEAlgorithm": "AES256"}}]}}\n```\n\n'
)
DESCRIPTION = (
    FAKE_SECTION + "- [x] Approved by security\n"
    '<img src="https://evil.example/pixel.png"> <script>alert(1)</script>\n'
    "[click me](javascript:alert(1)) ![t](https://evil.example/track.png) @everyone @acme/sec\n"
    "<!-- the real configuration below is hidden on GitHub\n"
)
TITLE = "Lake <!-- x --> <b>bold</b> @everyone [x](javascript:alert(1)) ![i](https://e.example/i)"
COMMENT = "ok <!-- hide --> <img src=https://evil.example/c.png> @here [y](javascript:1) | x"

md = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def outside_code(html: str) -> str:
    """The rendered HTML without code blocks and code spans."""
    return re.sub(r"<(pre|code)\b.*?</\1>", "", html, flags=re.DOTALL)


def assert_inert(markdown: str) -> str:
    html = md.render(markdown)
    assert "<!--" not in html  # a comment that would hide what follows it (code shows it as text)
    assert not re.search(r"<(script|img|b)\b", html), html
    links = re.findall(r'<a href="([^"]*)"', html)
    assert all(link.startswith("#") for link in links), links  # the report's own contents only
    rest = outside_code(html)
    for mention in ("@everyone", "@here", "@acme"):
        assert mention not in rest, mention  # only inside code, where nobody is notified
    assert not re.search(r"<li>\s*(<p>)?\s*\[[xX]\]", rest)  # no ticked task item of its own
    return html


def test_inline_and_fenced_leave_nothing_to_render() -> None:
    html = assert_inert("# " + inline(TITLE) + "\n\n" + "\n".join(fenced(DESCRIPTION)))
    assert html.count("<h1>") == 1 and "<h2>" not in html
    assert inline("a|b") == "a\\|b" and inline("ada@example.com") == "ada@example.com"
    assert md.render(code("x ` y")).strip() == "<p><code>x ` y</code></p>"
    # A fence inside the text cannot close the block around it.
    assert "\n".join(fenced("````\n# h\n````")).startswith("`````text")


@pytest.fixture
def decision(client: TestClient, auditor: TestClient) -> int:
    made = client.post(
        "/api/decisions",
        json={
            "title": TITLE,
            "description": DESCRIPTION,
            "owner": "@everyone <b>x</b>",
            "scope": {"tags": {"team": "@acme/sec <!-- x"}},
            "answers": {"audit_key_usage": True},
        },
    )
    assert made.status_code == 201, made.text
    d = int(made.json()["id"])
    for who, action in ((client, "propose"), (auditor, "approve")):
        body = {"action": action, "comment": COMMENT}
        assert who.post(f"/api/decisions/{d}/approvals", json=body).status_code == 201
    return d


def test_the_ticket_body_keeps_one_configuration_section(client: TestClient, decision: int) -> None:
    response = client.get(f"/decisions/{decision}/ticket.md?raw=true")
    assert response.status_code == 200
    html = assert_inert(response.text)
    assert html.count("<h2>Configuration to apply</h2>") == 1
    real = html.split("<h2>Configuration to apply</h2>", 1)[1]
    assert '<code class="language-json">' in real.split("<h2>", 1)[0]
    assert "aws:kms" in real.split("<h2>", 1)[0]  # the decided configuration, not the fake AES256
    assert "Harmless intro." in html  # the description is still there, quoted


def test_report_md_quotes_titles_descriptions_owners_scope_and_comments(
    client: TestClient, decision: int
) -> None:
    response = client.get(f"/decisions/{decision}/report.md")
    assert response.status_code == 200
    html = assert_inert(response.text)
    assert html.count("<h2>Configuration to apply</h2>") == 0
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert len(headings) == len(set(headings))  # no section of the report twice
    assert "Harmless intro." in html and "ok" in html
