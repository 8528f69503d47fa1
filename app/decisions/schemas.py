"""Pydantic models of the decisions API: what it accepts and what it returns."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

Status = Literal["draft", "proposed", "approved", "rejected", "superseded"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
#: Text of one line: no control character (line breaks, tabs, NUL, DEL, C1 controls).
NO_CONTROL = r"^[^\x00-\x1f\x7f-\x9f]*$"
BucketName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")]


def refuse_nul(value: Any) -> Any:
    """Refuse text holding a NUL character anywhere (PostgreSQL cannot store it)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    if isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key)
            refuse_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            refuse_nul(item)
    return value


#: A query-string text that may be stored or searched for (no NUL character).
QueryText = Annotated[str, BeforeValidator(refuse_nul)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, and so is text holding a NUL."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return refuse_nul(value)


class Scope(Input):
    """What a decision covers: AWS accounts, bucket names and tags."""

    accounts: list[AccountId] = Field(default_factory=list, max_length=1000)
    # Accounts outside whose principals read the objects: the configuration grants them.
    reader_accounts: list[AccountId] = Field(default_factory=list, max_length=100)
    buckets: list[BucketName] = Field(default_factory=list, max_length=10000)
    # AWS tag keys and values: up to 128 and 256 characters, no line breaks or other control
    # characters (so that the details form's one tag per line reads back what it showed).
    tags: dict[
        Annotated[
            str,
            StringConstraints(
                strip_whitespace=True, min_length=1, max_length=128, pattern=NO_CONTROL
            ),
        ],
        Annotated[
            str, StringConstraints(strip_whitespace=True, max_length=256, pattern=NO_CONTROL)
        ],
    ] = Field(default_factory=dict)


class DecisionCreate(Input):
    """A new decision with its first answers (POST /api/decisions)."""

    title: Title
    description: Annotated[str, StringConstraints(max_length=20000)] | None = None
    scope: Scope = Field(default_factory=Scope)
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    answers: dict[str, Any] = Field(default_factory=dict)


class DecisionPatch(Input):
    """A change to a decision (PATCH /api/decisions/{id}); new answers make a new version."""

    title: Title | None = None
    description: Annotated[str, StringConstraints(max_length=20000)] | None = None
    scope: Scope | None = None
    owner: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    status: Status | None = None
    answers: dict[str, Any] | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None
    revision: int | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="the decision's revision this edit is based on; a stale one gets 409",
    )


class TicketIn(Input):
    """A ticket URL to link (POST /api/decisions/{id}/tickets)."""

    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2048)]


class Output(BaseModel):
    """Base of response bodies, read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class TicketOut(Output):
    """A linked ticket with the system and key recognised from its URL."""

    id: int
    url: str
    system: str
    key: str
    created_at: dt.datetime


class VersionOut(Output):
    """One saved version of a decision's answers and its result then."""

    number: int
    answers: dict[str, Any]
    ruleset_version: str
    ruleset_sha256: str
    option: str | None
    note: str | None
    created_at: dt.datetime


class VersionDetail(VersionOut):
    """A version with its full result snapshot."""

    result: dict[str, Any]


class DecisionSummary(Output):
    """A decision in a list."""

    id: int
    title: str
    status: str
    owner: str | None
    current_version: int
    current_option: str | None
    revision: int = Field(description="send it back as `revision` with an edit (PATCH)")
    updated_at: dt.datetime
    tickets: list[TicketOut]


class DecisionOut(DecisionSummary):
    """A decision with its current answers and result (GET /api/decisions/{id})."""

    description: str | None
    scope: dict[str, Any]
    draft_answers: dict[str, Any]
    created_at: dt.datetime
    current: VersionDetail | None


class ApprovalIn(Input):
    """One approval step (POST /api/decisions/{id}/approvals)."""

    action: Literal["propose", "approve", "reject"]
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] | None = None
    # What the step was decided on (optional): when given and the decision has moved on since,
    # the step is refused with 409 instead of applying to a version nobody looked at.
    version: Annotated[int, Field(ge=1)] | None = None
    revision: Annotated[int, Field(ge=1)] | None = None


class ApprovalOut(BaseModel):
    """An approval step as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    action: str
    actor: str
    proposed_by: str | None = None
    comment: str | None
    ruleset_version: str
    ruleset_sha256: str
    created_at: dt.datetime
