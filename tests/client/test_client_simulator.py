"""End to end against the simulator: sync over loopback HTTP, async in process (ASGI)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import iotcentral as ic
import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

TARGETS: list[tuple[str, str, dict[str, Any], Any]] = [
    ("mx1", "CoolDown", {}, {"tempVal": 30}),
    (
        "thermostat1",
        "getMaxMinReport",
        {"component": "thermostat2"},
        {"maxTemp": 28.0, "minTemp": 17.5, "avgTemp": 22.1},
    ),
    ("edge1", "restart", {"module": "sensorModule"}, {"tempVal": 30}),
    (
        "edge1",
        "getMaxMinReport",
        {"module": "sensorModule", "component": "thermostat"},
        {"maxTemp": 25.0, "minTemp": 15.0, "avgTemp": 20.0},
    ),
]


@pytest.mark.parametrize(("device", "command", "where", "answer"), TARGETS)
def test_sync_run_and_history_on_every_kind_of_target(
    sim_client: ic.IoTCentralClient,
    served: tuple[Simulator, SimulatorServer],
    device: str,
    command: str,
    where: dict[str, Any],
    answer: Any,
) -> None:
    simulator, _ = served
    assert sim_client.command_history(device, command, **where).latest is None
    result = sim_client.run_command(
        device, command, {"tempVal": 30}, connection_timeout=0, response_timeout=10, **where
    )
    assert result.status_code == 201
    assert result.response == answer
    assert result.request == {"tempVal": 30}
    assert (result.connection_timeout, result.response_timeout) == (0, 10)
    assert result.response_code == 200
    assert result.id
    assert not result.failed
    history = sim_client.command_history(device, command, **where)
    assert len(history) == 1
    assert history.latest == result
    assert history[0].id == result.id
    assert list(history) == [result]
    assert simulator.execution_count(device, command, **where) == 1


def test_sync_device_reported_failures_and_long_running(sim_client: ic.IoTCentralClient) -> None:
    failed = sim_client.run_command("mx1", "SetMode", {"mode": "turbo"})
    assert failed.failed
    assert failed.response_code == 400
    assert failed.response == {"error": "unsupported mode"}
    with pytest.raises(ic.DeviceCommandFailedError):
        failed.raise_for_response_code()
    accepted = sim_client.run_command("mx1", "UpdateFirmware")
    assert accepted.response_code == 202
    assert not accepted.failed


def test_sync_connection_timeout_reaches_a_sleepy_device(
    sim_client: ic.IoTCentralClient, served: tuple[Simulator, SimulatorServer]
) -> None:
    simulator, _ = served
    with pytest.raises(ic.DeviceOfflineError) as info:
        sim_client.run_command("sleepy1", "CoolDown", connection_timeout=1)
    assert not info.value.may_have_executed
    result = sim_client.run_command("sleepy1", "CoolDown", {"x": 1}, connection_timeout=10)
    assert result.response == {"x": 1}
    assert simulator.execution_count("sleepy1", "CoolDown") == 1


def test_sync_results_keep_the_raw_answer(sim_client: ic.IoTCentralClient) -> None:
    result = sim_client.run_command("mx1", "CoolDown", {"tempVal": 30}, response_timeout=5)
    raw = result.to_dict()
    assert raw["responseCode"] == 200
    assert raw["responseTimeout"] == 5
    assert set(raw) == {"id", "request", "response", "responseCode", "responseTimeout"}
    assert result.headers["content-type"] == "application/json"
    assert result.http_response is not None
    history = sim_client.command_history("mx1", "CoolDown")
    assert history.to_dict() == {"value": [raw]}


def test_sync_client_from_many_threads(
    sim_client: ic.IoTCentralClient, served: tuple[Simulator, SimulatorServer]
) -> None:
    import concurrent.futures

    simulator, _ = served
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: sim_client.run_command("mx1", "CoolDown", i), range(24)))
    assert sorted(r.response for r in results) == list(range(24))
    assert simulator.execution_count("mx1", "CoolDown") == 24


def test_sync_bearer_token_and_viewer_permissions(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    from iotcentral_sim import DEFAULT_BEARER_TOKEN, DEFAULT_VIEWER_TOKEN

    _, server = served
    with ic.IoTCentralClient(
        base_url=server.url, credential=ic.BearerToken(DEFAULT_BEARER_TOKEN)
    ) as c:
        assert c.run_command("mx1", "CoolDown", 1).response == 1
    with ic.IoTCentralClient(base_url=server.url, credential=DEFAULT_VIEWER_TOKEN) as viewer:
        assert viewer.command_history("mx1", "CoolDown").latest is not None
        with pytest.raises(ic.PermissionDeniedError):
            viewer.run_command("mx1", "CoolDown")


@pytest.mark.parametrize(("device", "command", "where", "answer"), TARGETS)
async def test_async_run_and_history_on_every_kind_of_target(
    async_sim_client: ic.AsyncIoTCentralClient,
    sim: Simulator,
    device: str,
    command: str,
    where: dict[str, Any],
    answer: Any,
) -> None:
    result = await async_sim_client.run_command(device, command, {"tempVal": 30}, **where)
    assert result.response == answer
    history = await async_sim_client.command_history(device, command, **where)
    assert history.latest == result
    assert sim.execution_count(device, command, **where) == 1


async def test_async_concurrent_commands(
    async_sim_client: ic.AsyncIoTCentralClient, sim: Simulator
) -> None:
    results = await asyncio.gather(
        *(async_sim_client.run_command("mx1", "CoolDown", {"n": n}) for n in range(20))
    )
    assert sorted(r.response["n"] for r in results) == list(range(20))
    assert len({r.client_request_id for r in results}) == 20
    assert sim.execution_count("mx1", "CoolDown") == 20


async def test_async_503_is_not_retried_and_counts_one_execution(
    async_sim_client: ic.AsyncIoTCentralClient, sim: Simulator
) -> None:
    sim.add_fault("status_after", status=503, retry_after=1)
    with pytest.raises(ic.ServiceUnavailableError):
        await async_sim_client.run_command("mx1", "CoolDown")
    assert sim.execution_count("mx1", "CoolDown") == 1


async def test_async_malformed_answers_from_the_simulator(
    async_sim_client: ic.AsyncIoTCentralClient, sim: Simulator
) -> None:
    sim.add_fault("truncated")
    with pytest.raises(ic.MalformedResponseError) as info:
        await async_sim_client.run_command("mx1", "CoolDown")
    assert info.value.may_have_executed
    sim.add_fault("html", status=502)
    with pytest.raises(ic.ServerError, match="text/html"):
        await async_sim_client.run_command("mx1", "CoolDown")
    assert sim.execution_count("mx1", "CoolDown") == 1


async def test_async_device_timeout_is_not_retried(
    async_sim_client: ic.AsyncIoTCentralClient, sim: Simulator, sleeps: object
) -> None:
    with pytest.raises(ic.DeviceTimeoutError) as info:
        await async_sim_client.run_command("slow1", "CoolDown", response_timeout=5)
    assert info.value.status_code == 504
    assert info.value.may_have_executed
    assert sim.execution_count("slow1", "CoolDown") == 1


async def test_async_missing_api_version_maps_to_bad_request(sim: Simulator) -> None:
    """Without api-version the simulator answers 400; the error maps to BadRequestError."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app)) as raw:
        response = await raw.post(
            "http://127.0.0.1/api/devices/mx1/commands/CoolDown",
            json={},
            headers={"authorization": DEFAULT_API_TOKEN},
        )
    from iotcentral._responses import make_status_error

    error = make_status_error(response, retry_after=None)
    assert isinstance(error, ic.BadRequestError)
    assert error.code == "MissingApiVersionParameter"
