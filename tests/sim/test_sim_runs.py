"""Runs and history on all four targets, the handlers, ids and history semantics."""

from __future__ import annotations

import httpx
import pytest
from iotcentral_sim import CommandSpec, DeviceSpec, Scenario, Simulator
from sim_helpers import asgi_client, assert_conforms, run_path

TARGETS = [
    pytest.param(("mx1", "CoolDown", None, None), id="device"),
    pytest.param(("thermostat1", "getMaxMinReport", "thermostat1", None), id="component"),
    pytest.param(("edge1", "restart", None, "sensorModule"), id="module"),
    pytest.param(("edge1", "getMaxMinReport", "thermostat", "sensorModule"), id="module-component"),
]


@pytest.mark.parametrize("target", TARGETS)
async def test_run_then_history_on_every_operation(
    client: httpx.AsyncClient, sim: Simulator, target: tuple[str, str, str | None, str | None]
) -> None:
    device, command, component, module = target
    path = run_path(device, command, component=component, module=module)

    empty = await client.get(path)
    assert empty.status_code == 200
    assert_conforms(empty)
    assert empty.json() == {"value": []}

    run = await client.post(path, json={"request": {"tempVal": 30}})
    assert run.status_code == 201
    assert_conforms(run)
    result = run.json()
    assert result["request"] == {"tempVal": 30}
    assert result["responseCode"] == 200

    history = await client.get(path)
    assert history.status_code == 200
    assert_conforms(history)
    assert history.json() == {"value": [result]}
    assert sim.execution_count(device, command, component=component, module=module) == 1
    # The same command name elsewhere is counted apart.
    assert sim.execution_count(device, command) == (
        1 if component is None and module is None else 0
    )


async def test_seed_example_echoes_request(client: httpx.AsyncClient) -> None:
    run = await client.post("/devices/mx1/commands/CoolDown", json={"request": {"tempVal": 30}})
    assert run.status_code == 201
    body = run.json()
    assert body["response"] == {"tempVal": 30}
    assert body["request"] == {"tempVal": 30}
    assert "connectionTimeout" not in body
    assert "responseTimeout" not in body


async def test_timeouts_are_echoed_when_given(client: httpx.AsyncClient) -> None:
    run = await client.post(
        "/devices/mx1/commands/CoolDown",
        json={"request": 1, "connectionTimeout": 0, "responseTimeout": 5},
    )
    assert run.status_code == 201
    assert run.json()["connectionTimeout"] == 0
    assert run.json()["responseTimeout"] == 5


@pytest.mark.parametrize("payload", [None, 0, "text", [1, 2], {"nested": {"a": [True]}}])
async def test_echo_accepts_any_json_request(client: httpx.AsyncClient, payload: object) -> None:
    run = await client.post("/devices/mx1/commands/CoolDown", json={"request": payload})
    assert run.status_code == 201
    assert_conforms(run)
    assert run.json()["response"] == payload
    assert run.json()["request"] == payload


async def test_run_without_request_has_no_echo(client: httpx.AsyncClient) -> None:
    run = await client.post("/devices/mx1/commands/CoolDown", json={})
    assert run.status_code == 201
    assert_conforms(run)
    assert set(run.json()) == {"id", "responseCode"}


@pytest.mark.parametrize(
    ("command", "code", "response"),
    [
        ("GetStatus", 200, {"status": "ok", "temperature": 21.5}),
        ("SetMode", 400, {"error": "unsupported mode"}),
        ("Calibrate", 500, {"error": "sensor fault"}),
        ("UpdateFirmware", 202, {"status": "accepted"}),
    ],
)
async def test_handlers_answer_201_with_device_code(
    client: httpx.AsyncClient, sim: Simulator, command: str, code: int, response: object
) -> None:
    run = await client.post(f"/devices/mx1/commands/{command}", json={"request": "x"})
    assert run.status_code == 201  # device-side failures are not HTTP errors
    assert_conforms(run)
    assert run.json()["responseCode"] == code
    assert run.json()["response"] == response
    assert sim.execution_count("mx1", command) == 1


async def test_every_execution_gets_a_fresh_id_and_history_keeps_the_last(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    ids = []
    for n in range(5):
        run = await client.post("/devices/mx1/commands/CoolDown", json={"request": n})
        assert run.status_code == 201
        ids.append(run.json()["id"])
    assert len(set(ids)) == 5
    history = (await client.get("/devices/mx1/commands/CoolDown")).json()
    assert len(history["value"]) == 1
    assert history["value"][0]["id"] == ids[-1]
    assert history["value"][0]["request"] == 4
    assert sim.execution_count("mx1", "CoolDown") == 5


async def test_history_is_per_target(client: httpx.AsyncClient) -> None:
    await client.post(run_path("thermostat1", "getMaxMinReport", component="thermostat1"), json={})
    other = await client.get(run_path("thermostat1", "getMaxMinReport", component="thermostat2"))
    assert other.json() == {"value": []}


async def test_path_parameters_are_percent_decoded() -> None:
    scenario = Scenario(devices={"a b/c": DeviceSpec("a b/c", commands={"x y": CommandSpec()})})
    sim = Simulator(scenario, rate_limit=None)
    async with asgi_client(sim) as c:
        run = await c.post("/devices/a%20b%2Fc/commands/x%20y", json={"request": 1})
    assert run.status_code == 201
    assert sim.execution_count("a b/c", "x y") == 1


async def test_reset_clears_counters_and_history(client: httpx.AsyncClient, sim: Simulator) -> None:
    await client.post("/devices/mx1/commands/CoolDown", json={"request": 1})
    sim.add_fault("status_before")
    sim.reset()
    assert sim.execution_count("mx1", "CoolDown") == 0
    assert sim.faults() == []
    assert (await client.get("/devices/mx1/commands/CoolDown")).json() == {"value": []}


def test_simulators_share_no_state() -> None:
    first, second = Simulator(rate_limit=None), Simulator(rate_limit=None)
    first.add_fault("status_before")
    assert second.faults() == []
    assert first.app is not second.app
