"""The control API under ``/_sim``: the simulator's Python control surface over HTTP.

For tests and tools in another process (or language) that drive a served simulator:
``GET /_sim/health``, ``POST /_sim/reset``, ``GET /_sim/executions`` and
``GET|POST|DELETE /_sim/faults`` and ``GET|POST /_sim/history-paging``
(``{"page_size": 2, "depth": 5}``). Each route calls the public :class:`~iotcentral_sim.Simulator`
method of the same meaning, so the HTTP and Python surfaces cannot drift apart. Not part of the
spec: the command API's pipeline never sees these requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ._errors import SimError
from ._render import error_response

if TYPE_CHECKING:
    from ._app import Simulator

__all__ = ["control_routes"]


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
                spec = await request.json()
                if not isinstance(spec, dict):
                    raise TypeError("expected a JSON object")
                simulator.add_fault(**spec)
            except (ValueError, TypeError) as exc:
                return error_response(SimError.invalid_fault(str(exc)))
            return JSONResponse({"faults": [f.to_dict() for f in simulator.faults()]}, 201)
        return JSONResponse({"faults": [f.to_dict() for f in simulator.faults()]})

    async def history_paging(request: Request) -> Response:
        if request.method == "POST":
            try:
                spec = await request.json()
                if not isinstance(spec, dict):
                    raise TypeError("expected a JSON object")
                simulator.set_history_paging(**spec)
            except (ValueError, TypeError) as exc:
                return error_response(SimError.invalid_setting(str(exc)))
        return JSONResponse(simulator.history_paging)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/history-paging", history_paging, methods=["GET", "POST"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/executions", executions, methods=["GET"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
    ]
