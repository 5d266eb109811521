"""Fixtures for the simulator's behaviour tests (helpers live in sim_helpers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from iotcentral_sim import Simulator
from sim_helpers import AUTH, Q


@pytest.fixture
def sim() -> Simulator:
    """The default scenario, no throttling, waits scaled 1000x down (30 s -> 30 ms)."""
    return Simulator(rate_limit=None, time_scale=0.001)


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``sim`` (ASGI transport), authenticated as operator."""
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sim/api", headers=AUTH, params=Q
    ) as c:
        yield c


MakeClient = Callable[..., httpx.AsyncClient]


@pytest.fixture
def make_client() -> MakeClient:
    """Build an in-process client for any simulator (caller closes it)."""

    def make(simulator: Simulator, **kwargs: Any) -> httpx.AsyncClient:
        kwargs.setdefault("headers", AUTH)
        kwargs.setdefault("params", Q)
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=simulator.app), base_url="http://sim/api", **kwargs
        )

    return make
