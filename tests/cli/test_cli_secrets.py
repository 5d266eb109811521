"""No token on the command line's stdout or stderr, nor in a fleet journal, on any path (issue 10).

The hostile echo server (`tests/echo_server.py`) quotes the Authorization header back in answers
and errors, every way it can; the installed `iotcentral` script runs against it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from echo_server import ENCODINGS, EchoServer
from typer.testing import CliRunner

SIG = "Zk3Jc6Bf0GyQm9Xr7Tq2Wv8Ls5Pn1Hd4"
TOKEN = f"SharedAccessSignature sr=0b1e7c2a-app&sig={SIG}&skn=operator&se=4102444800000"
SCRIPT = Path(sys.executable).with_name("iotcentral")
FRAGMENT = 12


def _leaks(text: str) -> list[str]:
    runs = (SIG[i : i + FRAGMENT] for i in range(len(SIG) - FRAGMENT + 1))
    return [run for run in runs if run in text]


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with EchoServer() as url:
        yield url


def _iotcentral(url: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_")}
    env.update(IOTC_BASE_URL=url, IOTC_API_TOKEN=TOKEN)
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60,
        check=False,
    )  # fmt: skip


@pytest.mark.parametrize("status", ["201", "200", "401", "500", "drop"])
def test_no_token_in_command_output(app: typer.Typer, echo: str, status: str) -> None:
    """In process (typer's runner) for speed; the fleet test below goes through the real script."""
    env = {"IOTC_BASE_URL": echo, "IOTC_API_TOKEN": TOKEN}
    printed = []
    for encoding in ENCODINGS:
        device = f"{status}-{encoding}"
        for extra in ([], ["--json"]):
            for args in (
                ["command", "run", device, "CoolDown", "--max-retries", "0", "--verbose", *extra],
                ["command", "history", device, "CoolDown", "--max-retries", "0", *extra],
            ):
                result: Any = CliRunner().invoke(app, args, env=env)
                assert result.exit_code in (0, 1, 3, 4), (args, result.exception)
                printed.append(result.stdout + result.stderr)
    assert _leaks("\n".join(printed)) == []


def test_no_token_in_a_fleet_journal_or_its_json_lines(echo: str, tmp_path: Path) -> None:
    devices = [f"{status}-{enc}" for status in ("201", "401", "500") for enc in ENCODINGS]
    (tmp_path / "ids.txt").write_text("\n".join(devices) + "\n")
    run = _iotcentral(echo, "fleet", "run", "CoolDown", "--devices", "ids.txt", "--json",
                      "--journal", "run.db", "--max-retries", "0", cwd=tmp_path)  # fmt: skip
    status = _iotcentral(echo, "fleet", "status", "run.db", "--json", cwd=tmp_path)
    with sqlite3.connect(tmp_path / "run.db") as db:
        stored = "\n".join(repr(row) for table in ("devices", "meta")
                           for row in db.execute(f"SELECT * FROM {table}"))  # noqa: S608  # fmt: skip
    assert run.stdout.count("deviceId") == len(devices)
    assert _leaks(run.stdout + run.stderr) == []
    assert _leaks(status.stdout + status.stderr) == []
    assert _leaks(stored) == []
