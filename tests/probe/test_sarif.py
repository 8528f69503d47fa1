"""`probe_sarif`: the probe report as SARIF 2.1.0 (pure, no network, no schema download)."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema

from app.probe.checks import CHECK_IDS
from app.probe.render import probe_sarif


def finding(check: str, status: str, severity: str = "high") -> dict[str, Any]:
    return {
        "check": check,
        "status": status,
        "severity": severity,
        "expected": f"{check}-expected",
        "actual": f"{check}-actual",
        "message": f"{check} is {status}.",
        "remediation": f"Repair {check}.",
    }


def make_report() -> dict[str, Any]:
    return {
        "expected": {"option": "sse-kms-cmk", "configuration": {"bucket_key": True}},
        "target": {"endpoint_url": None, "region": "eu-west-1", "account": "123456789012"},
        "buckets": [
            {
                "bucket": "alpha",
                "region": "eu-west-1",
                "status": "fail",
                "findings": [
                    finding("default-encryption", "fail"),
                    finding("tls-only", "warn", "medium"),
                    finding("bucket-key", "pass", "low"),
                ],
            },
            {
                "bucket": "beta",
                "region": "us-east-1",
                "status": "error",
                "findings": [
                    finding("kms-key-state", "unknown"),
                    finding("encryption-enforced", "error"),
                    finding("kms-key-rotation", "not-applicable", "low"),
                ],
            },
        ],
        "summary": {"buckets": 2, "pass": 0, "fail": 1, "unknown": 0, "error": 1, "warn": 0},
    }


def results(sarif: dict[str, Any]) -> list[dict[str, Any]]:
    return list(sarif["runs"][0]["results"])


def test_header_and_single_run_with_driver() -> None:
    sarif = probe_sarif(make_report())
    assert sarif["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert sarif["version"] == "2.1.0"
    assert len(sarif["runs"]) == 1
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["name"] == "atrest"
    assert "informationUri" not in driver


def test_levels_mapped_and_passes_left_out() -> None:
    got = {
        (r["ruleId"], r["level"], r["properties"]["status"])
        for r in results(probe_sarif(make_report()))
    }
    assert got == {
        ("default-encryption", "error", "fail"),
        ("tls-only", "warning", "warn"),
        ("kms-key-state", "note", "unknown"),
        ("encryption-enforced", "error", "error"),
    }


def test_rules_are_every_check_id_in_contract_order_and_indexes_match() -> None:
    # Every check id, so a streamed log knows each result's ruleIndex before the buckets.
    sarif = probe_sarif(make_report())
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert ids == list(CHECK_IDS)
    for rule in rules:
        assert rule["shortDescription"]["text"] == rule["id"]
    for r in results(sarif):
        assert ids[r["ruleIndex"]] == r["ruleId"]


def test_locations_carry_bucket_arn_and_properties() -> None:
    by_rule = {r["ruleId"]: r for r in results(probe_sarif(make_report()))}
    enforced = by_rule["encryption-enforced"]
    assert enforced["locations"] == [
        {
            "logicalLocations": [
                {"name": "beta", "fullyQualifiedName": "arn:aws:s3:::beta", "kind": "resource"}
            ]
        }
    ]
    assert enforced["properties"] == {
        "bucket": "beta",
        "region": "us-east-1",
        "expected": "encryption-enforced-expected",
        "actual": "encryption-enforced-actual",
        "severity": "high",
        "status": "error",
    }
    assert enforced["message"]["text"] == (
        "encryption-enforced is error. Fix: Repair encryption-enforced."
    )
    assert (
        by_rule["default-encryption"]["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
        == "arn:aws:s3:::alpha"
    )


def test_run_properties_carry_expected_target_summary() -> None:
    report = make_report()
    props = probe_sarif(report)["runs"][0]["properties"]
    assert props == {
        "expected_option": "sse-kms-cmk",
        "target": report["target"],
        "summary": report["summary"],
    }


def test_valid_json_deterministic_and_input_untouched() -> None:
    report = make_report()
    before = copy.deepcopy(report)
    first = json.dumps(probe_sarif(report), indent=2)
    second = json.dumps(probe_sarif(report), indent=2)
    assert first == second
    assert json.loads(first) == probe_sarif(make_report())
    assert report == before


def test_no_findings_to_report_gives_empty_results() -> None:
    report = make_report()
    for b in report["buckets"]:
        b["findings"] = [f for f in b["findings"] if f["status"] in ("pass", "not-applicable")]
    sarif = probe_sarif(report)
    assert results(sarif) == []


# A minimal, hand-written structural subset of SARIF 2.1.0 (no schema is downloaded).
MINIMAL_SARIF = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                    }
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "level"],
                            "properties": {
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": {"type": "string"}},
                                },
                                "locations": {"type": "array"},
                            },
                        },
                    },
                },
            },
        },
    },
}


def test_minimal_structural_schema() -> None:
    jsonschema.validate(probe_sarif(make_report()), MINIMAL_SARIF)
