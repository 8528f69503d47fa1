"""The demo's seeded account: its keys, its buckets (each with the probe's verdict), its trail.

Seeding uses plain boto3 clients (it writes; the probe never does), pointed at the moto server
whose URL it is given. `SPECS` says how each bucket is built and what the probe says of it
against `sse-kms-cmk`; tests/probe/test_demo.py runs the real probe to hold it to that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import boto3

from app.probe.checks import Status

DEMO_REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
TRAIL_NAME = "atrest-demo-trail"
LOG_BUCKET = "atrest-demo-audit-logs"


@dataclass(frozen=True)
class DemoBucket:
    """A seeded bucket, what is right or wrong with it, and the probe's verdict on it.

    `expected_status` is what the probe gives against `sse-kms-cmk`, with its default
    configuration or the sample decision's, with or without `--sample-objects`; `flagged` names
    the checks that fail or warn without sampling (sampling adds object-sample to the buckets
    whose objects are SSE-S3, which fail anyway).
    """

    name: str
    region: str
    description: str
    expected_status: Status
    flagged: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Key:
    """A KMS key to create (alias atrest-demo-<alias>), and the state it ends in."""

    alias: str
    region: str = DEMO_REGION
    rotation: bool = True
    origin: str = "AWS_KMS"
    state: str = "Enabled"


KEYS: tuple[_Key, ...] = (
    _Key("payments"),
    _Key("payments-previous"),
    _Key("audit"),
    _Key("archive", region=OTHER_REGION),
    _Key("hr", rotation=False),
    _Key("ledger", state="Disabled"),
    _Key("reports", state="PendingDeletion"),
    # moto has no ImportKeyMaterial: an EXTERNAL key is Enabled at once, as after an import.
    _Key("partner-byok", rotation=False, origin="EXTERNAL"),
)

# Bucket policy statements (see _policy).
TLS, KMS_WRITES, OLD_KEY_WRITES, CLOUDTRAIL = "tls", "kms-writes", "old-key-writes", "cloudtrail"


@dataclass(frozen=True)
class _Spec:
    """How to build one demo bucket, and the probe's verdict on it (see DemoBucket)."""

    name: str
    status: Status
    about: str
    flags: tuple[str, ...] = ()
    region: str = DEMO_REGION
    algorithm: str | None = "aws:kms"  # None: no explicit configuration (S3's SSE-S3 default)
    key: str | None = "payments"  # a KEYS alias; None with aws:kms means aws/s3
    bucket_key: bool = True
    block_sse_c: bool = True
    policy: tuple[str, ...] = (TLS, KMS_WRITES)
    objects: int = 0

    @property
    def bucket(self) -> DemoBucket:
        """The public view of the bucket."""
        name = f"atrest-demo-{self.name}"
        return DemoBucket(name, self.region, self.about, self.status, self.flags)


_NO_KMS = ("default-encryption", "kms-key-manager", "kms-key-origin", "bucket-key")
_SSE_S3: dict[str, Any] = {"algorithm": "AES256", "key": None, "bucket_key": False}

