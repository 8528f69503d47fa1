"""Cross-account readers: when other accounts read the objects, every snippet grants them in
the bucket policy and, with a customer managed key, in the key policy (kms:Decrypt through S3
only: kms:ViaService and kms:CallerAccount); the templates pass cfn-lint and python-hcl2, and
the notes say that the reader names the key by its full ARN and what the enforcing bucket
policy does to clients that rely on default encryption."""

from __future__ import annotations

import json
import re
from typing import Any

import hcl2
import pytest
import yaml
from cfnlint.api import ManualArgs, lint

from app.advisor.evaluate import Engine
from app.advisor.snippets import snippets
from app.decisions.tickets import acceptance_criteria

READERS = ["111122223333", "444455556666"]
CROSS = {"cross_account_access": True}
#: Answers that lead to each option the cross-account patch applies to.
LEADS_TO = {
    "sse-s3": {},
    "sse-kms-cmk": {"audit_key_usage": True},
    "sse-kms-imported": {"key_material": "customer-generated"},
    "dsse-kms": {"dual_layer": True},
    "sse-kms-cloudhsm": {"dedicated_hsm": True, "ops_capacity": "dedicated-team"},
}


def recommended(engine: Engine, answers: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    data = engine.evaluate({**CROSS, **answers}).data
    rec = data["recommendation"]
    assert rec is not None, data["conflicts"]
    return rec["option"], rec["configuration"]


def cli_policies(cli: str) -> dict[str, dict[str, Any]]:
    """The JSON policies of a CLI snippet, by the command that sets them."""
    found = {}
    for m in re.finditer(
        r"aws (\S+ \S+)(?: \\\n  [^\n]*)*? \\\n  --policy '((?:[^']|'\"'\"')*)'", cli
    ):
        found[m.group(1)] = json.loads(m.group(2).replace("'\"'\"'", "'"))
    return found


def by_sid(statements: list[dict[str, Any]], sid: str) -> dict[str, Any]:
    return next(s for s in statements if s.get("Sid") == sid)


@pytest.fixture(params=list(LEADS_TO))
def case(request: pytest.FixtureRequest, engine: Engine) -> tuple[str, dict[str, Any]]:
    option, configuration = recommended(engine, LEADS_TO[request.param])
    if option != request.param:
        pytest.fail(f"{LEADS_TO[request.param]} now leads to {option}: update LEADS_TO")
    return option, configuration


def test_the_recommendation_names_the_readers_and_says_why(engine: Engine) -> None:
    data = engine.evaluate({**CROSS, "audit_key_usage": True}).data
    rec = data["recommendation"]
    assert rec["configuration"]["cross_account_readers"] == ["<reader account id>"]
    assert any("full key ARN" in r and "kms:ViaService" in r for r in rec["rationale"])
    assert {"kms-via-service-condition", "s3-cross-account-key-arn"} <= {
        f["id"] for f in data["facts"]
    }
    plain = engine.evaluate({"audit_key_usage": True}).data["recommendation"]["configuration"]
    assert "cross_account_readers" not in plain


def test_every_snippet_grants_the_readers(case: tuple[str, dict[str, Any]]) -> None:
    option, configuration = case
    configuration = {**configuration, "cross_account_readers": READERS}
    out = snippets(option=option, configuration=configuration)
    customer = (configuration.get("kms_key") or {}).get("KeyManager") == "CUSTOMER"

    # AWS CLI: the bucket policy, and the key policy (set whole, or a statement to merge).
    policies = cli_policies(out["aws-cli"])
    bucket = policies["s3api put-bucket-policy"]["Statement"]
    read = by_sid(bucket, "AllowReaderAccountsToReadObjects")
    assert read["Principal"] == {"AWS": READERS} and read["Action"] == "s3:GetObject"
    if customer:
        key_policy = policies["kms put-key-policy"]["Statement"]
        grant = by_sid(key_policy, "AllowReaderAccountsToDecryptThroughS3")
        assert grant["Action"] == "kms:Decrypt" and grant["Principal"] == {"AWS": READERS}
        assert grant["Condition"]["StringEquals"]["kms:CallerAccount"] == READERS
        assert grant["Condition"]["StringEquals"]["kms:ViaService"].startswith("s3.")
        assert by_sid(key_policy, "EnableAccountAdministration")["Action"] == "kms:*"
        assert "full key ARN" in out["aws-cli"]
    else:
        assert "kms put-key-policy" not in policies

    # CloudFormation: valid for cfn-lint, the readers in the bucket policy and the key policy.
    template = yaml.safe_load(out["cloudformation"])
    problems = [
        str(m) for m in lint(out["cloudformation"], config=ManualArgs(regions=["eu-west-1"]))
    ]
    assert problems == []
    resources = template["Resources"]
    statements = resources["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert by_sid(statements, "AllowReaderAccountsToReadObjects")["Principal"] == {"AWS": READERS}
    if "EncryptionKey" in resources:
        key_statements = resources["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]
        grant = by_sid(key_statements, "AllowReaderAccountsToDecryptThroughS3")
        via = grant["Condition"]["StringEquals"]["kms:ViaService"]
        assert via == {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
    elif customer:  # a key made outside the template: the statement to merge is given
        assert "AllowReaderAccountsToDecryptThroughS3" in out["cloudformation"]

    # Terraform: parses, a reader variable defaulting to the accounts, used in both policies.
    parsed = hcl2.loads(out["terraform"])
    variables = {name.strip('"'): v for block in parsed["variable"] for name, v in block.items()}
    assert [a.strip('"') for a in variables["reader_account_ids"]["default"]] == READERS
    if 'resource "aws_kms' in out["terraform"]:  # the key policy of the key it creates
        assert (
            out["terraform"].count("var.reader_account_ids") == 4
        )  # check, 2 in the key, 1 in the bucket
    elif customer:  # a key made outside: the statement to merge is given
        assert "AllowReaderAccountsToDecryptThroughS3" in out["terraform"]


def test_placeholders_become_inputs(case: tuple[str, dict[str, Any]]) -> None:
    option, configuration = case
    out = snippets(option=option, configuration=configuration)
    assert "<reader account id>" in out["aws-cli"]
    template = yaml.safe_load(out["cloudformation"])
    assert template["Parameters"]["ReaderAccountIds"]["Type"] == "CommaDelimitedList"
    assert lint(out["cloudformation"], config=ManualArgs(regions=["eu-west-1"])) == []
    parsed = hcl2.loads(out["terraform"])
    variables = {name.strip('"'): v for block in parsed["variable"] for name, v in block.items()}
    assert "default" not in variables["reader_account_ids"]  # Terraform asks for them


def test_the_enforcing_bucket_policy_says_what_it_breaks(engine: Engine) -> None:
    option, configuration = recommended(engine, {"audit_key_usage": True})
    for text in snippets(option=option, configuration=configuration).values():
        flat = " ".join(line.lstrip("# ") for line in text.splitlines() if line.startswith("#"))
        assert "rely on the bucket's default encryption fail with AccessDenied" in flat
        assert '"Null": {"s3:x-amz-server-side-encryption": "false"}' in flat


def test_the_ticket_names_the_readers(engine: Engine) -> None:
    _, configuration = recommended(engine, {"audit_key_usage": True})
    criteria = acceptance_criteria({**configuration, "cross_account_readers": READERS})
    text = "\n".join(criteria)
    assert "`111122223333` and `444455556666`" in text
    assert "`kms:Decrypt` only through S3" in text and "`s3:GetObject`" in text
