"""Serving a simulator over real HTTP with uvicorn: a threaded runner and the blocking CLI entry."""

from __future__ import annotations

import asyncio
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
    """Hide uvicorn's noise for what the simulator does on purpose.

    The deliberate connection drops (:class:`ConnectionDropped`), and stopping while a request
    is still waiting (a slow device): uvicorn then cancels it and logs an error with the
    ``CancelledError`` traceback, which on Ctrl-C would bury the one line the user should see.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, ConnectionDropped | asyncio.CancelledError):
            return False
        return not str(record.msg).startswith("Cancel %s running task(s)")


_DROP_FILTER = _DropFilter()


def _quiet_drops() -> None:
    error_logger = logging.getLogger("uvicorn.error")
    if _DROP_FILTER not in error_logger.filters:
        error_logger.addFilter(_DROP_FILTER)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets that say
    # they are TCP, and without it every answer on a kept-alive connection waited ~40 ms for the
    # client's delayed ACK (Nagle: uvicorn writes the head and the body separately).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


#: Listening on every interface: clients on this machine connect through loopback.
_WILDCARDS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def _base_url(host: str, port: int, base_path: str) -> str:
    """The URL a client connects to: loopback for a wildcard host (``0.0.0.0`` is no address)."""
    host = _WILDCARDS.get(host, host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{base_path}"


#: Seconds a client has to send a whole request (head and body) once it starts one.
DEFAULT_REQUEST_TIMEOUT = 10.0
#: The largest request head (request line and headers) read, as h11 counts it.
MAX_HEAD_BYTES = 16 * 1024
_TIMEOUT_BODY = b"The request was not sent in time.\n"
_REQUEST_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\nconnection: close\r\n"
    + f"content-length: {len(_TIMEOUT_BODY)}\r\n\r\n".encode()
    + _TIMEOUT_BODY
)


def _deadline_protocol(request_timeout: float) -> type[Any]:
    """uvicorn's h11 protocol, with a deadline for receiving each request.

    uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time a
    client takes to send one: a client that sends half a request head, or a head and half a
    body, and then nothing, held its connection (and a file descriptor) forever, and a few
    hundred of them stopped the server. Here a connection must deliver each request whole within
    ``request_timeout`` seconds of its first byte (of connecting, for the first request); if not,
    a stalled head is answered 408 and a stalled body dropped, and the connection is closed.
    While the app works on a complete request (a slow device) no deadline runs.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    receiving = (h11.IDLE, h11.SEND_BODY)

    class DeadlineH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._deadline is None and self.conn.their_state in receiving:
                self._arm()
            super().data_received(data)
            if self.conn.their_state not in receiving:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(request_timeout, self._timed_out)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _timed_out(self) -> None:
            self._deadline = None
            if self.transport.is_closing() or self.conn.their_state not in receiving:
                return
            if self.cycle is None or self.cycle.response_complete:  # the head never came
                self.transport.write(_REQUEST_TIMEOUT_ANSWER)
            self.transport.close()  # a body half sent: the app sees a disconnect

    return DeadlineH11Protocol


def _uvicorn_server(app: Any, log_level: str, request_timeout: float) -> Any:
    import uvicorn  # lazy: importing the package must not need uvicorn

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        http=_deadline_protocol(request_timeout),
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
    )
    return uvicorn.Server(config)


class SimulatorServer:
    """Serve a :class:`Simulator` with uvicorn in a background thread (loopback, port 0 = free).

    ``url`` is the base URL for clients, including the spec's ``/api`` prefix.
    ``request_timeout``: seconds a client has to send each whole request (head and body) once
    it starts it; a stalled request is answered 408 (or dropped, mid-body) and its connection
    closed, so half-sent requests cannot pile up. Usable as a context manager::

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
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    ) -> None:
        if not request_timeout > 0:
            raise ValueError(f"request_timeout must be > 0 seconds, got {request_timeout!r}")
        self.simulator = simulator
        self.host = host
        self._requested_port = port
        self._log_level = log_level
        self._startup_timeout = startup_timeout
        self._request_timeout = request_timeout
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
        server = _uvicorn_server(self.simulator.app, self._log_level, self._request_timeout)
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
    server = _uvicorn_server(simulator.app, "warning", DEFAULT_REQUEST_TIMEOUT)
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
    if host in _WILDCARDS:
        other = _base_url(socket.gethostname(), bound_port, simulator.spec.base_path)
        echo(
            f"  on every interface: from other machines {other} (or this machine's address);"
            " the iotcentral client sends plain http:// only to loopback"
        )
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
