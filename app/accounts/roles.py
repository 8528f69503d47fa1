"""Roles and what each may do. Every route declares one Permission (app/accounts/access.py).

viewer reads; architect also creates and edits decisions, links tickets and runs probes;
auditor reads, approves or rejects, exports reports and reads the audit log; admin does all of
that and manages users. Proposing a decision for approval is an edit (architects); approving
it is the auditor's, so nobody approves alone what they proposed unless they hold both roles.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    """What a route needs. PUBLIC routes need no account (sign-in, set-up, health, static)."""

    PUBLIC = "public"
    READ = "read"
    EDIT = "edit"
    PROBE = "probe"
    APPROVE = "approve"
    EXPORT = "export"
    AUDIT = "audit"
    ADMIN = "admin"


ROLES: tuple[str, ...] = ("viewer", "architect", "auditor", "admin")

GRANTS: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({Permission.READ}),
    "architect": frozenset({Permission.READ, Permission.EDIT, Permission.PROBE}),
    "auditor": frozenset(
        {Permission.READ, Permission.APPROVE, Permission.EXPORT, Permission.AUDIT}
    ),
    "admin": frozenset(Permission) - {Permission.PUBLIC},
}


def allows(role: str, permission: Permission) -> bool:
    """Whether `role` holds `permission` (PUBLIC is everyone's)."""
    return permission is Permission.PUBLIC or permission in GRANTS.get(role, frozenset())
