"""The installed `iotcentral` script in a subprocess, and `iotcentral simulator serve`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import iotcentral_sim
import pytest
import typer
from iotcentral_sim import DEFAULT_API_TOKEN
from typer.testing import CliRunner

SCRIPT = Path(sys.executable).with_name("iotcentral")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(**env),
        check=False,
    )


def test_the_installed_script_runs_the_seed_example() -> None:
    result = run_script(
        "command", "run", "mx1", "CoolDown", "--request", '{"tempVal": 30}', "--json"
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["request"] == {"tempVal": 30}
    assert document["response"] == {"tempVal": 30}
    assert document["responseCode"] == 200
    assert "using the embedded simulator" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("command", "run", "mx1", "SetMode"), 1),
        (("command", "run", "mx1", "CoolDown", "--response-timeout", "99"), 2),
        (("command", "run", "ghost", "CoolDown"), 3),
    ],
)
def test_the_installed_script_exit_codes(args: tuple[str, ...], code: int) -> None:
    result = run_script(*args)
    assert result.returncode == code
    assert "Traceback" not in result.stderr


def test_the_installed_script_exit_code_4_without_a_traceback() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_script(
        "command", "history", "mx1", "CoolDown", "--max-retries", "0",
        IOTC_BASE_URL=f"http://127.0.0.1:{port}/api", IOTC_API_TOKEN=DEFAULT_API_TOKEN,
    )  # fmt: skip
    assert result.returncode == 4
    assert result.stderr.startswith("error: could not reach the service")
    assert "Traceback" not in result.stderr


def test_simulator_serve_in_a_subprocess_answers_the_client() -> None:
    server = subprocess.Popen(
        [str(SCRIPT), "simulator", "serve", "--port", "0", "--time-scale", "0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "listening on http://127.0.0.1:" in first
        url = first.rsplit(" ", 1)[1].strip()
        result = run_script(
            "command", "run", "thermostat1", "reboot", "-r", '{"delay": 0}', "--json",
            IOTC_BASE_URL=url, IOTC_API_TOKEN=DEFAULT_API_TOKEN,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["response"] == {"delay": 0}
        assert "embedded" not in result.stderr
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0
    assert "Simulator stopped." in out
    assert "Traceback" not in err


# -- serve options, in process (iotcentral_sim.serve replaced by a recorder) ------------------


@pytest.fixture
def served_with(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_serve(**kwargs: Any) -> None:
        calls.append(kwargs)
        kwargs["echo"]("listening")

    monkeypatch.setattr(iotcentral_sim, "serve", fake_serve)
    return calls


def test_serve_defaults(app: typer.Typer, served_with: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["simulator", "serve"])
    assert result.exit_code == 0
    assert result.stdout == "listening\n"
    (call,) = served_with
    assert {k: v for k, v in call.items() if k != "echo"} == {
        "host": "127.0.0.1",
        "port": 8080,
        "scenario_path": None,
        "rate_limit": 20.0,
        "api_tokens": (),
        "time_scale": 1.0,
    }


def test_serve_options(app: typer.Typer, served_with: list[dict[str, Any]], tmp_path: Path) -> None:
    scenario = tmp_path / "plant.yaml"
    scenario.write_text("devices: {pump1: {commands: {Start: echo}}}\n", encoding="utf-8")
    args = [
        "simulator", "serve", "--host", "::1", "--port", "0", "--scenario", str(scenario),
        "--rate-limit", "0", "--api-token", "tok-a", "--api-token", "tok-b", "--time-scale", "0.5",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (call,) = served_with
    assert call["host"] == "::1"
    assert call["port"] == 0
    assert call["scenario_path"] == str(scenario)
    assert call["rate_limit"] is None  # 0 disables throttling
    assert call["api_tokens"] == ("tok-a", "tok-b")
    assert call["time_scale"] == 0.5
    assert "warning" not in result.stderr


def test_serve_warns_off_loopback(app: typer.Typer, served_with: list[dict[str, Any]]) -> None:
    result = CliRunner().invoke(app, ["simulator", "serve", "--host", "0.0.0.0"])  # noqa: S104
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: serving on 0.0.0.0")
    assert "control API (/_sim: reset it, inject faults), which has no authentication" in " ".join(
        result.stderr.split()
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--rate-limit", "-1"],
        ["--time-scale", "-2"],
        ["--scenario", "/nonexistent.yaml"],
    ],
)
def test_serve_bad_options_exit_2(
    app: typer.Typer, served_with: list[dict[str, Any]], args: list[str]
) -> None:
    result = CliRunner().invoke(app, ["simulator", "serve", *args])
    assert result.exit_code == 2
    assert served_with == []


def test_serve_bad_scenario_is_one_line(app: typer.Typer, tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("devices: {pump1: {colour: blue}}\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["simulator", "serve", "--scenario", str(scenario)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --scenario: ")
    assert "colour" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_serve_on_a_busy_port_is_one_line(app: typer.Typer) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["simulator", "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot serve on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.output


# -- closed pipes (issue 10.6): real pipes, the installed script ---------------------------------


def run_into_closed_stdout(*args: str) -> subprocess.CompletedProcess[str]:
    """The script with a stdout whose reader is gone (`... | head -0`): each write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [str(SCRIPT), *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=60,
            env=clean_env(),
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    ("args", "ran"),
    [
        (("command", "run", "mx1", "CoolDown", "--json"), True),  # was exit 5, "a bug"
        (("command", "run", "mx1", "CoolDown"), True),  # was exit 1, "device failure"
        (("command", "history", "mx1", "CoolDown"), False),
    ],
)
def test_a_closed_stdout_exits_141_with_one_line(args: tuple[str, ...], ran: bool) -> None:
    result = run_into_closed_stdout(*args)
    assert result.returncode == 141, result.stderr
    notice, line = result.stderr.splitlines()  # the embedded-simulator notice, then one line
    assert "embedded simulator" in notice
    assert line.startswith("error: stdout was closed before the output was written")
    assert ("the command ran" in line) is ran
    assert "Traceback" not in result.stderr
    assert "Exception ignored" not in result.stderr


