"""Reading bucket policies: the TLS deny and the unencrypted-write deny, in their tricky forms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.probe.policy import (
    WriteEnforcement,
    covers_every_key,
    denies_insecure_transport,
    denies_unencrypted_writes,
    iam_match,
    write_enforcement,
)

BUCKET = "demo-bucket"
OBJECTS = f"arn:aws:s3:::{BUCKET}/*"
BUCKET_ARN = f"arn:aws:s3:::{BUCKET}"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID}"
OTHER_KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/ffffffff-0000-0000-0000-000000000000"


def deny(**fields: Any) -> dict[str, Any]:
    """A Deny-everyone statement with the given fields overriding the defaults."""
    statement: dict[str, Any] = {
        "Sid": "Test",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [BUCKET_ARN, OBJECTS],
    }
    statement.update(fields)
    return {k: v for k, v in statement.items() if v is not None}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document holding the statements as a list."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


TLS = {"Bool": {"aws:SecureTransport": "false"}}

TLS_DENIED: list[Any] = [
    pytest.param(doc(deny(Condition=TLS)), id="aws-example"),
    pytest.param({"Statement": deny(Condition=TLS)}, id="statement-as-dict"),
    pytest.param(json.dumps(doc(deny(Condition=TLS))), id="json-text"),
    pytest.param(doc(deny(Condition={"Bool": {"aws:SecureTransport": False}})), id="json-false"),
    pytest.param(doc(deny(Condition={"Bool": {"aws:SecureTransport": ["false"]}})), id="list"),
    pytest.param(doc(deny(Condition={"Bool": {"aws:SecureTransport": "False"}})), id="capital"),
    pytest.param(
        doc(deny(Condition={"BoolIfExists": {"aws:SecureTransport": "false"}})), id="ifexists"
    ),
    pytest.param(doc(deny(Condition={"Bool": {"aws:securetransport": "false"}})), id="key-lower"),
    pytest.param(doc(deny(Action="*", Condition=TLS)), id="action-star"),
    pytest.param(doc(deny(Action=["s3:GetObject", "s3:PutObject"], Condition=TLS)), id="get-put"),
    pytest.param(doc(deny(Action=["S3:GETOBJECT", "s3:putobject"], Condition=TLS)), id="case"),
    pytest.param(
        doc(deny(Action="s3:GetObject", Condition=TLS), deny(Action="s3:PutObject", Condition=TLS)),
        id="split-over-two-statements",
    ),
    pytest.param(doc(deny(Principal={"AWS": "*"}, Condition=TLS)), id="principal-aws-star"),
    pytest.param(doc(deny(Principal={"AWS": ["*"]}, Condition=TLS)), id="principal-aws-list"),
    pytest.param(doc(deny(Resource=OBJECTS, Condition=TLS)), id="resource-string"),
    pytest.param(doc(deny(Resource="*", Condition=TLS)), id="resource-star"),
    pytest.param(doc(deny(Resource="arn:aws:s3:::*/*", Condition=TLS)), id="resource-any-bucket"),
    pytest.param(
        doc(deny(Resource=f"arn:aws-cn:s3:::{BUCKET}/*", Condition=TLS)), id="china-partition"
    ),
    pytest.param(
        doc(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": OBJECTS},
            deny(Condition=TLS),
        ),
        id="after-an-allow",
    ),
]

TLS_NOT_DENIED: list[Any] = [
    pytest.param(None, id="no-policy"),
    pytest.param({}, id="empty"),
    pytest.param("not json", id="bad-json"),
    pytest.param(doc(deny(Effect="Allow", Condition=TLS)), id="allow"),
    pytest.param(doc(deny(Condition={"Bool": {"aws:SecureTransport": "true"}})), id="true"),
    pytest.param(doc(deny(Condition=None)), id="no-condition-is-not-a-tls-deny"),
    pytest.param(doc(deny(Action="s3:GetObject", Condition=TLS)), id="reads-only"),
    pytest.param(doc(deny(Action="s3:PutObject", Condition=TLS)), id="writes-only"),
    pytest.param(
        doc(deny(Action=None, NotAction="s3:ListBucket", Condition=TLS)), id="notaction-ignored"
    ),
    pytest.param(
        doc(deny(Principal=None, NotPrincipal={"AWS": "arn:aws:iam::1:root"}, Condition=TLS)),
        id="notprincipal-ignored",
    ),
    pytest.param(
        doc(deny(Principal={"AWS": "arn:aws:iam::111122223333:root"}, Condition=TLS)),
        id="one-principal",
    ),
    pytest.param(doc(deny(Resource=f"{BUCKET_ARN}/logs/*", Condition=TLS)), id="one-prefix"),
    pytest.param(doc(deny(Resource=BUCKET_ARN, Condition=TLS)), id="bucket-not-objects"),
    pytest.param(doc(deny(Resource="arn:aws:s3:::other/*", Condition=TLS)), id="other-bucket"),
    pytest.param(
        doc(
            deny(
                Condition={
                    "Bool": {"aws:SecureTransport": "false"},
                    "IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                }
            )
        ),
        id="narrowed-by-another-condition",
    ),
    pytest.param(
        doc(deny(Condition={"StringEquals": {"aws:SecureTransport": "false"}})), id="not-bool"
    ),
    pytest.param(
        doc(deny(Condition={"NumericLessThan": {"s3:TlsVersion": "1.2"}})), id="tls-version-only"
    ),
]


@pytest.mark.parametrize("policy", TLS_DENIED)
def test_tls_deny_is_recognised(policy: Any) -> None:
    """Every accepted spelling of a deny on aws:SecureTransport=false counts."""
    assert denies_insecure_transport(policy, bucket=BUCKET)


@pytest.mark.parametrize("policy", TLS_NOT_DENIED)
def test_tls_deny_is_not_imagined(policy: Any) -> None:
    """Statements that leave plain HTTP open somewhere do not count."""
    assert not denies_insecure_transport(policy, bucket=BUCKET)


def test_tls_deny_without_bucket_name_accepts_whole_bucket_patterns() -> None:
    """Without a bucket name, `<bucket>/*` counts but a prefix does not."""
    assert denies_insecure_transport(doc(deny(Condition=TLS)))
    assert not denies_insecure_transport(doc(deny(Resource=f"{BUCKET_ARN}/logs/*", Condition=TLS)))


def sse(operator: str, value: Any, key: str = "s3:x-amz-server-side-encryption") -> dict[str, Any]:
    """A PutObject deny conditioned on one encryption header."""
    return deny(Action="s3:PutObject", Resource=OBJECTS, Condition={operator: {key: value}})


KMS_KEY = "s3:x-amz-server-side-encryption-aws-kms-key-id"
SSE_C_KEY = "s3:x-amz-server-side-encryption-customer-algorithm"

WRITES: list[Any] = [
    # (policy, required header, key ARN, expected enforcement)
    pytest.param(doc(sse("StringNotEquals", "aws:kms")), "aws:kms", None, "value", id="kms"),
    pytest.param(
        {"Statement": sse("StringNotEquals", "aws:kms")},
        "aws:kms",
        None,
        "value",
        id="statement-dict",
    ),
    pytest.param(doc(sse("StringNotEquals", ["aws:kms"])), "aws:kms", None, "value", id="list"),
    pytest.param(
        doc(sse("StringNotEqualsIfExists", "aws:kms")), "aws:kms", None, "value", id="ifexists"
    ),
    pytest.param(doc(sse("StringNotEquals", "AES256")), "AES256", None, "value", id="aes256"),
    pytest.param(
        doc(sse("StringNotEquals", "aws:kms:dsse")), "aws:kms:dsse", None, "value", id="dsse"
    ),
    pytest.param(
        doc(sse("StringNotEquals", "aws:kms")), "aws:kms:dsse", None, "none", id="kms-is-not-dsse"
    ),
    pytest.param(doc(sse("StringNotEquals", "aws:kms")), "AES256", None, "none", id="wrong-value"),
    pytest.param(
        doc(sse("StringNotEquals", ["AES256", "aws:kms"])),
        "aws:kms",
        None,
        "none",
        id="list-also-allows-aes256",
    ),
    pytest.param(
        doc(
            deny(
                Action="s3:*",
                Resource=OBJECTS,
                Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "value",
        id="action-s3-star",
    ),
    pytest.param(
        doc(
            deny(
                Action="*",
                Resource="*",
                Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "value",
        id="action-star",
    ),
    pytest.param(
        doc(
            deny(
                Action="s3:Put*",
                Resource=OBJECTS,
                Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "value",
        id="action-wildcard",
    ),
    pytest.param(
        doc(
            deny(
                Action=["S3:PUTOBJECT"],
                Resource=OBJECTS,
                Condition={"StringNotEquals": {"S3:X-Amz-Server-Side-Encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "value",
        id="case-insensitive-names",
    ),
    pytest.param(doc(sse("Null", "true")), "aws:kms", None, "presence", id="null-only"),
    pytest.param(doc(sse("Null", True)), "aws:kms", None, "presence", id="null-json-true"),
    pytest.param(
        doc(sse("Null", "true"), sse("StringNotEquals", "aws:kms")),
        "aws:kms",
        None,
        "value",
        id="aws-two-statement-example",
    ),
    pytest.param(
        doc(
            deny(
                Action="s3:PutObject",
                Resource=OBJECTS,
                Condition={
                    "Null": {"s3:x-amz-server-side-encryption": "true"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            )
        ),
        "aws:kms",
        None,
        "presence",
        id="anded-in-one-statement-is-presence-only",
    ),
    pytest.param(doc(sse("Null", "false")), "aws:kms", None, "none", id="null-false"),
    pytest.param(doc(sse("StringEquals", "AES256")), "aws:kms", None, "none", id="string-equals"),
    pytest.param(
        doc(
            deny(
                Action="s3:GetObject",
                Resource=OBJECTS,
                Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "none",
        id="wrong-action",
    ),
    pytest.param(
        doc(
            deny(
                Action=None,
                NotAction="s3:GetObject",
                Resource=OBJECTS,
                Condition={"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            )
        ),
        "aws:kms",
        None,
        "none",
        id="notaction-ignored",
    ),
    pytest.param(
        doc({**sse("StringNotEquals", "aws:kms"), "Effect": "Allow"}),
        "aws:kms",
        None,
        "none",
        id="allow",
    ),
    pytest.param(
        doc({**sse("StringNotEquals", "aws:kms"), "Resource": f"{BUCKET_ARN}/tmp/*"}),
        "aws:kms",
        None,
        "none",
        id="one-prefix",
    ),
    pytest.param(None, "aws:kms", None, "none", id="no-policy"),
    # A specific key.
    pytest.param(
        doc(sse("StringNotEquals", KEY_ARN, KMS_KEY)), "aws:kms", KEY_ARN, "value", id="key-arn"
    ),
    pytest.param(
        doc(sse("StringNotEqualsIfExists", KEY_ARN, KMS_KEY)),
        "aws:kms",
        KEY_ARN,
        "value",
        id="key-arn-ifexists",
    ),
    pytest.param(
        doc(sse("StringNotEquals", KEY_ID, KMS_KEY)), "aws:kms", KEY_ARN, "value", id="key-id"
    ),
    pytest.param(
        doc(sse("StringNotEquals", OTHER_KEY_ARN, KMS_KEY)),
        "aws:kms",
        KEY_ARN,
        "none",
        id="other-key",
    ),
    pytest.param(
        doc(sse("StringNotEquals", KEY_ARN, KMS_KEY)),
        "aws:kms",
        None,
        "none",
        id="key-condition-without-an-expected-key",
    ),
    pytest.param(
        doc(
            deny(
                Action="s3:PutObject",
                Resource=OBJECTS,
                Condition={
                    "StringNotEquals": {
                        "s3:x-amz-server-side-encryption": "aws:kms",
                        KMS_KEY: KEY_ARN,
                    }
                },
            )
        ),
        "aws:kms",
        KEY_ARN,
        # ANDed: a write naming aws:kms with another key satisfies neither condition's deny.
        "algorithm",
        id="header-and-key-in-one-statement-pins-only-the-algorithm",
    ),
    pytest.param(
        doc(sse("StringNotEquals", "aws:kms")),
        "aws:kms",
        KEY_ARN,
        "algorithm",
        id="header-only-where-a-key-is-expected",
    ),
    pytest.param(
        doc(sse("StringNotEquals", "aws:kms"), sse("StringNotEquals", KEY_ARN, KMS_KEY)),
        "aws:kms",
        KEY_ARN,
        "value",
        id="header-and-key-in-two-statements",
    ),
    # SSE-C.
    pytest.param(doc(sse("Null", "true", SSE_C_KEY)), "SSE-C", None, "value", id="sse-c-null"),
    pytest.param(
        doc(sse("StringNotEquals", "AES256", SSE_C_KEY)),
        "SSE-C",
        None,
        "value",
        id="sse-c-algorithm",
    ),
    pytest.param(
        doc(sse("StringNotEquals", "AES256")),
        "SSE-C",
        None,
        "none",
        id="sse-c-needs-the-customer-header",
    ),
    pytest.param(
        doc(sse("Null", "false", SSE_C_KEY)), "SSE-C", None, "none", id="sse-c-null-false"
    ),
]


@pytest.mark.parametrize(("policy", "header", "key_arn", "level"), WRITES)
def test_write_enforcement(policy: Any, header: str, key_arn: str | None, level: str) -> None:
    """Each policy form enforces the expected header (or key) at the level stated."""
    found = write_enforcement(policy, required_header=header, key_arn=key_arn, bucket=BUCKET)
    assert found is WriteEnforcement(level)
    assert denies_unencrypted_writes(
        policy, required_header=header, key_arn=key_arn, bucket=BUCKET
    ) is (level == "value")


# IAM wildcards -------------------------------------------------------------------------------

IAM_MATCHES: list[Any] = [
    # (pattern, value, matches)
    pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/deep/key", True, id="star-crosses-slash"),
    pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::b/", True, id="star-matches-empty"),
    pytest.param("arn:aws:s3:::b/?", "arn:aws:s3:::b/k", True, id="question-one-char"),
    pytest.param("arn:aws:s3:::b/?", "arn:aws:s3:::b/ke", False, id="question-not-two"),
    pytest.param("arn:aws:s3:::b/?", "arn:aws:s3:::b/", False, id="question-not-empty"),
    pytest.param("arn:aws:s3:::b/[ab]", "arn:aws:s3:::b/a", False, id="brackets-are-literal"),
    pytest.param("arn:aws:s3:::b/[ab]", "arn:aws:s3:::b/[ab]", True, id="brackets-match-self"),
    pytest.param("arn:aws:s3:::b/[!x]*", "arn:aws:s3:::b/y1", False, id="no-negated-class"),
    pytest.param("arn:aws:s3:::b.c/*", "arn:aws:s3:::bxc/k", False, id="dot-is-literal"),
    pytest.param("arn:aws:s3:::b/*", "arn:aws:s3:::B/k", False, id="resources-case-sensitive"),
    pytest.param("arn:aws:s3:::b/\\*", "arn:aws:s3:::b/\\z", True, id="backslash-literal"),
]


@pytest.mark.parametrize(("pattern", "value", "matches"), IAM_MATCHES)
def test_iam_wildcards_are_only_star_and_question_mark(
    pattern: str, value: str, matches: bool
) -> None:
    """`*` any run (empty too, across `/`), `?` one character; nothing else is special."""
    assert iam_match(pattern, value) is matches


def test_actions_match_case_insensitively() -> None:
    assert iam_match("s3:Put*", "s3:putobject", case_sensitive=False)
    assert not iam_match("s3:Put?", "s3:putobject", case_sensitive=False)


COVERS: list[Any] = [
    # (resource patterns, every key of demo-bucket covered)
    pytest.param([OBJECTS], True, id="bucket-star"),
    pytest.param([f"{BUCKET_ARN}*"], True, id="bucket-name-star"),
    pytest.param(["arn:aws:s3:::*"], True, id="every-bucket"),
    pytest.param([f"{BUCKET_ARN}/?*"], True, id="one-or-more"),
    pytest.param([f"{BUCKET_ARN}/*?"], True, id="one-or-more-reversed"),
    pytest.param([f"{BUCKET_ARN}/?"], False, id="one-character-keys-only"),
    pytest.param([f"{BUCKET_ARN}/??*"], False, id="misses-one-character-keys"),
    pytest.param([f"{BUCKET_ARN}/?", f"{BUCKET_ARN}/??*"], True, id="two-patterns-together"),
    pytest.param([f"{BUCKET_ARN}/[a-z]*"], False, id="class-is-literal"),
    pytest.param([f"{BUCKET_ARN}/logs/*"], False, id="a-prefix"),
    pytest.param(["arn:aws:s3:::demo-bucke?/*"], True, id="question-in-bucket-name"),
    pytest.param([BUCKET_ARN], False, id="the-bucket-not-its-objects"),
]


@pytest.mark.parametrize(("patterns", "covered"), COVERS)
def test_a_resource_covers_every_object_only_if_it_matches_every_key(
    patterns: list[str], covered: bool
) -> None:
    assert covers_every_key(patterns, f"{BUCKET_ARN}/") is covered


@pytest.mark.parametrize(
    "resource",
    [f"{BUCKET_ARN}/?", f"{BUCKET_ARN}/[a-z]*", f"{BUCKET_ARN}/??*"],
    ids=["question-mark", "bracket-class", "two-or-more"],
)
def test_denies_on_resources_that_miss_some_keys_are_not_enforcement(resource: str) -> None:
    """A shell-style reading (fnmatch) took `bucket/?` for every object; IAM does not."""
    assert not denies_insecure_transport(doc(deny(Resource=resource, Condition=TLS)), bucket=BUCKET)
    policy = doc(sse("StringNotEquals", "aws:kms") | {"Resource": resource})
    found = write_enforcement(policy, required_header="aws:kms", bucket=BUCKET)
    assert found is WriteEnforcement.NONE
