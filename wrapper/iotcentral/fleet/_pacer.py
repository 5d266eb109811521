"""An app-wide rate pacer: every request on the wire waits for its slot.

IoT Central allows 20 requests per second per application, counted across all tokens; beyond it the
service answers 429. A `RatePacer` spaces requests `1 / rate` seconds apart. One pacer is meant to
be shared by every client that talks to the same app (`IoTCentralClient(..., pacer=pacer)`), from
any number of threads, tasks and event loops: its state sits behind one short `threading.Lock`,
and waiting happens outside it (`time.sleep` for sync callers, `asyncio.sleep` for async ones).

Where it applies. Each client's `_send` takes a slot before an attempt starts (so waiting for a
slot never eats into the attempt's time bound) and marks the request as paced; an httpx request
hook takes a slot for any request that is not marked, which is how the auth flow's re-send after a
401 is paced too; a response hook reports each answer's status back to the pacer. So retries, the
401 re-send and history reads all count. (The re-send waits for its slot inside its attempt's time
bound: a pause longer than that bound ends the attempt as `RequestMaybeSentError`, the safe side.)

How it adapts (AIMD, as TCP does). A 429 pauses the whole pacer for the answer's `Retry-After`
(or `pause_without_retry_after` when the service gave none) and multiplies the rate by `decrease`
(at most once per pause, however many in-flight requests come back 429). Every other answer adds
`increase / rate`, i.e. about `increase` requests/s per second of 429-free sending, up to the
configured `rate`. Two processes that share one app and both start at its limit thus back off on
each other's 429s and climb back together, instead of fighting.

The counters (`requests`, `throttled`, `pauses`) count what this pacer saw, for benchmarks and
progress displays.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .._errors import InvalidArgumentError
from .._retry import parse_retry_after

__all__ = ["DEFAULT_RATE", "PACER_ASYNC_HOOKS", "PACER_SYNC_HOOKS", "RatePacer", "mark_paced"]

#: IoT Central's documented budget: 20 requests per second per application.
DEFAULT_RATE = 20.0

#: `httpx.Request.extensions` keys: the pacer of the client that sends the request, and a flag
#: `_send` sets once it has taken the request's slot.
PACER = "iotcentral.pacer"
PACED = "iotcentral.paced"


def _positive(name: str, value: object, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"{name} must be a number, got {value!r}")
    if value <= 0 or (upper is not None and value > upper):
        bound = f"above 0 and at most {upper:g}" if upper is not None else "above 0"
        raise InvalidArgumentError(f"{name} must be {bound}, got {value!r}")
    return float(value)


class RatePacer:
    """Spaces requests to at most `rate` per second, adapting to 429s (AIMD); thread-safe.

    Args:
        rate: the ceiling, in requests per second (IoT Central's limit is 20 per app).
        min_rate: the floor the rate never drops below after 429s.
        decrease: the factor applied to the rate on a 429 (0 < decrease <= 1).
        increase: requests/s added per second of 429-free sending, back up to `rate`.
        pause_without_retry_after: how long a 429 without `Retry-After` pauses the pacer.
        clock: a monotonic clock (seconds). sleep, async_sleep: how to wait (tests replace them).
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        min_rate: float = 1.0,
        decrease: float = 0.7,
        increase: float = 1.0,
        pause_without_retry_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.max_rate = _positive("rate", rate, upper=100_000)
        self.min_rate = min(_positive("min_rate", min_rate), self.max_rate)
        self.decrease = _positive("decrease", decrease, upper=1)
        self.increase = _positive("increase", increase)
        self.pause_without_retry_after = _positive(
            "pause_without_retry_after", pause_without_retry_after, upper=3600
        )
        self._clock = clock
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._lock = threading.Lock()
        self._rate = self.max_rate
        self._next = clock()
        self._paused_until = 0.0
        self._generation = 0  # bumped by each pause: slots reserved before it are void
        self.requests = 0
        self.throttled = 0
        self.pauses = 0

    def __repr__(self) -> str:
        return f"RatePacer(rate={self.max_rate:g}, current={self.rate:.2f})"

    @property
    def rate(self) -> float:
        """The current rate (requests per second), between `min_rate` and the ceiling."""
        with self._lock:
            return self._rate

    @property
    def paused_for(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        with self._lock:
            return max(0.0, self._paused_until - self._clock())

    # -- slots ---------------------------------------------------------------------------------

    def _reserve(self) -> tuple[float, int]:
        """Reserve the next slot: (seconds to wait for it, the pause generation it belongs to)."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next, self._paused_until)
            self._next = start + 1.0 / self._rate
            self.requests += 1
            return start - now, self._generation

    def _still_valid(self, generation: int) -> bool:
        with self._lock:
            if generation == self._generation:
                return True
            self.requests -= 1  # the slot is taken again below
            return False

    def acquire(self) -> None:
        """Wait (blocking) for this request's slot."""
        while True:
            delay, generation = self._reserve()
            if delay > 0:
                self._sleep(delay)
            if self._still_valid(generation):
                return

    async def async_acquire(self) -> None:
        """Wait (without blocking the event loop) for this request's slot."""
        while True:
            delay, generation = self._reserve()
            if delay > 0:
                await self._async_sleep(delay)
            if self._still_valid(generation):
                return

    # -- feedback ------------------------------------------------------------------------------

    def observe(self, status_code: int, retry_after: float | None = None) -> None:
        """Feed back one answer: a 429 pauses and slows the pacer; anything else speeds it up."""
        with self._lock:
            if status_code != 429:
                if self._rate < self.max_rate:
                    self._rate = min(self.max_rate, self._rate + self.increase / self._rate)
                return
            self.throttled += 1
            now = self._clock()
            pause = self.pause_without_retry_after if retry_after is None else retry_after
            until = now + min(max(0.0, pause), 3600.0)
            if now >= self._paused_until:
                # The first 429 of a pause slows the rate; the rest of the burst only pause.
                self._rate = max(self.min_rate, self._rate * self.decrease)
                self.pauses += 1
            if until > self._paused_until:
                self._paused_until = until
                self._next = until
                self._generation += 1

    def _feedback(self, response: httpx.Response) -> None:
        retry_after = None
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers, now=time.time())
        self.observe(response.status_code, retry_after)


def mark_paced(request: httpx.Request, pacer: RatePacer) -> None:
    """Note that `request` already has its slot from `pacer` (the request hook lets it pass once).

    The pacer travels with the request, so the hooks pace a re-send of the same request (the
    auth flow's, after a 401) and report every answer to the pacer that sent it.
    """
    request.extensions[PACER] = pacer
    request.extensions[PACED] = True


def _paced_request(request: httpx.Request) -> RatePacer | None:
    """The pacer that must give `request` a slot now (None: no pacer, or already paced)."""
    pacer = request.extensions.get(PACER)
    if pacer is None or request.extensions.pop(PACED, False):
        return None
    return pacer  # type: ignore[no-any-return]


def _on_request(request: httpx.Request) -> None:
    pacer = _paced_request(request)
    if pacer is not None:
        pacer.acquire()


def _on_response(response: httpx.Response) -> None:
    pacer = response.request.extensions.get(PACER)
    if pacer is not None:
        pacer._feedback(response)


async def _async_on_request(request: httpx.Request) -> None:
    pacer = _paced_request(request)
    if pacer is not None:
        await pacer.async_acquire()


async def _async_on_response(response: httpx.Response) -> None:
    _on_response(response)


#: httpx event hooks every client installs: they pace a request that `_send` did not (the auth
#: flow's re-send) and feed each answer back to its pacer; without a pacer they do nothing.
PACER_SYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [_on_request],
    "response": [_on_response],
}
PACER_ASYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [_async_on_request],
    "response": [_async_on_response],
}
