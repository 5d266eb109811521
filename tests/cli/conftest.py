"""Fixtures for the command-line tests: the typer app and a simulator served over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from iotcentral.cli import create_app
from iotcentral_sim import Simulator, SimulatorServer


@pytest.fixture
def app() -> typer.Typer:
    return create_app()


@pytest.fixture(scope="module")
def cli_sim_server() -> Iterator[tuple[Simulator, SimulatorServer]]:
    simulator = Simulator(rate_limit=None, time_scale=0.001)
    with SimulatorServer(simulator) as server:
        yield simulator, server


@pytest.fixture
def served(
    cli_sim_server: tuple[Simulator, SimulatorServer], monkeypatch: pytest.MonkeyPatch
) -> tuple[Simulator, SimulatorServer]:
    """The shared simulator, reset; IOTC_* variables cleared so each test sets its own."""
    simulator, server = cli_sim_server
    simulator.reset()
    return simulator, server


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "IOTC_APP",
        "IOTC_BASE_DOMAIN",
        "IOTC_BASE_URL",
        "IOTC_API_TOKEN",
        "IOTC_BEARER_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