def test_request_from_a_closed_stdin_is_a_usage_error() -> None:
    result = subprocess.run(
        [str(SCRIPT), "command", "run", "mx1", "CoolDown", "--request", "@-"],
        preexec_fn=lambda: os.close(0),  # like `<&-`: the script starts without a stdin
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        "error: --request @-: stdin is closed: pipe the JSON in, or use --request JSON"
    )


# -- Ctrl-C on the embedded simulator (issue 10.5) -----------------------------------------------


def wait_until_executing(root_url: str, device: str) -> None:
    """Poll the embedded simulator's control API until `device` holds a command (loopback)."""
    for _ in range(600):
        executions = httpx.get(f"{root_url}/_sim/executions", timeout=5).json()["executions"]
        if any(e["device_id"] == device for e in executions):
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"{device} never received the command")


def test_ctrl_c_during_a_run_on_the_embedded_simulator_is_one_line_and_130() -> None:
    # slow1 answers after 10 s (time scale 1 in the embedded simulator): the signal comes while
    # the simulator holds the command (counted, waiting for the device's answer).
    process = subprocess.Popen(
        [str(SCRIPT), "command", "run", "slow1", "CoolDown"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stderr is not None
        notice = process.stderr.readline()  # printed once the simulator serves, before the POST
        assert "using the embedded simulator at http://127.0.0.1:" in notice
        api_url = notice.rsplit(" ", 1)[1].strip()
        wait_until_executing(api_url.removesuffix("/api"), "slow1")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:  # pragma: no cover - only if the assertions above failed
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert err.splitlines() == ["interrupted"]  # no uvicorn log, no CancelledError traceback
    assert out == ""
