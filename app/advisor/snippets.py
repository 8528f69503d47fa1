"""Deploy snippets (AWS CLI, CloudFormation, Terraform) for one recommendation (pure).

Every snippet is generated from the recommendation's `configuration` alone (the structure of
rules/options.yaml after the patches of rules/rules/configure.yaml); the option id only names
the snippet. Placeholders such as `<your key ARN>` are kept in the CLI text and become
references, parameters or variables in the templates.
"""

from __future__ import annotations

import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any

import yaml

DEFAULT_ROTATION_DAYS = 365  # KMS's default automatic rotation period
TRAIL_LOG_BUCKET = "<your trail log bucket>"
# BlockedEncryptionTypes in Terraform: rule.blocked_encryption_types, added in hashicorp/aws 6.22.0.
TERRAFORM_AWS_PROVIDER = ">= 6.22.0"


@dataclass(frozen=True)
class _Key:
    """What the configuration says about the KMS key: who manages it, where it lives, rotation."""

    manager: str | None
    origin: str | None
    alias: str | None
    literal: str | None  # a KMSMasterKeyID that is an actual ARN or id, not a placeholder
    placeholder: str
    rotate: bool
    period: int
    period_range: tuple[int, int] | None
    on_demand: bool

    @property
    def customer(self) -> bool:
        """A customer managed key."""
        return self.manager == "CUSTOMER"

    @property
    def created(self) -> bool:
        """The snippets create the key (standard key store, AWS or imported material)."""
        return self.customer and self.literal is None and self.origin in ("AWS_KMS", "EXTERNAL")

    @property
    def custom_store(self) -> bool:
        """The key lives in a custom key store, created outside the snippets."""
        return self.customer and self.origin not in ("AWS_KMS", "EXTERNAL")

    @property
    def auto_rotation(self) -> bool:
        """Automatic rotation is configured by the snippets (origin AWS_KMS only)."""
        return self.customer and self.origin == "AWS_KMS" and self.rotate


class _Raw(str):
    """An HCL expression written as is (a reference or a template), not a quoted string."""


@dataclass(frozen=True)
class _Block:
    """An HCL block: a header and attributes `(name, value)`, nested blocks or comment lines."""

    header: str
    body: tuple[Any, ...]


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("<") and value.endswith(">")


