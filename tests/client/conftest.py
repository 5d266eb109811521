"""Fixtures for the client tests: fake time, simulators in process and over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import iotcentral as ic
import pytest
from client_helpers import FakeClock, Sleeps
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim() -> Simulator:
    return Simulator(rate_limit=None, time_scale=0.001)


@pytest.fixture(scope="module")
def module_sim_server() -> Iterator[tuple[Simulator, SimulatorServer]]:
    simulator = Simulator(rate_limit=None, time_scale=0.001)
    with SimulatorServer(simulator) as server:
        yield simulator, server


@pytest.fixture
def served(
    module_sim_server: tuple[Simulator, SimulatorServer],
) -> tuple[Simulator, SimulatorServer]:
    simulator, server = module_sim_server
    simulator.reset()
    return simulator, server


@pytest.fixture
def sim_client(
    served: tuple[Simulator, SimulatorServer], sleeps: Sleeps
) -> Iterator[ic.IoTCentralClient]:
    """A sync client against the simulator over loopback HTTP (sleeps recorded, not slept)."""
    _, server = served
    with ic.IoTCentralClient(
        base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=sleeps.policy()
    ) as client:
        yield client


@pytest.fixture
async def async_sim_client(
    sim: Simulator, sleeps: Sleeps
) -> AsyncIterator[ic.AsyncIoTCentralClient]:
    """An async client against the simulator in process (ASGI transport)."""
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        retry=sleeps.policy(),
        transport=httpx.ASGITransport(app=sim.app),
    ) as client:
        yield client
