"""Collectors, one module per AWS service: injected clients in, plain models out.

Each module declares OPERATIONS, the API operations it calls with the IAM action of each:
`all_operations()` is what the read-only guard of session.py allows, and `all_iam_actions()`
the least-privilege policy `atrest probe --print-iam-policy` prints. One declaration for both.
"""

from __future__ import annotations

from app.probe.collectors import cloudtrail, kms, s3, sts
from app.probe.session import Operation, policy_actions

MODULES = (s3, kms, cloudtrail, sts)


def all_operations() -> tuple[Operation, ...]:
    """Every API operation any collector calls."""
    return tuple(op for module in MODULES for op in module.OPERATIONS)


def all_iam_actions() -> tuple[str, ...]:
    """Every IAM action any collector uses, sorted and without duplicates."""
    return policy_actions(all_operations())
