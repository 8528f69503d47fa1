"""The AWS CLI snippet: shell commands, one argument group a line (pure)."""

from __future__ import annotations

import json
import re
from typing import Any

from app.advisor.snippets.common import (
    TRAIL_LOG_BUCKET,
    _comment,
    _Key,
    _key_source,
    _notes,
    _reader_key_comment,
    _reader_key_statement,
    _readers,
    _sq,
    _statements,
)

#: What kms:ViaService names in the CLI snippet: S3 in the bucket's Region (a placeholder).
S3_VIA_SERVICE = "s3.<your bucket's Region>.amazonaws.com"


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
    readers = _readers(configuration)
    if readers and key.customer:
        grant = _reader_key_statement(readers, via_service=S3_VIA_SERVICE)
        if not key.literal:  # created above: its whole key policy is set here
            root = {
                "Sid": "EnableAccountAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::<your account id>:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
            document = json.dumps({"Version": "2012-10-17", "Statement": [root, grant]}, indent=2)
            lines += ["", "# Key policy: your account administers the key; readers decrypt via S3."]
            lines += _command(
                "aws kms put-key-policy",
                f"--key-id {key_id}",
                "--policy-name default",
                f"--policy {_sq(document)}",
            )
        else:
            lines += _reader_key_comment(readers, S3_VIA_SERVICE)
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
        readers=readers or None,
    )
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)
        about = "deny what the configuration forbids" + (
            ", let the readers get objects" if readers else ""
        )
        lines += ["", f"# Bucket policy: {about}."]
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
