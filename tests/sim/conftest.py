"""Fixtures for the simulator's behaviour tests (helpers live in sim_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from iotcentral_sim import Simulator
from sim_helpers import SleepRecorder, asgi_client


@pytest.fixture
def sim() -> Simulator:
    """The default scenario, no throttling, waits scaled 1000x down (30 s -> 30 ms)."""
    return Simulator(rate_limit=None, time_scale=0.001)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``sim`` (ASGI transport), authenticated as operator."""
    async with asgi_client(sim) as c:
        yield c


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepRecorder:
    """Record (and skip) every wait the simulator makes, in real seconds after scaling."""
    recorder = SleepRecorder()
    monkeypatch.setattr("iotcentral_sim._backend._sleep_for", recorder)
    return recorder
