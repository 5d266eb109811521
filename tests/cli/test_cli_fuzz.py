"""Fuzzing the command line (issue 10): any arguments give a documented exit code and one line.

Never exit 5 ("a bug"), never a traceback, never more than one line on stderr, and the request that
reaches the simulator is for exactly the device and command given.
"""

from __future__ import annotations

from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iotcentral import cli
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer
from typer.testing import CliRunner

# Arguments a shell can pass: no NUL, no lone surrogates.
argument = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=20
)
seconds = st.one_of(st.integers(-5, 40).map(str), argument)
DOCUMENTED = {cli.EXIT_OK, cli.EXIT_DEVICE_FAILURE, cli.EXIT_USAGE, cli.EXIT_API_ERROR}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    device=argument,
    command=argument,
    request=st.none() | argument,
    connection=st.none() | seconds,
    as_json=st.booleans(),
)
def test_any_arguments_give_a_documented_exit_and_one_line(
    app: typer.Typer,
    served: tuple[Simulator, SimulatorServer],
    device: str,
    command: str,
    request: str | None,
    connection: str | None,
    as_json: bool,
) -> None:
    simulator, server = served
    simulator.reset()
    args = ["command", "run", "--", device, command]
    options: list[str] = []
    if request is not None:
        options += ["--request", request]
    if connection is not None:
        options += ["--connection-timeout", connection]
    if as_json:
        options.append("--json")
    env = {"IOTC_BASE_URL": server.url, "IOTC_API_TOKEN": DEFAULT_API_TOKEN}
    result: Any = CliRunner().invoke(app, args[:2] + options + args[2:], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in DOCUMENTED, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 1 or result.exit_code == cli.EXIT_USAGE
    executed = simulator.executions()
    if result.exit_code in (cli.EXIT_OK, cli.EXIT_DEVICE_FAILURE):
        ((key, count),) = executed.items()
        assert (key.device_id, key.command_name, count) == (device, command, 1)
    else:
        assert sum(executed.values()) == 0


@pytest.mark.parametrize("value", ["", " ", "-1", "1e3", "0x1f", "३", "NaN"])
def test_odd_timeouts_are_usage_errors(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer], value: str
) -> None:
    _, server = served
    env = {"IOTC_BASE_URL": server.url, "IOTC_API_TOKEN": DEFAULT_API_TOKEN}
    args = ["command", "run", "mx1", "CoolDown", "--response-timeout", value]
    result: Any = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == cli.EXIT_USAGE
    assert "response-timeout" in result.stderr
