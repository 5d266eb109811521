"""``python -m iotcentral_sim`` (``serve``): prints URL and auth, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, DEFAULT_BEARER_TOKEN
from iotcentral_sim.__main__ import build_parser, main
from sim_helpers import Q

SECRET = "SharedAccessSignature sr=x&sig=do-not-print-me&skn=ops&se=1"
PACKAGE = Path(__file__).resolve().parents[2] / "simulator" / "iotcentral_sim"


def start(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "iotcentral_sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl-C"):
            break
    found = re.search(r"listening on (http://127\.0\.0\.1:\d+/api)", "\n".join(lines))
    if found is None:
        process.kill()
        process.wait()
        pytest.fail("no URL printed:\n" + "\n".join(lines))
    return process, found.group(1), lines


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        rest, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the simulator did not stop on SIGINT")
    return rest


def test_serve_prints_url_and_auth_serves_and_stops_on_ctrl_c() -> None:
    process, url, lines = start("--api-token", SECRET, "--rate-limit", "0", "--time-scale", "0")
    try:
        with httpx.Client(params=Q, timeout=10) as c:
            ok = c.post(
                f"{url}/devices/mx1/commands/CoolDown",
                json={"request": 1},
                headers={"Authorization": SECRET},
            )
            default = c.post(
                f"{url}/devices/mx1/commands/CoolDown",
                json={},
                headers={"Authorization": DEFAULT_API_TOKEN},
            )
            bearer = c.get(
                f"{url}/devices/mx1/commands/CoolDown",
                headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"},
            )
    finally:
        rest = stop(process)
    assert ok.status_code == 201
    assert default.status_code == 401  # --api-token replaces the default API tokens
    assert bearer.status_code == 200
    output = "\n".join(lines) + rest
    assert process.returncode == 0
    assert "Simulator stopped." in rest
    assert "Traceback" not in output
    assert "Authorization: Bearer " + DEFAULT_BEARER_TOKEN in output
    assert "do-not-print-me" not in output
    assert "throttling: off" in output


def test_serve_with_a_scenario_prints_the_default_token(tmp_path: Path) -> None:
    scenario = tmp_path / "one.json"
    scenario.write_text('{"devices": {"d": {"commands": {"Go": "echo"}}}}', encoding="utf-8")
    process, url, lines = start("--scenario", str(scenario))
    try:
        response = httpx.post(
            f"{url}/devices/d/commands/Go",
            params=Q,
            json={},
            headers={"Authorization": DEFAULT_API_TOKEN},
            timeout=10,
        )
    finally:
        stop(process)
    assert response.status_code == 201
    assert any(DEFAULT_API_TOKEN in line for line in lines)
    assert "(one scenario)" in lines[0]


def test_main_reports_a_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--scenario", str(tmp_path / "missing.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: {d: {online: maybe}}", encoding="utf-8")
    assert main(["--port", "0", "--scenario", str(bad)]) == 2
    assert "devices.d.online" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--rate-limit", "-1"], ["--time-scale", "-2"], ["--port", "x"]])
def test_bad_flags_are_rejected(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


def test_flags_and_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.host, args.port, args.rate_limit, args.time_scale) == (
        "127.0.0.1",
        8080,
        20.0,
        1.0,
    )
    args = build_parser().parse_args(["--rate-limit", "0", "--api-token", "a", "--api-token", "b"])
    assert args.rate_limit is None
    assert args.api_token == ["a", "b"]


def test_simulator_reads_only_the_spec() -> None:
    """The hard rule: no import of the wrapper or of the generated client."""
    pattern = re.compile(r"^\s*(from|import)\s+(iotcentral|iotcentral_api)\b", re.MULTILINE)
    sources = list(PACKAGE.rglob("*.py"))
    assert len(sources) >= 8
    for source in sources:
        assert not pattern.search(source.read_text(encoding="utf-8")), source
    code = (
        "import sys, iotcentral_sim as s; s.Simulator(); "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('iotcentral', 'iotcentral_api')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.stdout.strip() == "[]"
