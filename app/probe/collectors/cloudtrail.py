"""CloudTrail: trails, whether they log, and whether their selectors record KMS management events."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.client import BaseClient

from app.probe.models import Problem, TrailFacts, UnreadableTrail
from app.probe.session import Operation, fetch, policy_actions

OPERATIONS: tuple[Operation, ...] = (
    Operation("cloudtrail", "DescribeTrails", "cloudtrail:DescribeTrails"),
    Operation("cloudtrail", "GetTrailStatus", "cloudtrail:GetTrailStatus"),
    Operation("cloudtrail", "GetEventSelectors", "cloudtrail:GetEventSelectors"),
)
IAM_ACTIONS: tuple[str, ...] = policy_actions(OPERATIONS)
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


def _admits(field: dict[str, Any] | None, value: str) -> bool:
    """Whether an advanced field selector lets events with this field value through.

    A field absent from the selector admits everything. Its conditions are ANDed; the values
    of a positive one (Equals, StartsWith, EndsWith) are ORed, a negative one (NotEquals,
    NotStartsWith, NotEndsWith) must hold for each of its values.
    """
    if field is None:
        return True
    tests: dict[str, Callable[[str], bool]] = {
        "Equals": value.__eq__,
        "StartsWith": value.startswith,
        "EndsWith": value.endswith,
    }
    for name, test in tests.items():
        values = [str(v) for v in field.get(name) or []]
        if values and not any(test(v) for v in values):
            return False
        negated = [str(v) for v in field.get(f"Not{name}") or []]
        if any(test(v) for v in negated):
            return False
    return True


def _advanced(selector: dict[str, Any]) -> _Coverage:
    """Coverage of an AdvancedEventSelector (only the fields that decide KMS coverage)."""
    fields: dict[str, dict[str, Any]] = {
        str(f.get("Field")): f for f in selector.get("FieldSelectors", [])
    }
    management = "eventCategory" in fields and _admits(fields["eventCategory"], "Management")
    return _Coverage(
        management=management,
        includes_kms=_admits(fields.get("eventSource"), KMS_EVENT_SOURCE),
        reads=_admits(fields.get("readOnly"), "true"),
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


def _trail(client: BaseClient, raw: dict[str, Any]) -> TrailFacts | UnreadableTrail:
    """TrailFacts for one DescribeTrails entry (its status and selectors read by ARN)."""
    ref = str(raw.get("TrailARN") or raw["Name"])
    status = fetch(client, "get_trail_status", Name=ref)
    selectors = status
    if not isinstance(status, Problem):
        selectors = fetch(client, "get_event_selectors", TrailName=ref)
    if isinstance(status, Problem) or isinstance(selectors, Problem):
        return UnreadableTrail(
            name=str(raw["Name"]),
            arn=raw.get("TrailARN"),
            home_region=raw.get("HomeRegion"),
            is_multi_region=bool(raw.get("IsMultiRegionTrail", False)),
            problem=status if isinstance(status, Problem) else selectors,
        )
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
        # Without KMS events, "write-only" would be a second, misleading reason.
        logs_read_events=any(c.reads for c in (with_kms or management)),
        selectors_kind=kind,
    )


Trails = list[TrailFacts | UnreadableTrail]
ClientFor = Callable[[str], BaseClient]


def trails(
    client: BaseClient,
    *,
    client_for: ClientFor | None = None,
    read: Callable[[BaseClient, dict[str, Any]], TrailFacts | UnreadableTrail] | None = None,
) -> Trails | Problem:
    """Every trail that records events of the client's Region: its own trails and the shadow
    copies of multi-Region trails (single-Region trails of other Regions are not listed).

    A trail's status and selectors are read in its home Region: CloudTrail answers
    GetEventSelectors for a shadow trail with TrailNotFoundException anywhere else.

    Args:
        client: A CloudTrail client from make_client, in the Region of interest.
        client_for: A CloudTrail client for a given Region (a trail's home Region); None reads
            every trail with `client`.
        read: Reads one DescribeTrails entry with a client (a cache's, to read each trail once).

    Returns:
        The trails, each read or UnreadableTrail saying why not (so one unreadable trail does
        not hide another that satisfies the requirement); a Problem when DescribeTrails itself
        fails.
    """
    described = fetch(client, "describe_trails", includeShadowTrails=True)
    if isinstance(described, Problem):
        return described
    found: Trails = []
    for raw in described.get("trailList", []):
        home = raw.get("HomeRegion")
        reader = client_for(str(home)) if client_for is not None and home else client
        found.append((read or _trail)(reader, raw))
    return found


class TrailCache:
    """Trails per Region, each trail read once per run whatever the number of buckets, Regions
    (a multi-Region trail is listed in every one) and threads."""

    def __init__(self, client_for: ClientFor) -> None:
        """Start empty; `client_for` gives the CloudTrail client of a Region."""
        self._client_for = client_for
        self._lock = threading.Lock()
        self._regions: dict[str, tuple[threading.Lock, list[Trails | Problem]]] = {}
        self._trails: dict[str, tuple[threading.Lock, list[TrailFacts | UnreadableTrail]]] = {}

    def _read(self, client: BaseClient, raw: dict[str, Any]) -> TrailFacts | UnreadableTrail:
        ref = str(raw.get("TrailARN") or raw["Name"])
        with self._lock:
            lock, slot = self._trails.setdefault(ref, (threading.Lock(), []))
        with lock:
            if not slot:
                slot.append(_trail(client, raw))
            return slot[0]

    def trails(self, region: str) -> Trails | Problem:
        """The trails that record events of `region` (see `trails`), read on first use."""
        with self._lock:
            lock, slot = self._regions.setdefault(region, (threading.Lock(), []))
        with lock:
            if not slot:
                slot.append(
                    trails(self._client_for(region), client_for=self._client_for, read=self._read)
                )
            return slot[0]
