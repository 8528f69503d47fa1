"""The pages as a browser without JavaScript uses them (plain form posts), and their HTMX fragments.

Runs against SQLite and PostgreSQL (the `settings` fixture).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

HTMX = {"HX-Request": "true"}
JIRA = "https://acme.atlassian.net/browse/SEC-123"


def start(client: TestClient, title: str = "Payments data lake") -> int:
    response = client.post("/decisions/new", data={"title": title}, follow_redirects=False)
    assert response.status_code == 303
    match = re.search(r"/decisions/(\d+)/edit\?step=1$", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def finish(client: TestClient, decision_id: int, **answers: str) -> None:
    data = {**answers, "nav": "finish"}
    response = client.post(
        f"/decisions/{decision_id}/edit?step=1", data=data, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith(f"/decisions/{decision_id}")


def test_a_decision_needs_a_title_and_a_refused_one_leaves_no_record(
    client: TestClient, rows: Callable[[str], int]
) -> None:
    response = client.post("/decisions/new", data={"title": "   "})
    assert response.status_code == 422
    assert "Give the decision a title" in response.text
    assert rows("decisions") == 0


def test_walk_every_step_without_javascript_and_see_the_result(client: TestClient) -> None:
    decision_id = start(client)
    page = client.get(f"/decisions/{decision_id}/edit?step=1")
    assert "Step 1 of 6" in page.text
    assert 'name="audit_key_usage"' in page.text
    assert "Why we ask" in page.text
    steps = [
        {"audit_key_usage": "true"},
        {"key_material": "aws-generated"},
        {"compliance_frameworks__present": "1", "compliance_frameworks": "pci-dss"},
        {"rotation": "annual"},
        {"bucket_type": "general-purpose"},
        {"cost_priority": "medium"},
    ]
    for number, answers in enumerate(steps, 1):
        response = client.post(
            f"/decisions/{decision_id}/edit?step={number}",
            data={**answers, "nav": "next"},
            follow_redirects=False,
        )
        assert response.status_code == 303
    assert response.headers["location"].endswith(f"/decisions/{decision_id}")
    result = client.get(f"/decisions/{decision_id}")
    assert result.status_code == 200
    text = result.text
    assert "Recommendation: SSE-KMS with a customer managed key" in text
    assert "aws s3api put-bucket-encryption" in text
    assert "aws_s3_bucket_server_side_encryption_configuration" in text
    assert "AWS::S3::Bucket" in text
    assert "audit-needs-kms" in text  # an excluded option's rule
    assert "confirm with your QSA" in text  # a warning
    assert "docs.aws.amazon.com" in text  # a fact's source
    assert "All options compared" in text


def test_answers_are_kept_as_a_draft_between_steps(client: TestClient) -> None:
    decision_id = start(client)
    client.post(
        f"/decisions/{decision_id}/edit?step=1",
        data={"audit_key_usage": "true", "nav": "next"},
        follow_redirects=False,
    )
    again = client.get(f"/decisions/{decision_id}/edit?step=1").text
    assert re.search(r'name="audit_key_usage" value="true" checked', again)
    detail = client.get(f"/decisions/{decision_id}").text
    assert "The questionnaire is not finished yet" in detail


def test_a_refused_answer_is_shown_inline_and_not_saved(client: TestClient) -> None:
    decision_id = start(client)
    response = client.post(
        f"/decisions/{decision_id}/edit?step=3",
        data={"fips_validation": "fips-140-level-9", "nav": "next"},
    )
    assert response.status_code == 422
    assert "is not one of the choices" in response.text
    assert "fips-140-level-9" in response.text
    api = client.get(f"/api/decisions/{decision_id}").json()
    assert api["draft_answers"] == {}
    assert api["current_version"] == 0


def test_live_panel_fragment_shows_the_leader_and_what_the_answer_excluded(
    client: TestClient,
) -> None:
    decision_id = start(client)
    response = client.post(
        f"/decisions/{decision_id}/draft?step=1", data={"audit_key_usage": "true"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="panel"' in response.text
    assert "SSE-KMS with a customer managed key" in response.text
    text = response.text
    assert "Your last answer excluded" in text
    # Options by title, the id only as a badge; each exclusion names the question behind it.
    assert 'SSE-S3 (S3 managed keys) <code class="id">sse-s3</code>' in text
    assert "because of your answer to &ldquo;Must every use of the encryption key" in text
    # Why the leader leads, against the runner-up, instead of a bare score.
    assert "score" not in text
    assert "ahead of SSE-KMS with imported key material (BYOK)" in text
    assert "Why it leads" in text and "Your answers excluded SSE-S3 (S3 managed keys)" in text
    # Which options are still possible, not only how many.
    possible = text[text.index('<details class="possible">') : text.index("</details>")]
    assert "options still possible" in possible and "sse-kms-cmk" in possible
    assert "sse-s3" not in possible
    assert client.get(f"/api/decisions/{decision_id}").json()["draft_answers"] == {
        "audit_key_usage": True
    }
    # The next answer keeps the earlier exclusions in view, apart from its own.
    response = client.post(
        f"/decisions/{decision_id}/draft?step=1",
        data={"audit_key_usage": "true", "key_policy_control": "true"},
        headers=HTMX,
    )
    text = response.text
    earlier = text[text.index("Excluded earlier") :]
    last = text[text.index("Your last answer excluded") : text.index("Excluded earlier")]
    assert "sse-s3" in earlier and "sse-s3" not in last
    assert "sse-kms-aws-managed" in last


def test_link_a_ticket_by_form_and_find_the_decision_by_key(client: TestClient) -> None:
    decision_id = start(client)
    finish(client, decision_id, audit_key_usage="true")
    response = client.post(
        f"/decisions/{decision_id}/tickets", data={"url": JIRA}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"].endswith("#tickets")
    listing = client.get("/decisions", params={"ticket": "SEC-123"})
    assert "Payments data lake" in listing.text
    assert (
        client.get("/decisions", params={"ticket": "SEC-999"}).text.count("Payments data lake") == 0
    )
    fragment = client.get("/decisions", params={"ticket": "SEC-123"}, headers=HTMX).text
    assert fragment.lstrip().startswith('<div id="decision-table">')


def test_a_bad_ticket_url_is_refused_inline(client: TestClient, rows: Callable[[str], int]) -> None:
    decision_id = start(client)
    response = client.post(f"/decisions/{decision_id}/tickets", data={"url": "ftp://x"})
    assert response.status_code == 422
    assert "ftp://x" in response.text
    assert "<html" in response.text
    fragment = client.post(
        f"/decisions/{decision_id}/tickets", data={"url": "ftp://x"}, headers=HTMX
    )
    assert fragment.status_code == 422
    assert fragment.text.lstrip().startswith('<section class="card" id="tickets">')
    assert rows("ticket_links") == 0


def test_ticket_fragment_after_linking_and_unlinking(client: TestClient) -> None:
    decision_id = start(client)
    added = client.post(f"/decisions/{decision_id}/tickets", data={"url": JIRA}, headers=HTMX)
    assert added.status_code == 200
    assert "SEC-123" in added.text and "<html" not in added.text
    link_id = client.get(f"/api/decisions/{decision_id}").json()["tickets"][0]["id"]
    removed = client.post(f"/decisions/{decision_id}/tickets/{link_id}/delete", headers=HTMX)
    assert "No ticket linked yet" in removed.text


def test_copy_as_ticket_gives_markdown_with_the_permalink(client: TestClient) -> None:
    decision_id = start(client)
    finish(client, decision_id, audit_key_usage="true")
    raw = client.get(f"/decisions/{decision_id}/ticket.md", params={"raw": "true"})
    assert raw.headers["content-type"].startswith("text/markdown")
    assert raw.text.startswith("# Payments data lake")
    assert f"/decisions/{decision_id}" in raw.text
    assert "- [ ]" in raw.text
    page = client.get(f"/decisions/{decision_id}/ticket.md")
    assert 'id="ticket-body"' in page.text


def test_history_diff_and_reevaluation_pages(client: TestClient) -> None:
    decision_id = start(client)
    finish(client, decision_id, audit_key_usage="true")
    client.post(
        f"/decisions/{decision_id}/edit?step=2",
        data={"dedicated_hsm": "true", "nav": "finish"},
        follow_redirects=False,
    )
    detail = client.get(f"/decisions/{decision_id}").text
    assert "Compare version" in detail
    diff = client.get(f"/decisions/{decision_id}/diff", params={"before": 1, "after": 2})
    assert "The recommendation changes" in diff.text
    assert "sse-kms-cloudhsm" in diff.text
    fragment = client.get(
        f"/decisions/{decision_id}/diff", params={"before": 1, "after": 2}, headers=HTMX
    )
    assert fragment.text.lstrip().startswith('<section class="card" id="diff">')
    reeval = client.get(f"/decisions/{decision_id}/reevaluate")
    assert "Same outcome" in reeval.text
    saved = client.post(f"/decisions/{decision_id}/reevaluate", follow_redirects=False)
    assert saved.status_code == 303
    assert client.get(f"/api/decisions/{decision_id}").json()["current_version"] == 2


def test_details_form_changes_status_and_refuses_a_blank_title(client: TestClient) -> None:
    decision_id = start(client)
    ok = client.post(
        f"/decisions/{decision_id}/details",
        data={"title": "Lake", "description": "d", "owner": "secops", "status": "superseded"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    api = client.get(f"/api/decisions/{decision_id}").json()
    assert (api["title"], api["status"], api["owner"]) == ("Lake", "superseded", "secops")
    bad = client.post(f"/decisions/{decision_id}/details", data={"title": "", "status": "draft"})
    assert bad.status_code == 422
    assert client.get(f"/api/decisions/{decision_id}").json()["title"] == "Lake"


def test_unknown_decision_page_is_a_404_page(client: TestClient) -> None:
    response = client.get("/decisions/4242")
    assert response.status_code == 404
    assert "decision 4242 does not exist" in response.text
    assert "<html" in response.text
    fragment = client.get("/decisions/4242/diff?before=1&after=2", headers=HTMX)
    assert fragment.status_code == 404
    assert "<html" not in fragment.text


def test_scope_is_edited_on_the_page_and_refused_values_are_named(client: TestClient) -> None:
    decision_id = start(client)
    ok = client.post(
        f"/decisions/{decision_id}/details",
        data={
            "title": "Lake",
            "status": "draft",
            "scope_accounts": "123456789012, 210987654321",
            "scope_buckets": "payments-raw payments-curated",
            "scope_tags": "data-class=restricted\nenv=prod",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    scope = client.get(f"/api/decisions/{decision_id}").json()["scope"]
    assert scope == {
        "accounts": ["123456789012", "210987654321"],
        "reader_accounts": [],
        "buckets": ["payments-raw", "payments-curated"],
        "tags": {"data-class": "restricted", "env": "prod"},
    }
    bad = client.post(
        f"/decisions/{decision_id}/details",
        data={"title": "Lake", "status": "draft", "scope_accounts": "12345"},
    )
    assert bad.status_code == 422
    assert "scope.accounts.0" in bad.text and "12345" in bad.text
    assert (
        client.get(f"/api/decisions/{decision_id}").json()["scope"]["accounts"][0] == "123456789012"
    )


def test_a_refused_live_answer_keeps_the_panel_and_saves_nothing(client: TestClient) -> None:
    decision_id = start(client)
    response = client.post(
        f"/decisions/{decision_id}/draft?step=3", data={"fips_validation": "level-9"}, headers=HTMX
    )
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<aside id="panel"')
    assert "Not saved" in response.text and "level-9" in response.text
    assert client.get(f"/api/decisions/{decision_id}").json()["draft_answers"] == {}


def test_the_decision_page_shows_each_change_at_once(client: TestClient) -> None:
    """The page is cached per stored state: every kind of change must show on the next view."""
    decision_id = start(client)
    finish(client, decision_id, audit_key_usage="true")
    url = f"/decisions/{decision_id}"
    assert "No ticket linked yet" in client.get(url).text
    client.post(f"{url}/tickets", data={"url": JIRA})
    assert "SEC-123" in client.get(url).text
    link_id = client.get(f"/api/decisions/{decision_id}").json()["tickets"][0]["id"]
    client.post(f"{url}/tickets/{link_id}/delete")
    assert "No ticket linked yet" in client.get(url).text
    client.post(f"{url}/details", data={"title": "Renamed lake", "status": "superseded"})
    page = client.get(url).text
    assert "Renamed lake" in page and "status-superseded" in page
    client.patch(f"/api/decisions/{decision_id}", json={"answers": {"dedicated_hsm": True}})
    assert "Recommendation: SSE-KMS with a key in a CloudHSM key store" in client.get(url).text


def _pills(html: str) -> list[tuple[str, str]]:
    """Each step pill's classes and its answered count, in order."""
    return re.findall(r'<li class="([a-z ]+)" data-answered="(\d+/\d+)">', html)


def test_step_pills_turn_green_when_answered_not_when_visited(client: TestClient) -> None:
    decision_id = start(client)
    # Visiting step 3 answers nothing: no step is green.
    pills = _pills(client.get(f"/decisions/{decision_id}/edit?step=3").text)
    assert len(pills) >= 3
    assert all("done" not in classes for classes, _ in pills), pills
    assert pills[2][0] == "todo current"
    # One of step 1's three questions answered: partly done, and it says how many.
    client.post(
        f"/decisions/{decision_id}/draft?step=1", data={"audit_key_usage": "true"}, headers=HTMX
    )
    page = client.get(f"/decisions/{decision_id}/edit?step=2").text
    assert _pills(page)[0] == ("partial", "1/3")
    assert "1 of 3 answered" in page
    # All of them (a "no" is an answer too): green.
    client.post(
        f"/decisions/{decision_id}/draft?step=1",
        data={
            "audit_key_usage": "true",
            "key_policy_control": "false",
            "cross_account_access": "false",
        },
        headers=HTMX,
    )
    pills = _pills(client.get(f"/decisions/{decision_id}/edit?step=2").text)
    assert pills[0] == ("done", "3/3")
    assert pills[1][0] == "todo current"
