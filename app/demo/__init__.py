"""`atrest demo`: a local moto S3/KMS/CloudTrail/STS server, seeded buckets, and the web app.

A new user sees the whole flow without an AWS account: a sample decision recommending
`sse-kms-cmk`, and buckets that pass, warn and fail against it. Seeding uses plain boto3
clients (it writes; the probe never does). Nothing can reach AWS: every client is pointed at
the loopback server and the process runs with dummy credentials.

Layout: world.py (the seeded account: keys, buckets with the probe's verdict on each, trail;
`seed`), fidelity.py (`moto_fidelity`: where moto answers unlike S3, and the corrections),
decision.py (the sample decision), process.py (dummy credentials, the moto server, the port
check, `run_demo`).
"""

from __future__ import annotations

from app.demo.decision import SAMPLE_TITLE, create_sample_decision, sample_answers
from app.demo.fidelity import moto_fidelity
from app.demo.process import (
    DemoUnavailable,
    check_port,
    dummy_credentials,
    moto_server,
    run_demo,
)
from app.demo.world import (
    DEMO_REGION,
    KEYS,
    LOG_BUCKET,
    OTHER_REGION,
    SPECS,
    TRAIL_NAME,
    DemoBucket,
    seed,
)

__all__ = [
    "DEMO_REGION",
    "KEYS",
    "LOG_BUCKET",
    "OTHER_REGION",
    "SAMPLE_TITLE",
    "SPECS",
    "TRAIL_NAME",
    "DemoBucket",
    "DemoUnavailable",
    "check_port",
    "create_sample_decision",
    "dummy_credentials",
    "moto_fidelity",
    "moto_server",
    "run_demo",
    "sample_answers",
    "seed",
]
