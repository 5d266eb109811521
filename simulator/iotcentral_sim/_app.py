"""The simulator: per-instance state plus the ASGI app that serves it (moto's ``responses`` role).

Request pipeline for the command operations, in this order (each step may answer an error):

1. route and parameters from the spec (404/405; 400 ``MissingApiVersionParameter`` /
   ``InvalidApiVersionParameter``);
2. authentication (401 ``Unauthorized``) and authorisation of runs (403 ``Forbidden``);
3. throttling, one bucket per application (429 ``TooManyRequests`` + ``Retry-After``);
4. body validation against the spec (415 / 400 ``InvalidJson`` / 422 ``InvalidRequestBody``);
5. device, module, component and command lookup (404 ``DeviceNotFound`` ...);
6. injected faults (:meth:`Simulator.add_fault`);
7. execution: wait for an offline device (``connectionTimeout``), hand the command to it (the
   execution counter goes up), wait for its answer (``responseTimeout``), answer 201.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

from anyio import sleep as _sleep_for
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import ConnectionDropped, SimError, default_error_code
from ._faults import Fault, FaultSet
from ._scenario import (
    CommandSpec,
    DeviceSpec,
    Scenario,
    TokenSpec,
    default_scenario,
)
from ._spec import Operation, SpecBinding
from ._throttling import TokenBucket

__all__ = ["CommandKey", "Simulator"]

logger = logging.getLogger("iotcentral_sim")

_DEFAULT_RESPONSE_TIMEOUT = 30
_DEFAULT_CONNECTION_TIMEOUT = 0
_DROP_CONTENT_LENGTH = 256
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>"
    "<body><h1>{status} {phrase}</h1><p>The gateway could not reach the service.</p>"
    "</body></html>\n"
)


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
class _Target:
    device: DeviceSpec
    key: CommandKey
    command: CommandSpec


class Simulator:
    """A local IoT Central command service with per-instance state.

    ``scenario``: devices and tokens (``None``: the built-in default, see the README).
    ``api_tokens``: accepted API tokens with role operator, replacing the scenario's API tokens
    (its bearer tokens stay); ``None`` keeps the scenario's tokens. ``rate_limit``: requests per
    second per application, burst of the same size; ``None`` or ``0`` disables throttling.
    ``time_scale``: multiplies every simulated wait (``0.001`` turns 30 s into 30 ms; ``0`` skips
    waits). ``clock``: the real-time clock used by throttling and ``connects_after`` (default
    ``time.monotonic``; tests may pass a fake). ``spec_file``: another copy of the spec
    (default: the packaged one).

    ``app`` is the ASGI application: the command operations under ``/api/...`` and a control API
    under ``/_sim/...`` (reset, faults, executions).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_tokens: Sequence[str] | None = None,
        rate_limit: float | None = 20.0,
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        spec_file: str | Path | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if rate_limit is not None and rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 or None disables throttling)")
        self.scenario: Scenario = scenario if scenario is not None else default_scenario()
        tokens = self.scenario.tokens
        if api_tokens is not None:
            if isinstance(api_tokens, str):
                raise TypeError("api_tokens must be a sequence of tokens, not one string")
            bearer = tuple(t for t in tokens if t.kind == "bearer")
            tokens = (
                *(
                    TokenSpec(t.strip(), "operator", "api", f"api-{i}")
                    for i, t in enumerate(api_tokens)
                ),
                *bearer,
            )
        self._tokens: tuple[TokenSpec, ...] = tokens
        self.rate_limit: float | None = rate_limit or None
        self.time_scale: float = time_scale
        self._clock = clock or time.monotonic
        self.spec = SpecBinding(Path(spec_file) if spec_file is not None else None)
        self._lock = threading.Lock()
        self._bucket = TokenBucket(self.rate_limit, self._clock) if self.rate_limit else None
        self._faults = FaultSet()
        self._counts: dict[CommandKey, int] = {}
        self._history: dict[CommandKey, dict[str, Any]] = {}
        self._first_attempt: dict[str, float] = {}
        self._connected: set[str] = set()
        self._requests = 0
        self.app: Starlette = self._build_app()

    def __repr__(self) -> str:
        return (
            f"Simulator(scenario={self.scenario.name!r}, devices={len(self.scenario.devices)}, "
            f"tokens={len(self._tokens)}, rate_limit={self.rate_limit!r}, "
            f"time_scale={self.time_scale!r})"
        )

    # ----------------------------------------------------------------- public control surface

    @property
    def tokens(self) -> tuple[TokenSpec, ...]:
        """The accepted credentials (their reprs never show the secret)."""
        return self._tokens

    @property
    def request_count(self) -> int:
        """How many requests reached the command API (``/api/...``) since start or reset."""
        with self._lock:
            return self._requests

    def execution_count(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
    ) -> int:
        """How many times the command reached the device since start or reset.

        Counts every execution the device saw: successes, device-side failures, long-running
        answers, responses that timed out (504) and executions followed by an ``*_after`` fault.
        Never counts requests stopped before the device (auth, throttling, validation, offline
        device, ``*_before`` faults, ``html``).
        """
        key = CommandKey(device_id, command_name, component, module)
        with self._lock:
            return self._counts.get(key, 0)

    def executions(self) -> dict[CommandKey, int]:
        """A snapshot of every non-zero execution counter."""
        with self._lock:
            return dict(self._counts)

    def last_execution(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
    ) -> dict[str, Any] | None:
        """The most recent DeviceCommand result (what history returns), or ``None``."""
        key = CommandKey(device_id, command_name, component, module)
        with self._lock:
            found = self._history.get(key)
            return None if found is None else dict(found)

    def add_fault(
        self,
        kind: str,
        *,
        device_id: str | None = None,
        command_name: str | None = None,
        times: int | None = 1,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        on: str = "run",
    ) -> None:
        """Inject a fault for the next ``times`` matching requests (``None``: forever).

        Kinds (a request passes auth, throttling, validation and lookup before any fault fires):

        - ``status_before``: answer ``status`` (default 500) in the Error shape, with
          ``Retry-After`` if ``retry_after`` is given (503 and 429 default to 1 s); the command is
          NOT executed.
        - ``status_after``: the command executes, then the answer is ``status`` (default 500).
        - ``drop_before`` / ``drop_after``: the response head (with a ``Content-Length``) is sent
          and the connection closed without a body, before / after the command executes. Over
          HTTP the client sees a protocol error; in process :class:`ConnectionDropped` is raised
          out of the ASGI app.
        - ``html``: an HTML error page with ``status`` (default 502, ``text/html``); NOT executed.
        - ``truncated``: the command executes and the normal answer (201 / 200) is cut in half.
        - ``slow``: the command executes, the answer is held ``delay`` seconds (scaled).

        ``device_id`` / ``command_name`` restrict the fault (``None`` matches any); ``on``
        selects runs (``"run"``, default), history reads (``"history"``) or both (``"any"``).
        """
        fault = Fault(
            kind,  # type: ignore[arg-type]  # validated by Fault
            device_id=device_id,
            command_name=command_name,
            times=times,
            status=status,
            retry_after=retry_after,
            delay=delay,
            on=on,  # type: ignore[arg-type]  # validated by Fault
        )
        self._faults.add(fault)

    def faults(self) -> list[Fault]:
        """The faults still pending."""
        return self._faults.pending()

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._faults.clear()

    def reset(self) -> None:
        """Back to the scenario's start: counters, history, faults, throttling, connections."""
        with self._lock:
            self._counts.clear()
            self._history.clear()
            self._first_attempt.clear()
            self._connected.clear()
            self._requests = 0
        self._faults.clear()
        if self._bucket is not None:
            self._bucket.reset()

    # ----------------------------------------------------------------------------- ASGI app

    def _build_app(self) -> Starlette:
        control = [
            Route("/health", self._control_health, methods=["GET"]),
            Route("/reset", self._control_reset, methods=["POST"]),
            Route("/executions", self._control_executions, methods=["GET"]),
            Route("/faults", self._control_faults, methods=["GET", "POST", "DELETE"]),
        ]
        api: ASGIApp = self._api
        return Starlette(
            routes=[Mount("/_sim", routes=control), Mount(self.spec.base_path, app=api)],
            exception_handlers={HTTPException: _http_exception},
        )

    async def _api(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        method: str = scope["method"]
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(scope["path"])
        raw_path = raw_path.split("?", 1)[0]
        headers = Headers(scope=scope)
        query = QueryParams(scope.get("query_string", b""))
        body = await _read_body(receive)
        with self._lock:
            self._requests += 1
        try:
            await self._handle(send, method, raw_path, query, headers, body)
        except SimError as error:
            logger.debug("%s %s -> %s %s", method, raw_path, error.status, error.code)
            await _send(send, error.status, error.response_headers(), error.body())
        except ConnectionDropped:
            logger.debug("%s %s -> connection dropped", method, raw_path)
            raise
        except Exception:
            logger.exception("unexpected error in the simulator")
            internal = SimError(500, "InternalServerError", "An internal server error occurred.")
            await _send(send, internal.status, internal.response_headers(), internal.body())

    async def _handle(
        self,
        send: Send,
        method: str,
        raw_path: str,
        query: QueryParams,
        headers: Headers,
        body: bytes,
    ) -> None:
        operation = self.spec.match(method, raw_path)
        self.spec.check_parameters(method, raw_path, query, headers)
        token = self._authenticate(headers)
        is_run = operation.method == "post"
        if is_run and not token.can_run:
            raise SimError(
                403,
                "Forbidden",
                "The token's role does not have permission to run device commands.",
            )
        self._throttle()
        payload: dict[str, Any] = {}
        if is_run:
            payload = self.spec.parse_body(method, raw_path, headers, body)
        target = self._lookup(operation)
        fault = self._faults.take(
            target.key.device_id, target.key.command_name, "run" if is_run else "history"
        )
        if fault is not None and not fault.executes:
            await self._fault_before(send, fault, status=201 if is_run else 200)
            return
        if is_run:
            status, document = 201, await self._execute(target, payload)
        else:
            status, document = 200, self._history_document(target.key)
        encoded = json.dumps(document, separators=(",", ":")).encode()
        if fault is not None:
            await self._fault_after(send, fault, status, encoded)
            return
        await _send(send, status, {"content-type": "application/json"}, encoded)

    # ---------------------------------------------------------------------------- pipeline

    def _authenticate(self, headers: Headers) -> TokenSpec:
        value = (headers.get(self.spec.auth_header) or "").strip()
        if not value:
            raise SimError(
                401,
                "Unauthorized",
                "The Authorization header is missing: send an IoT Central API token or "
                "'Bearer <Azure AD token>'.",
            )
        kind = "api"
        if value[:7].lower() == "bearer ":
            kind, value = "bearer", value[7:].strip()
        found: TokenSpec | None = None
        for token in self._tokens:
            # Compare every token in constant time; never log or echo the value.
            if token.kind == kind and hmac.compare_digest(token.token.encode(), value.encode()):
                found = token
        if found is None:
            raise SimError(
                401,
                "Unauthorized",
                "The token is expired or not valid for this application.",
            )
        return found

    def _throttle(self) -> None:
        if self._bucket is None:
            return
        retry_after = self._bucket.acquire()
        if retry_after is not None:
            raise SimError(
                429,
                "TooManyRequests",
                f"Too many requests: the application is limited to {self.rate_limit:g} "
                "requests per second. Back off and send fewer requests concurrently.",
                retry_after=retry_after,
            )

    def _lookup(self, operation: Operation) -> _Target:
        params = operation.params
        device_id = params["deviceId"]
        command_name = params["commandName"]
        module_name = params.get("moduleName")
        component_name = params.get("componentName")
        device = self.scenario.devices.get(device_id)
        if device is None:
            raise SimError(
                404, "DeviceNotFound", f"The device with id '{_show(device_id)}' does not exist."
            )
        commands: Mapping[str, CommandSpec] = device.commands
        components = device.components
        if module_name is not None:
            module = device.modules.get(module_name)
            if module is None:
                raise SimError(
                    404,
                    "ModuleNotFound",
                    f"The module '{_show(module_name)}' does not exist on device "
                    f"'{_show(device_id)}'.",
                )
            commands, components = module.commands, module.components
        if component_name is not None:
            component = components.get(component_name)
            if component is None:
                raise SimError(
                    404,
                    "ComponentNotFound",
                    f"The component '{_show(component_name)}' does not exist.",
                )
            commands = component.commands
        command = commands.get(command_name)
        if command is None:
            raise SimError(
                404,
                "CommandNotFound",
                f"The command '{_show(command_name)}' is not defined for this device.",
            )
        key = CommandKey(device_id, command_name, component_name, module_name)
        return _Target(device, key, command)

    async def _sleep(self, seconds: float) -> None:
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

    async def _execute(self, target: _Target, payload: Mapping[str, Any]) -> dict[str, Any]:
        device, key, command = target.device, target.key, target.command
        connection_timeout = int(payload.get("connectionTimeout", _DEFAULT_CONNECTION_TIMEOUT))
        response_timeout = int(payload.get("responseTimeout", _DEFAULT_RESPONSE_TIMEOUT))
        wait = self._connect_wait(device)
        if wait is None or wait > connection_timeout:
            await self._sleep(connection_timeout)
            raise SimError(
                404,
                "DeviceNotOnline",
                f"The device '{_show(device.id)}' is not online: it did not connect within the "
                f"connection timeout of {connection_timeout} s.",
            )
        if wait > 0:
            await self._sleep(wait)
        with self._lock:
            self._connected.add(device.id)
            # The command has reached the device from here on: count it.
            self._counts[key] = self._counts.get(key, 0) + 1
        answer_after = (
            command.responds_after if command.responds_after is not None else device.responds_after
        )
        if answer_after > response_timeout:
            await self._sleep(response_timeout)
            raise SimError(
                504, "RequestTimeout", "Request timeout waiting for the device to respond."
            )
        await self._sleep(answer_after)
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
            self._history[key] = document
        return document

    def _history_document(self, key: CommandKey) -> dict[str, Any]:
        with self._lock:
            last = self._history.get(key)
        return {"value": [] if last is None else [last]}

    # ------------------------------------------------------------------------------- faults

    async def _fault_before(self, send: Send, fault: Fault, *, status: int) -> None:
        if fault.kind == "status_before":
            raise _fault_error(fault)
        if fault.kind == "html":
            code = fault.status or 502
            phrase = _phrase(code)
            page = _HTML_PAGE.format(status=code, phrase=phrase).encode()
            await _send(send, code, {"content-type": "text/html; charset=utf-8"}, page)
            return
        # drop_before
        await _start(send, status, _DROP_CONTENT_LENGTH)
        raise ConnectionDropped(executed=False)

    async def _fault_after(self, send: Send, fault: Fault, status: int, body: bytes) -> None:
        if fault.kind == "status_after":
            raise _fault_error(fault)
        if fault.kind == "drop_after":
            await _start(send, status, len(body))
            raise ConnectionDropped(executed=True)
        if fault.kind == "truncated":
            cut = body[: max(1, len(body) // 2)]
            await _send(send, status, {"content-type": "application/json"}, cut)
            return
        # slow
        await self._sleep(fault.delay or 0.0)
        await _send(send, status, {"content-type": "application/json"}, body)

    # -------------------------------------------------------------------------- control API

    async def _control_health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "scenario": self.scenario.name})

    async def _control_reset(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)

    async def _control_executions(self, request: Request) -> Response:
        items = [
            {
                "device_id": key.device_id,
                "module": key.module,
                "component": key.component,
                "command_name": key.command_name,
                "count": count,
            }
            for key, count in sorted(self.executions().items(), key=lambda kv: kv[0].sort_key())
        ]
        return JSONResponse({"executions": items})

    async def _control_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.clear_faults()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                spec = await request.json()
                if not isinstance(spec, dict):
                    raise TypeError("expected a JSON object")
                self.add_fault(**spec)
            except (ValueError, TypeError) as exc:
                return _control_error(400, "InvalidFault", str(exc))
            return JSONResponse({"faults": [f.to_dict() for f in self.faults()]}, 201)
        return JSONResponse({"faults": [f.to_dict() for f in self.faults()]})


# ------------------------------------------------------------------------------- ASGI helpers


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _encode_headers(headers: Mapping[str, str], length: int) -> list[tuple[bytes, bytes]]:
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    encoded.append((b"content-length", str(length).encode()))
    return encoded


async def _send(send: Send, status: int, headers: Mapping[str, str], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _encode_headers(headers, len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _start(send: Send, status: int, length: int) -> None:
    headers = _encode_headers({"content-type": "application/json"}, length)
    await send({"type": "http.response.start", "status": status, "headers": headers})


def _fault_error(fault: Fault) -> SimError:
    status = fault.status or 500
    retry_after: int | None = None
    if fault.retry_after is not None:
        retry_after = math.ceil(fault.retry_after)
    elif status in (429, 503):
        retry_after = 1
    return SimError(
        status,
        default_error_code(status),
        f"{_phrase(status)} (simulated fault).",
        retry_after=retry_after,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _show(value: str) -> str:
    """A path value fit for an error message: printable and bounded."""
    shown = "".join(c if c.isprintable() else "?" for c in value)
    return shown if len(shown) <= 80 else shown[:80] + "..."


def _control_error(status: int, code: str, message: str) -> Response:
    error = SimError(status, code, message)
    return Response(error.body(), status_code=status, headers=error.response_headers())


async def _http_exception(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, default_error_code(status))
    return _control_error(status, code, _phrase(status) + ".")
