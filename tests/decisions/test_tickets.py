"""Ticket URLs are recognised per tracker or refused; ticket bodies follow the configuration."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.advisor.loader import RuleSet
from app.decisions.tickets import (
    MAX_URL_LENGTH,
    TicketRef,
    TicketURLError,
    parse_ticket_url,
    render_ticket_body,
)

SYS_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("url", "system", "key"),
    [
        # Jira Cloud, Server / Data Center, context path, board and Cloud issue-view forms.
        ("https://acme.atlassian.net/browse/SEC-123", "jira", "SEC-123"),
        ("https://jira.example.com/browse/SEC-123", "jira", "SEC-123"),
        ("https://example.com/jira/browse/SEC-123", "jira", "SEC-123"),
        ("https://jira.example.com/browse/SEC-123/", "jira", "SEC-123"),
        ("https://jira.example.com/browse/sec-123", "jira", "SEC-123"),
        ("https://acme.atlassian.net/browse/SEC-123?focusedCommentId=1", "jira", "SEC-123"),
        (
            "https://acme.atlassian.net/jira/software/projects/SEC/boards/1?selectedIssue=SEC-123",
            "jira",
            "SEC-123",
        ),
        (
            "https://jira.example.com/secure/RapidBoard.jspa?rapidView=7&selectedIssue=SEC-123",
            "jira",
            "SEC-123",
        ),
        (
            "https://acme.atlassian.net/jira/software/c/projects/SEC/issues/SEC-123",
            "jira",
            "SEC-123",
        ),
        ("https://ACME.Atlassian.NET/browse/SEC_OPS-9", "jira", "SEC_OPS-9"),
        # GitHub issues and pull requests.
        ("https://github.com/acme/infra/issues/42", "github", "acme/infra#42"),
        ("https://github.com/acme/infra/pull/42", "github", "acme/infra#42"),
        ("https://github.com/acme/infra/pull/42/files", "github", "acme/infra#42"),
        ("https://www.github.com/acme/infra/issues/42#issuecomment-1", "github", "acme/infra#42"),
        ("https://GitHub.com/Acme/Infra/issues/42", "github", "Acme/Infra#42"),
        # GitLab issues and merge requests, on gitlab.com and self-hosted.
        ("https://gitlab.com/group/sub/project/-/issues/7", "gitlab", "group/sub/project#7"),
        (
            "https://gitlab.com/group/sub/project/-/merge_requests/7",
            "gitlab",
            "group/sub/project!7",
        ),
        ("https://gitlab.com/group/project/-/merge_requests/7/diffs", "gitlab", "group/project!7"),
        ("https://gitlab.example.com/group/project/-/issues/7", "gitlab", "group/project#7"),
        (
            "https://code.gitlab.acme.io/group/project/-/issues/incident/3",
            "gitlab",
            "group/project#3",
        ),
        ("https://gitlab.com/group/project/-/work_items/5", "gitlab", "group/project#5"),
        # Linear.
        ("https://linear.app/acme/issue/ENG-12/some-title", "linear", "ENG-12"),
        ("https://linear.app/acme/issue/ENG-12", "linear", "ENG-12"),
        # Azure DevOps, on dev.azure.com and on the legacy visualstudio.com hosts.
        (
            "https://dev.azure.com/org/project/_workitems/edit/123",
            "azure-devops",
            "org/project#123",
        ),
        (
            "https://dev.azure.com/org/My%20Project/_workitems/edit/123/",
            "azure-devops",
            "org/My Project#123",
        ),
        (
            "https://org.visualstudio.com/project/_workitems/edit/123",
            "azure-devops",
            "org/project#123",
        ),
        (
            "https://org.visualstudio.com/DefaultCollection/project/_workitems/edit/123",
            "azure-devops",
            "org/project#123",
        ),
        (
            "https://dev.azure.com/org/bad%0Aname/_workitems/edit/1",
            "azure-devops",
            "org/bad%0Aname#1",
        ),
        # ServiceNow: a record number wherever it appears, else the sys_id.
        (
            "https://acme.service-now.com/nav_to.do?uri=change_request.do?sysparm_query=number=CHG0031234",
            "servicenow",
            "CHG0031234",
        ),
        (
            "https://acme.service-now.com/now/nav/ui/classic/params/target/"
            "change_request.do%3Fsysparm_query%3Dnumber%253DCHG0031234",
            "servicenow",
            "CHG0031234",
        ),
        ("https://acme.service-now.com/incident.do?number=INC0012345", "servicenow", "INC0012345"),
        ("https://acme.service-now.com/sc_req_item.do?n=RITM0001234", "servicenow", "RITM0001234"),
        ("https://acme.service-now.com/problem/PRB0040001", "servicenow", "PRB0040001"),
        ("https://acme.service-now.com/task.do?number=TASK0012345", "servicenow", "TASK0012345"),
        (
            "https://acme.service-now.com/sc_task.do?number=SCTASK0001234",
            "servicenow",
            "SCTASK0001234",
        ),
        (
            f"https://acme.service-now.com/now/nav/ui/classic/params/target/change_request.do%3Fsys_id%3D{SYS_ID}",
            "servicenow",
            SYS_ID,
        ),
        (
            f"https://acme.service-now.com/nav_to.do?uri=change_request.do?sys_id={SYS_ID}",
            "servicenow",
            SYS_ID,
        ),
        (
            f"https://acme.service-now.com/nav_to.do?uri=change_request.do%3Fsys_id%3D{SYS_ID}",
            "servicenow",
            SYS_ID,
        ),
        (f"https://acme.service-now.com/now/sow/record/incident/{SYS_ID}", "servicenow", SYS_ID),
    ],
)
def test_ticket_url_is_recognised_with_its_system_and_key(url: str, system: str, key: str) -> None:
    assert parse_ticket_url(url) == TicketRef(system=system, key=key, url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/tickets/123",
        "http://intranet.local/change?id=5",
        "https://acme.service-now.com/now/nav/ui/home",
        "https://acme.service-now.com/change_request.do?sys_id=-1",
        "https://github.com/acme/infra",
        "https://github.com/acme/infra/issues",
        "https://gitlab.com/project/-/issues/7",
        "https://linear.app/acme/team/ENG/active",
        "https://dev.azure.com/org/project/_boards/board",
        "https://jira.example.com/browse/SEC",
        "https://jira.example.com/secure/Dashboard.jspa",
        "https://example.com/issues/SEC-123",
        "https://jira.example.com/secure/RapidBoard.jspa?selectedIssue=SEC-1%0A",
    ],
)
def test_unrecognised_http_url_is_kept_as_other_with_empty_key(url: str) -> None:
    assert parse_ticket_url(url) == TicketRef(system="other", key="", url=url)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  https://github.com/acme/infra/issues/42\n", "https://github.com/acme/infra/issues/42"),
        ("\thttps://Example.COM/A/b?C=D ", "https://Example.COM/A/b?C=D"),
    ],
)
def test_url_is_stored_stripped_and_otherwise_unchanged(raw: str, stored: str) -> None:
    assert parse_ticket_url(raw).url == stored


def test_ticket_ref_is_immutable() -> None:
    ref = parse_ticket_url("https://example.com/x")
    with pytest.raises(AttributeError):
        ref.key = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://x", "must be an http or https URL"),
        ("javascript:alert(1)", "must be an http or https URL"),
        ("JavaScript:alert(document.cookie)", "must be an http or https URL"),
        ("file:///etc/passwd", "must be an http or https URL"),
        ("data:text/html,<script>alert(1)</script>", "must be an http or https URL"),
        ("mailto:security@example.com", "must be an http or https URL"),
        ("github.com/acme/infra/issues/42", "must be an http or https URL"),
        ("//github.com/acme/infra/issues/42", "must be an http or https URL"),
        ("SEC-123", "must be an http or https URL"),
        ("https://", "has no host"),
        ("https:example.com", "has no host"),
        ("http:///path/only", "has no host"),
        ("https://:443/x", "has no host"),
        ("https://example.com/a b", "must not contain whitespace or control characters"),
        ("https://example.com/a\tb", "must not contain whitespace or control characters"),
        ("https://example.com/\x00", "must not contain whitespace or control characters"),
        ("https://example.com/\x7f", "must not contain whitespace or control characters"),
        ("https://example.com/\u200b", "must not contain whitespace or control characters"),
        ("https://example.com/\u202e", "must not contain whitespace or control characters"),
        ("https://example.com/a\u00a0b", "must not contain whitespace or control characters"),
        ("https://[::1/x", "is not a valid URL"),
        ("https://example.com:99999/x", "is not a valid URL"),
    ],
)
def test_unsafe_or_malformed_url_is_refused_naming_the_value(url: str, reason: str) -> None:
    with pytest.raises(TicketURLError) as caught:
        parse_ticket_url(url)
    assert str(caught.value).startswith(f"ticket URL {url!r} {reason}")


@pytest.mark.parametrize("url", ["", "   ", "\n\t"])
def test_empty_url_is_refused_naming_the_value(url: str) -> None:
    with pytest.raises(TicketURLError, match=re.escape(f"ticket URL {url!r} is empty")):
        parse_ticket_url(url)


def test_url_longer_than_the_limit_is_refused_naming_its_start() -> None:
    url = "https://example.com/" + "a" * MAX_URL_LENGTH
    with pytest.raises(TicketURLError) as caught:
        parse_ticket_url(url)
    message = str(caught.value)
    assert message.startswith(f"ticket URL {url[:80]!r}")
    assert f"longer than {MAX_URL_LENGTH} characters" in message
    assert len(message) < 200


def test_url_at_the_length_limit_is_accepted() -> None:
    url = "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/"))
    assert parse_ticket_url(url).system == "other"


def test_ticket_url_error_is_a_value_error() -> None:
    assert issubclass(TicketURLError, ValueError)


# --- ticket body ---------------------------------------------------------------------------

CMK_CONFIGURATION: dict[str, Any] = {
    "ServerSideEncryptionConfiguration": {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": "<your key ARN>",
                },
                "BucketKeyEnabled": True,
                "BlockedEncryptionTypes": {"EncryptionType": ["SSE-C"]},
            }
        ]
    },
    "kms_key": {"KeyManager": "CUSTOMER", "Origin": "AWS_KMS"},
    "key_rotation": {"enabled": True, "period_days": 365},
    "bucket_policy": {
        "deny_insecure_transport": True,
        "deny_unencrypted_writes": True,
        "required_encryption_header": "aws:kms",
    },
    "require_audit_trail": True,
}

SSE_C_CONFIGURATION: dict[str, Any] = {
    "ServerSideEncryptionConfiguration": {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                "BucketKeyEnabled": False,
                "BlockedEncryptionTypes": {"EncryptionType": ["NONE"]},
            }
        ]
    },
    "kms_key": None,
    "key_rotation": {"enabled": False, "period_days": None},
    "bucket_policy": {
        "deny_insecure_transport": True,
        "deny_unencrypted_writes": True,
        "required_encryption_header": "SSE-C",
    },
    "require_audit_trail": False,
}

UNBLOCK = "SSE-C is explicitly unblocked"


def _body(configuration: dict[str, Any], **overrides: Any) -> str:
    kwargs: dict[str, Any] = {
        "title": "Encrypt the payments bucket",
        "description": "PCI scope requires key-use audit.",
        "option_title": "SSE-KMS with a customer managed key",
        "configuration": configuration,
        "rationale": ["Every use of the key is logged in CloudTrail.", "The key policy is yours."],
        "warnings": ["Rotation does not re-encrypt existing objects."],
        "ruleset_version": "2026.04.1",
        "permalink": "https://atrest.example.com/decisions/17",
    }
    kwargs.update(overrides)
    return render_ticket_body(**kwargs)


def _criteria(body: str) -> list[str]:
    section = body.split("## Acceptance criteria\n\n", 1)[1].split("\n\n", 1)[0]
    return [line.removeprefix("- [ ] ") for line in section.splitlines()]


def test_ticket_body_has_every_section_in_order() -> None:
    body = _body(CMK_CONFIGURATION)
    markers = [
        "# Encrypt the payments bucket\n",
        "PCI scope requires key-use audit.",
        "Recommended: SSE-KMS with a customer managed key",
        "## Configuration to apply",
        "```json\n",
        "## Why",
        "- Every use of the key is logged in CloudTrail.",
        "## Acceptance criteria",
        "## Warnings",
        "- Rotation does not re-encrypt existing objects.",
        "Decision: https://atrest.example.com/decisions/17 · rule set 2026.04.1",
    ]
    positions = [body.index(marker) for marker in markers]
    assert positions == sorted(positions)
    assert body.startswith("# Encrypt the payments bucket\n")
    assert body.endswith("Decision: https://atrest.example.com/decisions/17 · rule set 2026.04.1\n")


def test_ticket_body_embeds_the_configuration_as_indented_json() -> None:
    body = _body(CMK_CONFIGURATION)
    assert '{\n  "ServerSideEncryptionConfiguration": {\n    "Rules": [' in body
    assert '"KMSMasterKeyID": "<your key ARN>"' in body


def test_acceptance_criteria_follow_a_customer_managed_key_configuration() -> None:
    assert _criteria(_body(CMK_CONFIGURATION)) == [
        "Default encryption sets `SSEAlgorithm` to `aws:kms` and `KMSMasterKeyID` to `<your key ARN>`.",
        "`BucketKeyEnabled` is `true`.",
        '`BlockedEncryptionTypes` is `["SSE-C"]`.',
        "The KMS key has `KeyManager` `CUSTOMER` and `Origin` `AWS_KMS`.",
        "Automatic rotation of the KMS key is enabled every 365 days.",
        "The bucket policy denies requests that do not use TLS (`aws:SecureTransport` is `false`).",
        "The bucket policy denies object writes without the encryption header `aws:kms`.",
        "A CloudTrail trail logs KMS management events.",
        "Verified with `atrest probe`.",
    ]


def test_acceptance_criteria_for_sse_c_say_it_must_be_unblocked() -> None:
    criteria = _criteria(_body(SSE_C_CONFIGURATION))
    assert criteria == [
        "Default encryption sets `SSEAlgorithm` to `AES256`.",
        "`BucketKeyEnabled` is `false`.",
        f'{UNBLOCK}: `BlockedEncryptionTypes` is `["NONE"]` (new buckets block SSE-C by default).',
        "The bucket policy denies requests that do not use TLS (`aws:SecureTransport` is `false`).",
        "The bucket policy denies object writes without the encryption header `SSE-C`.",
        "Verified with `atrest probe`.",
    ]


@pytest.mark.parametrize(
    ("change", "absent"),
    [
        (lambda c: c.update(kms_key=None), "The KMS key"),
        (lambda c: c.pop("kms_key"), "The KMS key"),
        (lambda c: c["key_rotation"].update(enabled=False), "rotation"),
        (lambda c: c.update(key_rotation=None), "rotation"),
        (lambda c: c.update(require_audit_trail=False), "CloudTrail trail"),
        (lambda c: c.pop("require_audit_trail"), "CloudTrail trail"),
        (lambda c: c["bucket_policy"].update(deny_insecure_transport=False), "TLS"),
        (lambda c: c["bucket_policy"].update(deny_unencrypted_writes=False), "object writes"),
        (lambda c: c.update(bucket_policy=None), "bucket policy"),
        (lambda c: c.update(ServerSideEncryptionConfiguration=None), "SSEAlgorithm"),
        (
            lambda c: c["ServerSideEncryptionConfiguration"]["Rules"][0].pop(
                "BlockedEncryptionTypes"
            ),
            "BlockedEncryptionTypes",
        ),
    ],
)
def test_acceptance_criterion_is_left_out_when_its_setting_is_off_missing_or_null(
    change: Any, absent: str
) -> None:
    configuration = copy.deepcopy(CMK_CONFIGURATION)
    change(configuration)
    criteria = _criteria(_body(configuration))
    assert not [c for c in criteria if absent in c]
    assert criteria[-1] == "Verified with `atrest probe`."


def test_rotation_without_a_period_is_still_a_criterion() -> None:
    configuration = copy.deepcopy(CMK_CONFIGURATION)
    configuration["key_rotation"] = {"enabled": True, "period_days": None}
    assert "Automatic rotation of the KMS key is enabled." in _criteria(_body(configuration))


def test_empty_configuration_leaves_only_the_probe_criterion() -> None:
    assert _criteria(_body({})) == ["Verified with `atrest probe`."]


def test_unencrypted_write_denial_without_a_header_name_still_reads() -> None:
    configuration = copy.deepcopy(CMK_CONFIGURATION)
    configuration["bucket_policy"]["required_encryption_header"] = None
    criteria = _criteria(_body(configuration))
    assert "The bucket policy denies object writes without an encryption header." in criteria


def test_sse_c_unblock_criterion_appears_only_for_the_sse_c_option(ruleset: RuleSet) -> None:
    unblocking = {
        option_id
        for option_id, option in ruleset.options.items()
        if UNBLOCK in _body(option.configuration, option_title=option.title)
    }
    assert unblocking == {"sse-c"}


def test_every_option_of_the_rule_set_renders_a_ticket(ruleset: RuleSet) -> None:
    for option in ruleset.options.values():
        body = _body(option.configuration, option_title=option.title)
        assert f"Recommended: {option.title}" in body
        assert _criteria(body)[-1] == "Verified with `atrest probe`."


def test_ticket_body_is_deterministic() -> None:
    first = _body(copy.deepcopy(CMK_CONFIGURATION))
    assert all(_body(copy.deepcopy(CMK_CONFIGURATION)) == first for _ in range(5))


def test_ticket_without_description_or_warnings_has_no_empty_sections() -> None:
    body = _body(CMK_CONFIGURATION, description=None, warnings=[])
    assert "## Warnings" not in body
    assert "# Encrypt the payments bucket\n\nRecommended: SSE-KMS" in body


def test_blank_description_is_treated_as_none() -> None:
    assert _body(CMK_CONFIGURATION, description="  \n") == _body(
        CMK_CONFIGURATION, description=None
    )


def test_ticket_without_rationale_says_so() -> None:
    body = _body(CMK_CONFIGURATION, rationale=[])
    assert "## Why\n\nNo rationale recorded.\n" in body


def test_newlines_in_title_and_list_items_cannot_break_the_markdown() -> None:
    body = _body(
        CMK_CONFIGURATION,
        title="Encrypt\n## injected",
        rationale=["first\n## injected"],
        warnings=["careful\n- [x] fake criterion"],
    )
    assert body.startswith("# Encrypt ## injected\n")
    assert "\n## injected" not in body
    assert "\n- [x] fake criterion" not in body


def test_configuration_holding_backticks_keeps_its_code_fence_closed() -> None:
    configuration = {"note": "```\n# not a heading"}
    body = _body(configuration)
    assert "````json\n" in body
    assert "\n````\n" in body


def test_an_auditor_sees_no_unlink_and_an_htmx_error_goes_to_the_error_area(
    client: TestClient, auditor: TestClient
) -> None:
    d = client.post("/api/decisions", json={"title": "Lake", "answers": {}}).json()["id"]
    link = client.post(
        f"/api/decisions/{d}/tickets", json={"url": "https://github.com/acme/infra/issues/7"}
    ).json()
    assert "Unlink" in client.get(f"/decisions/{d}").text
    page = auditor.get(f"/decisions/{d}").text
    assert "acme/infra#7" in page and "Unlink" not in page
    refused = auditor.post(
        f"/decisions/{d}/tickets/{link['id']}/delete", headers={"HX-Request": "true"}
    )
    assert refused.status_code == 403
    assert refused.headers["HX-Retarget"] == "#htmx-error"
    assert refused.headers["HX-Reswap"] == "innerHTML"
    assert 'role="alert"' in refused.text and "<section" not in refused.text