def _rules(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = configuration["ServerSideEncryptionConfiguration"]["Rules"]
    return rules


def _key(configuration: dict[str, Any]) -> _Key:
    kms = configuration.get("kms_key") or {}
    rotation = configuration.get("key_rotation") or {}
    ids = [
        r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID")
        for r in _rules(configuration)
    ]
    given = [i for i in ids if i]
    span = rotation.get("period_days_range")
    return _Key(
        manager=kms.get("KeyManager"),
        origin=kms.get("Origin"),
        alias=kms.get("alias"),
        literal=next((i for i in given if not _is_placeholder(i)), None),
        placeholder=next((i for i in given if _is_placeholder(i)), "<your key ARN>"),
        rotate=bool(rotation.get("enabled")),
        period=int(rotation.get("period_days") or DEFAULT_ROTATION_DAYS),
        period_range=(int(span[0]), int(span[1])) if span else None,
        on_demand=bool(rotation.get("on_demand")),
    )


def _key_source(configuration: dict[str, Any], key: _Key) -> str | None:
    """Where a template takes the key ARN from: literal, resource, parameter, or nowhere."""
    if key.literal:
        return "literal"
    if key.created:
        return "resource"
    placeholders = any(
        _is_placeholder(r.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID"))
        for r in _rules(configuration)
    )
    return "parameter" if key.custom_store or placeholders else None


def _notes(configuration: dict[str, Any], key: _Key) -> list[str]:
    """Remarks shared by the three snippets, one paragraph each (wrapped by _comment)."""
    notes: list[str] = []
    client = configuration.get("client_side")
    if client:
        text = f"Encryption happens in your application, before upload, with {client['library']}"
        if client.get("wrapping_key"):
            text += f"; its data keys are protected by: {client['wrapping_key']}"
        notes.append(text + ".")
        if client.get("envelope_metadata"):
            notes.append(
                f"Encrypted objects carry the metadata {', '.join(client['envelope_metadata'])}."
            )
        notes.append("Only the bucket's default (server-side) encryption is configured here.")
    if any(
        "NONE" in r.get("BlockedEncryptionTypes", {}).get("EncryptionType", [])
        for r in _rules(configuration)
    ):
        notes.append(
            "SSE-C is unblocked (BlockedEncryptionTypes NONE): S3 blocks SSE-C on new buckets "
            "by default, so writes with customer-provided keys need this setting."
        )
    if key.manager == "AWS":
        text = f"KMS key: the AWS managed key {key.alias or 'aws/s3'}; nothing to create."
        if key.rotate:
            text += f" AWS rotates it (every {key.period} days); nothing to configure."
        notes.append(text)
    if key.custom_store:
        notes.append(
            f"KMS key: origin {key.origin}, in a custom key store that you create and connect "
            "outside these snippets; pass the ARN of a key created in it."
        )
    if key.customer and key.origin == "EXTERNAL":
        notes.append(
            "KMS key: origin EXTERNAL (imported key material). After creating the key, import "
            "your material: aws kms get-parameters-for-import, then aws kms import-key-material."
        )
    if key.customer and not key.auto_rotation:
        notes.append(f"Automatic key rotation: not configured for this key (origin {key.origin}).")
    if key.auto_rotation and key.period_range:
        low, high = key.period_range
        notes.append(
            f"Choose a rotation period of {low} to {high} days ({key.period} until you do)."
        )
    if key.on_demand:
        notes.append("Rotate on demand whenever you decide, in addition to the schedule:")
        notes.append(f"aws kms rotate-key-on-demand --key-id {_sq(key.literal or key.placeholder)}")
    if configuration.get("require_audit_trail"):
        notes.append(
            "Key-use audit is required: a logging, multi-Region CloudTrail trail with management "
            "events that does not exclude KMS events (kms.amazonaws.com). Its log bucket must "
            "exist and allow CloudTrail to write to it."
        )
    return notes


def _comment(lines: list[str]) -> list[str]:
    """Comment lines (`# `), long paragraphs wrapped at 96 columns."""
    out: list[str] = []
    for line in lines:
        out += [f"# {part}" for part in textwrap.wrap(line, 94, break_on_hyphens=False)]
    return out


def _statements(
    configuration: dict[str, Any], *, bucket_arn: Any, objects_arn: Any, key_arn: Any
) -> list[dict[str, Any]]:
    """The bucket policy statements of `bucket_policy`, with the ARNs in the target's syntax."""
    policy = configuration.get("bucket_policy") or {}
    rules = _rules(configuration)
    deny: dict[str, Any] = {"Effect": "Deny", "Principal": "*"}
    statements: list[dict[str, Any]] = []
    if policy.get("deny_insecure_transport"):
        statements.append(
            {"Sid": "DenyInsecureTransport", **deny, "Action": "s3:*"}
            | {"Resource": [bucket_arn, objects_arn]}
            | {"Condition": {"Bool": {"aws:SecureTransport": "false"}}}
        )
    if not policy.get("deny_unencrypted_writes"):
        return statements
    put: dict[str, Any] = {**deny, "Action": "s3:PutObject", "Resource": objects_arn}
    header = policy.get("required_encryption_header") or (
        rules[0].get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
    )
    if header == "SSE-C":
        condition = {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}}
        return [*statements, {"Sid": "DenyWritesWithoutSSEC", **put, "Condition": condition}]
    condition = {"StringNotEquals": {"s3:x-amz-server-side-encryption": header}}
    statements.append({"Sid": "DenyWritesWithoutRequiredEncryption", **put, "Condition": condition})
    if key_arn is not None and str(header).startswith("aws:kms"):
        condition = {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}}
        statements.append({"Sid": "DenyWritesWithOtherKmsKey", **put, "Condition": condition})
    return statements


# -- AWS CLI --------------------------------------------------------------------------------


