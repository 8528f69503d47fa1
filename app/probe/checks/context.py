"""The expected configuration read out of an option, and the bucket under judgement."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.probe.checks.findings import NOTHING_TO_DO, SEVERITY, Finding, Status
from app.probe.models import BucketEncryption, BucketFacts, EncryptionRule, Problem
from app.probe.policy import SSE_C

SSE_S3_DEFAULT = "AES256"


@dataclass(frozen=True)
class _Expected:
    """The parts of an option's configuration the checks compare against."""

    option: str
    rule: Mapping[str, Any]
    algorithm: str
    kms_key: Mapping[str, Any] | None
    rotation: Mapping[str, Any]
    policy: Mapping[str, Any]
    audit: bool
    client_side: bool

    @classmethod
    def parse(cls, configuration: Mapping[str, Any], option: str) -> _Expected:
        """Read the expected values out of an option's configuration."""
        rules = configuration.get("ServerSideEncryptionConfiguration", {}).get("Rules") or [{}]
        rule = rules[0]
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        return cls(
            option=option,
            rule=rule,
            algorithm=str(default.get("SSEAlgorithm", SSE_S3_DEFAULT)),
            kms_key=configuration.get("kms_key"),
            rotation=configuration.get("key_rotation") or {},
            policy=configuration.get("bucket_policy") or {},
            audit=bool(configuration.get("require_audit_trail", False)),
            client_side=bool(configuration.get("client_side")),
        )

    @property
    def uses_kms(self) -> bool:
        """True when the bucket's default encryption should use a KMS key."""
        return self.algorithm.startswith("aws:kms")

    @property
    def blocked(self) -> list[str] | None:
        """The expected BlockedEncryptionTypes.EncryptionType, None when not stated."""
        blocked = self.rule.get("BlockedEncryptionTypes")
        return None if blocked is None else [str(t) for t in blocked.get("EncryptionType", [])]

    @property
    def sse_c(self) -> bool:
        """True when writes are expected to carry customer-provided keys."""
        return self.policy.get("required_encryption_header") == SSE_C or "NONE" in (
            self.blocked or []
        )


@dataclass(frozen=True)
class _Ctx:
    """One bucket under judgement."""

    bucket: BucketFacts
    exp: _Expected

    def finding(
        self,
        check: str,
        status: Status,
        expected: str,
        actual: str,
        message: str,
        remediation: str = NOTHING_TO_DO,
    ) -> Finding:
        """A finding of this check; pass and not-applicable need no remediation text."""
        return Finding(check, status, SEVERITY[check], expected, actual, message, remediation)

    def problem(self, check: str, problem: Problem, what: str, expected: str) -> Finding:
        """The `unknown` / `error` finding for a fact that could not be read."""
        if problem.status == "unknown":
            action = problem.action or "a read permission"
            return self.finding(
                check,
                "unknown",
                expected,
                "unknown",
                f"Not allowed to read {what} ({problem.code}: {problem.message}); "
                f"missing permission: {action}.",
                f"Grant {action} to the probe's role and run the probe again.",
            )
        return self.finding(
            check,
            "error",
            expected,
            "error",
            f"Could not read {what} ({problem.code}: {problem.message}).",
            problem.remedy
            or "Check that the bucket exists and the endpoint is reachable, then run the probe "
            "again.",
        )

    def encryption_cli(self, *, keep_key: bool = True) -> str:
        """The AWS CLI command that sets the expected default encryption.

        Args:
            keep_key: Keep the bucket's own customer key in place of the rule set's
                placeholder (False when that key is the problem, e.g. it does not exist).
        """
        rule = dict(self.exp.rule)
        default = dict(rule.get("ApplyServerSideEncryptionByDefault") or {})
        encryption = self.bucket.encryption
        if keep_key and "KMSMasterKeyID" in default and isinstance(encryption, BucketEncryption):
            current, _ = _effective_rule(encryption)
            if current.kms_master_key_id and not _is_aws_managed_ref(current.kms_master_key_id):
                # Keep the bucket's own key in place of the rule set's placeholder.
                default["KMSMasterKeyID"] = current.kms_master_key_id
                rule["ApplyServerSideEncryptionByDefault"] = default
        config = {"Rules": [rule]}
        return (
            f"aws s3api put-bucket-encryption --bucket {self.bucket.name} "
            f"--server-side-encryption-configuration '{json.dumps(config, separators=(',', ':'))}'"
        )


def _effective_rule(encryption: BucketEncryption) -> tuple[EncryptionRule, list[str]]:
    """The rule S3 applies (the first with an algorithm) and the algorithms of the others."""
    with_default = [r for r in encryption.rules if r.sse_algorithm]
    if not with_default:
        # No rule names an algorithm: S3 falls back to SSE-S3 (the 2023 default).
        return EncryptionRule(sse_algorithm=SSE_S3_DEFAULT), []
    return with_default[0], [r.sse_algorithm for r in with_default[1:]]


def _is_aws_managed_ref(key_id: str | None) -> bool:
    """True for no key id or an alias of an AWS managed key (alias/aws/...)."""
    return key_id is None or "alias/aws/" in key_id
