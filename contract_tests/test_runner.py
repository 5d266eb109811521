"""`iotcentral contract-test`: usage checked before anything is sent; failures summarised.

The full live run through `scripts/contract-test` (a thin wrapper over this command) is in
test_live_mode.py; the run from a wheel in a fresh virtualenv in test_packaged.py (opt-in).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from iotcentral.cli import create_app
from iotcentral_contract._broken import VARIANTS
from typer.testing import CliRunner

TOKEN = "SharedAccessSignature sr=runner&sig=contractRunnerSecret0123456789&skn=t&se=1"


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    clean = {k: "" for k in os.environ if k.startswith("IOTC_CONTRACT_")}
    result = CliRunner().invoke(create_app(), list(args), env={**clean, **(env or {})})
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--base-url", "https://app.example/api", "--token", TOKEN], "--device"),
        (["--base-url", "https://app.example/api", "--device", "d"], "--token"),
        (
            ["--base-url", "https://app.example/api", "--token", TOKEN, "--device", "d"],
            "--command",
        ),
        (["--api-version", "2099-01-01"], "not supported"),
        (["--rate-limit", "fast"], "--rate-limit"),
        (
            [
                "--base-url",
                "http://10.1.2.3/api",
                "--token",
                TOKEN,
                "--device",
                "d",
                "--command",
                "c",
            ],
            "http://",
        ),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(args: list[str], message: str) -> None:
    code, output = invoke("contract-test", *args)
    assert code == 2, output
    assert message in output
    assert "contractRunnerSecret" not in output


@pytest.mark.simulator_only
def test_a_failed_check_is_summarised_in_one_line(tmp_path: Path) -> None:
    from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

    simulator = Simulator(rate_limit=None, time_scale=0.001)
    simulator.app = VARIANTS["wrong-echo"](simulator.app, DEFAULT_API_TOKEN)
    junit = tmp_path / "report" / "junit.xml"
    with SimulatorServer(simulator) as server:
        code, output = invoke(
            "contract-test",
            "--base-url",
            server.url,
            "--device",
            "mx1",
            "--command",
            "CoolDown",
            "--junit",
            str(junit),
            "--rate-limit",
            "500/s",
            "--",
            "-k",
            "echoes or unknown_device",
            env={"IOTC_CONTRACT_TOKEN": DEFAULT_API_TOKEN, "PATH": os.environ["PATH"]},
        )
    assert code == 1, output
    assert DEFAULT_API_TOKEN not in output
    summary = output[output.index("== contract test summary") :]
    assert "allow-list: device 'mx1', command 'CoolDown'; paced at 500/s" in summary
    assert "operations covered: 2 of 8" in summary  # runCommand, getCommandHistory
    assert "checks failed: 1\n" in summary
    (failure,) = [line for line in summary.splitlines() if line.startswith("  test_")]
    assert failure.startswith("  test_run_echoes_the_request: [run-echoes-request] sent request")
    assert junit.is_file()
    assert DEFAULT_API_TOKEN not in junit.read_text(encoding="utf-8")
    assert sys.executable  # the child ran with this interpreter (runner.argv)
