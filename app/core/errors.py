"""Domain exceptions, raised by services and mapped to responses in one place (main.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One refused input: where it is (a path of field names), the value, and why; `where`
    is the part of the request that held it (body, query or path)."""

    loc: tuple[str | int, ...]
    value: Any
    message: str
    where: str = "body"


class DomainError(Exception):
    """Base of the errors a service raises; `status` is the HTTP status it maps to."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def brief(self) -> str:
        """The message as a form shows it beside the fields."""
        return self.message


class NotFound(DomainError):
    """The decision, version or ticket link asked for does not exist."""

    status = 404


class Conflict(DomainError):
    """The request contradicts the stored state (a duplicate, a stale edit)."""

    status = 409


class Invalid(DomainError):
    """Input that passed the schema but that the domain refuses, naming each field."""

    status = 422

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{'.'.join(map(str, p.loc))}: {p.message}" for p in problems))

    @property
    def brief(self) -> str:
        """Each refused field by its own name, then why: "password must be at least ..."."""
        return "; ".join(f"{p.loc[-1]} {p.message}" for p in self.problems)


class NotSignedIn(DomainError):
    """The route needs an account and the request carries none (pages redirect to sign-in)."""

    status = 401


class Forbidden(DomainError):
    """The account's role does not allow this, or a state-changing request failed CSRF."""

    status = 403


class Unavailable(DomainError):
    """The database cannot be reached (or does not answer in time): try again shortly."""

    status = 503
