"""connectionTimeout, responseTimeout, connects_after / responds_after and the time scale.

Waits are observed through the ``sleeps`` recorder (the simulator's sleep, replaced), never by
measuring wall-clock time.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
from fakes import Sleeps
from iotcentral_sim import Scenario, Simulator
from sim_helpers import asgi_client, assert_conforms, error_code

OFFLINE = "/devices/offline1/commands/CoolDown"
SLEEPY = "/devices/sleepy1/commands/CoolDown"
SLOW = "/devices/slow1/commands/CoolDown"


@pytest.mark.parametrize("connection_timeout", [None, 0, 30])
async def test_offline_device_is_404_device_not_online_after_waiting(
    client: httpx.AsyncClient,
    sim: Simulator,
    sleeps: Sleeps,
    connection_timeout: int | None,
) -> None:
    body = {} if connection_timeout is None else {"connectionTimeout": connection_timeout}
    response = await client.post(OFFLINE, json=body)
    assert response.status_code == 404
    assert error_code(response) == "DeviceNotOnline"
    assert sim.execution_count("offline1", "CoolDown") == 0
    expected = [] if not connection_timeout else [pytest.approx(connection_timeout * 0.001)]
    assert sleeps.calls == expected
    assert (await client.get(OFFLINE)).json() == {"value": []}


async def test_device_connecting_within_connection_timeout_runs(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    response = await client.post(SLEEPY, json={"connectionTimeout": 5, "request": 1})
    assert response.status_code == 201
    assert_conforms(response)
    assert response.json()["connectionTimeout"] == 5
    assert sleeps.calls == [pytest.approx(5 * 0.001)]  # waited connects_after, not more
    assert sim.execution_count("sleepy1", "CoolDown") == 1
    # Once connected it stays online: no wait, even with connectionTimeout 0.
    again = await client.post(SLEEPY, json={"request": 2})
    assert again.status_code == 201
    assert len(sleeps.calls) == 1


async def test_device_connecting_after_connection_timeout_is_404(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    response = await client.post(SLEEPY, json={"connectionTimeout": 4})
    assert response.status_code == 404
    assert error_code(response) == "DeviceNotOnline"
    assert sleeps.calls == [pytest.approx(4 * 0.001)]
    assert sim.execution_count("sleepy1", "CoolDown") == 0


async def test_connects_after_counts_from_the_first_attempt(sleeps: Sleeps) -> None:
    sim = Simulator(rate_limit=None, time_scale=1.0)
    async with asgi_client(sim) as c:
        first = await c.post(SLEEPY, json={"connectionTimeout": 0})  # starts the device's clock
        second = await c.post(SLEEPY, json={"connectionTimeout": 30})
    assert first.status_code == 404
    assert second.status_code == 201
    # The second attempt waits only the rest of connects_after (5 s minus the time since the
    # first attempt), never the whole connectionTimeout.
    assert len(sleeps.calls) == 1
    assert 0 < sleeps.calls[0] <= 5


async def test_reset_takes_a_connected_device_offline_again(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps
) -> None:
    assert (await client.post(SLEEPY, json={"connectionTimeout": 30})).status_code == 201
    sim.reset()
    assert (await client.post(SLEEPY, json={})).status_code == 404


@pytest.mark.parametrize("response_timeout", [5, 9])
async def test_device_answering_after_response_timeout_is_504_but_ran(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps, response_timeout: int
) -> None:
    response = await client.post(SLOW, json={"responseTimeout": response_timeout, "request": 1})
    assert response.status_code == 504
    assert error_code(response) == "RequestTimeout"
    assert response.json()["error"]["message"] == (
        "Request timeout waiting for the device to respond."
    )
    assert sim.execution_count("slow1", "CoolDown") == 1  # it reached the device
    assert sleeps.calls == [pytest.approx(response_timeout * 0.001)]
    assert (await client.get(SLOW)).json() == {"value": []}


@pytest.mark.parametrize("response_timeout", [None, 10, 30])
async def test_device_answering_within_response_timeout_is_201(
    client: httpx.AsyncClient, sim: Simulator, sleeps: Sleeps, response_timeout: int | None
) -> None:
    body: dict[str, object] = {"request": 1}
    if response_timeout is not None:
        body["responseTimeout"] = response_timeout
    response = await client.post(SLOW, json=body)
    assert response.status_code == 201
    assert sleeps.calls == [pytest.approx(10 * 0.001)]  # answered after responds_after
    assert sim.execution_count("slow1", "CoolDown") == 1


async def test_command_level_responds_after_overrides_the_device() -> None:
    scenario = Scenario.from_dict(
        {
            "devices": {
                "d": {
                    "responds_after": 1,
                    "commands": {"fast": "echo", "slow": {"handler": "echo", "responds_after": 20}},
                }
            }
        }
    )
    sim = Simulator(scenario, rate_limit=None, time_scale=0)
    async with asgi_client(sim) as c:
        assert (
            await c.post("/devices/d/commands/fast", json={"responseTimeout": 5})
        ).status_code == 201
        slow = await c.post("/devices/d/commands/slow", json={"responseTimeout": 5})
    assert error_code(slow) == "RequestTimeout"


@pytest.mark.parametrize("scale", [1.0, 0.5, 0.001])
async def test_time_scale_multiplies_every_wait(sleeps: Sleeps, scale: float) -> None:
    sim = Simulator(rate_limit=None, time_scale=scale)
    sim.add_fault("slow", device_id="mx1", delay=2)
    async with asgi_client(sim) as c:
        await c.post(OFFLINE, json={"connectionTimeout": 30})
        await c.post(SLOW, json={"responseTimeout": 5})
        await c.post(SLEEPY, json={"connectionTimeout": 30})
        await c.post("/devices/mx1/commands/CoolDown", json={})
    assert sleeps.calls == [
        pytest.approx(30 * scale),
        pytest.approx(5 * scale),
        pytest.approx(5 * scale),
        pytest.approx(2 * scale),
    ]


async def test_time_scale_zero_skips_waits(sleeps: Sleeps) -> None:
    sim = Simulator(rate_limit=None, time_scale=0)
    async with asgi_client(sim) as c:
        assert (await c.post(SLOW, json={})).status_code == 201
        assert (await c.post(OFFLINE, json={"connectionTimeout": 30})).status_code == 404
    assert sleeps.calls == []


def test_negative_time_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        Simulator(time_scale=-1)


async def test_a_waiting_command_does_not_block_others(monkeypatch: pytest.MonkeyPatch) -> None:
    release = anyio.Event()
    order: list[str] = []

    async def blocking_sleep(seconds: float) -> None:
        await release.wait()

    monkeypatch.setattr("iotcentral_sim._backend._sleep_for", blocking_sleep)
    sim = Simulator(rate_limit=None)
    async with asgi_client(sim) as c:

        async def slow() -> None:
            response = await c.post(SLOW, json={})
            order.append(f"slow {response.status_code}")

        async def fast() -> None:
            response = await c.post("/devices/mx1/commands/CoolDown", json={})
            order.append(f"fast {response.status_code}")
            release.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(slow)
            tg.start_soon(fast)
    assert order == ["fast 201", "slow 201"]
