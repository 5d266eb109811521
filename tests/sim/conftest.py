"""Fixtures for the simulator's behaviour tests (helpers live in sim_helpers.py).

``sim`` (an in-process simulator), ``served`` and the fake time come from ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fakes import Sleeps
from iotcentral_sim import Simulator
from sim_helpers import asgi_client


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client for ``sim`` (ASGI transport), authenticated as operator."""
    async with asgi_client(sim) as c:
        yield c


@pytest.fixture
def sleeps(sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """The recorder standing in for every simulator wait (real seconds after scaling), skipped."""
    monkeypatch.setattr("iotcentral_sim._backend._sleep_for", sleeps.async_sleep)
    return sleeps
