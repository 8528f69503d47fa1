"""Deploy snippets are generated from a recommendation's configuration, for every option."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
import yaml

from app.advisor.evaluate import Engine
from app.advisor.loader import load_ruleset
from app.advisor.snippets import snippets

CONFIGURATIONS = {oid: o.configuration for oid, o in load_ruleset().options.items()}
OPTIONS = list(CONFIGURATIONS)


def _config(option: str, **changes: Any) -> dict[str, Any]:
    """A deep copy of an option's configuration with top-level keys replaced."""
    return copy.deepcopy(CONFIGURATIONS[option]) | changes


def _rule(config: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = config["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule


def _quoted(cli: str, flag: str) -> Any:
    """The JSON argument given in single quotes after `flag` in a CLI snippet."""
    match = re.search(re.escape(flag) + r" '([^']*)'", cli)
    assert match, f"no single-quoted argument after {flag}"
    return json.loads(match.group(1))


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def _customer_key(config: dict[str, Any]) -> dict[str, Any] | None:
    kms = config.get("kms_key")
    return kms if kms and kms.get("KeyManager") == "CUSTOMER" else None


def _auto_rotation(config: dict[str, Any]) -> bool:
    kms = _customer_key(config)
    return bool(kms and kms["Origin"] == "AWS_KMS" and config["key_rotation"]["enabled"])


def _template_comment(option: str) -> str:
    """The comment header of an option's CloudFormation template."""
    text = snippets(option=option, configuration=CONFIGURATIONS[option])["cloudformation"]
    return " ".join(line for line in text.splitlines() if line.startswith("#"))


@pytest.mark.parametrize("option", OPTIONS)
def test_snippets_come_as_cli_cloudformation_terraform(option: str) -> None:
    """Three snippets, in the documented order, each naming the option in its header."""
    result = snippets(option=option, configuration=CONFIGURATIONS[option])
    assert list(result) == ["aws-cli", "cloudformation", "terraform"]
    for text in result.values():
        assert text.startswith("# ")
        assert option in text.splitlines()[0]


@pytest.mark.parametrize("option", OPTIONS)
def test_cli_encryption_argument_is_the_configuration(option: str) -> None:
    """The put-bucket-encryption JSON equals ServerSideEncryptionConfiguration exactly."""
    config = CONFIGURATIONS[option]
    cli = snippets(option=option, configuration=config)["aws-cli"]
    assert "aws s3api put-bucket-encryption" in cli
    argument = _quoted(cli, "--server-side-encryption-configuration")
    assert argument == config["ServerSideEncryptionConfiguration"]


@pytest.mark.parametrize("option", OPTIONS)
def test_cli_lines_continue_with_backslashes(option: str) -> None:
    """Outside quoted JSON, every command line but a command's last ends with a backslash."""
    cli = snippets(option=option, configuration=CONFIGURATIONS[option])["aws-cli"]
    lines = cli.splitlines()
    for n, line in enumerate(lines[:-1]):
        if lines[n + 1].startswith("  --"):
            assert line.endswith(" \\"), line


@pytest.mark.parametrize("option", OPTIONS)
def test_cloudformation_bucket_encryption_matches_configuration(option: str) -> None:
    """The template parses as plain YAML; algorithm, key and bucket key follow the configuration."""
    config = CONFIGURATIONS[option]
    text = snippets(option=option, configuration=config)["cloudformation"]
    assert "!Ref" not in text and "!GetAtt" not in text and "!Sub" not in text
    assert "&id" not in text, "CloudFormation rejects YAML aliases"
    template = yaml.safe_load(text)
    (bucket,) = _resources(template, "AWS::S3::Bucket")
    rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert len(rules) == len(config["ServerSideEncryptionConfiguration"]["Rules"])
    rule, expected = rules[0], _rule(config)
    by_default = rule["ServerSideEncryptionByDefault"]
    wanted = expected["ApplyServerSideEncryptionByDefault"]
    assert by_default["SSEAlgorithm"] == wanted["SSEAlgorithm"]
    assert rule["BucketKeyEnabled"] == expected["BucketKeyEnabled"]
    assert rule["BlockedEncryptionTypes"] == expected["BlockedEncryptionTypes"]
    if "KMSMasterKeyID" not in wanted:
        assert "KMSMasterKeyID" not in by_default
        return
    key = by_default["KMSMasterKeyID"]
    if "Ref" in key:
        assert key["Ref"] in template["Parameters"]
    else:
        assert template["Resources"][key["Fn::GetAtt"][0]]["Type"] == "AWS::KMS::Key"


@pytest.mark.parametrize("option", OPTIONS)
def test_cloudformation_key_follows_kms_key_origin(option: str) -> None:
    """AWS_KMS: a rotating key; EXTERNAL: an imported-material key; custom stores: a parameter."""
    config = CONFIGURATIONS[option]
    template = yaml.safe_load(snippets(option=option, configuration=config)["cloudformation"])
    keys = _resources(template, "AWS::KMS::Key")
    kms = _customer_key(config)
    if kms is None:
        assert keys == []
    elif kms["Origin"] == "AWS_KMS":
        (key,) = keys
        assert key["Properties"]["EnableKeyRotation"] is config["key_rotation"]["enabled"]
        assert key["Properties"].get("Origin", "AWS_KMS") == "AWS_KMS"
    elif kms["Origin"] == "EXTERNAL":
        (key,) = keys
        assert key["Properties"]["Origin"] == "EXTERNAL"
        assert "EnableKeyRotation" not in key["Properties"]
        assert "RotationPeriodInDays" not in key["Properties"]
    else:
        assert keys == []
        assert "KmsKeyArn" in template["Parameters"]
        assert "custom key store" in _template_comment(option)


@pytest.mark.parametrize("option", OPTIONS)
def test_terraform_names_algorithm_bucket_key_and_blocked_types(option: str) -> None:
    """The Terraform rule carries sse_algorithm, bucket_key_enabled and blocked types."""
    config = CONFIGURATIONS[option]
    tf = snippets(option=option, configuration=config)["terraform"]
    rule = _rule(config)
    algorithm = rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
    assert re.search(rf'sse_algorithm\s+= "{re.escape(algorithm)}"', tf)
    assert re.search(rf"bucket_key_enabled\s+= {str(rule['BucketKeyEnabled']).lower()}\b", tf)
    blocked = json.dumps(rule["BlockedEncryptionTypes"]["EncryptionType"])
    assert re.search(rf"blocked_encryption_types\s+= {re.escape(blocked)}", tf)
    assert 'resource "aws_s3_bucket_server_side_encryption_configuration"' in tf
    assert tf.count("{") == tf.count("}")


@pytest.mark.parametrize("option", OPTIONS)
def test_bucket_policy_denies_what_the_configuration_forbids(option: str) -> None:
    """Insecure transport and writes without the required encryption are denied, in all three."""
    config = CONFIGURATIONS[option]
    result = snippets(option=option, configuration=config)
    policy = config["bucket_policy"]
    if not (policy["deny_insecure_transport"] or policy["deny_unencrypted_writes"]):
        assert "put-bucket-policy" not in result["aws-cli"]
        return
    statements = _quoted(result["aws-cli"], "--policy")["Statement"]
    template = yaml.safe_load(result["cloudformation"])
    (cfn_policy,) = _resources(template, "AWS::S3::BucketPolicy")
    assert len(cfn_policy["Properties"]["PolicyDocument"]["Statement"]) == len(statements)
    assert 'resource "aws_s3_bucket_policy"' in result["terraform"]
    conditions = [s["Condition"] for s in statements]
    transport = {"Bool": {"aws:SecureTransport": "false"}}
    assert (transport in conditions) is policy["deny_insecure_transport"]
    assert ('"aws:SecureTransport" = "false"' in result["terraform"]) is policy[
        "deny_insecure_transport"
    ]
    puts = [s for s in statements if s["Action"] == "s3:PutObject"]
    assert bool(puts) is policy["deny_unencrypted_writes"]
    header = policy["required_encryption_header"]
    if not puts:
        return
    if header == "SSE-C":
        (deny,) = puts
        assert deny["Condition"] == {
            "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "true"}
        }
        return
    assert {"StringNotEquals": {"s3:x-amz-server-side-encryption": header}} in conditions
    key_id = _rule(config)["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID")
    key_conditions = [
        c["StringNotEquals"]["s3:x-amz-server-side-encryption-aws-kms-key-id"]
        for c in conditions
        if "s3:x-amz-server-side-encryption-aws-kms-key-id" in c.get("StringNotEquals", {})
    ]
    assert key_conditions == ([key_id] if key_id else [])


def test_sse_c_recommendation_unblocks_sse_c_in_every_snippet() -> None:
    """An option whose rule unblocks SSE-C (EncryptionType NONE) says so in all three snippets."""
    unblocking = [
        oid
        for oid, config in CONFIGURATIONS.items()
        if _rule(config)["BlockedEncryptionTypes"]["EncryptionType"] == ["NONE"]
    ]
    assert unblocking, "the rule set should hold an SSE-C option"
    for option in unblocking:
        result = snippets(option=option, configuration=CONFIGURATIONS[option])
        argument = _quoted(result["aws-cli"], "--server-side-encryption-configuration")
        assert argument["Rules"][0]["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
        assert "unblocked" in result["aws-cli"]
        template = yaml.safe_load(result["cloudformation"])
        (bucket,) = _resources(template, "AWS::S3::Bucket")
        rule = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["BlockedEncryptionTypes"] == {"EncryptionType": ["NONE"]}
        assert 'blocked_encryption_types = ["NONE"]' in result["terraform"]


@pytest.mark.parametrize("option", OPTIONS)
def test_required_audit_trail_appears_in_all_three(option: str) -> None:
    """require_audit_trail: a logging multi-Region trail with management events, KMS included."""
    result = snippets(option=option, configuration=_config(option, require_audit_trail=True))
    cli = result["aws-cli"]
    assert re.search(r"aws cloudtrail create-trail \\\n(.*\\\n)*\s+--is-multi-region-trail", cli)
    assert _quoted(cli, "--event-selectors") == [
        {"ReadWriteType": "All", "IncludeManagementEvents": True}
    ]
    assert "aws cloudtrail start-logging" in cli
    template = yaml.safe_load(result["cloudformation"])
    (trail,) = _resources(template, "AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["IsLogging"] is True and props["IsMultiRegionTrail"] is True
    assert props["S3BucketName"] == {"Ref": "TrailLogBucket"}
    assert "TrailLogBucket" in template["Parameters"]
    assert [s["IncludeManagementEvents"] for s in props["EventSelectors"]] == [True]
    assert not any(s.get("ExcludeManagementEventSources") for s in props["EventSelectors"])
    tf = result["terraform"]
    assert 'resource "aws_cloudtrail" "key_use"' in tf
    assert re.search(r"is_multi_region_trail\s+= true", tf)
    assert re.search(r"include_management_events\s+= true", tf)
    for text in result.values():
        assert "ExcludeManagementEventSources" not in text
        assert "exclude_management_event_sources" not in text


@pytest.mark.parametrize("option", OPTIONS)
def test_no_trail_without_audit_requirement(option: str) -> None:
    """require_audit_trail false: no trail in any snippet."""
    result = snippets(option=option, configuration=_config(option, require_audit_trail=False))
    assert "cloudtrail" not in result["aws-cli"]
    assert _resources(yaml.safe_load(result["cloudformation"]), "AWS::CloudTrail::Trail") == []
    assert "aws_cloudtrail" not in result["terraform"]


@pytest.mark.parametrize("option", [o for o in OPTIONS if _auto_rotation(CONFIGURATIONS[o])])
def test_rotation_period_is_used(option: str) -> None:
    """key_rotation.period_days sets the rotation period in all three snippets."""
    rotation = CONFIGURATIONS[option]["key_rotation"] | {"period_days": 180}
    result = snippets(option=option, configuration=_config(option, key_rotation=rotation))
    assert re.search(
        r"aws kms enable-key-rotation \\\n.*\\\n\s+--rotation-period-in-days 180\n",
        result["aws-cli"],
    )
    (key,) = _resources(yaml.safe_load(result["cloudformation"]), "AWS::KMS::Key")
    assert key["Properties"]["RotationPeriodInDays"] == 180
    assert re.search(r"rotation_period_in_days\s+= 180\n", result["terraform"])


@pytest.mark.parametrize("option", [o for o in OPTIONS if _auto_rotation(CONFIGURATIONS[o])])
def test_rotation_period_defaults_to_365_days(option: str) -> None:
    """Without period_days the KMS default of 365 days is written."""
    rotation = {"enabled": True, "period_days": None}
    result = snippets(option=option, configuration=_config(option, key_rotation=rotation))
    assert "--rotation-period-in-days 365" in result["aws-cli"]


@pytest.mark.parametrize("option", [o for o in OPTIONS if _auto_rotation(CONFIGURATIONS[o])])
def test_rotation_period_range_becomes_a_bounded_input(option: str) -> None:
    """period_days_range: a CloudFormation parameter and a Terraform variable within the range."""
    rotation = CONFIGURATIONS[option]["key_rotation"] | {"period_days_range": [90, 2560]}
    result = snippets(option=option, configuration=_config(option, key_rotation=rotation))
    template = yaml.safe_load(result["cloudformation"])
    parameter = template["Parameters"]["RotationPeriodInDays"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == (90, 2560)
    assert parameter["Default"] == rotation["period_days"]
    (key,) = _resources(template, "AWS::KMS::Key")
    assert key["Properties"]["RotationPeriodInDays"] == {"Ref": "RotationPeriodInDays"}
    tf = result["terraform"]
    assert 'variable "rotation_period_in_days"' in tf
    assert ">= 90 && var.rotation_period_in_days <= 2560" in tf
    assert re.search(r"rotation_period_in_days\s+= var\.rotation_period_in_days", tf)
    assert "90 to 2560 days" in result["aws-cli"]


@pytest.mark.parametrize("option", [o for o in OPTIONS if _auto_rotation(CONFIGURATIONS[o])])
def test_on_demand_rotation_is_a_comment_line(option: str) -> None:
    """key_rotation.on_demand: rotate-key-on-demand appears as a comment, never run."""
    rotation = CONFIGURATIONS[option]["key_rotation"] | {"on_demand": True}
    result = snippets(option=option, configuration=_config(option, key_rotation=rotation))
    for text in result.values():
        lines = [ln for ln in text.splitlines() if "aws kms rotate-key-on-demand --key-id" in ln]
        assert lines and all(ln.startswith("# ") for ln in lines)
    plain = snippets(option=option, configuration=CONFIGURATIONS[option])["aws-cli"]
    assert "rotate-key-on-demand" not in plain


@pytest.mark.parametrize("option", [o for o in OPTIONS if not _auto_rotation(CONFIGURATIONS[o])])
def test_no_rotation_commands_where_automatic_rotation_does_not_apply(option: str) -> None:
    """Imported, custom-store, AWS managed and absent keys get no rotation settings."""
    result = snippets(option=option, configuration=CONFIGURATIONS[option])
    assert "enable-key-rotation" not in result["aws-cli"]
    assert "RotationPeriodInDays" not in result["cloudformation"]
    assert "EnableKeyRotation: true" not in result["cloudformation"]
    assert "rotation_period_in_days" not in result["terraform"]


@pytest.mark.parametrize("option", [o for o in OPTIONS if "client_side" in CONFIGURATIONS[o]])
def test_client_side_options_say_encryption_happens_in_the_application(option: str) -> None:
    """Client-side options name their library and say only the bucket default is configured."""
    library = CONFIGURATIONS[option]["client_side"]["library"]
    for text in snippets(option=option, configuration=CONFIGURATIONS[option]).values():
        comments = " ".join(ln[2:] for ln in text.splitlines() if ln.startswith("# "))
        assert "happens in your application" in comments
        assert library in comments
        assert "Only the bucket's default (server-side) encryption is configured here" in comments


@pytest.mark.parametrize("option", OPTIONS)
def test_snippets_are_deterministic_and_use_the_bucket_name(option: str) -> None:
    """Same input, same text; the bucket name given is the one written."""
    config = CONFIGURATIONS[option]
    first = snippets(option=option, configuration=config, bucket="example-logs.eu")
    assert first == snippets(
        option=option, configuration=copy.deepcopy(config), bucket="example-logs.eu"
    )
    assert "--bucket example-logs.eu" in first["aws-cli"]
    template = yaml.safe_load(first["cloudformation"])
    (bucket,) = _resources(template, "AWS::S3::Bucket")
    assert bucket["Properties"]["BucketName"] == "example-logs.eu"
    assert 'bucket = "example-logs.eu"' in first["terraform"]
    assert "amzn-s3-demo-bucket" not in "".join(first.values())


def test_configuration_is_not_modified() -> None:
    """snippets() reads the configuration; it never changes it."""
    for option, config in CONFIGURATIONS.items():
        before = copy.deepcopy(config)
        snippets(option=option, configuration=config)
        assert config == before


def test_engine_patches_reach_the_snippets(engine: Engine) -> None:
    """Audit at low volume: Bucket Keys off and a trail, straight from the engine's output."""
    result = engine.evaluate({"audit_key_usage": True, "request_volume": "low"})
    recommendation = result.data["recommendation"]
    config = recommendation["configuration"]
    assert config["require_audit_trail"] is True
    assert _rule(config)["BucketKeyEnabled"] is False
    out = snippets(option=recommendation["option"], configuration=config)
    assert (
        _quoted(out["aws-cli"], "--server-side-encryption-configuration")["Rules"][0][
            "BucketKeyEnabled"
        ]
        is False
    )
    assert re.search(r"bucket_key_enabled\s+= false", out["terraform"])
    template = yaml.safe_load(out["cloudformation"])
    assert _resources(template, "AWS::CloudTrail::Trail")
