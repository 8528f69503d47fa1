"""Remediation snippets (AWS CLI, Terraform) for one probe finding (pure: no AWS calls).

A finding that needs action gets commands aimed at its own bucket, Region and KMS key. Where
the recommendation's deploy snippets (app.advisor.snippets) already say how (default
encryption, a new key, rotation, the bucket policy, the key-use trail), they are rendered for
the configuration cut down to the part at fault, and only the sections that fix the finding
are kept. What the deploy snippets never do (bring an existing key back into use, adopt an
existing key in Terraform, re-encrypt objects) is written here with the same helpers.

In Terraform the bucket is read with `data "aws_s3_bucket"`, never managed: a remediation
must not take ownership of a bucket that exists already.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.advisor.snippets import TERRAFORM_AWS_PROVIDER
from app.advisor.snippets.cli import _bare, _cli, _command
from app.advisor.snippets.common import (
    _comment,
    _is_placeholder,
    _Key,
    _key,
    _key_source,
    _notes,
    _sq,
)
from app.advisor.snippets.hcl import _blk, _Block, _hcl_block, _Raw
from app.advisor.snippets.terraform import _terraform
from app.probe.checks.context import _Expected

__all__ = ["ACTIONABLE_STATUSES", "remediation_snippets"]

#: The finding statuses a snippet fixes. `pass` and `not-applicable` need nothing; `unknown`
#: is fixed on the probe's own identity (the finding names the missing read permission and
#: `atrest probe --print-iam-policy` prints them all); `error` is a missing bucket or an
#: endpoint fault, which no configuration change mends.
ACTIONABLE_STATUSES = frozenset({"fail", "warn"})

Snippets = dict[str, str]

_ABOUT = {
    "default-encryption": "Sets the bucket's default encryption as the option expects, replacing "
    "its whole default encryption configuration.",
    "bucket-key": "Sets BucketKeyEnabled as the option expects, with the rest of the default "
    "encryption (the whole configuration is replaced).",
    "sse-c-blocked": "Sets BlockedEncryptionTypes as the option expects, with the rest of the "
    "default encryption (the whole configuration is replaced).",
    "kms-key-manager": "Points the bucket's default encryption at a key of the kind the option "
    "expects.",
    "kms-key-origin": "Points the bucket's default encryption at a key with the origin the "
    "option expects.",
    "kms-key-state": "Makes the bucket's KMS key usable again: until then S3 can neither "
    "encrypt nor decrypt with it.",
    "kms-key-rotation": "Turns on automatic rotation of the bucket's KMS key, with the period "
    "the option expects.",
    "encryption-enforced": "Sets the bucket policy the option expects; its DenyWrites... "
    "statements deny writes without the expected encryption.",
    "tls-only": "Sets the bucket policy the option expects; its DenyInsecureTransport statement "
    "denies requests made without TLS.",
    "audit-trail": "Creates the trail that records every use of the key.",
    "object-sample": "Re-encrypts the existing objects: default encryption only applies to "
    "objects written after it is set.",
}

_CREATE_AND_ENCRYPT = (
    "aws kms create-key",
    "aws kms enable-key-rotation",
    "aws s3api put-bucket-encryption",
)
_ENCRYPTION_RESOURCE = ("aws_s3_bucket_server_side_encryption_configuration",)
_KEY_ARN_PLACEHOLDER = "<your key ARN>"

# A command's first line in a CLI section: `aws SERVICE OPERATION`, continued or not.
_COMMAND_HEAD = re.compile(r"^(aws [a-z0-9]+ [a-z0-9-]+)( \\)?$", re.MULTILINE)
# Top-level Terraform blocks: a blank line, then a line that starts a block, not a comment.
_TOP_LEVEL = re.compile(r"\n\n(?=[^\s}#])")
_BLOCK_HEADER = re.compile(r'^(resource|data|variable|output) "([^"]+)"(?: "([^"]+)")?')
_PLACEHOLDER = re.compile(r"<[a-z][A-Za-z ]*>")


@dataclass(frozen=True)
class _Fix:
    """One finding to fix: the check, the bucket it failed on and what the option expects."""

    check: str
    bucket: str
    region: str | None
    option: str
    configuration: Mapping[str, Any]
    key_arn: str | None
    actual: str | None


def remediation_snippets(
    check: str,
    status: str,
    *,
    bucket: str,
    region: str | None,
    option: str,
    configuration: Mapping[str, Any],
    key_arn: str | None = None,
    actual: str | None = None,
) -> dict[str, str]:
    """AWS CLI and Terraform that fix one finding on one bucket.

    Args:
        check: The finding's check id (CONTRACT.md).
        status: The finding's status; only `fail` and `warn` get snippets.
        bucket: The bucket's real name, written into every snippet.
        region: The bucket's Region: `--region` on each command and the Terraform provider's
            region; None leaves both to the caller's defaults.
        option: The expected option id, named in the snippets' headers.
        configuration: The option's `configuration` (rules/options.yaml after configure.yaml).
        key_arn: The ARN of the bucket's customer managed KMS key as the probe found it; it
            replaces the `<your key ARN>` placeholder. None (or an `alias/aws/...` reference)
            keeps the placeholder.
        actual: The finding's `actual`; kms-key-state reads the key state from it
            (Disabled, PendingDeletion, PendingImport, Unavailable).

    Returns:
        {"aws-cli": ..., "terraform": ...}: shell commands and Terraform configuration, each
        opening with comment lines that say what it changes. object-sample has no Terraform
        (objects are not Terraform resources). Empty when the status needs no change or no
        snippet can fix it (see ACTIONABLE_STATUSES; a key state nothing but waiting mends).
    """
    build = _BUILDERS.get(check)
    if status not in ACTIONABLE_STATUSES or build is None:
        return {}
    usable_key = key_arn if key_arn and "alias/aws/" not in key_arn else None
    return build(_Fix(check, bucket, region, option, configuration, usable_key, actual))


def _cut(fix: _Fix, *parts: str, bucket_key: bool = True) -> dict[str, Any]:
    """The configuration cut down to its ServerSideEncryptionConfiguration and `parts`.

    With `bucket_key`, a placeholder KMSMasterKeyID becomes the bucket's own key.
    """
    derived: dict[str, Any] = {
        name: copy.deepcopy(fix.configuration[name])
        for name in ("ServerSideEncryptionConfiguration", *parts)
        if fix.configuration.get(name)
    }
    if bucket_key and fix.key_arn:
        for rule in derived["ServerSideEncryptionConfiguration"]["Rules"]:
            by_default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if _is_placeholder(by_default.get("KMSMasterKeyID")):
                by_default["KMSMasterKeyID"] = fix.key_arn
    return derived


def _recommended(
    fix: _Fix,
    derived: dict[str, Any],
    *,
    commands: tuple[str, ...],
    resources: tuple[str, ...],
    notes: tuple[str, ...] = (),
) -> Snippets:
    """The recommendation's snippets for `derived`, kept to the commands and resources named."""
    key = _key(derived)
    about = [*_notes(derived, key), *notes]
    sections = _sections(_cli(fix.option, derived, fix.bucket, key), commands)
    if not sections:
        return {}
    blocks = _blocks(_terraform(fix.option, derived, fix.bucket, key))
    return {
        "aws-cli": _cli_text(fix, about, sections),
        "terraform": _terraform_text(fix, about, _keep(blocks, resources)),
    }


