"""Fixtures of the contract suite: the target server, the simulator, live/simulator markers."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests import _harness
from contract_tests._target import Target


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
