"""What a decision's scope adds to its recommendation: the accounts that read the objects.

The advisor's configuration names reader accounts by a placeholder (`<reader account id>`):
it knows that other accounts read, not which. A decision's scope may list them
(`scope.reader_accounts`); its page, snippets and ticket then grant exactly those (pure).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

READERS_KEY = "cross_account_readers"


def reader_accounts(scope: Mapping[str, Any] | None) -> list[str]:
    """The reader accounts a decision's scope lists (none when it lists none)."""
    return [str(a) for a in (scope or {}).get("reader_accounts") or []]


def with_readers(
    configuration: Mapping[str, Any], scope: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The configuration with the scope's reader accounts in place of the placeholder (a copy;
    unchanged when the configuration grants no reader or the scope lists none)."""
    filled = copy.deepcopy(dict(configuration))
    readers = reader_accounts(scope)
    if READERS_KEY in filled and readers:
        filled[READERS_KEY] = readers
    return filled


def readers_missing(configuration: Mapping[str, Any], scope: Mapping[str, Any] | None) -> bool:
    """The configuration grants reader accounts but the scope does not say which."""
    return bool(configuration.get(READERS_KEY)) and not reader_accounts(scope)
