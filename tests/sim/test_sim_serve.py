"""``python -m iotcentral_sim`` (``serve``): prints URL and auth, serves, stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import iotcentral_sim
import pytest
from click.testing import CliRunner
from iotcentral_sim import DEFAULT_API_TOKEN, DEFAULT_BEARER_TOKEN
from iotcentral_sim._cli import serve
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


def test_a_bad_scenario_is_one_line_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(serve, ["--port", "0", "--scenario", str(tmp_path / "no.yaml")])
    assert missing.exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices: {d: {online: maybe}}", encoding="utf-8")
    result = CliRunner().invoke(serve, ["--port", "0", "--scenario", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == "error: --scenario: devices.d.online: expected true or false\n"


@pytest.mark.parametrize("argv", [["--rate-limit", "-1"], ["--time-scale", "-2"], ["--port", "x"]])
def test_bad_flags_are_rejected(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iotcentral_sim, "serve", pytest.fail)
    result = CliRunner().invoke(serve, argv)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr


def test_flags_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(iotcentral_sim, "serve", lambda **kwargs: calls.append(kwargs))
    assert CliRunner().invoke(serve, []).exit_code == 0
    args = ["--rate-limit", "0", "--api-token", "a", "--api-token", "b"]
    assert CliRunner().invoke(serve, args).exit_code == 0
    defaults, given = ({k: v for k, v in c.items() if k != "echo"} for c in calls)
    assert defaults == {
        "host": "127.0.0.1",
        "port": 8080,
        "scenario_path": None,
        "rate_limit": 20.0,
        "api_tokens": (),
        "time_scale": 1.0,
    }
    assert given["rate_limit"] is None  # 0 disables throttling
    assert given["api_tokens"] == ("a", "b")


def test_errors_never_show_the_given_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(**kwargs: Any) -> None:
        raise RuntimeError(f"kaput {kwargs['api_tokens'][0]}")

    monkeypatch.setattr(iotcentral_sim, "serve", fail)
    result = CliRunner().invoke(serve, ["--api-token", SECRET])
    assert result.exit_code == 5
    assert result.stderr == "internal error: RuntimeError: kaput [REDACTED]\n"


def test_python_m_iotcentral_sim_help_is_the_serve_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "iotcentral_sim", "--help"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: python -m iotcentral_sim [OPTIONS]\n")
    for flag in ("--host", "--port", "--scenario", "--rate-limit", "--api-token", "--time-scale"):
        assert flag in result.stdout


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


async def test_accepted_connections_send_without_waiting_for_acks() -> None:
    """Nagle off (TCP_NODELAY): the head and the body of an answer leave at once.

    Without it, every answer on a kept-alive connection waited ~40 ms for the client's delayed
    ACK. asyncio turns Nagle off only for sockets created as TCP, which ``_bind`` must do.
    """
    import asyncio
    import socket

    from iotcentral_sim._server import _bind

    listening = _bind("127.0.0.1", 0)
    nodelay: asyncio.Queue[int] = asyncio.Queue()

    async def accepted(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        await nodelay.put(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=listening)
    try:
        _, writer = await asyncio.open_connection(*listening.getsockname()[:2])
        assert await asyncio.wait_for(nodelay.get(), 10) != 0
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
