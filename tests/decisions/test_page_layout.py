"""The decision page puts its status and actions first and folds its long tables; an auditor's
home lists what awaits their approval (issue 14 item 9)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.support import signed_in_client

#: Answers that exclude options (so the Excluded card has entries) and keep a recommendation.
ANSWERS = {"audit_key_usage": True, "key_material": "aws-generated"}


def made(client: TestClient, title: str = "Payments lake") -> int:
    response = client.post("/api/decisions", json={"title": title, "answers": ANSWERS})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def step(client: TestClient, decision: int, action: str) -> None:
    """Take an approval step through the API; it must be recorded."""
    response = client.post(f"/api/decisions/{decision}/approvals", json={"action": action})
    assert response.status_code == 201, response.text


def position(page: str, marker: str) -> int:
    at = page.find(marker)
    assert at >= 0, f"{marker!r} is not on the page"
    return at


def folded(page: str, section_id: str) -> str:
    """The opening tag of the <details> right inside the section (fails if there is none)."""
    found = re.search(rf'<section[^>]*id="{section_id}"[^>]*>\s*(<details[^>]*>)', page)
    assert found, f"#{section_id} is not folded in a <details>"
    return found.group(1)


def test_status_and_actions_come_before_the_recommendation_and_the_long_tables(
    client: TestClient,
) -> None:
    d = made(client)
    page = client.get(f"/decisions/{d}").text
    status = position(page, 'id="approval"')
    for later in ('id="recommendation"', 'id="tickets"', 'id="facts"', 'id="answers"'):
        assert status < position(page, later), later
    card = page[status : position(page, 'id="recommendation"')]
    # Every action is in the card: propose, edit, link a ticket, the report downloads.
    assert "Version 1 is a draft, not yet proposed for approval." in card
    assert "Propose version 1 for approval" in card
    assert 'href="#tickets">Link a ticket<' in card
    assert "Edit answers" in card
    assert re.search(rf'href="[^"]*/decisions/{d}/report\.pdf"', card)
    assert "Copy as ticket" in card
    # Tickets (short) come before the outcome's tables.
    assert position(page, 'id="tickets"') < position(page, 'id="ranking"')


def test_long_tables_are_folded_and_say_what_they_hold(client: TestClient) -> None:
    d = made(client)
    page = client.get(f"/decisions/{d}").text
    for section in ("facts", "answers", "details", "compare"):
        assert " open" not in folded(page, section), section
    facts = page[position(page, 'id="facts"') :]
    count = re.search(r"(\d+) sourced facts, each with its date and source", facts)
    assert count and int(count.group(1)) == facts.split("</table>")[0].count("<tr><td>")
    # History is open while short.
    assert " open" in folded(page, "history")


def test_the_excluded_card_names_options_by_title_with_the_question_behind_them(
    client: TestClient,
) -> None:
    d = made(client)
    page = client.get(f"/decisions/{d}").text
    excluded = page[position(page, 'id="excluded"') : position(page, 'id="answers"')]
    assert "SSE-S3 (S3 managed keys)" in excluded
    assert '<code class="id">sse-s3</code>' in excluded
    assert "because of your answer to &ldquo;" in excluded
    assert "(rule <code>" in excluded
    # No bare id lists any more: every id badge follows its title.
    assert not re.search(r"<strong><code>", excluded)


def test_the_recommendation_says_where_it_stands_not_a_score(client: TestClient) -> None:
    d = made(client)
    page = client.get(f"/decisions/{d}").text
    rec = page[position(page, 'id="recommendation"') : position(page, 'id="tickets"')]
    assert "score" not in rec.lower()
    assert "better than the runner-up" in rec
    standing = re.search(r"first of the (\d+) options? that meet every answer; (\d+) excluded", rec)
    assert standing, rec[:600]
    total = int(standing.group(1)) + int(standing.group(2))
    options = client.app.state.advisor.ruleset.options
    assert total == len(options)


def test_the_status_card_says_who_proposed_and_who_approved(
    client: TestClient, auditor: TestClient
) -> None:
    d = made(client)
    step(client, d, "propose")
    page = auditor.get(f"/decisions/{d}").text
    assert "was proposed by <strong>test-admin</strong>" in page
    assert "awaits an auditor&#39;s approval" in page or "awaits an auditor's approval" in page
    assert "Approve version 1" in page
    step(auditor, d, "approve")
    page = client.get(f"/decisions/{d}").text
    assert "is approved and frozen (approved by <strong>test-auditor</strong>" in page
    assert "proposed by test-admin" in page
    assert "Approval history (2 steps)" in page


def test_an_auditor_s_home_lists_what_awaits_their_approval_and_not_their_own(
    client: TestClient, auditor: TestClient
) -> None:
    theirs = made(client, "Admin's lake")
    own = made(client, "Second lake")
    draft = made(client, "Still a draft")
    # The admin proposes two: the auditor may approve both; the admin (who may approve what
    # others propose) sees both held for someone else, as their own proposals.
    step(client, theirs, "propose")
    step(client, own, "propose")
    home = auditor.get("/").text
    awaiting = home[position(home, 'id="awaiting"') :].split("</section>")[0]
    assert "Awaiting your approval" in awaiting
    assert f'/decisions/{theirs}#approval"' in awaiting
    assert f'/decisions/{own}#approval"' in awaiting
    assert f"/decisions/{draft}" not in awaiting
    assert "proposed by test-admin" in awaiting
    admin_home = client.get("/").text
    mine = admin_home[position(admin_home, 'id="awaiting"') :].split("</section>")[0]
    assert "Nothing awaits your approval." in mine
    assert "2 more proposed decisions you proposed or changed last" in mine
    # Once approved it leaves the list.
    step(auditor, theirs, "approve")
    home = auditor.get("/").text
    awaiting = home[position(home, 'id="awaiting"') :].split("</section>")[0]
    assert f"/decisions/{theirs}#" not in awaiting and f"/decisions/{own}#" in awaiting


def test_roles_that_cannot_approve_see_no_approval_list(client: TestClient) -> None:
    d = made(client)
    step(client, d, "propose")
    for role in ("architect", "viewer"):
        other = signed_in_client(client.app, role=role, name=f"a-{role}")
        home = other.get("/").text
        assert 'id="awaiting"' not in home, role
        assert "Payments lake" in home  # still among the recent decisions


def test_the_version_diff_and_the_decisions_list_name_options_by_title(
    client: TestClient,
) -> None:
    d = made(client)
    changed = client.patch(
        f"/api/decisions/{d}", json={"answers": {**ANSWERS, "dedicated_hsm": True}}
    )
    assert changed.status_code == 200, changed.text
    diff = client.get(f"/decisions/{d}/diff?before=1&after=2").text
    section = diff[position(diff, 'id="diff"') :].split("</section>")[0]
    assert re.search(
        r"The recommendation changes: SSE-KMS with a customer managed key <code class=\"id\">"
        r"sse-kms-cmk</code> → SSE-KMS with a key in a CloudHSM key store",
        section,
    ), section[:400]
    newly = re.search(r"Newly excluded: (.*?)</li>", section)
    assert newly and "SSE-KMS with imported key material (BYOK)" in newly.group(1)
    # Every id shown is a badge beside its words, never alone.
    assert not re.search(r"<code>[a-z0-9-]+</code>", section)
    listing = client.get("/decisions").text
    row = listing[position(listing, "Payments lake") :].split("</tr>")[0]
    assert (
        'SSE-KMS with a key in a CloudHSM key store <code class="id">sse-kms-cloudhsm</code>'
        in (row)
    )
