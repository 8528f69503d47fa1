"""Sign-in rate limit: after MAX_FAILURES failures within WINDOW for one address or one name,
further attempts wait until the oldest failure leaves the window.

Kept in the process's memory: with several app processes each counts its own attempts (the
failures are also in the audit log, for the record).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

MAX_FAILURES = 5
WINDOW_S = 300.0


class Limiter:
    """Failures per key in a sliding window (thread-safe)."""

    def __init__(self, max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S) -> None:
        """An empty limiter."""
        self.max_failures, self.window_s = max_failures, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _keys(self, client: str, name: str) -> tuple[str, str]:
        return (f"addr:{client}", f"name:{name}")

    def retry_after(self, client: str, name: str) -> int:
        """Seconds to wait before the next attempt (0: go ahead)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in self._keys(client, name):
                times = self._failures[key]
                while times and now - times[0] > self.window_s:
                    times.popleft()
                if len(times) >= self.max_failures:
                    wait = max(wait, self.window_s - (now - times[0]))
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, client: str, name: str) -> None:
        """Count a failure against the address and the name."""
        now = time.monotonic()
        with self._lock:
            for key in self._keys(client, name):
                self._failures[key].append(now)

    def succeeded(self, client: str, name: str) -> None:
        """A success clears the name's failures (not the address's)."""
        with self._lock:
            self._failures.pop(f"name:{name}", None)


SIGNIN_LIMITER = Limiter()