# fmt: off
SPECS: tuple[_Spec, ...] = (
    _Spec("payments-records", "pass", "compliant: own key rotating yearly, Bucket Key, SSE-C "
          "blocked, policy denies non-KMS writes and plain HTTP", objects=3),
    _Spec("payments-archive", "pass", "compliant, in us-east-1 with a us-east-1 key",
          region=OTHER_REGION, key="archive", objects=2),
    _Spec("audit-logs", "pass", "compliant; the trail's log bucket",
          key="audit", policy=(TLS, KMS_WRITES, CLOUDTRAIL)),
    _Spec("customer-uploads", "warn", "compliant, but SSE-C is not blocked explicitly",
          ("sse-c-blocked",), block_sse_c=False, objects=2),
    _Spec("marketing-assets", "fail", "no explicit default encryption (SSE-S3 by default), "
          "no bucket policy", (*_NO_KMS, "sse-c-blocked", "encryption-enforced", "tls-only"),
          algorithm=None, key=None, bucket_key=False, policy=(), objects=2),
    _Spec("analytics-exports", "fail", "explicit SSE-S3 (AES256): no key-use audit, no key "
          "policy of yours", (*_NO_KMS, "encryption-enforced"), policy=(TLS,), **_SSE_S3),
    _Spec("crm-backups", "fail", "SSE-KMS with the AWS managed key aws/s3: audited, but the "
          "key policy is AWS's (and the policy cannot pin a key of yours)",
          ("kms-key-manager", "encryption-enforced"), key=None),
    _Spec("hr-documents", "fail", "customer managed key with automatic rotation off",
          ("kms-key-rotation",), key="hr", objects=2),
    _Spec("ledger-snapshots", "fail", "its key is disabled: S3 can neither write nor read",
          ("kms-key-state",), key="ledger", objects=1),
    _Spec("retired-reports", "fail", "its key is pending deletion: the data will be lost",
          ("kms-key-state",), key="reports"),
    _Spec("partner-exchange", "fail", "imported key material (origin EXTERNAL); rotation is "
          "not applicable, not a failure", ("kms-key-origin",), key="partner-byok"),
    _Spec("payments-staging", "fail", "the policy does not deny plain-HTTP requests",
          ("tls-only",), policy=(KMS_WRITES,)),
    _Spec("payments-ingest", "fail", "the policy pins writes to the previous key",
          ("encryption-enforced",), policy=(TLS, OLD_KEY_WRITES)),
    _Spec("classified-vault", "fail", "DSSE-KMS where the decision chose SSE-KMS (and DSSE "
          "takes no Bucket Key)", ("default-encryption", "bucket-key"),
          algorithm="aws:kms:dsse", bucket_key=False),
    _Spec("legacy-exports", "fail", "in us-east-1: explicit SSE-S3, no bucket policy",
          (*_NO_KMS, "encryption-enforced", "tls-only"), region=OTHER_REGION, policy=(),
          objects=1, **_SSE_S3),
)
# fmt: on


def _deny(sid: str, bucket: str, action: str, condition: dict[str, Any]) -> dict[str, Any]:
    """A Deny statement for everyone on the bucket's objects (and the bucket for s3:*)."""
    objects = f"arn:aws:s3:::{bucket}/*"
    resource = [f"arn:aws:s3:::{bucket}", objects] if action == "s3:*" else objects
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resource,
        "Condition": condition,
    }


def _policy(
    bucket: str, kinds: Sequence[str], old_key_arn: str, own_key_arn: str | None = None
) -> dict[str, Any]:
    """A bucket policy holding the named statements, in that order.

    With ``own_key_arn``, KMS_WRITES also pins writes to the bucket's own key: requiring only
    the aws:kms header would let a writer pick aws/s3 or another account's key.
    """
    statements = {
        TLS: _deny("DenyPlainHttp", bucket, "s3:*", {"Bool": {"aws:SecureTransport": "false"}}),
        KMS_WRITES: _deny(
            "DenyWritesWithoutKms",
            bucket,
            "s3:PutObject",
            {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        ),
        OLD_KEY_WRITES: _deny(
            "DenyWritesWithOtherKeys",
            bucket,
            "s3:PutObject",
            {"StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": old_key_arn}},
        ),
        CLOUDTRAIL: {
            "Sid": "CloudTrailWrites",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": ["s3:GetBucketAcl", "s3:PutObject"],
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        },
    }
    chosen = []
    for kind in kinds:
        chosen.append(statements[kind])
        if kind == KMS_WRITES and own_key_arn is not None:
            chosen.append(
                _deny(
                    "DenyWritesWithOtherKeys",
                    bucket,
                    "s3:PutObject",
                    {
                        "StringNotEquals": {
                            "s3:x-amz-server-side-encryption-aws-kms-key-id": own_key_arn
                        }
                    },
                )
            )
    return {"Version": "2012-10-17", "Statement": chosen}


