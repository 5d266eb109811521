"""The one gate every request of the suite passes: allow-list check, pacing, and the ledger.

In live mode every request, whichever library sends it (schemathesis through `requests`, the
behaviour and boundary tests through httpx), is matched to a spec operation, checked against the
allow-list (`Target.check_allowed`) and paced *before* it is sent; a request that matches no
operation is refused. Against the in-process simulator nothing is paced, and a counting ASGI
middleware feeds the same ledger. The ledger is what the runner's summary reports: operations
covered and requests sent.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import requests

from iotcentral_contract._spec import match_operation, match_path
from iotcentral_contract._target import NotAllowListed, Target

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|m|h)\s*$")
_PER = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_rate(text: str) -> float:
    """Requests per second of a rate such as `10/s`, `300/m` or `1000/h` (ValueError otherwise)."""
    found = _RATE.match(text)
    if found is None or float(found.group(1)) <= 0:
        raise ValueError(f"rate must look like 10/s, 300/m or 1000/h, got {text!r}")
    return float(found.group(1)) / _PER[found.group(2)]


class Pacer:
    """Spaces requests at least `1 / per_second` apart, across threads and event loops."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self._clock = clock
        self._next = float("-inf")
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Book the next free slot; return how long to wait before sending in it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
            return slot - now

    def wait(self) -> None:
        """Block until this request's slot."""
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)

    async def await_slot(self) -> None:
        """Wait (without blocking the loop) until this request's slot."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


class Ledger:
    """What reached the target: requests per operation (`None`: no spec operation)."""

    def __init__(self) -> None:
        self.requests: Counter[str | None] = Counter()
        self._lock = threading.Lock()

    def record(self, operation_id: str | None) -> None:
        """Count one request."""
        with self._lock:
            self.requests[operation_id] += 1

    @property
    def total(self) -> int:
        """Requests sent in all."""
        return sum(self.requests.values())

    def reset(self) -> None:
        """Forget everything counted."""
        with self._lock:
            self.requests.clear()


LEDGER = Ledger()


class Gate:
    """Checks, paces and counts each request to `target` before it is sent."""

    def __init__(self, target: Target, pacer: Pacer | None, ledger: Ledger = LEDGER) -> None:
        self.target = target
        self.pacer = pacer
        self.ledger = ledger
        self._base_path = urlsplit(target.base_url).path.rstrip("/")

    def admit(self, method: str, raw_path: str) -> None:
        """Refuse a request outside the allow-list (NotAllowListed); else count it.

        A method the spec does not define on an allow-listed path (schemathesis tries TRACE,
        PUT...) is admitted: it addresses only allow-listed ids, and runs nothing if the server
        keeps its contract (405). It is counted as no operation.
        """
        path = raw_path.split("?", 1)[0]
        matched = None
        if path.startswith(self._base_path + "/"):
            matched = match_path(path[len(self._base_path) :])
        if matched is None:
            if self.target.live:
                raise NotAllowListed(f"refusing to send {method} {path}: no spec operation")
            self.ledger.record(None)
            return
        _, params, operations = matched
        self.target.check_allowed(params)
        self.ledger.record(operations.get(method.upper()))

    def pass_sync(self, method: str, raw_path: str) -> None:
        """Admit, then wait for the request's slot (threads)."""
        self.admit(method, raw_path)
        if self.pacer is not None:
            self.pacer.wait()

    async def pass_async(self, method: str, raw_path: str) -> None:
        """Admit, then wait for the request's slot (event loop)."""
        self.admit(method, raw_path)
        if self.pacer is not None:
            await self.pacer.await_slot()


class GatedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that passes every request through a `Gate` first."""

    def __init__(self, gate: Gate, inner: httpx.AsyncBaseTransport) -> None:
        self.gate = gate
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.gate.pass_async(request.method, request.url.raw_path.decode("ascii"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class GatedSession(requests.Session):
    """A requests session (schemathesis' live transport) that passes every request a `Gate`."""

    def __init__(self, gate: Gate) -> None:
        super().__init__()
        self.gate = gate

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Check, pace and count; then send."""
        self.gate.pass_sync(request.method or "GET", urlsplit(request.url or "").path)
        return super().send(request, **kwargs)


def counting(app: Any, ledger: Ledger = LEDGER, base_path: str = "/api") -> Any:
    """An ASGI app that counts every HTTP request into `ledger` by spec operation."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            path = raw.decode("latin-1").split("?", 1)[0]
            matched = None
            if path.startswith(base_path + "/"):
                matched = match_operation(scope["method"], path[len(base_path) :])
            ledger.record(matched[0] if matched else None)
        await app(scope, receive, send)

    return wrapped
