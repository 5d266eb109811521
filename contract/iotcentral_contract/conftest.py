"""Fixtures of the contract suite: the target server, the simulator, live/simulator markers."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from iotcentral_contract import _harness
from iotcentral_contract._target import Target

# Run from the wheel (`iotcentral contract-test`) the suite is deterministic on its own: the same
# examples every run, no example database left behind. The repository's scripts/test selects
# its own profile (IOTC_TEST_PROFILE), which this leaves alone.
settings.register_profile(
    "iotcentral-contract",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
if "IOTC_TEST_PROFILE" not in os.environ:
    settings.load_profile("iotcentral-contract")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "simulator_only: needs the simulator's control surface; skipped in live mode"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Target.from_environment() is None:
        return
    skip = pytest.mark.skip(reason="simulator-only test; the target is a live app")
    for item in items:
        if item.get_closest_marker("simulator_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def target() -> Target:
    return _harness.target()


@pytest.fixture(scope="session")
def simulator() -> Any:
    """The in-process simulator (None in live mode)."""
    return _harness.simulator()
