"""Collectors, one module per AWS service: injected clients in, plain models out.

Each module declares IAM_ACTIONS, the actions it needs; `all_iam_actions()` joins them for the
least-privilege policy.
"""

from __future__ import annotations

from app.probe.collectors import cloudtrail, kms, s3, sts


def all_iam_actions() -> tuple[str, ...]:
    """Every IAM action any collector uses, sorted and without duplicates."""
    modules = (s3, kms, cloudtrail, sts)
    return tuple(sorted({action for module in modules for action in module.IAM_ACTIONS}))