class _Seeder:
    """Writes the demo's account through plain boto3 clients, one per service and Region."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._keys: dict[str, dict[str, Any]] = {}

    def client(self, service: str, region: str = DEMO_REGION) -> Any:
        """A setup client (never a probe client: it writes)."""
        if (service, region) not in self._clients:
            self._clients[(service, region)] = boto3.client(
                service, endpoint_url=self.endpoint_url, region_name=region
            )
        return self._clients[(service, region)]

    def arn(self, alias: str) -> str:
        """The ARN of a demo key."""
        return str(self._keys[alias]["Arn"])

    def create_key(self, key: _Key) -> None:
        """Create the key, its alias and rotation; its final state comes later (settle_key)."""
        kms = self.client("kms", key.region)
        meta = kms.create_key(Description=f"atrest demo: {key.alias}", Origin=key.origin)
        meta = meta["KeyMetadata"]
        kms.create_alias(AliasName=f"alias/atrest-demo-{key.alias}", TargetKeyId=meta["KeyId"])
        if key.rotation:
            kms.enable_key_rotation(KeyId=meta["KeyId"])
        self._keys[key.alias] = meta

    def settle_key(self, key: _Key) -> None:
        """Disable the key or schedule its deletion, once objects were written with it."""
        kms, key_id = self.client("kms", key.region), self._keys[key.alias]["KeyId"]
        if key.state == "Disabled":
            kms.disable_key(KeyId=key_id)
        elif key.state == "PendingDeletion":
            # moto wants the key id here, not the ARN; 7 days is the shortest waiting period.
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)

    def create_bucket(self, spec: _Spec) -> None:
        """Create the bucket, its default encryption and objects, then its bucket policy."""
        name, s3 = spec.bucket.name, self.client("s3", spec.region)
        if spec.region == "us-east-1":  # the one Region S3 refuses as a LocationConstraint
            s3.create_bucket(Bucket=name)
        else:
            location = {"LocationConstraint": spec.region}
            s3.create_bucket(Bucket=name, CreateBucketConfiguration=location)
        if spec.algorithm is not None:
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": [self._rule(spec)]}
            )
        for n in range(1, spec.objects + 1):
            s3.put_object(
                Bucket=name,
                Key=f"2026/11/batch-{n:03d}.csv",
                Body=b"id,amount\n1,42\n",
                **self._object_encryption(spec),
            )
        if spec.policy:
            own = None if spec.key is None else self.arn(spec.key)
            document = _policy(name, spec.policy, self.arn("payments-previous"), own)
            s3.put_bucket_policy(Bucket=name, Policy=json.dumps(document))

    def _rule(self, spec: _Spec) -> dict[str, Any]:
        """The bucket's default encryption rule."""
        default = {"SSEAlgorithm": str(spec.algorithm)}
        if spec.key is not None:
            default["KMSMasterKeyID"] = self.arn(spec.key)
        rule: dict[str, Any] = {
            "ApplyServerSideEncryptionByDefault": default,
            "BucketKeyEnabled": spec.bucket_key,
        }
        if spec.block_sse_c:
            rule["BlockedEncryptionTypes"] = {"EncryptionType": ["SSE-C"]}
        return rule

    def _object_encryption(self, spec: _Spec) -> dict[str, Any]:
        """PutObject parameters encrypting as the bucket does (S3's SSE-S3 without a rule)."""
        params: dict[str, Any] = {"ServerSideEncryption": spec.algorithm or "AES256"}
        if spec.key is not None:
            params["SSEKMSKeyId"] = self.arn(spec.key)
        if spec.bucket_key:
            params["BucketKeyEnabled"] = True
        return params

    def create_trail(self, region: str) -> None:
        """A logging multi-Region trail recording every management event, KMS included."""
        trails = self.client("cloudtrail", region)
        trails.create_trail(
            Name=TRAIL_NAME,
            S3BucketName=LOG_BUCKET,
            IsMultiRegionTrail=True,
            KmsKeyId=self.arn("audit"),
        )
        trails.put_event_selectors(
            TrailName=TRAIL_NAME,
            EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
        )
        trails.start_logging(Name=TRAIL_NAME)


def seed(endpoint_url: str, region: str = DEMO_REGION) -> list[DemoBucket]:
    """Create the demo's keys, buckets, objects and trail on an empty moto server.

    Args:
        endpoint_url: The moto server's URL.
        region: The trail's home Region (keys and buckets carry their own).

    Returns:
        The buckets, compliant ones first, each with the probe's verdict against
        `sse-kms-cmk` (true of what the probe reads under `moto_fidelity()`).
    """
    seeder = _Seeder(endpoint_url)
    for key in KEYS:
        seeder.create_key(key)
    for spec in SPECS:
        seeder.create_bucket(spec)
    for key in KEYS:
        seeder.settle_key(key)
    seeder.create_trail(region)
    return [spec.bucket for spec in SPECS]
