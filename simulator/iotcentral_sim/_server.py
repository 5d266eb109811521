"""Serving a simulator over real HTTP with uvicorn: a threaded runner and the blocking CLI entry."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._errors import ConnectionDropped
from ._scenario import (
    DEFAULT_API_TOKEN,
    DEFAULT_BEARER_TOKEN,
    DEFAULT_VIEWER_TOKEN,
    load_scenario,
)

if TYPE_CHECKING:
    from ._app import Simulator

__all__ = ["SimulatorServer", "serve"]


class _DropFilter(logging.Filter):
    """Hide uvicorn's traceback for the simulator's deliberate connection drops."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


_DROP_FILTER = _DropFilter()


def _quiet_drops() -> None:
    error_logger = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in error_logger.filters:
        error_logger.addFilter(_DROP_FILTER)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def _base_url(host: str, port: int, base_path: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{base_path}"


def _uvicorn_server(app: Any, log_level: str) -> Any:
    import uvicorn  # lazy: importing the package must not need uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    return uvicorn.Server(config)


class SimulatorServer:
    """Serve a :class:`Simulator` with uvicorn in a background thread (loopback, port 0 = free).

    ``url`` is the base URL for clients, including the spec's ``/api`` prefix. Usable as a
    context manager::

        with SimulatorServer(Simulator()) as server:
            httpx.post(f"{server.url}/devices/mx1/commands/CoolDown", ...)
    """

    def __init__(
        self,
        simulator: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
    ) -> None:
        self.simulator = simulator
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        state = f"url={self.url!r}" if self._port is not None else "stopped"
        return f"SimulatorServer({state})"

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:54321/api`` (after :meth:`start`)."""
        return _base_url(self.host, self.port, self.simulator.spec.base_path)

    @property
    def root_url(self) -> str:
        """URL of the server root (the control API is under ``/_sim``)."""
        return _base_url(self.host, self.port, "")

    def start(self) -> None:
        """Bind, start uvicorn in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        _quiet_drops()
        sock = _bind(self.host, self._requested_port)
        server = _uvicorn_server(self.simulator.app, self._log_level)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="iotcentral-sim", daemon=True
        )
        self._server, self._thread = server, thread
        self._port = sock.getsockname()[1]
        self._sock = sock
        thread.start()
        waited = 0.0
        while not server.started:
            if not thread.is_alive():
                self._cleanup()
                raise RuntimeError("the simulator server failed to start")
            if waited >= self._startup_timeout:
                self.stop()
                raise RuntimeError("the simulator server did not start in time")
            threading.Event().wait(0.01)
            waited += 0.01

    def stop(self) -> None:
        """Shut uvicorn down and wait for its thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():  # pragma: no cover - stuck connections
            server.force_exit = True
            thread.join(timeout=5)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None
        self._port = None

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    scenario_path: str | None = None,
    rate_limit: float | None = 20.0,
    api_tokens: Sequence[str] = (),
    time_scale: float = 1.0,
    echo: Callable[[str], None] = print,
) -> None:
    """Run a simulator on ``host``:``port`` until Ctrl-C (blocking; the CLI's ``simulator serve``).

    Prints the base URL and how to authenticate. The well-known default tokens are printed
    (they are public constants); tokens given in ``api_tokens`` or a scenario are never printed.
    """
    from ._app import Simulator  # keep the CLI import light

    scenario = load_scenario(scenario_path) if scenario_path else None
    simulator = Simulator(
        scenario,
        api_tokens=list(api_tokens) if api_tokens else None,
        rate_limit=rate_limit,
        time_scale=time_scale,
    )
    _quiet_drops()
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    server = _uvicorn_server(simulator.app, "warning")
    url = _base_url(host, bound_port, simulator.spec.base_path)
    echo(f"IoT Central simulator ({simulator.scenario.name} scenario) listening on {url}")
    echo(
        f"  api-version: {', '.join(simulator.spec.api_versions)}"
        f" (default {simulator.spec.default_api_version})"
    )
    for line in _auth_lines(simulator):
        echo(line)
    limit = f"{simulator.rate_limit:g} requests/s" if simulator.rate_limit else "off"
    control = _base_url(host, bound_port, "/_sim")
    echo(f"  throttling: {limit}; time scale: {time_scale:g}; control API: {control}")
    echo("Press Ctrl-C to stop.")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    echo("Simulator stopped.")


def _auth_lines(simulator: Simulator) -> list[str]:
    """How to authenticate; shows only the simulator's public well-known tokens."""
    public = {DEFAULT_API_TOKEN, DEFAULT_VIEWER_TOKEN, DEFAULT_BEARER_TOKEN}
    lines = []
    for token in simulator.tokens:
        if token.token in public:
            value = f"Bearer {token.token}" if token.kind == "bearer" else token.token
            lines.append(f"  Authorization: {value}   (role {token.role})")
    custom = [t for t in simulator.tokens if t.token not in public]
    if custom:
        kinds = ", ".join(sorted({f"{t.kind} token '{t.name}' ({t.role})" for t in custom}))
        lines.append(f"  also accepted (values not shown): {kinds}")
    if lines:
        lines.insert(0, "Authenticate with the Authorization header, for example:")
    else:
        lines.append("No tokens are configured: every request will get 401.")
    return lines
