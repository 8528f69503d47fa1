"""The Terraform snippet: the bucket, its encryption, key, policy and trail in HCL (pure)."""

from __future__ import annotations

from typing import Any

from app.advisor.snippets.common import (
    _comment,
    _is_account,
    _Key,
    _key_source,
    _notes,
    _reader_key_comment,
    _reader_key_statement,
    _readers,
    _rules,
    _statements,
)
from app.advisor.snippets.hcl import _blk, _Block, _hcl, _hcl_block, _Raw

# BlockedEncryptionTypes in Terraform: rule.blocked_encryption_types, added in hashicorp/aws 6.22.0.
TERRAFORM_AWS_PROVIDER = ">= 6.22.0"


def _variable(name: str, about: str, kind: str, default: Any = None, *extra: _Block) -> _Block:
    """A Terraform input variable, with a default and validation blocks when given."""
    body: list[Any] = [("description", about), ("type", _Raw(kind))]
    if default is not None:
        body.append(("default", default))
    return _Block(f'variable "{name}"', (*body, *extra))


def _terraform(option: str, configuration: dict[str, Any], bucket: str, key: _Key) -> str:
    source = _key_source(configuration, key)
    key_type = "aws_kms_external_key" if key.origin == "EXTERNAL" else "aws_kms_key"
    key_arn: Any = {
        "literal": key.literal,
        "resource": _Raw(f"{key_type}.this.arn"),
        "parameter": _Raw("var.kms_key_arn"),
    }.get(source or "")
    provider = {"source": "hashicorp/aws", "version": TERRAFORM_AWS_PROVIDER}
    blocks = [_blk("terraform", _blk("required_providers", ("aws", provider)))]
    if source == "parameter":
        blocks.append(_variable("kms_key_arn", "ARN of the KMS key to use", "string"))
    if configuration.get("require_audit_trail"):
        about = "Existing bucket that receives the CloudTrail logs"
        blocks.append(_variable("trail_log_bucket", about, "string"))
    accounts = _readers(configuration)
    readers: Any = None
    if accounts:
        known = accounts if all(_is_account(a) for a in accounts) else None
        check = _blk(
            "validation",
            (
                "condition",
                _Raw('alltrue([for a in var.reader_account_ids : can(regex("^[0-9]{12}$", a))])'),
            ),
            ("error_message", "Each reader account id is 12 digits."),
        )
        about = "Ids of the AWS accounts that read the objects"
        blocks.append(_variable("reader_account_ids", about, "list(string)", known, check))
        readers = _Raw("var.reader_account_ids")
    period: Any = key.period
    if key.created and key.auto_rotation and key.period_range:
        low, high = key.period_range
        var = "var.rotation_period_in_days"
        check = _blk(
            "validation",
            ("condition", _Raw(f"{var} >= {low} && {var} <= {high}")),
            ("error_message", f"Choose a period of {low} to {high} days."),
        )
        about = "Days between automatic rotations of the KMS key"
        blocks.append(_variable("rotation_period_in_days", about, "number", key.period, check))
        period = _Raw(var)
    blocks.append(_Block('resource "aws_s3_bucket" "this"', (("bucket", bucket),)))
    if key.created:
        attributes: list[Any] = [("description", f"S3 encryption key for bucket {bucket}")]
        if key.origin == "EXTERNAL":
            attributes.insert(
                0, "Import the key material outside Terraform: it stays out of state."
            )
        else:
            attributes.append(("enable_key_rotation", key.auto_rotation))
            if key.auto_rotation:
                attributes.append(("rotation_period_in_days", period))
        attributes.append(("deletion_window_in_days", 30))
        if readers is not None:
            root = {
                "Sid": "EnableAccountAdministration",
                "Effect": "Allow",
                "Principal": {
                    "AWS": _Raw(
                        '"arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"'
                    )
                },
                "Action": "kms:*",
                "Resource": "*",
            }
            via = _Raw('"s3.${data.aws_region.current.region}.amazonaws.com"')
            grant = _reader_key_statement(readers, via_service=via)
            document = _hcl({"Version": "2012-10-17", "Statement": [root, grant]}, 1)
            attributes.append(("policy", _Raw(f"jsonencode({document})")))
            blocks.append(_Block('data "aws_caller_identity" "current"', ()))
            blocks.append(_Block('data "aws_region" "current"', ()))
        blocks.append(_Block(f'resource "{key_type}" "this"', tuple(attributes)))
    rules = []
    for rule in _rules(configuration):
        body: list[Any] = []
        by_default = rule.get("ApplyServerSideEncryptionByDefault")
        if by_default is not None:
            inner: list[Any] = [("sse_algorithm", by_default["SSEAlgorithm"])]
            if "KMSMasterKeyID" in by_default:
                inner.append(("kms_master_key_id", key_arn))
            body.append(_Block("apply_server_side_encryption_by_default", tuple(inner)))
        if "BucketKeyEnabled" in rule:
            body.append(("bucket_key_enabled", bool(rule["BucketKeyEnabled"])))
        blocked = rule.get("BlockedEncryptionTypes", {}).get("EncryptionType")
        if blocked is not None:
            body.append(("blocked_encryption_types", list(blocked)))
        rules.append(_Block("rule", tuple(body)))
    blocks.append(
        _Block(
            'resource "aws_s3_bucket_server_side_encryption_configuration" "this"',
            (("bucket", _Raw("aws_s3_bucket.this.id")), *rules),
        )
    )
    statements = _statements(
        configuration,
        bucket_arn=_Raw("aws_s3_bucket.this.arn"),
        objects_arn=_Raw('"${aws_s3_bucket.this.arn}/*"'),
        key_arn=key_arn,
        readers=readers,
    )
    if statements:
        document = _hcl({"Version": "2012-10-17", "Statement": statements}, 1)
        blocks.append(
            _blk(
                'resource "aws_s3_bucket_policy" "this"',
                ("bucket", _Raw("aws_s3_bucket.this.id")),
                ("policy", _Raw(f"jsonencode({document})")),
            )
        )
    if configuration.get("require_audit_trail"):
        selector = _blk(
            "event_selector", ("read_write_type", "All"), ("include_management_events", True)
        )
        blocks.append(
            _blk(
                'resource "aws_cloudtrail" "key_use"',
                ("name", f"{bucket}-key-use"),
                ("s3_bucket_name", _Raw("var.trail_log_bucket")),
                ("is_multi_region_trail", True),
                ("include_global_service_events", True),
                ("enable_logging", True),
                selector,
            )
        )
    if key.created:
        blocks.append(_Block('output "kms_key_arn"', (("value", _Raw(f"{key_type}.this.arn")),)))
    header = _comment(
        [
            f"atrest: deploy option {option} with Terraform.",
            "Generated from the recommendation's configuration.",
            *_notes(configuration, key),
        ]
    )
    if readers is not None and key.customer and not key.created:
        header += _reader_key_comment(accounts, "s3.<your bucket's Region>.amazonaws.com")
    return "\n".join(header) + "\n\n" + "\n".join(_hcl_block(b) for b in blocks)
