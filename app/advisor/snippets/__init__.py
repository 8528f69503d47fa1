"""Deploy snippets (AWS CLI, CloudFormation, Terraform) for one recommendation (pure).

Every snippet is generated from the recommendation's `configuration` alone (the structure of
rules/options.yaml after the patches of rules/rules/configure.yaml); the option id only names
the snippet. Placeholders such as `<your key ARN>` are kept in the CLI text and become
references, parameters or variables in the templates.
"""

from __future__ import annotations

from typing import Any

from app.advisor.snippets.cli import _cli
from app.advisor.snippets.cloudformation import _cloudformation
from app.advisor.snippets.common import DEFAULT_ROTATION_DAYS, TRAIL_LOG_BUCKET, _key
from app.advisor.snippets.terraform import TERRAFORM_AWS_PROVIDER, _terraform

__all__ = ["DEFAULT_ROTATION_DAYS", "TERRAFORM_AWS_PROVIDER", "TRAIL_LOG_BUCKET", "snippets"]


def snippets(
    *, option: str, configuration: dict[str, Any], bucket: str = "amzn-s3-demo-bucket"
) -> dict[str, str]:
    """Deploy snippets for a recommended option, generated from its configuration alone.

    Args:
        option: The recommended option id; used only to name the snippets.
        configuration: The recommendation's `configuration` (ServerSideEncryptionConfiguration,
            kms_key, key_rotation, bucket_policy, require_audit_trail, optional client_side).
        bucket: The bucket name written into the snippets.

    Returns:
        The AWS CLI commands, a CloudFormation template (YAML, long-form intrinsic functions)
        and Terraform configuration, keyed "aws-cli", "cloudformation" and "terraform".
    """
    key = _key(configuration)
    return {
        "aws-cli": _cli(option, configuration, bucket, key),
        "cloudformation": _cloudformation(option, configuration, bucket, key),
        "terraform": _terraform(option, configuration, bucket, key),
    }
