"""The backend: a simulated application's state and command semantics (moto's ``models.py`` role).

No HTTP here. :class:`SimBackend` holds everything a :class:`~iotcentral_sim.Simulator` remembers
(execution counters, command history, device connections, the request counter, pending faults,
the throttling bucket) and the rules of the command service: which credentials are accepted,
how a command target is looked up, how a device connects and answers within
``connectionTimeout`` / ``responseTimeout``, and what history returns. Rule violations are raised
as :class:`SimError` (built by its named constructors); turning them into HTTP answers is the
request pipeline's job (``_pipeline.py``).

Simulated waits go through :meth:`SimBackend.sleep` (scaled by ``time_scale``), which calls the
module-level ``_sleep_for``; tests replace that one name to observe or block every wait.
"""

from __future__ import annotations

import hmac
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from anyio import sleep as _sleep_for

from ._errors import SimError
from ._faults import Fault, FaultSet
from ._scenario import CommandSpec, DeviceSpec, Scenario, TokenSpec
from ._throttling import TokenBucket

__all__ = ["CommandKey", "SimBackend", "Target"]

_DEFAULT_RESPONSE_TIMEOUT = 30
_DEFAULT_CONNECTION_TIMEOUT = 0


@dataclass(frozen=True)
class CommandKey:
    """Identifies a command target: device, optional module, optional component, command name."""

    device_id: str
    command_name: str
    component: str | None = None
    module: str | None = None

    def sort_key(self) -> tuple[str, str, str, str]:
        """A total order (device, module, component, command; absent parts first)."""
        return (self.device_id, self.module or "", self.component or "", self.command_name)


@dataclass(frozen=True)
class Target:
    """A looked-up command target: the device, the key and how the command answers."""

    device: DeviceSpec
    key: CommandKey
    command: CommandSpec


