"""The probe's checks: collected facts about one bucket plus the expected configuration in,
findings out (pure: no AWS calls, no I/O).

Check ids, statuses and the bucket status order are those of CONTRACT.md. The expected
configuration is an option's `configuration` from rules/options.yaml (after rules/configure.yaml
adjusted it); no option id or threshold is decided here, everything is read from it.

Decisions worth knowing:

* A bucket without an explicit default encryption configuration is encrypted with SSE-S3
  (AES256) by default since 2023-01-05: `default-encryption` reports AES256, never
  "unencrypted".
* `aws:kms` with no key id, or an `alias/aws/...` alias, is the AWS managed key: its manager
  is AWS whatever a (mocked) DescribeKey says, and its rotation is fixed by AWS.
* `sse-c-blocked` when GetBucketEncryption returns no BlockedEncryptionTypes at all: `warn`.
  Since 2026-04-06 S3 blocks SSE-C by default on new general purpose buckets (and existing
  buckets in accounts without SSE-C objects), but not everywhere (older buckets, Bahrain and
  UAE), so the absence proves neither; it is not `unknown` because nothing was refused.
* Rotation periods: an actual period shorter than or equal to the one asked for passes (a
  period is a maximum cryptoperiod); with `period_days_range` any period in the range passes.
* Every rule of the configuration is read: S3 applies the first rule with an algorithm; a later
  rule that disagrees turns a pass into a warn; SSE-C counts as blocked when any rule blocks it.
* A field that could not be read (a `Problem`) gives `unknown` (naming the IAM action) or
  `error`, never `pass` or `fail`.

The checks read the collectors' own models (app/probe/models.py: BucketFacts, TrailFacts and
what they hold). Layout: findings.py (Finding, statuses, severity, bucket status, summary),
context.py (the expected configuration and the bucket under judgement), encryption.py,
keys.py, enforcement.py and trail_objects.py (the checks), judge.py (check_bucket).
"""

from __future__ import annotations

from app.probe.checks.context import SSE_S3_DEFAULT
from app.probe.checks.findings import (
    CHECK_IDS,
    NOTHING_TO_DO,
    SEVERITY,
    STATUS_ORDER,
    Finding,
    Status,
    bucket_status,
    summarize,
)
from app.probe.checks.judge import check_bucket

__all__ = [
    "CHECK_IDS",
    "NOTHING_TO_DO",
    "SEVERITY",
    "SSE_S3_DEFAULT",
    "STATUS_ORDER",
    "Finding",
    "Status",
    "bucket_status",
    "check_bucket",
    "summarize",
]
