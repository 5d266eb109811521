"""Retries that never run a command twice.

Running a command is not idempotent and IoT Central has no idempotency key: a run-command POST that
may have reached the service must not be sent again. The default policy therefore retries only

- 429 Too Many Requests (`retry_throttled`): the service refused the call before running it;
- failures where the request provably never left (`retry_not_sent`): connect error, connect timeout;
- for history reads (GET) only, also 5xx, 408/504 device timeouts, dropped connections and malformed
  answers (`retry_idempotent`): reading twice is harmless.

A caller who accepts duplicate executions can opt in with `RetryPolicy(retry_unsafe=True)`, which
adds `retry_unsafe` (re-send a POST after 5xx, device timeout or a dropped connection).

A decision is a small callable `(error, retries_so_far) -> RetryOption`; `RetryChain` composes them,
first "yes" wins (the githubkit pattern). The policy adds the limits: how many retries, how long to
wait (the service's Retry-After, capped; otherwise exponential backoff with jitter), and the sleep
functions, which tests replace.
"""

from __future__ import annotations

import asyncio
import math
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from ._errors import (
    APIError,
    APIStatusError,
    DeviceTimeoutError,
    InvalidArgumentError,
    IoTCentralError,
    MalformedResponseError,
    RequestMaybeSentError,
    RequestNotSentError,
    ServerError,
    ThrottledError,
    TransportError,
)

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_RETRY_DECISION",
    "NO_RETRY",
    "RetryChain",
    "RetryDecision",
    "RetryOption",
    "RetryPolicy",
    "parse_retry_after",
    "retry_idempotent",
    "retry_not_sent",
    "retry_throttled",
    "retry_unsafe",
]


class RetryOption(NamedTuple):
    """A retry decision: whether to retry, and after how many seconds (None: use the backoff)."""

    retry: bool
    delay: float | None = None


NO = RetryOption(False)

#: `(error, retries_so_far) -> RetryOption`
RetryDecision = Callable[[IoTCentralError, int], RetryOption]


def _method(error: IoTCentralError) -> str | None:
    if isinstance(error, APIError | TransportError):
        return error.request.method
    return None


def _retry_after(error: IoTCentralError) -> float | None:
    return error.retry_after if isinstance(error, APIStatusError) else None


def retry_throttled(error: IoTCentralError, retries: int) -> RetryOption:
    """Retry 429: the service refused the call before running it. Honours Retry-After."""
    if isinstance(error, ThrottledError):
        return RetryOption(True, error.retry_after)
    return NO


def retry_not_sent(error: IoTCentralError, retries: int) -> RetryOption:
    """Retry when the request provably never reached the service (connect error or timeout)."""
    return RetryOption(True) if isinstance(error, RequestNotSentError) else NO


def _server_side_failure(error: IoTCentralError) -> bool:
    # 408 needs no case of its own: it always maps to DeviceTimeoutError.
    return isinstance(error, ServerError | DeviceTimeoutError | RequestMaybeSentError)


def retry_idempotent(error: IoTCentralError, retries: int) -> RetryOption:
    """For reads (GET) only: retry 5xx, 408, device timeouts, dropped connections, bad answers."""
    if _method(error) != "GET":
        return NO
    if _server_side_failure(error) or isinstance(error, MalformedResponseError):
        return RetryOption(True, _retry_after(error))
    return NO


def retry_unsafe(error: IoTCentralError, retries: int) -> RetryOption:
    """Opt-in: also re-send a run-command POST after 5xx, a device timeout or a dropped connection.

    The command may then run more than once. A malformed answer to a POST is never retried: it
    usually means the command ran and only the answer was damaged.
    """
    if _server_side_failure(error):
        return RetryOption(True, _retry_after(error))
    return NO


class RetryChain:
    """Composes decisions: the first one that says "retry" wins."""

    def __init__(self, *decisions: RetryDecision) -> None:
        self.decisions = decisions

    def __call__(self, error: IoTCentralError, retries: int) -> RetryOption:
        for decision in self.decisions:
            option = decision(error, retries)
            if option.retry:
                return option
        return NO

    def __repr__(self) -> str:
        names = ", ".join(getattr(d, "__name__", repr(d)) for d in self.decisions)
        return f"RetryChain({names})"


DEFAULT_RETRY_DECISION: RetryDecision = RetryChain(
    retry_throttled, retry_not_sent, retry_idempotent
)


def parse_retry_after(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds to wait from `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After`.

    `Retry-After` may be delay-seconds or an HTTP-date (relative to `now`, epoch seconds).
    Unreadable or negative values count as absent or zero; capping is the policy's job.
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                ms = float(value)
            except ValueError:
                continue
            if math.isfinite(ms):
                return max(0.0, ms / 1000.0)
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _non_negative(name: str, value: object, *, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a number"
        raise InvalidArgumentError(f"{name} must be {what}, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise InvalidArgumentError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class RetryPolicy:
    """How a call is retried.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        retry_unsafe: also re-send run-command requests that may have run (duplicates possible).
        decision: what is retried; see the module docstring. `retry_unsafe` extends it.
        backoff_initial: the first backoff delay, doubled per retry up to `backoff_max`.
        backoff_max: the longest backoff delay.
        jitter: the fraction of each backoff delay drawn at random (0 to 1), to spread clients out.
        max_retry_after: the cap on a service-requested delay (Retry-After).
        sleep, async_sleep, random: injected for tests.
    """

    max_retries: int = 3
    retry_unsafe: bool = False
    decision: RetryDecision = DEFAULT_RETRY_DECISION
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = field(
        default=asyncio.sleep, compare=False, repr=False
    )
    random: Callable[[], float] = field(default=_random.random, compare=False, repr=False)

    def __post_init__(self) -> None:
        _non_negative("max_retries", self.max_retries, integer=True)
        for name in ("backoff_initial", "backoff_max", "max_retry_after"):
            _non_negative(name, getattr(self, name))
        _non_negative("jitter", self.jitter)
        if self.jitter > 1:
            raise InvalidArgumentError(f"jitter must be from 0 to 1, got {self.jitter!r}")
        if not isinstance(self.retry_unsafe, bool):
            raise InvalidArgumentError(f"retry_unsafe must be a bool, got {self.retry_unsafe!r}")
        if not callable(self.decision):
            raise InvalidArgumentError("decision must be callable")

    def backoff(self, retries: int) -> float:
        """The backoff delay before retry number `retries + 1`, jittered."""
        delay = min(self.backoff_max, self.backoff_initial * (2.0 ** min(retries, 30)))
        return delay * (1.0 - self.jitter * self.random())

    def decide(self, error: IoTCentralError, retries: int) -> float | None:
        """Seconds to wait before retrying after `error`, or None to give up and raise it."""
        if retries >= self.max_retries:
            return None
        option = self.decision(error, retries)
        if not option.retry and self.retry_unsafe:
            option = retry_unsafe(error, retries)
        if not option.retry:
            return None
        if option.delay is not None:
            return min(max(0.0, option.delay), self.max_retry_after)
        return self.backoff(retries)


DEFAULT_RETRY = RetryPolicy()
NO_RETRY = RetryPolicy(max_retries=0)


def check_retry(retry: object) -> RetryPolicy:
    """A RetryPolicy from a policy, a number of retries, or None (the default policy)."""
    if retry is None:
        return DEFAULT_RETRY
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, int) and not isinstance(retry, bool):
        return RetryPolicy(max_retries=retry)
    raise InvalidArgumentError(
        f"retry must be a RetryPolicy or a number of retries, got {type(retry).__name__}"
    )
