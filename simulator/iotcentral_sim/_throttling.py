"""A per-application token bucket: the service's 20 requests/s, counted across all tokens."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

__all__ = ["TokenBucket"]

_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst`` (default: ``rate``, at least 1).

    Runs on real time (``clock``, default ``time.monotonic``): throttling is about how fast
    clients really send, so the simulator's time scale does not apply to it.
    """

    def __init__(
        self, rate: float, clock: Callable[[], float], *, burst: float | None = None
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self.burst
        self._last = clock()

    def reset(self) -> None:
        """Fill the bucket again."""
        with self._lock:
            self._tokens = self.burst
            self._last = self._clock()

    def acquire(self) -> int | None:
        """Take one token. ``None`` if allowed, else the Retry-After in whole seconds (>= 1)."""
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._last = now
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
            if self._tokens >= 1.0 - _EPSILON:  # tolerate float error in elapsed * rate
                self._tokens = max(0.0, self._tokens - 1.0)
                return None
            wait = (1.0 - self._tokens) / self.rate
            return max(1, math.ceil(wait))
