"""Fixtures for the client tests: clients wired to a simulator in process or over loopback.

Fake time (``clock``, ``sleeps``), the in-process ``sim`` and the served simulator (``served``)
come from ``tests/conftest.py``; helpers live in ``client_helpers.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import iotcentral as ic
import pytest
from fakes import Sleeps
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer


@pytest.fixture(autouse=True)
def _fresh_redaction_plans() -> None:
    """Redaction caches what it computes per credential; each test computes its own, so a test
    checks the code under test, not a plan an earlier test (or mutation testing's clean run)
    left behind."""
    from iotcentral._redact import _plan

    _plan.cache_clear()


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
