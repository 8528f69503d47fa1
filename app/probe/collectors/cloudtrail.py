"""CloudTrail: trails, whether they log, and whether their selectors record KMS management events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from botocore.client import BaseClient

from app.probe.models import Problem, TrailFacts
from app.probe.session import fetch

IAM_ACTIONS: tuple[str, ...] = (
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
)
KMS_EVENT_SOURCE = "kms.amazonaws.com"


@dataclass(frozen=True)
class _Coverage:
    """What one selector records of management events."""

    management: bool
    includes_kms: bool
    reads: bool


def _classic(selector: dict[str, Any]) -> _Coverage:
    """Coverage of a classic EventSelector."""
    management = bool(selector.get("IncludeManagementEvents", True))
    read_write = str(selector.get("ReadWriteType", "All"))
    excluded = selector.get("ExcludeManagementEventSources") or []
    return _Coverage(
        management=management and read_write in ("All", "ReadOnly", "WriteOnly"),
        includes_kms=KMS_EVENT_SOURCE not in excluded,
        reads=read_write in ("All", "ReadOnly"),
    )


def _advanced(selector: dict[str, Any]) -> _Coverage:
    """Coverage of an AdvancedEventSelector (only the fields that decide KMS coverage)."""
    fields: dict[str, dict[str, Any]] = {
        str(f.get("Field")): f for f in selector.get("FieldSelectors", [])
    }
    category = fields.get("eventCategory", {})
    management = "Management" in (category.get("Equals") or [])
    source = fields.get("eventSource", {})
    includes_kms = KMS_EVENT_SOURCE not in (source.get("NotEquals") or []) and (
        "Equals" not in source or KMS_EVENT_SOURCE in (source.get("Equals") or [])
    )
    read_only = fields.get("readOnly", {}).get("Equals") or []
    return _Coverage(
        management=management, includes_kms=includes_kms, reads=read_only in ([], ["true"])
    )


def _selectors(
    response: dict[str, Any],
) -> tuple[Literal["classic", "advanced", "none"], list[_Coverage]]:
    """The kind of selectors a trail uses and what each records."""
    advanced = response.get("AdvancedEventSelectors") or []
    if advanced:
        return "advanced", [_advanced(s) for s in advanced]
    classic = response.get("EventSelectors") or []
    if classic:
        return "classic", [_classic(s) for s in classic]
    return "none", []


def _trail(client: BaseClient, raw: dict[str, Any]) -> TrailFacts | Problem:
    """TrailFacts for one DescribeTrails entry (its status and selectors read by ARN)."""
    ref = str(raw.get("TrailARN") or raw["Name"])
    status = fetch(client, "get_trail_status", Name=ref)
    if isinstance(status, Problem):
        return status
    selectors = fetch(client, "get_event_selectors", TrailName=ref)
    if isinstance(selectors, Problem):
        return selectors
    kind, coverage = _selectors(selectors)
    management = [c for c in coverage if c.management]
    with_kms = [c for c in management if c.includes_kms]
    return TrailFacts(
        name=str(raw["Name"]),
        arn=raw.get("TrailARN"),
        home_region=raw.get("HomeRegion"),
        is_logging=bool(status.get("IsLogging", False)),
        is_multi_region=bool(raw.get("IsMultiRegionTrail", False)),
        management_events=bool(management),
        excludes_kms=bool(management) and not with_kms,
        logs_read_events=any(c.reads for c in with_kms),
        selectors_kind=kind,
    )


def trails(client: BaseClient) -> list[TrailFacts] | Problem:
    """Every trail visible from the client's Region (shadow copies of multi-Region trails too).

    Args:
        client: A CloudTrail client from make_client.

    Returns:
        The trails, or the first Problem (e.g. cloudtrail:GetTrailStatus denied), since a
        partial list could hide the one trail that satisfies the audit requirement.
    """
    described = fetch(client, "describe_trails", includeShadowTrails=True)
    if isinstance(described, Problem):
        return described
    collected: list[TrailFacts] = []
    for raw in described.get("trailList", []):
        facts = _trail(client, raw)
        if isinstance(facts, Problem):
            return facts
        collected.append(facts)
    return collected
