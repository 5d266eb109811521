"""Fixtures shared by every test folder: repository paths, fake time and the served simulator.

The served simulator comes from the project's own pytest plugin (``iotcentral_sim.pytest_plugin``,
loaded through its ``pytest11`` entry point): one simulator for the whole session, reset before
each test that uses it (``iotcentral_sim_shared``). ``iotcentral_sim_session_options`` below
configures it for tests: no throttling, simulated waits scaled 1000x down.

Test doubles live in ``fakes.py`` beside this file, importable from every folder as ``fakes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fakes import FakeClock, Sleeps
from iotcentral_sim.pytest_plugin import IoTCentralSim, SimulatorOptions

if TYPE_CHECKING:
    from iotcentral_sim import Simulator, SimulatorServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = REPO_ROOT / "spec" / "iotcentral.yaml"
#: How every test simulator runs: no throttling, waits scaled 1000x down (30 s -> 30 ms).
TEST_RATE_LIMIT: float | None = None
TEST_TIME_SCALE = 0.001


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def spec_path() -> Path:
    return SPEC_PATH


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed epoch time; moves only with ``clock.advance(seconds)``."""
    return FakeClock()


@pytest.fixture
def sleeps() -> Sleeps:
    """A recorder for the waits code under test asks for (nothing really sleeps)."""
    return Sleeps()


@pytest.fixture
def sim() -> Simulator:
    """An in-process simulator of the test's own: the default scenario, test timing."""
    from iotcentral_sim import Simulator  # lazy: spec-only runs never load the simulator

    return Simulator(rate_limit=TEST_RATE_LIMIT, time_scale=TEST_TIME_SCALE)


@pytest.fixture(scope="session")
def iotcentral_sim_session_options() -> SimulatorOptions:
    """The plugin's shared simulator, configured like ``sim``."""
    return SimulatorOptions(rate_limit=TEST_RATE_LIMIT, time_scale=TEST_TIME_SCALE)


@pytest.fixture
def served(iotcentral_sim_shared: IoTCentralSim) -> tuple[Simulator, SimulatorServer]:
    """The session's simulator over loopback HTTP, reset for this test: (simulator, server)."""
    return iotcentral_sim_shared.simulator, iotcentral_sim_shared.server
