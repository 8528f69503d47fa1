"""Where a probe looks: a named target (profile, role to assume, Region, endpoint).

The CLI builds one from its options; the web app only offers the targets an operator
configured in settings (`ATREST_PROBE_TARGETS`), never an endpoint typed into a form.
No credentials are ever part of a target: they come from the SDK's usual chain (environment,
profile, instance role), and a role is assumed from them.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


class Target(BaseModel):
    """A place to probe. All fields optional: the SDK's defaults fill what is left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="cli", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    label: str = Field(default="", max_length=200, description="Shown in the web app")
    endpoint_url: str | None = Field(default=None, description="A custom endpoint (moto)")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    profile: str | None = Field(default=None, max_length=128)
    role_arn: str | None = Field(default=None, description="A role to assume, read-only")
    external_id: str | None = Field(default=None, max_length=1224)
    buckets: tuple[str, ...] | None = Field(
        default=None, description="Only these buckets (default: every bucket listed)"
    )

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
            raise ValueError(f"endpoint_url must be an http(s) URL, got {url!r}")
        return url

    @field_validator("role_arn")
    @classmethod
    def _role(cls, arn: str | None) -> str | None:
        if arn is not None and not ROLE_ARN.match(arn):
            raise ValueError(f"role_arn must be an IAM role ARN, got {arn!r}")
        return arn

    @property
    def title(self) -> str:
        """What the web app shows: the label, else the name."""
        return self.label or self.name

    def public(self) -> dict[str, str | None]:
        """The probe JSON's view of the target (no credentials exist to leave out)."""
        return {"endpoint_url": self.endpoint_url, "region": self.region}
