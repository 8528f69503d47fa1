"""`atrest demo`: a local moto S3/KMS/CloudTrail/STS server, seeded buckets, and the web app.

A new user sees the whole flow without an AWS account: a sample decision recommending
`sse-kms-cmk`, and buckets that pass, warn and fail against it. Seeding uses plain boto3
clients (it writes; the probe never does). Nothing can reach AWS: every client is pointed at
the loopback server and the process runs with dummy credentials.

moto answers some S3 requests unlike S3, and `moto_fidelity()` corrects three of them so the
demo shows what the probe says of real buckets: ListBuckets omits BucketRegion (the probe
would read a us-east-1 bucket and its key in eu-west-1); GetBucketEncryption drops
BlockedEncryptionTypes (no bucket could pass `sse-c-blocked`); and moto evaluates a bucket
policy's conditions without a request context, so a Deny of plain-HTTP requests refuses every
object read (S3 applies it to plain-HTTP requests only; the probe reads S3 over HTTPS).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.core.config import Settings
from app.probe.checks import Status
from app.probe.target import Target

DEMO_REGION = "eu-west-1"
OTHER_REGION = "us-east-1"
SAMPLE_TITLE = "Demo: payments data lake"
TRAIL_NAME = "atrest-demo-trail"
LOG_BUCKET = "atrest-demo-audit-logs"
INSTALL_HINT = "pip install 'atrest[demo]'"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}
# Anything that could make boto3 in this process pick other credentials or another endpoint.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


class DemoUnavailable(RuntimeError):
    """The demo cannot start (moto missing, port taken): the CLI exits 2 with the message."""


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


# The sample decision ---------------------------------------------------------------------------


def sample_answers() -> dict[str, Any]:
    """Answers of a payments data lake: audited key use under the team's own key policy.

    The engine recommends `sse-kms-cmk`; a high request rate keeps Bucket Keys on, so the
    recommended configuration differs from the option's default only by requiring a key-use
    audit trail (which the demo's trail provides).
    """
    return {
        "audit_key_usage": True,
        "key_policy_control": True,
        "compliance_frameworks": ["pci-dss"],
        "rotation": "annual",
        "native_aws_analytics": True,
        "request_volume": "high",
    }


def create_sample_decision(
    *, session: Session, engine: Engine, buckets: Sequence[str] = (), account: str | None = None
) -> int:
    """Save the sample decision (flushed, not committed) and return its id."""
    from app.decisions.schemas import DecisionCreate, Scope
    from app.decisions.service import create_decision

    data = DecisionCreate(
        title=SAMPLE_TITLE,
        description=(
            "Seeded by `atrest demo`: card transactions land in the payments buckets; PCI DSS "
            "asks who used the key, and the security team owns the key policy."
        ),
        scope=Scope(accounts=[account] if account else [], buckets=list(buckets)),
        owner="demo",
        answers=sample_answers(),
    )
    return int(create_decision(session=session, engine=engine, data=data).decision.id)


# The seeded account ----------------------------------------------------------------------------


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
          "key policy is AWS's", ("kms-key-manager",), key=None),
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


def _policy(bucket: str, kinds: Sequence[str], old_key_arn: str) -> dict[str, Any]:
    """A bucket policy holding the named statements, in that order."""
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
    return {"Version": "2012-10-17", "Statement": [statements[k] for k in kinds]}


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
            document = _policy(name, spec.policy, self.arn("payments-previous"))
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


# moto, made to answer like S3 -------------------------------------------------------------------


def _blocked_types(stored: Any) -> dict[str, list[str]] | None:
    """BlockedEncryptionTypes as S3 returns it, from moto's parsed XML of the PUT."""
    rule = (stored or {}).get("Rule")
    blocked = rule.get("BlockedEncryptionTypes") if isinstance(rule, dict) else None
    if not isinstance(blocked, dict) or blocked.get("EncryptionType") is None:
        return None
    types = blocked["EncryptionType"]
    return {"EncryptionType": [types] if isinstance(types, str) else list(types)}


def _complete(response: Any, result: dict[str, Any]) -> None:
    """Add what moto leaves out of a ListBuckets or GetBucketEncryption result, in place."""
    action = response.data.get("Action")
    if action == "ListBuckets":
        for bucket in result.get("Buckets", []):
            bucket["BucketRegion"] = response.backend.get_bucket(bucket["Name"]).region_name
    elif action == "GetBucketEncryption":
        blocked = _blocked_types(response.backend.get_bucket_encryption(response.bucket_name))
        rules = result["ServerSideEncryptionConfiguration"]["Rules"]
        if blocked is not None and rules:
            rules[0]["BlockedEncryptionTypes"] = blocked


def _without_conditional_denies(policy: bytes) -> str:
    """The policy minus its conditioned Deny statements, whose conditions moto cannot judge."""
    document = json.loads(policy)
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    kept = [s for s in statements if not (s.get("Effect") == "Deny" and s.get("Condition"))]
    return json.dumps({**document, "Statement": kept})


@contextmanager
def _replaced(cls: type, name: str, make: Callable[[Any], Any]) -> Iterator[None]:
    """Replace `cls.<name>` by `make(original)` while open."""
    own, original = name in vars(cls), getattr(cls, name)
    setattr(cls, name, make(original))
    try:
        yield
    finally:
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)


