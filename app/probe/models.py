"""Plain, frozen data collected by the probe; the checks judge these and nothing else.

A field that could not be read holds a `Problem` instead of a value, so a check can always tell
"not allowed to look" (unknown) and "could not look" (error) from a real answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class _Facts(BaseModel):
    """Base of every collected model: immutable, no stray fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Problem(_Facts):
    """A fact the probe could not read.

    Attributes:
        status: "unknown" when the credentials may not look (`action` names the missing IAM
            permission), "error" when the service failed or the resource is gone.
        action: The IAM action that was refused, e.g. "s3:GetEncryptionConfiguration".
        code: The service's error code (or the botocore exception name).
        message: A readable reason.
        remedy: What to do about it, when more is known than "check the bucket and endpoint".
    """

    status: Literal["unknown", "error"]
    action: str | None = None
    code: str
    message: str
    remedy: str | None = None


class EncryptionRule(_Facts):
    """One rule of a bucket's default encryption configuration.

    Attributes:
        sse_algorithm: "AES256", "aws:kms" or "aws:kms:dsse"; "" for a rule without
            ApplyServerSideEncryptionByDefault (e.g. one that only blocks SSE-C).
        kms_master_key_id: The key as configured: ARN, key id, alias name or alias ARN; None for
            AES256 and for aws:kms meaning the AWS managed key `aws/s3`.
        bucket_key_enabled: BucketKeyEnabled; None when S3 did not say.
        blocked_encryption_types: BlockedEncryptionTypes.EncryptionType (e.g. ["SSE-C"]);
            None when absent from the response.
    """

    sse_algorithm: str
    kms_master_key_id: str | None = None
    bucket_key_enabled: bool | None = None
    blocked_encryption_types: list[str] | None = None


class BucketEncryption(_Facts):
    """A bucket's default encryption.

    Attributes:
        rules: Every rule returned, in order (S3 applies the first).
        explicit: False when the bucket has no explicit configuration; since January 2023
            such a bucket is encrypted with SSE-S3 by default, and `rules` then holds that
            implied AES256 rule.
    """

    rules: list[EncryptionRule]
    explicit: bool = True

    @property
    def default_rule(self) -> EncryptionRule | None:
        """The rule S3 applies to new objects, if any."""
        return self.rules[0] if self.rules else None


class PolicyFacts(_Facts):
    """A bucket policy.

    Attributes:
        policy: The policy document parsed from JSON; None when the bucket has no policy.
    """

    policy: dict[str, object] | None = None


class KeyFacts(_Facts):
    """A KMS key as DescribeKey (and GetKeyRotationStatus) report it.

    Attributes:
        key_id: The key id (a UUID, or an mrk- id for multi-Region keys).
        arn: The key ARN.
        account: The AWS account that owns the key.
        key_manager: "CUSTOMER" or "AWS".
        origin: "AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM" or "EXTERNAL_KEY_STORE".
        key_state: "Enabled", "Disabled", "PendingDeletion", "PendingImport", ...
        key_spec: "SYMMETRIC_DEFAULT", "RSA_2048", ...
        custom_key_store_id: The CloudHSM or external key store, if any.
        multi_region: Whether the key is a multi-Region key.
        rotation_enabled: Automatic rotation; None when not read (the key type cannot rotate
            automatically, or `rotation_problem` says why it could not be read).
        rotation_period_days: RotationPeriodInDays when rotation is on and the service says.
        rotation_problem: Why rotation could not be read for a key that supports it.
        related_regions: For a multi-Region key, the Regions of its related keys (the primary
            and the replicas, other than this one): they share its key material, so a use of
            it may be logged in any of them.
    """

    key_id: str
    arn: str
    account: str
    key_manager: str
    origin: str
    key_state: str
    key_spec: str
    custom_key_store_id: str | None = None
    multi_region: bool = False
    rotation_enabled: bool | None = None
    rotation_period_days: int | None = None
    rotation_problem: Problem | None = None
    related_regions: list[str] = []

    @property
    def region(self) -> str | None:
        """The Region in the key's ARN ("arn:aws:kms:REGION:..."), None if it is not an ARN."""
        return arn_region(self.arn)

    @property
    def supports_automatic_rotation(self) -> bool:
        """True for customer managed, symmetric keys with AWS_KMS origin (the only kind)."""
        return supports_rotation(
            key_manager=self.key_manager, key_spec=self.key_spec, origin=self.origin
        )


def arn_region(arn: str | None) -> str | None:
    """The Region field of an ARN ("arn:PARTITION:SERVICE:REGION:..."), None when absent."""
    parts = (arn or "").split(":")
    if not (arn and arn.startswith("arn:") and len(parts) > 5):
        return None
    return parts[3] or None