def _encryption(fix: _Fix) -> Snippets:
    """default-encryption, bucket-key, sse-c-blocked: put the expected default encryption."""
    # Only a bucket with no usable key of its own gets the recommendation's new key.
    new_key = fix.check == "default-encryption" and fix.key_arn is None
    parts = ("client_side", "kms_key", "key_rotation") if new_key else ("client_side",)
    return _recommended(
        fix, _cut(fix, *parts), commands=_CREATE_AND_ENCRYPT, resources=_ENCRYPTION_RESOURCE
    )


def _new_key(fix: _Fix) -> Snippets:
    """kms-key-manager, kms-key-origin: the bucket's key is the wrong kind; use a right one."""
    if not _Expected.parse(fix.configuration, fix.option).uses_kms:
        return {}  # the check cannot fail: a client-side wrapping key is the application's
    derived = _cut(fix, "client_side", "kms_key", "key_rotation", bucket_key=False)
    return _recommended(fix, derived, commands=_CREATE_AND_ENCRYPT, resources=_ENCRYPTION_RESOURCE)


def _policy(fix: _Fix) -> Snippets:
    """encryption-enforced, tls-only: the bucket policy the option expects, for this bucket."""
    merge = (
        "put-bucket-policy, like aws_s3_bucket_policy, replaces the bucket's whole policy: merge "
        "these statements with the statements it has now (aws s3api get-bucket-policy --bucket "
        f"{fix.bucket}) and keep those you need."
    )
    return _recommended(
        fix,
        _cut(fix, "bucket_policy"),
        commands=("aws s3api put-bucket-policy",),
        resources=("aws_s3_bucket_policy",),
        notes=(merge,),
    )