def _sq(text: str) -> str:
    """Single-quote text for a POSIX shell."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _bare(text: str) -> str:
    return text if re.fullmatch(r"[A-Za-z0-9._:/@=+-]+", text) else _sq(text)


def _command(*parts: str) -> list[str]:
    """A shell command, one argument group a line, continued with backslashes."""
    head, *rest = parts
    return [head + (" \\" if rest else "")] + [
        f"  {part}" + (" \\" if n < len(rest) - 1 else "") for n, part in enumerate(rest)
    ]


def _cli(option: str, configuration: dict[str, Any], bucket: str, key: _Key) -> str:
    b = _bare(bucket)
    key_id = _sq(key.literal or key.placeholder)
    lines = _comment(
        [
            f"atrest: deploy option {option} with the AWS CLI.",
            "Generated from the recommendation's configuration; replace each <placeholder> first.",
            *_notes(configuration, key),
        ]
    )
    if key.customer and not key.literal:
        create = ["aws kms create-key", f"--origin {key.origin}"]
        if key.custom_store:
            create.append("--custom-key-store-id '<your custom key store id>'")
        if key.origin == "EXTERNAL_KEY_STORE":
            create.append("--xks-key-id '<your external key id>'")
        purpose = "client-side wrapping key" if configuration.get("client_side") else "default key"
        create.append(f"--description {_sq(f'S3 {purpose} for bucket {bucket}')}")
        lines += [
            "",
            "# Create the KMS key; note the KeyMetadata.Arn it returns.",
            *_command(*create),
        ]
    if key.auto_rotation:
        lines += ["", f"# Automatic key rotation every {key.period} days."]
        lines += _command(
            "aws kms enable-key-rotation",
            f"--key-id {key_id}",
            f"--rotation-period-in-days {key.period}",
        )
    sse = json.dumps(configuration["ServerSideEncryptionConfiguration"], indent=2)
    lines += ["", "# Default encryption of the bucket, exactly as recommended."]
    lines += _command(
        "aws s3api put-bucket-encryption",
        f"--bucket {b}",
        f"--server-side-encryption-configuration {_sq(sse)}",
    )
    statements = _statements(
        configuration,
        bucket_arn=f"arn:aws:s3:::{bucket}",
        objects_arn=f"arn:aws:s3:::{bucket}/*",
        key_arn=key.literal or key.placeholder if _key_source(configuration, key) else None,
    )
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
        lines += ["", "# Bucket policy: deny what the configuration forbids."]
        lines += _command(
            "aws s3api put-bucket-policy", f"--bucket {b}", f"--policy {_sq(document)}"
        )
    if configuration.get("require_audit_trail"):
        trail = _bare(f"{bucket}-key-use")
        selectors = json.dumps([{"ReadWriteType": "All", "IncludeManagementEvents": True}])
        lines += [
            "",
            "# Key-use audit: a multi-Region trail logging management events, KMS included.",
        ]
        lines += _command(
            "aws cloudtrail create-trail",
            f"--name {trail}",
            f"--s3-bucket-name {_sq(TRAIL_LOG_BUCKET)}",
            "--is-multi-region-trail",
            "--include-global-service-events",
        )
        lines += _command(
            "aws cloudtrail put-event-selectors",
            f"--trail-name {trail}",
            f"--event-selectors {_sq(selectors)}",
        )
        lines += _command("aws cloudtrail start-logging", f"--name {trail}")
    return "\n".join(lines) + "\n"


# -- CloudFormation -------------------------------------------------------------------------


class _NoAliasDumper(yaml.SafeDumper):
    """A safe dumper that repeats shared values: CloudFormation rejects YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _cloudformation(option: str, configuration: dict[str, Any], bucket: str, key: _Key) -> str:
    source = _key_source(configuration, key)
    key_arn: Any = {
        "literal": key.literal,
        "resource": {"Fn::GetAtt": ["EncryptionKey", "Arn"]},
        "parameter": {"Ref": "KmsKeyArn"},
    }.get(source or "")
    parameters: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    if source == "parameter":
        parameters["KmsKeyArn"] = {"Type": "String", "Description": "ARN of the KMS key to use"}
    if key.created:
        props: dict[str, Any] = {
            "Description": f"S3 encryption key for bucket {bucket}",
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EnableAccountAdministration",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
        }
        if key.origin == "EXTERNAL":
            props["Origin"] = "EXTERNAL"
        if key.auto_rotation:
            props["EnableKeyRotation"] = True
            props["RotationPeriodInDays"] = key.period
            if key.period_range:
                parameters["RotationPeriodInDays"] = {
                    "Type": "Number",
                    "Default": key.period,
                    "MinValue": key.period_range[0],
                    "MaxValue": key.period_range[1],
                    "Description": "Days between automatic rotations of the KMS key",
                }
                props["RotationPeriodInDays"] = {"Ref": "RotationPeriodInDays"}
        resources["EncryptionKey"] = {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
        outputs["KmsKeyArn"] = {"Value": {"Fn::GetAtt": ["EncryptionKey", "Arn"]}}
    rules = []
    for rule in _rules(configuration):
        out: dict[str, Any] = {}
        for name, value in rule.items():
            if name == "ApplyServerSideEncryptionByDefault":
                by_default = dict(value)
                if "KMSMasterKeyID" in by_default:
                    by_default["KMSMasterKeyID"] = key_arn
                out["ServerSideEncryptionByDefault"] = by_default
            else:
                out[name] = value
        rules.append(out)
    resources["Bucket"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": bucket,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": rules},
        },
    }
    statements = _statements(
        configuration,
        bucket_arn={"Fn::GetAtt": ["Bucket", "Arn"]},
        objects_arn={"Fn::Sub": "${Bucket.Arn}/*"},
        key_arn=key_arn,
    )
    if statements:
        resources["BucketPolicy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            },
        }
    if configuration.get("require_audit_trail"):
        parameters["TrailLogBucket"] = {
            "Type": "String",
            "Description": "Existing bucket that receives the CloudTrail logs",
        }
        resources["KeyUseTrail"] = {
            "Type": "AWS::CloudTrail::Trail",
            "Properties": {
                "TrailName": f"{bucket}-key-use",
                "S3BucketName": {"Ref": "TrailLogBucket"},
                "IsLogging": True,
                "IsMultiRegionTrail": True,
                "IncludeGlobalServiceEvents": True,
                "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
            },
        }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"atrest: bucket {bucket} encrypted as option {option}",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    header = _comment(
        [
            f"atrest: deploy option {option} with CloudFormation.",
            "Generated from the recommendation's configuration.",
            *_notes(configuration, key),
        ]
    )
    body = yaml.dump(
        template, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False, width=1000
    )
    return "\n".join(header) + "\n" + body


