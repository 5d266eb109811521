"""``Simulator``: one simulated IoT Central application, and the ASGI app that serves it.

This module is the public face. It validates the constructor's options, owns the spec binding and
the backend, exposes the control surface tests use (counters, history, faults, reset) and wires
the ASGI app together. The work happens elsewhere:

- ``_backend.py``: state and command semantics, no HTTP (moto's ``models.py``);
- ``_pipeline.py``: the command API's request pipeline, handlers keyed by ``operationId``
  (moto's ``responses.py``);
- ``_control.py``: the ``/_sim`` control API;
- ``_render.py``: ASGI sending, error answers and fault rendering;
- ``_errors.py``: every error code, built by named constructors (moto's ``exceptions.py``);
- ``_spec.py``: routing and validation read from ``spec/iotcentral.yaml``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from ._backend import CommandKey, SimBackend
from ._control import control_routes
from ._faults import Fault
from ._pipeline import DEFAULT_MAX_BODY_BYTES, CommandPipeline
from ._render import http_exception
from ._scenario import Scenario, TokenSpec, default_scenario
from ._spec import SpecBinding

__all__ = ["CommandKey", "Simulator"]


class _CommandApiFirst:
    """Hands every request under the spec's base path to the command pipeline.

    Starlette's ``Mount`` matches paths with a regular expression whose ``.`` stops at a
    newline, so an id holding one (sent percent-encoded, ``%0A``) got a routing 404 instead of
    the pipeline's answer (``DeviceNotFound`` ...). A prefix test has no such gap; the pipeline
    routes on the raw (still encoded) path itself.
    """

    def __init__(self, app: ASGIApp, *, pipeline: ASGIApp, base_path: str) -> None:
        self.app = app
        self.pipeline = pipeline
        self.prefix = base_path + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith(self.prefix):
            await self.pipeline(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Simulator:
    """A local IoT Central command service with per-instance state.

    ``scenario``: devices and tokens (``None``: the built-in default, see the README).
    ``api_tokens``: accepted API tokens with role operator, replacing the scenario's API tokens
    (its bearer tokens stay); ``None`` keeps the scenario's tokens. ``rate_limit``: requests per
    second per application, burst of the same size; ``None`` or ``0`` disables throttling.
    ``time_scale``: multiplies every simulated wait (``0.001`` turns 30 s into 30 ms; ``0`` skips
    waits). ``clock``: the real-time clock used by throttling and ``connects_after`` (default
    ``time.monotonic``; tests may pass a fake). ``spec_file``: another copy of the spec
    (default: the packaged one). ``max_body_bytes``: the largest request body the command API
    reads (default 1 MiB; beyond it 413 ``PayloadTooLarge``, and nothing runs).
    ``history_depth``: executions kept per command (the service keeps 1);
    ``history_page_size``: executions per history page, the rest behind ``nextLink``
    (``None``: one page). Both can be changed later with :meth:`set_history_paging`.

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
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        history_page_size: int | None = None,
        history_depth: int = 1,
    ) -> None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise TypeError("max_body_bytes must be an integer number of bytes")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if rate_limit is not None and rate_limit < 0:
            raise ValueError("rate_limit must be >= 0 (0 or None disables throttling)")
        scenario = scenario if scenario is not None else default_scenario()
        tokens = scenario.tokens
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
        self.spec = SpecBinding(Path(spec_file) if spec_file is not None else None)
        self._backend = SimBackend(
            scenario,
            tokens,
            rate_limit=rate_limit or None,
            time_scale=time_scale,
            clock=clock or time.monotonic,
            history_page_size=history_page_size,
            history_depth=history_depth,
        )
        pipeline = CommandPipeline(self.spec, self._backend, max_body_bytes=max_body_bytes)
        self.app: Starlette = Starlette(
            routes=[Mount("/_sim", routes=control_routes(self))],
            middleware=[
                Middleware(_CommandApiFirst, pipeline=pipeline, base_path=self.spec.base_path)
            ],
            exception_handlers={HTTPException: http_exception},
        )

    def __repr__(self) -> str:
        return (
            f"Simulator(scenario={self.scenario.name!r}, devices={len(self.scenario.devices)}, "
            f"tokens={len(self.tokens)}, rate_limit={self.rate_limit!r}, "
            f"time_scale={self.time_scale!r})"
        )

    # ----------------------------------------------------------------- public control surface

    @property
    def scenario(self) -> Scenario:
        """The devices and tokens this simulator started with."""
        return self._backend.scenario

    @property
    def rate_limit(self) -> float | None:
        """Requests per second per application (``None``: no throttling)."""
        return self._backend.rate_limit

    @property
    def time_scale(self) -> float:
        """The factor applied to every simulated wait."""
        return self._backend.time_scale

    @property
    def tokens(self) -> tuple[TokenSpec, ...]:
        """The accepted credentials (their reprs never show the secret)."""
        return self._backend.tokens

    @property
    def request_count(self) -> int:
        """How many requests reached the command API (``/api/...``) since start or reset."""
        return self._backend.request_count

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
        return self._backend.execution_count(CommandKey(device_id, command_name, component, module))

    def executions(self) -> dict[CommandKey, int]:
        """A snapshot of every non-zero execution counter."""
        return self._backend.executions()

    def last_execution(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
    ) -> dict[str, Any] | None:
        """The most recent DeviceCommand result (what history returns), or ``None``."""
        return self._backend.last_execution(CommandKey(device_id, command_name, component, module))

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
        size: int | None = None,
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
        - ``trickle``: the command executes; the answer's head is sent at once, then its body
          one byte every ``delay`` seconds (scaled; default 1). Each byte resets a client's
          per-read timeout: only a bound on the whole attempt ends the call. Stops when the
          client hangs up.
        - ``oversized``: the command executes; the answer is padded with leading whitespace to
          ``size`` bytes (default 2 MiB, twice a client's usual 1 MiB cap) and streamed without
          ``Content-Length``.
        - ``gzip_bomb``: the command executes; the answer (``Content-Encoding: gzip``) is about
          ``size / 1000`` bytes on the wire and inflates to ``size`` bytes (default 64 MiB) of
          whitespace followed by the normal answer.

        429 and 500/503 with ``Retry-After``, and 504, are ``status_before`` / ``status_after``
        with ``status`` (and ``retry_after``).

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
            size=size,
        )
        self._backend.faults.add(fault)

    def faults(self) -> list[Fault]:
        """The faults still pending."""
        return self._backend.faults.pending()

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        self._backend.faults.clear()

    def set_history_paging(self, *, page_size: int | None, depth: int = 1) -> None:
        """Keep the last ``depth`` executions per command and answer history ``page_size`` per page.

        Later pages are behind an absolute ``nextLink`` on the origin the request came to.
        ``page_size`` ``None``: one page. :meth:`reset` restores the constructor's settings.
        Raises ``ValueError`` for a page size outside 1..1000 or a depth outside 1..10000.
        """
        self._backend.set_history_paging(page_size=page_size, depth=depth)

    @property
    def history_paging(self) -> dict[str, int | None]:
        """The current history paging: ``{"page_size": ..., "depth": ...}``."""
        return {
            "page_size": self._backend.history_page_size,
            "depth": self._backend.history_depth,
        }

    def reset(self) -> None:
        """Back to the start: counters, history, history paging, faults, throttling, connections."""
        self._backend.reset()
