"""The request pipeline of the command API (moto's ``responses.py`` role).

Every request under the spec's base path (``/api``) goes through the same steps, in this order;
each step may answer an error (built by :class:`SimError`'s named constructors):

1. route and parameters from the spec (404/405; 400 ``MissingApiVersionParameter`` /
   ``InvalidApiVersionParameter``);
2. authentication (401 ``Unauthorized``) and, for operations that run commands, authorisation
   (403 ``Forbidden``);
3. throttling, one bucket per application (429 ``TooManyRequests`` + ``Retry-After``);
4. reading the body, only now (an unauthenticated request never gets its body read), and only
   up to ``max_body_bytes`` (413 ``PayloadTooLarge``); validating it against the spec, for
   operations that declare a body (415 / 400 ``InvalidJson``, also for JSON nested deeper than
   :data:`~iotcentral_sim._spec.MAX_JSON_DEPTH` / 422 ``InvalidRequestBody``);
5. device, module, component and command lookup (404 ``DeviceNotFound`` ...);
6. injected faults (:meth:`Simulator.add_fault`);
7. the operation's handler: running a command (wait for an offline device, hand the command to
   it, wait for its answer: 201) or reading its history (200).

The last step is dispatched by the spec's ``operationId`` through :data:`HANDLERS`, not by HTTP
method: a new operation family adds a :class:`Handler` (and backend methods), not a branch here.
Every operation the spec routes must have a handler; :class:`CommandPipeline` checks this when it
is built. State and command semantics live in the backend (``_backend.py``), putting bytes on the
wire and rendering faults in ``_render.py``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.types import Receive, Scope, Send

from ._backend import SimBackend, Target
from ._errors import ConnectionDropped, SimError
from ._faults import FaultTarget
from ._render import (
    RequestAborted,
    read_body,
    send_error,
    send_fault_after,
    send_fault_before,
    send_json,
)
from ._spec import SpecBinding

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "HANDLERS",
    "SKIP_PARAMETER",
    "CommandPipeline",
    "Handler",
    "Requested",
]

#: The largest request body read (1 MiB): a DeviceCommand is a few hundred bytes.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

logger = logging.getLogger("iotcentral_sim")

#: The query parameter of the simulator's history ``nextLink``s: where the next page starts.
#: Opaque to clients (they follow ``nextLink`` as given), so it is not in the spec.
SKIP_PARAMETER = "skipToken"


@dataclass(frozen=True)
class Requested:
    """What a handler may need of the request besides its body: the URL it was sent to."""

    url: str  # absolute, without the query (scheme and host as the client sent them)
    query: QueryParams


Respond = Callable[[SimBackend, Target, Mapping[str, Any], Requested], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Handler:
    """How one spec operation is served once the request passed the pipeline's checks.

    ``respond``: builds the answer document from the backend, the target and the parsed body.
    ``status``: the success status. ``runs_command``: the caller's role must be allowed to run
    commands (403 otherwise). ``faults``: which injected faults apply (``run`` / ``history``).
    """

    respond: Respond
    status: int
    runs_command: bool
    faults: FaultTarget


async def _run_command(
    backend: SimBackend, target: Target, payload: Mapping[str, Any], requested: Requested
) -> dict[str, Any]:
    return await backend.execute(target, payload)


async def _command_history(
    backend: SimBackend, target: Target, payload: Mapping[str, Any], requested: Requested
) -> dict[str, Any]:
    token = requested.query.get(SKIP_PARAMETER, "0")
    if not token.isdigit() or len(token) > 9:
        raise SimError.invalid_parameter(SKIP_PARAMETER)
    page, following = backend.history(target.key, start=int(token))
    document: dict[str, Any] = {"value": page}
    if following is not None:
        # Absolute, on the origin the request came to, carrying the request's own query.
        query = [(k, v) for k, v in requested.query.multi_items() if k != SKIP_PARAMETER]
        query.append((SKIP_PARAMETER, str(following)))
        document["nextLink"] = f"{requested.url}?{urlencode(query)}"
    return document


_RUN = Handler(_run_command, 201, runs_command=True, faults="run")
_HISTORY = Handler(_command_history, 200, runs_command=False, faults="history")

#: The handler for each ``operationId`` in ``spec/iotcentral.yaml``.
HANDLERS: Mapping[str, Handler] = {
    "runCommand": _RUN,
    "runComponentCommand": _RUN,
    "runModuleCommand": _RUN,
    "runModuleComponentCommand": _RUN,
    "getCommandHistory": _HISTORY,
    "getComponentCommandHistory": _HISTORY,
    "getModuleCommandHistory": _HISTORY,
    "getModuleComponentCommandHistory": _HISTORY,
}


class CommandPipeline:
    """The ASGI app of the command API, mounted at the spec's base path by ``Simulator``.

    ``max_body_bytes``: the largest request body it reads (413 beyond).
    """

    def __init__(
        self,
        spec: SpecBinding,
        backend: SimBackend,
        handlers: Mapping[str, Handler] = HANDLERS,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        missing = sorted(spec.operation_ids - set(handlers))
        if missing:
            raise ValueError(f"no simulator handler for spec operation(s) {', '.join(missing)}")
        self.spec = spec
        self.backend = backend
        self.handlers = handlers
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - websockets are not served
            return
        method: str = scope["method"]
        raw = scope.get("raw_path")
        raw_path = raw.decode("latin-1") if raw else quote(scope["path"])
        raw_path = raw_path.split("?", 1)[0]
        headers = Headers(scope=scope)
        query = QueryParams(scope.get("query_string", b""))
        self.backend.count_request()
        host = headers.get("host") or "127.0.0.1"
        requested = Requested(f"{scope.get('scheme', 'http')}://{host}{raw_path}", query)
        try:
            await self._handle(send, receive, method, raw_path, query, headers, requested)
        except RequestAborted:
            logger.debug("%s %s -> the client left before sending its body", method, raw_path)
        except SimError as error:
            logger.debug("%s %s -> %s %s", method, raw_path, error.status, error.code)
            await send_error(send, error)
        except ConnectionDropped:
            logger.debug("%s %s -> connection dropped", method, raw_path)
            raise
        except Exception:
            logger.exception("unexpected error in the simulator")
            await send_error(send, SimError.internal())

    async def _handle(
        self,
        send: Send,
        receive: Receive,
        method: str,
        raw_path: str,
        query: QueryParams,
        headers: Headers,
        requested: Requested,
    ) -> None:
        backend = self.backend
        operation = self.spec.match(method, raw_path)
        handler = self.handlers[operation.operation_id]
        self.spec.check_parameters(method, raw_path, query, headers)
        token = backend.authenticate(headers.get(self.spec.auth_header) or "")
        if handler.runs_command and not token.can_run:
            raise SimError.forbidden_run()
        backend.throttle()
        payload: dict[str, Any] = {}
        if operation.has_body:
            body = await read_body(receive, headers, self.max_body_bytes)
            payload = self.spec.parse_body(method, raw_path, headers, body)
        target = backend.lookup(operation.params)
        fault = backend.take_fault(target.key, handler.faults)
        if fault is not None and not fault.executes:
            await send_fault_before(send, fault, status=handler.status)
            return
        document = await handler.respond(backend, target, payload, requested)
        encoded = json.dumps(document, separators=(",", ":")).encode()
        if fault is not None:
            await send_fault_after(
                send, fault, handler.status, encoded, sleep=backend.sleep, receive=receive
            )
            return
        await send_json(send, handler.status, encoded)
