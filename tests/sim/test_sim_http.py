"""Over real HTTP on loopback: SimulatorServer, drops as protocol errors, sync and async clients."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import anyio
import httpx
import pytest
from fakes import FakeClock
from iotcentral_sim import Simulator, SimulatorServer
from iotcentral_sim.pytest_plugin import IoTCentralSim
from sim_helpers import AUTH, Q, assert_conforms, error_code

RUN = "/devices/mx1/commands/CoolDown"


@pytest.fixture
def server(iotcentral_sim_shared: IoTCentralSim) -> SimulatorServer:
    """The session's served simulator (the plugin's fixture), reset for this test."""
    return iotcentral_sim_shared.server


@pytest.fixture
def http(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, params=Q, timeout=10) as c:
        yield c


def test_url_is_loopback_with_api_prefix(server: SimulatorServer) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/api"
    assert server.port > 0
    assert repr(server) == f"SimulatorServer(url={server.url!r})"


def test_run_and_history_over_http(http: httpx.Client, server: SimulatorServer) -> None:
    run = http.post(RUN, json={"request": {"tempVal": 30}})
    assert run.status_code == 201
    assert_conforms(run)
    history = http.get(RUN)
    assert history.status_code == 200
    assert_conforms(history)
    assert history.json() == {"value": [run.json()]}
    assert server.simulator.execution_count("mx1", "CoolDown") == 1
    assert error_code(http.post("/devices/nope/commands/x", json={})) == "DeviceNotFound"
    assert error_code(http.post(RUN, json={}, headers={"Authorization": "x"})) == "Unauthorized"


@pytest.mark.parametrize(("kind", "executed"), [("drop_before", 0), ("drop_after", 1)])
def test_drops_are_protocol_errors_over_http(
    http: httpx.Client,
    server: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    executed: int,
) -> None:
    caplog.set_level(logging.ERROR)
    server.simulator.add_fault(kind)
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(RUN, json={"request": 1})
    assert server.simulator.execution_count("mx1", "CoolDown") == executed
    # The server survives and the fault is used up.
    assert http.post(RUN, json={"request": 2}).status_code == 201
    assert server.simulator.execution_count("mx1", "CoolDown") == executed + 1
    assert "Exception in ASGI application" not in caplog.text


def test_html_and_truncated_over_http(http: httpx.Client, server: SimulatorServer) -> None:
    server.simulator.add_fault("html", status=502)
    page = http.post(RUN, json={})
    assert page.status_code == 502
    assert page.headers["content-type"].startswith("text/html")
    server.simulator.add_fault("truncated")
    cut = http.post(RUN, json={"request": 1})
    assert cut.status_code == 201
    with pytest.raises(json.JSONDecodeError):
        cut.json()
    assert server.simulator.execution_count("mx1", "CoolDown") == 1


def test_status_faults_over_http(http: httpx.Client, server: SimulatorServer) -> None:
    server.simulator.add_fault("status_before", status=503, retry_after=3)
    response = http.post(RUN, json={})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.headers["x-ms-error-code"] == "ServiceUnavailable"
    assert_conforms(response)


def test_throttling_over_http_with_retry_after() -> None:
    sim = Simulator(rate_limit=1, clock=FakeClock(), time_scale=0)
    with SimulatorServer(sim) as server, httpx.Client(headers=AUTH, params=Q) as c:
        statuses = [c.get(server.url + RUN).status_code for _ in range(3)]
        throttled = c.get(server.url + RUN)
    assert statuses == [200, 429, 429]
    assert throttled.headers["retry-after"] == "1"
    assert_conforms(throttled)


async def test_async_client_with_concurrent_requests(server: SimulatorServer) -> None:
    results: list[int] = []
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, params=Q, timeout=10) as c:

        async def run(n: int) -> None:
            results.append((await c.post(RUN, json={"request": n})).status_code)

        async with anyio.create_task_group() as tg:
            for n in range(8):
                tg.start_soon(run, n)
    assert results == [201] * 8
    assert server.simulator.execution_count("mx1", "CoolDown") == 8


def test_control_api_over_http(server: SimulatorServer) -> None:
    with httpx.Client(base_url=server.root_url) as c:
        assert c.get("/_sim/health").json()["status"] == "ok"
        assert c.post("/_sim/faults", json={"kind": "status_before"}).status_code == 201
    assert len(server.simulator.faults()) == 1


def test_stop_frees_the_port_and_is_idempotent() -> None:
    server = SimulatorServer(Simulator())
    server.start()
    port = server.port
    with pytest.raises(RuntimeError, match="already started"):
        server.start()
    server.stop()
    server.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    with socket.create_server(("127.0.0.1", port)):
        pass  # the port can be bound again
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/_sim/health", timeout=2)


def test_two_servers_share_nothing() -> None:
    with (
        SimulatorServer(Simulator(rate_limit=None)) as one,
        SimulatorServer(Simulator(rate_limit=None)) as two,
        httpx.Client(headers=AUTH, params=Q) as c,
    ):
        assert one.port != two.port
        c.post(one.url + RUN, json={})
        assert one.simulator.execution_count("mx1", "CoolDown") == 1
        assert two.simulator.execution_count("mx1", "CoolDown") == 0


def test_a_taken_port_fails_to_start() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            SimulatorServer(Simulator(), port=port).start()