def _trail(fix: _Fix) -> Snippets:
    """audit-trail: the recommendation's key-use trail."""
    repair = (
        "Or repair an existing trail instead: aws cloudtrail start-logging, update-trail "
        "--is-multi-region-trail, and put-event-selectors without kms.amazonaws.com in "
        "ExcludeManagementEventSources."
    )
    return _recommended(
        fix,
        _cut(fix) | {"require_audit_trail": True},
        commands=("aws cloudtrail",),
        resources=("aws_cloudtrail",),
        notes=(repair,),
    )


def _rotation(fix: _Fix) -> Snippets:
    """kms-key-rotation: the recommendation's rotation command, on the bucket's key."""
    derived = _cut(fix, "kms_key", "key_rotation")
    out = _recommended(fix, derived, commands=("aws kms enable-key-rotation",), resources=())
    if out:
        key = _key(derived)
        out["terraform"] = _terraform_text(fix, _notes(derived, key), _existing_key(fix, key))
    return out


# Per key state: comment lines and commands (arguments split at " --"); {key} is the key ARN.
_STATE_STEPS: dict[str, tuple[str, ...]] = {
    "Disabled": ("# Enable the key.", "aws kms enable-key --key-id {key}"),
    "PendingDeletion": (
        "# Cancel the scheduled deletion; the key is then Disabled.",
        "aws kms cancel-key-deletion --key-id {key}",
        "# Enable the key.",
        "aws kms enable-key --key-id {key}",
    ),
    "PendingImport": (
        "# Get a wrapping public key and an import token; save both, base64-decoded, to files.",
        "aws kms get-parameters-for-import --key-id {key} --wrapping-algorithm RSAES_OAEP_SHA_256"
        " --wrapping-key-spec RSA_4096",
        "# Import the same key material again (KMS accepts no other), wrapped with that key.",
        "aws kms import-key-material --key-id {key} --encrypted-key-material"
        " fileb://EncryptedKeyMaterial.bin --import-token fileb://ImportToken.bin"
        " --expiration-model KEY_MATERIAL_DOES_NOT_EXPIRE",
    ),
    "Unavailable": (
        "# Reconnect the custom key store that holds the key.",
        "aws kms connect-custom-key-store --custom-key-store-id '<your key store id>'",
    ),
}


