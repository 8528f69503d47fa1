"""Ticket links and ticket bodies for decisions (pure: no database, no network).

`parse_ticket_url` recognises the issue trackers a decision is usually tracked in and
refuses anything that is not a plain http(s) URL, so a stored link is always safe to
render as a link. `render_ticket_body` writes the Markdown of a ticket that implements
a decision ("Copy as ticket").
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from app.core.mdsafe import fenced, inline

MAX_URL_LENGTH = 2048

_JIRA_KEY = r"[A-Za-z][A-Za-z0-9_]*-[0-9]+"
_JIRA_KEY_RE = re.compile(rf"^{_JIRA_KEY}$")
_JIRA_BROWSE_RE = re.compile(rf"/browse/({_JIRA_KEY})/?$")
_JIRA_CLOUD_ISSUES_RE = re.compile(rf"/issues/({_JIRA_KEY})/?$")
_GITHUB_RE = re.compile(r"^/([^/]+)/([^/]+)/(issues|pull)/([0-9]+)(?:/.*)?$")
_GITLAB_RE = re.compile(
    r"^/([^/]+(?:/[^/]+)+)/-/(issues|issues/incident|work_items|merge_requests)/([0-9]+)(?:/.*)?$"
)
_LINEAR_RE = re.compile(r"^/[^/]+/issue/([A-Za-z][A-Za-z0-9]*-[0-9]+)(?:/.*)?$")
_AZURE_DEV_RE = re.compile(r"^/([^/]+)/([^/]+)/_workitems/edit/([0-9]+)(?:/.*)?$")
_AZURE_VS_RE = re.compile(
    r"^/(?:DefaultCollection/)?([^/]+)/_workitems/edit/([0-9]+)(?:/.*)?$", re.IGNORECASE
)
_VISUALSTUDIO_HOST_RE = re.compile(r"^([a-z0-9][a-z0-9-]*)\.visualstudio\.com$")
# Longest prefixes first, so SCTASK0001 is not read as TASK0001.
_SERVICENOW_NUMBER_RE = re.compile(
    r"(?<![A-Za-z0-9])(SCTASK|CTASK|PTASK|RITM|TASK|CHG|INC|PRB|REQ)[0-9]{5,}(?![0-9])",
    re.IGNORECASE,
)
_SERVICENOW_SYS_ID_RE = re.compile(
    r"(?:\bsys_id=|/record/[A-Za-z0-9_]+/)([0-9a-fA-F]{32})(?![0-9a-fA-F])"
)


class TicketURLError(ValueError):
    """A ticket URL that is not a safe http(s) URL; the message names the value."""


@dataclass(frozen=True)
class TicketRef:
    """A ticket link: the tracker it points to, the ticket's key there, and the URL as given.

    Attributes:
        system: "jira", "github", "gitlab", "linear", "azure-devops", "servicenow" or "other".
        key: The ticket's key in that system (e.g. "SEC-123", "acme/infra#42"); "" for "other".
        url: The URL as given, without surrounding whitespace.
    """

    system: str
    key: str
    url: str


def parse_ticket_url(url: str) -> TicketRef:
    """Recognise the tracker and ticket key of a ticket URL, refusing anything but http(s).

    Args:
        url: The URL as entered; surrounding whitespace is ignored.

    Returns:
        The ticket reference; system "other" with an empty key for an unknown http(s) URL.

    Raises:
        TicketURLError: The value is empty, too long, contains whitespace or control
            characters, is not an http or https URL, or has no host.
    """
    value = url.strip()
    if not value:
        raise TicketURLError(f"ticket URL {url!r} is empty")
    if len(value) > MAX_URL_LENGTH:
        raise TicketURLError(
            f"ticket URL {value[:80]!r}... is longer than {MAX_URL_LENGTH} characters"
        )
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in value):
        raise TicketURLError(
            f"ticket URL {value!r} must not contain whitespace or control characters"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise TicketURLError(f"ticket URL {value!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TicketURLError(f"ticket URL {value!r} must be an http or https URL")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise TicketURLError(f"ticket URL {value!r} has no host")
    system, key = _recognise(host, parts)
    return TicketRef(system=system, key=key, url=value)


def _recognise(host: str, parts: SplitResult) -> tuple[str, str]:
    """The (system, key) of a valid http(s) URL; ("other", "") when no form matches."""
    if host in ("github.com", "www.github.com"):
        found = _github(parts)
    elif "gitlab" in host:
        found = _gitlab(parts)
    elif host == "linear.app":
        found = _linear(parts)
    elif host == "dev.azure.com" or host.endswith(".visualstudio.com"):
        found = _azure_devops(host, parts)
    elif host.endswith(".service-now.com"):
        found = _servicenow(parts)
    else:
        # Jira Server / Data Center runs on any host, so it is recognised by its paths.
        found = _jira(host, parts)
    return found or ("other", "")


def _github(parts: SplitResult) -> tuple[str, str] | None:
    m = _GITHUB_RE.match(parts.path)
    if m is None:
        return None
    owner, repo, _kind, number = m.groups()
    return "github", f"{owner}/{repo}#{number}"


def _gitlab(parts: SplitResult) -> tuple[str, str] | None:
    m = _GITLAB_RE.match(parts.path)
    if m is None:
        return None
    project, kind, number = m.groups()
    sep = "!" if kind == "merge_requests" else "#"
    return "gitlab", f"{project}{sep}{number}"


def _linear(parts: SplitResult) -> tuple[str, str] | None:
    m = _LINEAR_RE.match(parts.path)
    return None if m is None else ("linear", m.group(1).upper())


def _azure_devops(host: str, parts: SplitResult) -> tuple[str, str] | None:
    if host == "dev.azure.com":
        m = _AZURE_DEV_RE.match(parts.path)
        if m is None:
            return None
        org, project, number = m.groups()
    else:
        host_match = _VISUALSTUDIO_HOST_RE.match(host)
        m = _AZURE_VS_RE.match(parts.path)
        if host_match is None or m is None:
            return None
        org = host_match.group(1)
        project, number = m.groups()
    return "azure-devops", f"{_decoded(org)}/{_decoded(project)}#{number}"


def _decoded(segment: str) -> str:
    """A path segment percent-decoded (project names hold %20), unless it decodes to a control."""
    decoded = unquote(segment)
    return decoded if decoded.isprintable() else segment


def _servicenow(parts: SplitResult) -> tuple[str, str] | None:
    # Classic and Next Experience links nest the record URL, encoded once or twice.
    text = f"{parts.path}?{parts.query}"
    for _ in range(3):
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    number = _SERVICENOW_NUMBER_RE.search(text)
    if number is not None:
        return "servicenow", number.group(0).upper()
    sys_id = _SERVICENOW_SYS_ID_RE.search(text)
    if sys_id is not None:
        return "servicenow", sys_id.group(1).lower()
    return None


def _jira(host: str, parts: SplitResult) -> tuple[str, str] | None:
    m = _JIRA_BROWSE_RE.search(parts.path)
    if m is None and host.endswith(".atlassian.net"):
        m = _JIRA_CLOUD_ISSUES_RE.search(parts.path)
    if m is not None:
        return "jira", m.group(1).upper()
    for selected in parse_qs(parts.query).get("selectedIssue", []):
        if _JIRA_KEY_RE.fullmatch(selected):
            return "jira", selected.upper()
    return None


def render_ticket_body(
    *,
    title: str,
    description: str | None,
    option_title: str,
    configuration: dict[str, Any],
    rationale: Sequence[str],
    warnings: Sequence[str],
    ruleset_version: str,
    permalink: str,
) -> str:
    """The Markdown body of a ticket that implements a decision.

    Args:
        title: The decision's title, used as the heading.
        description: The decision's description, if any, opening the summary.
        option_title: The title of the recommended option.
        configuration: The option's configuration as adjusted to the answers
            (the shape of `configuration` in rules/options.yaml); keys may be missing or null.
        rationale: Why the option was recommended, one sentence per item.
        warnings: Warnings that came with the recommendation.
        ruleset_version: The version of the rule set the decision was made with.
        permalink: The decision's permanent URL.

    Returns:
        The Markdown text, ending with a newline; the same inputs give the same text.
    """
    # The title and description are people's text: quoted so that they cannot add sections,
    # task items, HTML, links, images or mentions of their own (app.core.mdsafe).
    out = [f"# {inline(title)}", ""]
    if description and description.strip():
        out += ["Description:", "", *fenced(description), ""]
    out += [f"Recommended: {_one_line(option_title)}"]
    out += [
        "",
        "## Configuration to apply",
        "",
        *fenced(json.dumps(configuration, indent=2), "json"),
    ]
    out += ["", "## Why", ""]
    out += [f"- {_one_line(r)}" for r in rationale] or ["No rationale recorded."]
    out += ["", "## Acceptance criteria", ""]
    out += [f"- [ ] {c}" for c in acceptance_criteria(configuration)]
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {_one_line(w)}" for w in warnings]
    out += ["", f"Decision: {permalink} · rule set {ruleset_version}"]
    return "\n".join(out) + "\n"


def acceptance_criteria(configuration: Mapping[str, Any]) -> list[str]:
    """The checks that show a bucket follows a configuration, ending with the probe."""
    criteria: list[str] = []
    sse = _mapping(configuration.get("ServerSideEncryptionConfiguration"))
    rules = sse.get("Rules") if sse else None
    for rule in rules if isinstance(rules, list) else []:
        criteria += _encryption_rule_criteria(_mapping(rule) or {})
    kms_key = _mapping(configuration.get("kms_key"))
    if kms_key:
        attrs = [
            f"`{name}` {_code(kms_key[name])}"
            for name in ("KeyManager", "Origin")
            if kms_key.get(name) is not None
        ]
        if kms_key.get("alias") is not None:
            attrs.append(f"alias {_code(kms_key['alias'])}")
        if attrs:
            criteria.append(f"The KMS key has {_join(attrs)}.")
    rotation = _mapping(configuration.get("key_rotation"))
    if rotation and rotation.get("enabled"):
        period = rotation.get("period_days")
        every = f" every {period} days" if period is not None else ""
        criteria.append(f"Automatic rotation of the KMS key is enabled{every}.")
    policy = _mapping(configuration.get("bucket_policy")) or {}
    if policy.get("deny_insecure_transport"):
        criteria.append(
            "The bucket policy denies requests that do not use TLS (`aws:SecureTransport` is `false`)."
        )
    if policy.get("deny_unencrypted_writes"):
        header = policy.get("required_encryption_header")
        required = f"the encryption header {_code(header)}" if header else "an encryption header"
        criteria.append(f"The bucket policy denies object writes without {required}.")
    readers = configuration.get("cross_account_readers")
    if isinstance(readers, list) and readers:
        accounts = _join([_code(str(a)) for a in readers])
        if kms_key and kms_key.get("KeyManager") == "CUSTOMER":
            criteria.append(
                f"The key policy lets {accounts} use the key for `kms:Decrypt` only through S3 "
                "(`kms:ViaService` `s3.<Region>.amazonaws.com`, `kms:CallerAccount`)."
            )
        criteria.append(f"The bucket policy lets {accounts} get the objects (`s3:GetObject`).")
    if configuration.get("require_audit_trail"):
        criteria.append("A CloudTrail trail logs KMS management events.")
    criteria.append("Verified with `atrest probe`.")
    return criteria


def _encryption_rule_criteria(rule: Mapping[str, Any]) -> list[str]:
    criteria: list[str] = []
    default = _mapping(rule.get("ApplyServerSideEncryptionByDefault")) or {}
    if default.get("SSEAlgorithm") is not None:
        line = f"Default encryption sets `SSEAlgorithm` to {_code(default['SSEAlgorithm'])}"
        if default.get("KMSMasterKeyID") is not None:
            line += f" and `KMSMasterKeyID` to {_code(default['KMSMasterKeyID'])}"
        criteria.append(line + ".")
    if rule.get("BucketKeyEnabled") is not None:
        criteria.append(f"`BucketKeyEnabled` is {_code(rule['BucketKeyEnabled'])}.")
    blocked = _mapping(rule.get("BlockedEncryptionTypes"))
    types = blocked.get("EncryptionType") if blocked else None
    if isinstance(types, list):
        shown = _code(types)
        if types == ["NONE"]:
            criteria.append(
                f"SSE-C is explicitly unblocked: `BlockedEncryptionTypes` is {shown}"
                " (new buckets block SSE-C by default)."
            )
        else:
            criteria.append(f"`BlockedEncryptionTypes` is {shown}.")
    return criteria


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _code(value: object) -> str:
    """Inline code for a configuration value: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else json.dumps(value)
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _one_line(text: str) -> str:
    """The text on one line, so a heading or a list item cannot break the Markdown around it."""
    return " ".join(text.split())