@contextmanager
def moto_fidelity() -> Iterator[None]:
    """While open, moto's S3 answers the demo's requests as S3 would (see the module docstring).

    Affects every moto server in this process and is undone on exit. Should moto change its
    internals, its own answers are served instead.
    """
    from moto.iam.access_control import IAMPolicy
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    def serialized(original: Any) -> Any:
        def wrapper(self: Any, action_result: Any) -> Any:
            try:
                if isinstance(action_result.result, dict):
                    _complete(self, action_result.result)
            except (AttributeError, KeyError, TypeError):
                pass
            return original(self, action_result)

        return wrapper

    def get_permission(original: Any) -> Any:
        def wrapper(self: Any, action: str, resource: str) -> Any:
            try:
                if self.policy is not None:
                    policy = IAMPolicy(_without_conditional_denies(self.policy))
                    return policy.is_action_permitted(action, resource)
            except (AttributeError, KeyError, TypeError, ValueError):
                pass
            return original(self, action, resource)

        return wrapper

    with (
        _replaced(S3Response, "serialized", serialized),
        _replaced(FakeBucket, "get_permission", get_permission),
    ):
        yield


# Running the demo -------------------------------------------------------------------------------


@contextmanager
def dummy_credentials(region: str = DEMO_REGION) -> Iterator[None]:
    """Dummy AWS credentials and no profile in this process while open (then restored)."""
    names = (*DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION", "AWS_EC2_METADATA_DISABLED")
    saved = {name: os.environ.get(name) for name in (*names, *CLEARED_VARIABLES)}
    for name in CLEARED_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(DUMMY_CREDENTIALS)
    os.environ.update(AWS_DEFAULT_REGION=region, AWS_EC2_METADATA_DISABLED="true")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 and a free port, while open; yields its URL.

    Raises:
        DemoUnavailable: moto (with its server extra) is not installed.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise DemoUnavailable(
            f"the demo needs moto's server ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    # One log line per request would bury the demo's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def check_port(host: str, port: int) -> None:
    """Raise DemoUnavailable when the web app could not listen on host:port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as trial:
            trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            trial.bind(address)
    except OSError as exc:
        raise DemoUnavailable(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); another server may be "
            "running there: choose another port with --port"
        ) from None


@dataclass(frozen=True)
class _Started:
    """What run_demo started, for the announcement."""

    app_url: str
    decision_id: int
    moto_url: str
    database_url: str
    temporary: bool
    buckets: Sequence[DemoBucket]


def _announce(echo: Callable[[str], object], s: _Started) -> None:
    """Say what was started, what was seeded, and how to probe it from another terminal."""
    width = max(len(b.name) for b in s.buckets)
    database = s.database_url + ("  (deleted on exit)" if s.temporary else "")
    lines = [
        "atrest demo: everything runs on this machine; nothing reaches AWS.",
        f"  web app          {s.app_url}/",
        f"  sample decision  {s.app_url}/decisions/{s.decision_id}  ({SAMPLE_TITLE})",
        f"  moto server      {s.moto_url}  (S3, KMS, CloudTrail, STS; dummy credentials)",
        f"  database         {database}",
        "",
        "Seeded buckets and the probe's verdict on each against sse-kms-cmk:",
        *(
            f"  {b.expected_status:<4}  {b.region:<9}  {b.name:<{width}}  {b.description}"
            for b in s.buckets
        ),
        f"  and trail {TRAIL_NAME}: logging, multi-Region, management events with KMS",
        "",
        "Probe them from another terminal:",
        "  AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo atrest probe --option sse-kms-cmk "
        f"--endpoint-url {s.moto_url} --region {DEMO_REGION}",
        "  (add --sample-objects 5 to read objects too; with "
        f"ATREST_DATABASE_URL={s.database_url}, --decision {s.decision_id} instead of --option "
        "checks against the sample decision, audit trail included)",
        "",
        "Ctrl-C stops the web app and the moto server.",
    ]
    for line in lines:
        echo(line)


def _open_when_started(server: Any, url: str) -> None:
    """Open `url` in a browser once uvicorn is up (giving up after 15 s), from a thread."""

    def wait_then_open() -> None:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        if server.started:
            webbrowser.open(url)

    threading.Thread(target=wait_then_open, daemon=True).start()


def _prepare(settings: Settings, moto_url: str) -> tuple[list[DemoBucket], int]:
    """Seed moto, migrate the database, save the sample decision; return (buckets, its id)."""
    from app.advisor import get_engine
    from app.core.db import make_engine, make_sessionmaker, upgrade_database

    buckets = seed(moto_url)
    sts = boto3.client("sts", endpoint_url=moto_url, region_name=DEMO_REGION)
    account = str(sts.get_caller_identity()["Account"])
    upgrade_database(settings)
    db = make_engine(settings)
    try:
        with make_sessionmaker(db)() as session, session.begin():
            decision_id = create_sample_decision(
                session=session,
                engine=get_engine(settings.rules_dir),
                buckets=[b.name for b in buckets],
                account=account,
            )
    finally:
        db.dispose()
    return buckets, decision_id


def run_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    database_url: str | None = None,
    open_browser: bool = False,
    echo: Callable[[str], object] = print,
) -> None:
    """Start moto, seed it, save the sample decision and serve the web app until Ctrl-C.

    The default database is a SQLite file in a temporary folder, deleted on exit: moto keeps
    its buckets in memory only, so a lasting database would keep decisions and probe results
    about buckets that no longer exist, and gain one more sample decision per run.

    Args:
        host: Address the web app listens on.
        port: Its port.
        database_url: A database to use instead of the temporary one.
        open_browser: Open the sample decision in a browser once the app is up.
        echo: Where the announcement goes, line by line.

    Raises:
        DemoUnavailable: moto is not installed, or the port is taken.
    """
    import uvicorn

    from app.main import create_app

    check_port(host, port)
    with ExitStack() as stack:
        stack.enter_context(dummy_credentials())
        moto_url = stack.enter_context(moto_server())
        stack.enter_context(moto_fidelity())
        temporary = database_url is None
        if database_url is None:
            folder = tempfile.TemporaryDirectory(prefix="atrest-demo-", ignore_cleanup_errors=True)
            database_url = f"sqlite:///{Path(stack.enter_context(folder)) / 'atrest-demo.db'}"
        target = Target(
            name="demo",
            label="Demo account (moto on 127.0.0.1)",
            endpoint_url=moto_url,
            region=DEMO_REGION,
        )
        settings = Settings(database_url=database_url, probe_targets=[target], host=host, port=port)
        buckets, decision_id = _prepare(settings, moto_url)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        app_url = f"http://{shown}:{port}"
        started = _Started(app_url, decision_id, moto_url, database_url, temporary, buckets)
        _announce(echo, started)
        server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port))
        if open_browser:
            _open_when_started(server, f"{app_url}/decisions/{decision_id}")
        # uvicorn re-raises the Ctrl-C it has handled: stopping is the demo's normal end.
        with suppress(KeyboardInterrupt):
            server.run()
    echo("atrest demo: stopped; the moto server and its buckets are gone.")