class SimBackend:
    """State and rules of one simulated application (thread-safe; one per ``Simulator``).

    ``tokens``: the accepted credentials. ``rate_limit``: requests per second per application
    (``None``: no throttling). ``time_scale``: multiplies every simulated wait. ``clock``: the
    real-time clock for throttling and ``connects_after``.
    """

    def __init__(
        self,
        scenario: Scenario,
        tokens: tuple[TokenSpec, ...],
        *,
        rate_limit: float | None,
        time_scale: float,
        clock: Callable[[], float],
        history_page_size: int | None = None,
        history_depth: int = 1,
    ) -> None:
        self.scenario = scenario
        self.tokens = tokens
        self.rate_limit = rate_limit
        self.time_scale = time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._bucket = TokenBucket(rate_limit, clock) if rate_limit else None
        self.faults = FaultSet()
        self._counts: dict[CommandKey, int] = {}
        # Most recent first; the service keeps one execution, a test may ask for more (paging).
        self._history: dict[CommandKey, list[dict[str, Any]]] = {}
        self.history_depth = 1
        self.history_page_size: int | None = None
        self.set_history_paging(page_size=history_page_size, depth=history_depth)
        self._initial_paging = (history_page_size, history_depth)
        self._first_attempt: dict[str, float] = {}
        self._connected: set[str] = set()
        self._requests = 0

    # ---------------------------------------------------------------------------- counters

    def count_request(self) -> None:
        """Note one request to the command API."""
        with self._lock:
            self._requests += 1

    @property
    def request_count(self) -> int:
        """Requests to the command API since start or reset."""
        with self._lock:
            return self._requests

    def execution_count(self, key: CommandKey) -> int:
        """How many times the command reached the device since start or reset."""
        with self._lock:
            return self._counts.get(key, 0)

    def executions(self) -> dict[CommandKey, int]:
        """A snapshot of every non-zero execution counter."""
        with self._lock:
            return dict(self._counts)

    def last_execution(self, key: CommandKey) -> dict[str, Any] | None:
        """A copy of the most recent DeviceCommand result for ``key``, or ``None``."""
        with self._lock:
            found = self._history.get(key)
            return dict(found[0]) if found else None

    def reset(self) -> None:
        """Back to the start: counters, history, history paging, faults, throttling, connections."""
        page_size, depth = self._initial_paging
        self.set_history_paging(page_size=page_size, depth=depth)
        with self._lock:
            self._counts.clear()
            self._history.clear()
            self._first_attempt.clear()
            self._connected.clear()
            self._requests = 0
        self.faults.clear()
        if self._bucket is not None:
            self._bucket.reset()

    # ------------------------------------------------------------------- access control

    def authenticate(self, authorization: str) -> TokenSpec:
        """The token an ``Authorization`` value carries: a raw API token or ``Bearer <token>``.

        Raises :class:`SimError` 401 when it is missing or not accepted.
        """
        value = authorization.strip()
        if not value:
            raise SimError.missing_credentials()
        kind = "api"
        if value[:7].lower() == "bearer ":
            kind, value = "bearer", value[7:].strip()
        found: TokenSpec | None = None
        for token in self.tokens:
            # Compare every token in constant time; never log or echo the value.
            if token.kind == kind and hmac.compare_digest(token.token.encode(), value.encode()):
                found = token
        if found is None:
            raise SimError.invalid_credentials()
        return found

    def throttle(self) -> None:
        """Take one request from the application's bucket; raises 429 when it is empty."""
        if self._bucket is None:
            return
        retry_after = self._bucket.acquire()
        if retry_after is not None:
            raise SimError.too_many_requests(self.rate_limit or 0, retry_after)

    # ---------------------------------------------------------------------------- faults

    def take_fault(self, key: CommandKey, on: str) -> Fault | None:
        """Use up one firing of the first pending fault matching ``key`` (``on``: run/history)."""
        return self.faults.take(key.device_id, key.command_name, on)

    # ---------------------------------------------------------------------------- commands

    def lookup(self, params: Mapping[str, str]) -> Target:
        """Resolve the spec's path parameters to a command target (404s for unknown parts)."""
        device_id = params["deviceId"]
        command_name = params["commandName"]
        module_name = params.get("moduleName")
        component_name = params.get("componentName")
        device = self.scenario.devices.get(device_id)
        if device is None:
            raise SimError.device_not_found(device_id)
        commands: Mapping[str, CommandSpec] = device.commands
        components = device.components
        if module_name is not None:
            module = device.modules.get(module_name)
            if module is None:
                raise SimError.module_not_found(module_name, device_id)
            commands, components = module.commands, module.components
        if component_name is not None:
            component = components.get(component_name)
            if component is None:
                raise SimError.component_not_found(component_name)
            commands = component.commands
        command = commands.get(command_name)
        if command is None:
            raise SimError.command_not_found(command_name)
        key = CommandKey(device_id, command_name, component_name, module_name)
        return Target(device, key, command)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (scaled by ``time_scale``; 0 skips)."""
        if seconds > 0 and self.time_scale > 0:
            await _sleep_for(seconds * self.time_scale)

    def _connect_wait(self, device: DeviceSpec) -> float | None:
        """Simulated seconds until ``device`` is online (0: online now; None: never)."""
        now = self._clock()
        with self._lock:
            if device.online or device.id in self._connected:
                return 0.0
            if device.connects_after is None:
                return None
            first = self._first_attempt.setdefault(device.id, now)
        if first == now:
            return device.connects_after
        if self.time_scale == 0:
            return 0.0
        online_at = first + device.connects_after * self.time_scale
        return max(0.0, (online_at - now) / self.time_scale)

    async def execute(self, target: Target, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Run a command: wait for the device to connect, count it, wait for its answer.

        Returns the DeviceCommand result (also kept as the target's history). Raises 404
        ``DeviceNotOnline`` or 504 ``RequestTimeout`` after waiting the request's timeout.
        """
        device, key, command = target.device, target.key, target.command
        connection_timeout = int(payload.get("connectionTimeout", _DEFAULT_CONNECTION_TIMEOUT))
        response_timeout = int(payload.get("responseTimeout", _DEFAULT_RESPONSE_TIMEOUT))
        wait = self._connect_wait(device)
        if wait is None or wait > connection_timeout:
            await self.sleep(connection_timeout)
            raise SimError.device_not_online(device.id, connection_timeout)
        if wait > 0:
            await self.sleep(wait)
        with self._lock:
            self._connected.add(device.id)
            # The command has reached the device from here on: count it.
            self._counts[key] = self._counts.get(key, 0) + 1
        answer_after = (
            command.responds_after if command.responds_after is not None else device.responds_after
        )
        if answer_after > response_timeout:
            await self.sleep(response_timeout)
            raise SimError.device_timeout()
        await self.sleep(answer_after)
        document: dict[str, Any] = {"id": str(uuid.uuid4())}
        for field in ("connectionTimeout", "responseTimeout"):
            if field in payload:
                document[field] = int(payload[field])
        if "request" in payload:
            document["request"] = payload["request"]
        if command.handler == "echo":
            if "request" in payload:
                document["response"] = payload["request"]
        else:
            document["response"] = command.response
        document["responseCode"] = command.code
        with self._lock:
            kept = self._history.setdefault(key, [])
            kept.insert(0, document)
            del kept[self.history_depth :]
        return document

    def set_history_paging(self, *, page_size: int | None, depth: int) -> None:
        """Keep the last ``depth`` executions per command, answered ``page_size`` per page.

        ``page_size`` ``None``: one page holds them all. The service keeps one execution
        (``depth`` 1); larger depths exist so that clients can test following ``nextLink``.
        """
        if page_size is not None and (isinstance(page_size, bool) or not 1 <= page_size <= 1000):
            raise ValueError(f"history page_size must be from 1 to 1000 or None, got {page_size!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 10_000:
            raise ValueError(f"history depth must be an integer from 1 to 10000, got {depth!r}")
        with self._lock:
            self.history_page_size = page_size
            self.history_depth = depth
            for kept in self._history.values():
                del kept[depth:]

    def history(
        self, key: CommandKey, *, start: int = 0
    ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of a command's history from position ``start`` (most recent first).

        Returns the page's executions and the position the next page starts at (``None``: last
        page).
        """
        with self._lock:
            kept = list(self._history.get(key, ()))
            size = self.history_page_size or max(len(kept), 1)
        page = kept[start : start + size]
        following = start + size
        return page, (following if following < len(kept) else None)