def _key_state(fix: _Fix) -> Snippets:
    """kms-key-state: bring the key back into use, as its state allows."""
    state = fix.actual or "Disabled"
    if state not in _STATE_STEPS:
        return {}
    quoted = _sq(fix.key_arn or _KEY_ARN_PLACEHOLDER)
    steps = [
        [line] if line.startswith("#") else _command(*re.split(" (?=--)", line.format(key=quoted)))
        for line in _STATE_STEPS[state]
    ]
    sections = ["\n".join(steps[n] + steps[n + 1]) for n in range(0, len(steps), 2)]
    notes = []
    if not fix.actual:
        notes.append(
            "The key state was not given: if it is PendingDeletion, cancel its deletion first."
        )
    out = {"aws-cli": _cli_text(fix, notes, sections)}
    if state in ("Disabled", "PendingDeletion"):
        if state == "PendingDeletion":
            notes.append("Terraform cannot cancel a scheduled deletion: run the AWS CLI first.")
        key = _key(_cut(fix, "kms_key", "key_rotation"))
        out["terraform"] = _terraform_text(fix, notes, _existing_key(fix, key))
    return out


def _existing_key(fix: _Fix, key: _Key) -> list[str]:
    """Terraform that adopts the bucket's key (an import block) and sets what it must be."""
    kind = "aws_kms_external_key" if key.origin == "EXTERNAL" else "aws_kms_key"
    body: list[Any] = [
        "Copy the key's other arguments here (description, policy, multi_region, custom key",
        "store ...) so that the plan changes nothing else; prevent_destroy stops a replacement.",
        ("enabled" if kind == "aws_kms_external_key" else "is_enabled", True),
    ]
    if key.auto_rotation:
        body += [("enable_key_rotation", True), ("rotation_period_in_days", key.period)]
    body.append(_blk("lifecycle", ("prevent_destroy", True)))
    key_id = (fix.key_arn or "<your key id>").rsplit(":key/", 1)[-1]
    adopt = _blk("import", ("to", _Raw(f"{kind}.this")), ("id", key_id))
    return [_hcl_block(adopt), _hcl_block(_Block(f'resource "{kind}" "this"', tuple(body)))]


def _objects(fix: _Fix) -> Snippets:
    """object-sample: copy the objects onto themselves with the expected encryption."""
    expected = _Expected.parse(fix.configuration, fix.option)
    if expected.client_side or expected.sse_c:
        return {}  # only the application holds the keys to rewrite these objects
    derived = _cut(fix)
    key = _key(derived)
    key_id = key.literal or key.placeholder if _key_source(derived, key) else None
    b = _bare(fix.bucket)
    if expected.algorithm == "aws:kms:dsse":
        why = "aws s3 cp does not take aws:kms:dsse: copy each object onto itself with s3api."
        parts = [
            "aws s3api copy-object",
            f"--bucket {b}",
            "--key '<object key>'",
            f"--copy-source {_sq(fix.bucket + '/<object key>')}",
            "--server-side-encryption aws:kms:dsse",
        ]
        key_flag = "--ssekms-key-id"
    else:
        why = "Copy every object onto itself with the expected encryption."
        parts = ["aws s3 cp", f"s3://{b}/", f"s3://{b}/", "--recursive"]
        parts.append(f"--sse {expected.algorithm}")
        key_flag = "--sse-kms-key-id"
    if key_id:
        parts.append(f"{key_flag} {_sq(key_id)}")
    notes = [
        "Each copy is a new object: a versioned bucket keeps the old version, with its old "
        "encryption, until it expires. Copies take the STANDARD storage class unless you add "
        "--storage-class; objects in archive classes must be restored first.",
        "For a large bucket, use S3 Batch Operations (the Copy operation, over an S3 Inventory "
        "report) instead.",
    ]
    if expected.algorithm == "aws:kms":
        notes.append(
            "SSE-S3 objects can also move to SSE-KMS in place, without a copy, with "
            "UpdateObjectEncryption."
        )
    return {"aws-cli": _cli_text(fix, notes, ["\n".join([f"# {why}", *_command(*parts)])])}


def _sections(text: str, commands: tuple[str, ...]) -> list[str]:
    """The sections of a deploy snippet's CLI text that run one of `commands`."""
    _, *sections = text.strip("\n").split("\n\n")
    return [s for s in sections if any(command in s for command in commands)]


def _with_region(section: str, region: str | None) -> str:
    """A CLI section with `--region` after each command's operation name."""
    if not region:
        return section
    flag = f"--region {_bare(region)}"
    return _COMMAND_HEAD.sub(lambda m: f"{m[1]} \\\n  {flag}" + (" \\" if m[2] else ""), section)


