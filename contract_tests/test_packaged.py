"""The wheel carries the contract suite: installed into a fresh virtualenv, `iotcentral
contract-test` runs from an unrelated folder against the served simulator, and passes.

Opt-in (IOTC_TEST_PACKAGING=1): building the wheel and a virtualenv takes longer than the rest of
the contract suite. Offline-safe: the wheel is built from this checkout, and the fresh virtualenv
gets its dependencies from this interpreter's site-packages (a `.pth` line), not from an index.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.simulator_only,
    pytest.mark.skipif(
        not os.environ.get("IOTC_TEST_PACKAGING"), reason="opt-in: IOTC_TEST_PACKAGING=1"
    ),
]


def sh(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def test_the_wheel_runs_the_suite_from_a_fresh_virtualenv(tmp_path: Path) -> None:
    from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

    dist, fresh, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT)
    (wheel,) = dist.glob("iotcentral_client-*.whl")
    sh(sys.executable, "-m", "venv", "--without-pip", fresh)
    python = fresh / "bin" / "python"
    purelib = Path(
        sh(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip()
    )
    # Dependencies from this interpreter (no index); the project itself only from the wheel.
    (purelib / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    sh(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        wheel,
    )
    where = sh(
        python, "-c", "import iotcentral_contract, iotcentral; print(iotcentral_contract.SUITE_DIR)"
    )
    assert str(purelib) in where, where
    assert str(ROOT) not in where, where
    assert (purelib / "iotcentral_contract" / "_spec" / "iotcentral.yaml").is_file()

    simulator = Simulator(rate_limit=None, time_scale=0.001)
    junit = elsewhere / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_")}
    env.update({"IOTC_CONTRACT_TOKEN": DEFAULT_API_TOKEN, "PATH": f"{fresh / 'bin'}:/usr/bin:/bin"})
    with SimulatorServer(simulator) as server:
        output = sh(
            fresh / "bin" / "iotcentral",
            "contract-test",
            "--base-url",
            server.url,
            "--device",
            "mx1",
            "--command",
            "CoolDown",
            "--junit",
            junit,
            "--rate-limit",
            "500/s",
            "--max-examples",
            "8",
            cwd=elsewhere,
            env=env,
        )
    assert DEFAULT_API_TOKEN not in output
    assert "operations covered: 2 of 8" in output  # the allow-list: device-level command only
    assert "checks failed: none" in output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("failures"), suite.get("errors")) == ("0", "0")
    assert simulator.execution_count("mx1", "CoolDown") > 0
    assert sorted(p.name for p in elsewhere.iterdir()) == ["junit.xml"]  # no caches left here
