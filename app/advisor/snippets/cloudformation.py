"""The CloudFormation snippet: a YAML template with long-form intrinsic functions (pure)."""

from __future__ import annotations

from typing import Any

import yaml

from app.advisor.snippets.common import (
    _comment,
    _is_account,
    _Key,
    _key_source,
    _notes,
    _reader_key_comment,
    _reader_key_statement,
    _readers,
    _rules,
    _statements,
)


class _NoAliasDumper(yaml.SafeDumper):
    """A safe dumper that repeats shared values: CloudFormation rejects YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _cloudformation(option: str, configuration: dict[str, Any], bucket: str, key: _Key) -> str:
    source = _key_source(configuration, key)
    key_arn: Any = {
        "literal": key.literal,
        "resource": {"Fn::GetAtt": ["EncryptionKey", "Arn"]},
        "parameter": {"Ref": "KmsKeyArn"},
    }.get(source or "")
    parameters: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    if source == "parameter":
        parameters["KmsKeyArn"] = {"Type": "String", "Description": "ARN of the KMS key to use"}
    accounts = _readers(configuration)
    readers: Any = None
    if accounts and all(_is_account(a) for a in accounts):
        readers = accounts
    elif accounts:
        parameters["ReaderAccountIds"] = {
            "Type": "CommaDelimitedList",
            "Description": "Ids of the AWS accounts that read the objects",
            "AllowedPattern": "^[0-9]{12}$",
        }
        readers = {"Ref": "ReaderAccountIds"}
    if key.created:
        props: dict[str, Any] = {
            "Description": f"S3 encryption key for bucket {bucket}",
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "EnableAccountAdministration",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
        }
        if readers is not None:
            via = {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}
            props["KeyPolicy"]["Statement"].append(_reader_key_statement(readers, via_service=via))
        if key.origin == "EXTERNAL":
            props["Origin"] = "EXTERNAL"
        if key.auto_rotation:
            props["EnableKeyRotation"] = True
            props["RotationPeriodInDays"] = key.period
            if key.period_range:
                parameters["RotationPeriodInDays"] = {
                    "Type": "Number",
                    "Default": key.period,
                    "MinValue": key.period_range[0],
                    "MaxValue": key.period_range[1],
                    "Description": "Days between automatic rotations of the KMS key",
                }
                props["RotationPeriodInDays"] = {"Ref": "RotationPeriodInDays"}
        resources["EncryptionKey"] = {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": props,
        }
        outputs["KmsKeyArn"] = {"Value": {"Fn::GetAtt": ["EncryptionKey", "Arn"]}}
    rules = []
    for rule in _rules(configuration):
        out: dict[str, Any] = {}
        for name, value in rule.items():
            if name == "ApplyServerSideEncryptionByDefault":
                by_default = dict(value)
                if "KMSMasterKeyID" in by_default:
                    by_default["KMSMasterKeyID"] = key_arn
                out["ServerSideEncryptionByDefault"] = by_default
            else:
                out[name] = value
        rules.append(out)
    resources["Bucket"] = {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": bucket,
            "BucketEncryption": {"ServerSideEncryptionConfiguration": rules},
        },
    }
    statements = _statements(
        configuration,
        bucket_arn={"Fn::GetAtt": ["Bucket", "Arn"]},
        objects_arn={"Fn::Sub": "${Bucket.Arn}/*"},
        key_arn=key_arn,
        readers=readers,
    )
    if statements:
        resources["BucketPolicy"] = {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            },
        }
    if configuration.get("require_audit_trail"):
        parameters["TrailLogBucket"] = {
            "Type": "String",
            "Description": "Existing bucket that receives the CloudTrail logs",
        }
        resources["KeyUseTrail"] = {
            "Type": "AWS::CloudTrail::Trail",
            "Properties": {
                "TrailName": f"{bucket}-key-use",
                "S3BucketName": {"Ref": "TrailLogBucket"},
                "IsLogging": True,
                "IsMultiRegionTrail": True,
                "IncludeGlobalServiceEvents": True,
                "EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}],
            },
        }
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"atrest: bucket {bucket} encrypted as option {option}",
    }
    if parameters:
        template["Parameters"] = parameters
    template["Resources"] = resources
    if outputs:
        template["Outputs"] = outputs
    header = _comment(
        [
            f"atrest: deploy option {option} with CloudFormation.",
            "Generated from the recommendation's configuration.",
            *_notes(configuration, key),
        ]
    )
    if readers is not None and key.customer and not key.created:
        header += _reader_key_comment(accounts, "s3.<your bucket's Region>.amazonaws.com")
    body = yaml.dump(
        template, Dumper=_NoAliasDumper, sort_keys=False, default_flow_style=False, width=1000
    )
    return "\n".join(header) + "\n" + body