def key_region(key_ref: str | None) -> str | None:
    """The Region a key or alias ARN names; None for a key id or alias name (Region-relative)."""
    return arn_region(key_ref) if key_ref and ":kms:" in key_ref else None


class KeyNotFound(_Facts):
    """The key a bucket's default encryption names does not exist (KMS NotFoundException).

    A misconfiguration, not a failure to look: S3 cannot encrypt a write with a missing key,
    so every write relying on the default fails.

    Attributes:
        ref: The key as the bucket names it (ARN, key id, alias name or alias ARN).
        message: What KMS said.
    """

    ref: str
    message: str


def supports_rotation(*, key_manager: str, key_spec: str, origin: str) -> bool:
    """Whether KMS can rotate a key of this kind automatically."""
    return key_manager == "CUSTOMER" and key_spec == "SYMMETRIC_DEFAULT" and origin == "AWS_KMS"


class TrailFacts(_Facts):
    """A CloudTrail trail and what its event selectors record.

    Attributes:
        name: The trail name.
        arn: The trail ARN.
        home_region: The Region the trail was created in.
        is_logging: GetTrailStatus IsLogging.
        is_multi_region: IsMultiRegionTrail.
        management_events: Some selector records management events.
        excludes_kms: Management events are recorded, but no selector that records them
            includes kms.amazonaws.com (classic ExcludeManagementEventSources, or an advanced
            eventSource NotEquals/Equals that leaves KMS out).
        logs_read_events: A selector that records KMS management events also records read-only
            ones (Decrypt and GenerateDataKey are read events); when none records KMS events,
            whether the management selectors record read events at all.
        selectors_kind: "classic", "advanced" or "none" (no selector returned).
    """

    name: str
    arn: str | None = None
    home_region: str | None = None
    is_logging: bool
    is_multi_region: bool
    management_events: bool
    excludes_kms: bool
    logs_read_events: bool = False
    selectors_kind: Literal["classic", "advanced", "none"]


class UnreadableTrail(_Facts):
    """A trail DescribeTrails listed but whose status or selectors could not be read.

    Attributes:
        name: The trail name.
        arn: The trail ARN.
        home_region: The Region the trail was created in.
        is_multi_region: IsMultiRegionTrail, as DescribeTrails said.
        problem: Why it could not be read (e.g. cloudtrail:GetEventSelectors refused).
    """

    name: str
    arn: str | None = None
    home_region: str | None = None
    is_multi_region: bool = False
    problem: Problem


class ObjectFacts(_Facts):
    """How one sampled object is encrypted (HeadObject).

    Attributes:
        key: The object key.
        server_side_encryption: "AES256", "aws:kms", "aws:kms:dsse"; None for SSE-C or none.
        sse_kms_key_id: The KMS key ARN for SSE-KMS objects.
        sse_customer_algorithm: "AES256" for SSE-C objects.
        bucket_key_enabled: Whether S3 used a Bucket Key for the object.
        client_side_envelope: Metadata of the S3 Encryption Client (x-amz-key-v2 or
            x-amz-key with x-amz-cek-alg) is present.
        sse_c_inferred: HeadObject answered 400 and S3 said (in a ranged GetObject's error)
            that the object is stored with customer-provided keys; the algorithm is then
            inferred, not read.
    """

    key: str
    server_side_encryption: str | None = None
    sse_kms_key_id: str | None = None
    sse_customer_algorithm: str | None = None
    bucket_key_enabled: bool | None = None
    client_side_envelope: bool = False
    sse_c_inferred: bool = False


class BucketFacts(_Facts):
    """Everything collected about one bucket: what checks.check_bucket judges.

    Attributes:
        name: The bucket name.
        region: Its Region (ListBuckets' BucketRegion, else GetBucketLocation or HeadBucket's
            x-amz-bucket-region), None if unknown.
        encryption: Default encryption, or why it could not be read.
        policy: The bucket policy, or why it could not be read.
        key: The KMS key behind the default rule (KeyNotFound when it does not exist); None
            when the rule uses no KMS key.
        objects: Sampled objects (empty when sampling is off), or why they could not be read.
    """

    name: str
    region: str | None = None
    encryption: BucketEncryption | Problem
    policy: PolicyFacts | Problem
    key: KeyFacts | KeyNotFound | Problem | None = None
    objects: list[ObjectFacts] | Problem = []

    @property
    def key_use_region(self) -> str | None:
        """Where KMS records the use of the bucket's key: the key's own Region (its ARN, as
        described or as configured), else the bucket's, where S3 resolves key ids, aliases
        and `aws/s3`."""
        if isinstance(self.key, KeyFacts) and self.key.region:
            return self.key.region
        if isinstance(self.encryption, BucketEncryption) and self.encryption.default_rule:
            named = key_region(self.encryption.default_rule.kms_master_key_id)
            if named:
                return named
        return self.region
