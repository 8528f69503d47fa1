"""Pages speak in words: answers are shown by their labels (the id only as a small badge),
and the questionnaire says what an unanswered question means in words."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from app.advisor.loader import load_ruleset


def test_answers_and_defaults_are_shown_by_their_labels(client: TestClient) -> None:
    questions = load_ruleset().questions
    material = questions["key_material"]
    made = client.post(
        "/api/decisions",
        json={"title": "Lake", "answers": {"key_material": "customer-generated"}},
    ).json()
    page = html.unescape(client.get(f"/decisions/{made['id']}").text)
    answers = page.split('id="answers"', 1)[1].split("</section>", 1)[0]
    label = material.value_labels["customer-generated"]
    assert re.search(re.escape(label) + r' <code class="id">customer-generated</code>', answers)
    default_label = questions["request_volume"].value_labels[questions["request_volume"].default]
    assert f"<td>{default_label} <code" in answers  # defaults too, not "low"
    edit = html.unescape(client.get(f"/decisions/{made['id']}/edit?step=2").text)
    default = material.value_labels[material.default]
    assert f"If left unanswered: {default} (no requirement)." in edit
    assert "If left unanswered: aws-generated" not in edit