def _header(fix: _Fix, notes: list[str], body: str) -> str:
    """The comment lines that open a snippet: what it fixes, where, and its notes."""
    lines = [
        f"atrest: fix {fix.check} on bucket {fix.bucket} (option {fix.option}).",
        _ABOUT[fix.check],
    ]
    if _PLACEHOLDER.search(body):
        lines.append("Replace each <placeholder> first.")
    return "\n".join(_comment([*lines, *notes]))


def _cli_text(fix: _Fix, notes: list[str], sections: list[str]) -> str:
    """A CLI snippet: its header, then the sections, each command with the bucket's Region."""
    body = "\n\n".join(_with_region(s, fix.region) for s in sections) + "\n"
    return _header(fix, notes, body) + "\n\n" + body


def _terraform_text(fix: _Fix, notes: list[str], blocks: list[str]) -> str:
    """A Terraform snippet: its header, the provider requirements, then the blocks."""
    provider = {"source": "hashicorp/aws", "version": TERRAFORM_AWS_PROVIDER}
    head = [_hcl_block(_blk("terraform", _blk("required_providers", ("aws", provider))))]
    if fix.region:
        head.append(_hcl_block(_blk('provider "aws"', ("region", fix.region))))
    body = "\n".join([*head, *(block.rstrip("\n") + "\n" for block in blocks)])
    return _header(fix, notes, body) + "\n\n" + body


def _blocks(text: str) -> list[str]:
    """A deploy snippet's Terraform blocks, its bucket read as a data source, not managed."""
    blocks = _TOP_LEVEL.split(text.strip("\n"))
    return [
        re.sub(r"(?<![\w.])aws_s3_bucket\.this\b", "data.aws_s3_bucket.this", block).replace(
            'resource "aws_s3_bucket" "this"', 'data "aws_s3_bucket" "this"', 1
        )
        for block in blocks
        if not block.startswith(("#", "terraform"))
    ]


def _address(block: str) -> str | None:
    """How other blocks refer to this one (`type.name`, `data.type.name`, `var.name`)."""
    match = _BLOCK_HEADER.match(block)
    if match is None:
        return None
    kind, first, second = match.groups()
    return {"resource": f"{first}.{second}", "data": f"data.{first}.{second}"}.get(
        kind, f"var.{first}" if kind == "variable" else None
    )


def _refers(block: str, address: str) -> bool:
    """True when the block's body mentions the address."""
    _, _, body = block.partition("\n")
    return re.search(rf"(?<![\w.]){re.escape(address)}\b", body) is not None


def _keep(blocks: list[str], resources: tuple[str, ...]) -> list[str]:
    """The blocks of the resource types named, and every block they refer to, in order.

    Outputs are kept when they show a kept block.
    """
    kept = [
        b
        for b in blocks
        if (m := _BLOCK_HEADER.match(b)) and m[1] == "resource" and m[2] in resources
    ]
    while more := [b for b in blocks if b not in kept and _needed(b, kept)]:
        kept += more
    return [b for b in blocks if b in kept]


def _needed(block: str, kept: list[str]) -> bool:
    """Whether a kept block refers to this one (or, for an output, it to a kept block)."""
    address = _address(block)
    if address is None:
        return block.startswith("output") and any(
            _refers(block, a) for a in map(_address, kept) if a
        )
    return any(_refers(other, address) for other in kept)


_BUILDERS: dict[str, Callable[[_Fix], Snippets]] = {
    "default-encryption": _encryption,
    "kms-key-manager": _new_key,
    "kms-key-origin": _new_key,
    "kms-key-state": _key_state,
    "kms-key-rotation": _rotation,
    "bucket-key": _encryption,
    "sse-c-blocked": _encryption,
    "encryption-enforced": _policy,
    "tls-only": _policy,
    "audit-trail": _trail,
    "object-sample": _objects,
}
