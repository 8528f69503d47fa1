"""STS: who the credentials belong to."""

from __future__ import annotations

from botocore.client import BaseClient

from app.probe.models import Problem
from app.probe.session import Operation, fetch, policy_actions

OPERATIONS: tuple[Operation, ...] = (
    Operation("sts", "GetCallerIdentity", "sts:GetCallerIdentity"),
)
IAM_ACTIONS: tuple[str, ...] = policy_actions(OPERATIONS)


def account(client: BaseClient) -> str | Problem:
    """The account id of the caller, or why it could not be read.

    Args:
        client: An STS client from make_client.

    Returns:
        The 12-digit account id, or a Problem (e.g. code "NoCredentialsError" when the probe
        cannot run at all).
    """
    response = fetch(client, "get_caller_identity")
    if isinstance(response, Problem):
        return response
    return str(response["Account"])