# -- Terraform ------------------------------------------------------------------------------


def _hcl_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name) else json.dumps(name)


def _hcl(value: Any, indent: int) -> str:
    """An HCL expression for a plain value (strings escaped, `_Raw` written as is)."""
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value).replace("${", "$${").replace("%{", "%%{")
    pad = "  " * indent
    if isinstance(value, list):
        items = [_hcl(v, indent + 1) for v in value]
        if all("\n" not in i for i in items) and sum(len(i) + 2 for i in items) < 60:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"{pad}  {i},\n" for i in items) + pad + "]"
    if isinstance(value, dict):
        return "{\n" + _hcl_attributes(list(value.items()), indent + 1) + pad + "}"
    raise TypeError(f"no HCL form for {type(value).__name__}")


def _hcl_attributes(items: list[tuple[str, Any]], indent: int) -> str:
    """Attribute lines aligned as `terraform fmt` does: a multi-line value breaks the group."""
    pad = "  " * indent
    rendered = [(_hcl_key(k), _hcl(v, indent)) for k, v in items]
    text, group = "", list[tuple[str, str]]()
    for name, value in [*rendered, ("", "\n")]:
        if "\n" not in value:
            group.append((name, value))
            continue
        width = max((len(n) for n, _ in group), default=0)
        text += "".join(f"{pad}{n.ljust(width)} = {v}\n" for n, v in group)
        text += f"{pad}{name} = {value}\n" if name else ""
        group = []
    return text


def _hcl_block(block: _Block, indent: int = 0) -> str:
    pad = "  " * indent
    text = f"{pad}{block.header} {{\n"
    run: list[tuple[str, Any]] = []
    for item in (*block.body, None):
        if isinstance(item, tuple):
            run.append(item)
            continue
        if run:
            text += _hcl_attributes(run, indent + 1)
            run = []
        if isinstance(item, _Block):
            text += ("\n" if not text.endswith("{\n") else "") + _hcl_block(item, indent + 1)
        elif isinstance(item, str):
            text += f"{pad}  # {item}\n"
    return text + pad + "}\n"


def _blk(header: str, *body: Any) -> _Block:
    return _Block(header, body)


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
    return "\n".join(header) + "\n\n" + "\n".join(_hcl_block(b) for b in blocks)


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
