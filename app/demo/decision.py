"""The demo's sample decision: a payments data lake, recommended `sse-kms-cmk`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine

SAMPLE_TITLE = "Demo: payments data lake"


def sample_answers() -> dict[str, Any]:
    """Answers of a payments data lake: audited key use under the team's own key policy.

    The engine recommends `sse-kms-cmk`; a high request rate keeps Bucket Keys on, so the
    recommended configuration differs from the option's default only by requiring a key-use
    audit trail (which the demo's trail provides).
    """
    return {
        "audit_key_usage": True,
        "key_policy_control": True,
        "compliance_frameworks": ["pci-dss"],
        "rotation": "annual",
        "native_aws_analytics": True,
        "request_volume": "high",
    }


def create_sample_decision(
    *, session: Session, engine: Engine, buckets: Sequence[str] = (), account: str | None = None
) -> int:
    """Save the sample decision (flushed, not committed) and return its id."""
    from app.decisions.schemas import DecisionCreate, Scope
    from app.decisions.service import create_decision

    data = DecisionCreate(
        title=SAMPLE_TITLE,
        description=(
            "Seeded by `atrest demo`: card transactions land in the payments buckets; PCI DSS "
            "asks who used the key, and the security team owns the key policy."
        ),
        scope=Scope(accounts=[account] if account else [], buckets=list(buckets)),
        owner="demo",
        answers=sample_answers(),
    )
    return int(create_decision(session=session, engine=engine, data=data).decision.id)
