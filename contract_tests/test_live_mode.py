"""Live mode, tested by pointing scripts/contract-test at the simulator served over loopback.

The simulator stands in for a real app: the suite must pass, write a JUnit report, skip what needs
the simulator's control surface, and never send a request for any device or command outside the
allow-list (a recording middleware sees every request that reaches the server).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote

import pytest
from iotcentral_contract._broken import ASGIApp, Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[1]
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def recording(app: ASGIApp, paths: list[str]) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            paths.append(scope["raw_path"].decode("ascii"))
        await app(scope, receive, send)

    return wrapped


def run_script(*args: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_CONTRACT_")}
    env.update(env_extra)
    env["IOTC_NO_BOOTSTRAP"] = "1"  # this interpreter already has the locked dependencies
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "contract-test"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


@pytest.mark.simulator_only
def test_live_mode_against_the_served_simulator(tmp_path: Path) -> None:
    from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

    simulator = Simulator(rate_limit=None, time_scale=0.001)
    seen: list[str] = []
    simulator.app = recording(simulator.app, seen)
    junit = tmp_path / "junit.xml"
    with SimulatorServer(simulator) as server:
        result = run_script(
            "--base-url",
            server.url,
            "--device",
            "mx1",
            "--command",
            "CoolDown",
            "--junit",
            str(junit),
            env_extra={
                "IOTC_CONTRACT_TOKEN": DEFAULT_API_TOKEN,
                "IOTC_CONTRACT_MAX_EXAMPLES": "8",
                "IOTC_CONTRACT_RATE_LIMIT": "500/s",
            },
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert DEFAULT_API_TOKEN not in output

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) > 0
    assert suite.get("failures") == "0"
    assert suite.get("errors") == "0"
    assert int(suite.get("skipped", "0")) > 0  # the simulator-only tests

    # Commands ran, and only on the allow-listed device and command.
    assert simulator.execution_count("mx1", "CoolDown") > 0
    assert set(simulator.executions()) == {
        key
        for key in simulator.executions()
        if (key.device_id, key.command_name) == ("mx1", "CoolDown")
    }
    api_paths = {unquote(path) for path in seen if path.startswith("/api/")}
    # The allow-listed command, and the not-found probes: a random UUID as device, or a command
    # name no device template can declare on the allow-listed device. Nothing else.
    allowed = re.compile(
        r"^/api/devices/(mx1/commands/CoolDown"
        rf"|{UUID}/commands/CoolDown"
        rf"|mx1/commands/iotc-contract-no-such-command-{UUID})$"
    )
    assert {path for path in api_paths if not allowed.match(path)} == set()
    assert "/api/devices/mx1/commands/CoolDown" in api_paths
    assert len(api_paths) > 1  # the probes ran live too


def test_live_mode_refuses_to_start_without_an_allow_list() -> None:
    result = run_script(
        "--base-url",
        "https://example.invalid/api",
        env_extra={"IOTC_CONTRACT_TOKEN": "x"},
    )
    assert result.returncode == 2
    assert "--device" in result.stderr
