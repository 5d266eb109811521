"""The control API under ``/_sim``: the simulator's Python control surface over HTTP.

For tests and tools in another process (or language) that drive a served simulator:
``GET /_sim/health``, ``POST /_sim/reset``, ``GET /_sim/executions`` and
``GET|POST|DELETE /_sim/faults`` and ``GET|POST /_sim/history-paging``
(``{"page_size": 2, "depth": 5}``). Each route calls the public :class:`~iotcentral_sim.Simulator`
method of the same meaning, so the HTTP and Python surfaces cannot drift apart. Not part of the
spec: the command API's pipeline never sees these requests.

It has no authentication (it is a test tool), so it guards against the one caller that never
meant to call it, a web page the developer has open: a browser request whose ``Origin`` is not
on loopback, or marked ``Sec-Fetch-Site: cross-site`` without such an origin, gets 403
``CrossSiteRequest``; a fault must be sent as ``application/json`` (415 otherwise, so an HTML
form or a "simple" cross-site fetch cannot send one), at most 64 KiB of strict JSON (no ``NaN``
or ``Infinity``).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import SimError
from ._render import error_response

if TYPE_CHECKING:
    from ._app import Simulator

__all__ = ["MAX_CONTROL_BODY_BYTES", "control_routes"]

#: The largest body the control API reads (a fault is well under 1 KiB).
MAX_CONTROL_BODY_BYTES = 64 * 1024

Endpoint = Callable[[Request], Awaitable[Response]]


def _loopback_origin(origin: str) -> bool:
    """Whether a browser ``Origin`` is a page served from this machine's loopback."""
    try:
        host = urlsplit(origin).hostname
    except ValueError:
        return False
    if host is None:  # "null": a sandboxed frame, a file:// page
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cross_site(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is not None:
        return not _loopback_origin(origin)
    return request.headers.get("sec-fetch-site", "").lower() == "cross-site"


def _guarded(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, refusing requests from web pages on other sites (403)."""

    async def guarded(request: Request) -> Response:
        if _cross_site(request):
            return error_response(SimError.cross_site_request())
        return await endpoint(request)

    return guarded


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def _json_body(request: Request) -> Any:
    """The request's JSON body: ``application/json``, bounded, strict; `SimError` otherwise."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise SimError.unsupported_media_type()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CONTROL_BODY_BYTES:
            raise SimError.payload_too_large(MAX_CONTROL_BODY_BYTES)
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise SimError.invalid_fault(f"the body is not valid JSON: {exc}") from None


def control_routes(simulator: Simulator) -> list[BaseRoute]:
    """The routes to mount at ``/_sim`` for ``simulator``."""

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "scenario": simulator.scenario.name})

    async def reset(request: Request) -> Response:
        simulator.reset()
        return Response(status_code=204)

    async def executions(request: Request) -> Response:
        counts = sorted(simulator.executions().items(), key=lambda kv: kv[0].sort_key())
        items = [
            {
                "device_id": key.device_id,
                "module": key.module,
                "component": key.component,
                "command_name": key.command_name,
                "count": count,
            }
            for key, count in counts
        ]
        return JSONResponse({"executions": items})

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            simulator.clear_faults()
            return Response(status_code=204)
        if request.method == "POST":
            try:
                spec = await _json_body(request)
                if not isinstance(spec, dict):
                    raise TypeError("expected a JSON object")
                simulator.add_fault(**spec)
            except SimError as error:
                return error_response(error)
            except (ValueError, TypeError) as exc:
                return error_response(SimError.invalid_fault(str(exc)))
            return JSONResponse({"faults": [f.to_dict() for f in simulator.faults()]}, 201)
        return JSONResponse({"faults": [f.to_dict() for f in simulator.faults()]})

    async def history_paging(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await _json_body(request)
                if not isinstance(spec, dict):
                    raise TypeError("expected a JSON object")
                simulator.set_history_paging(**spec)
            except SimError as error:
                return error_response(error)
            except (ValueError, TypeError) as exc:
                return error_response(SimError.invalid_setting(str(exc)))
        return JSONResponse(simulator.history_paging)

    return [
        Route("/health", _guarded(health), methods=["GET"]),
        Route("/history-paging", _guarded(history_paging), methods=["GET", "POST"]),
        Route("/reset", _guarded(reset), methods=["POST"]),
        Route("/executions", _guarded(executions), methods=["GET"]),
        Route("/faults", _guarded(faults), methods=["GET", "POST", "DELETE"]),
    ]
