"""`iotcentral fleet` end to end: the installed entry point against the served simulator.

Usage errors run in process (typer's CliRunner); everything else through the installed script.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

SCRIPT = Path(sys.executable).with_name("iotcentral")


def env(server: SimulatorServer | None = None) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_")}
    values["PYTHONUNBUFFERED"] = "1"
    if server is not None:
        values["IOTC_BASE_URL"] = server.url
        values["IOTC_API_TOKEN"] = DEFAULT_API_TOKEN
    return values


def fleet(
    *args: str, server: SimulatorServer | None, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), "fleet", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(server),
        cwd=cwd,
        input=stdin,
        check=False,
    )


def lines(stdout: str) -> dict[str, dict[str, object]]:
    found = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {str(item["deviceId"]): item for item in found}


def test_without_an_app_it_refuses_and_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text("mx1\n")
    result = fleet("run", "CoolDown", "--devices", "ids.txt", server=None, cwd=tmp_path)
    assert result.returncode == 2
    assert "a fleet run needs an app" in result.stderr
    assert "--simulator" in result.stderr
    assert not list(tmp_path.glob("*.db"))  # not even a journal
    assert "Traceback" not in result.stderr


def test_run_json_lines_exit_code_and_default_journal(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    sim, server = served
    (tmp_path / "ids.txt").write_text("# devices\nmx1\n\nthermostat1\noffline1\nghost\nmx1\n")
    result = fleet("run", "CoolDown", "--devices", "ids.txt", "--request", '{"tempVal": 30}',
                   "--json", server=server, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 6, result.stderr  # some not run, none unknown
    got = lines(result.stdout)
    assert {k: v["status"] for k, v in got.items()} == {
        "mx1": "succeeded",
        "thermostat1": "not_run",  # CommandNotFound: its commands live on components
        "offline1": "not_run",
        "ghost": "not_run",
    }
    assert got["mx1"]["result"]["response"] == {"tempVal": 30}  # type: ignore[index]
    assert got["ghost"]["errorCode"] == "DeviceNotFound"
    assert sim.execution_count("mx1", "CoolDown") == 1  # listed twice, run once
    journals = list(tmp_path.glob("fleet-CoolDown-*.db"))
    assert len(journals) == 1
    assert f"journal: {journals[0].name}" in result.stderr
    assert DEFAULT_API_TOKEN not in result.stdout + result.stderr


def test_resume_skips_finished_never_re_sends_unknown_unless_asked(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    sim, server = served
    sim.add_fault("status_after", device_id="slow1", status=500)  # ran, then a 500: unknown
    (tmp_path / "ids.csv").write_text("name,id\nfirst,mx1\nsecond,slow1\n")
    first = fleet("run", "CoolDown", "--devices", "ids.csv", "--id-column", "id",
                  "--journal", "run.db", server=server, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 7, first.stderr
    assert "may have run" in first.stderr

    again = fleet("run", "CoolDown", "--devices", "-", "--resume", "run.db", "--json",
                  server=server, cwd=tmp_path, stdin="mx1\nslow1\nsleepy1\n")  # fmt: skip
    assert again.returncode == 7
    got = lines(again.stdout)
    assert got["mx1"]["fromJournal"] is True
    assert got["slow1"]["status"] == "unknown"
    assert got["slow1"]["fromJournal"] is True
    assert "fromJournal" not in got["sleepy1"]
    assert sim.execution_count("mx1", "CoolDown") == 1
    assert sim.execution_count("slow1", "CoolDown") == 1

    status = fleet("status", "run.db", "--json", server=server, cwd=tmp_path)
    assert status.returncode == 7
    document = json.loads(status.stdout)
    assert [u["deviceId"] for u in document["unknown"]] == ["slow1"]
    assert document["counts"]["succeeded"] == 1
    checked = fleet("status", "run.db", "--check-history", server=server, cwd=tmp_path)
    assert "slow1" in checked.stdout
    assert "now: last execution" in checked.stdout

    forced = fleet("run", "CoolDown", "--devices", "-", "--resume", "run.db", "--retry-unknown",
                   server=server, cwd=tmp_path, stdin="slow1\n")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert sim.execution_count("slow1", "CoolDown") == 2  # re-sent only because it was asked


def test_status_with_the_device_list_names_the_devices_never_reached(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    _, server = served
    (tmp_path / "first.txt").write_text("mx1\n")
    first = fleet("run", "CoolDown", "--devices", "first.txt", "--journal", "run.db",
                  server=server, cwd=tmp_path)  # fmt: skip
    assert first.returncode == 0, first.stderr
    (tmp_path / "all.csv").write_text("id\nmx1\nlater-1\nlater-2\nlater-1\n")
    status = fleet("status", "run.db", "--devices", "all.csv", "--id-column", "id", "--json",
                   server=server, cwd=tmp_path)  # fmt: skip
    assert status.returncode == 6, status.stderr  # never reached: did not run
    document = json.loads(status.stdout)
    assert document["notReached"] == ["later-1", "later-2"]
    assert document["counts"] == {"succeeded": 1, "not_reached": 2}
    human = fleet("status", "run.db", "--devices", "all.csv", "--id-column", "id",
                  server=server, cwd=tmp_path)  # fmt: skip
    assert "never reached" in human.stdout
    assert "later-2" in human.stdout
    without = fleet("status", "run.db", "--json", server=server, cwd=tmp_path)
    assert without.returncode == 0
    assert "notReached" not in json.loads(without.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "Reboot", "--resume", "run.db"), "written for another run; it differs in command"),
        (("run", "CoolDown", "--journal", "run.db"), "the file exists; continue it with --resume"),
        (("run", "CoolDown", "--retry-unknown"), "--retry-unknown only applies with --resume"),
        (("run", "CoolDown", "--id-column", "nope"), "--id-column 'nope': not a column"),
        (("run", "CoolDown", "--rate", "0"), "--rate"),
        (("run", "CoolDown", "--simulator"), "--simulator runs an embedded simulator"),
        (("run", "CoolDown", "--simulator", "--resume", "x.db"), "cannot continue a --simulator"),
        (("status", "missing.db"), "missing.db: no such journal file"),
    ],
)
def test_usage_errors_exit_2_before_sending(
    served: tuple[Simulator, SimulatorServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    message: str,
) -> None:
    from iotcentral.cli import create_app
    from iotcentral.fleet import Journal
    from iotcentral.fleet._journal import RunFingerprint
    from typer.testing import CliRunner

    sim, server = served
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ids.txt").write_text("mx1\n")
    with Journal(tmp_path / "run.db") as journal:  # an earlier run of CoolDown on this app
        journal.bind(
            RunFingerprint.of(
                command_name="CoolDown",
                request=None,
                component=None,
                module=None,
                connection_timeout=None,
                response_timeout=None,
                base_url=server.url,
            )
        )
    extra = ("--devices", "ids.txt") if args[0] == "run" else ()
    result = CliRunner().invoke(create_app(), ["fleet", *args, *extra], env=env(server))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sim.request_count == 0


def test_ctrl_c_stops_cleanly_and_leaves_nothing_sending(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    sim, server = served
    sim.add_fault("slow", device_id="slow1", delay=60_000, times=None)  # ran; answer held 60 s
    (tmp_path / "ids.txt").write_text("slow1\nmx1\n")
    process = subprocess.Popen(
        [str(SCRIPT), "fleet", "run", "CoolDown", "--devices", "ids.txt", "--journal", "run.db",
         "--concurrency", "1"],
        env=env(server), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        for _ in range(600):  # until slow1's row is committed as sending
            if sim.execution_count("slow1", "CoolDown") == 1:
                break
            time.sleep(0.05)
        assert sim.execution_count("slow1", "CoolDown") == 1
        process.send_signal(signal.SIGINT)  # stop taking devices: mx1 is never started
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)  # abandon slow1's call
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "continue with --resume run.db" in stderr
    assert "Traceback" not in stderr
    db = sqlite3.connect(tmp_path / "run.db")
    rows = dict(db.execute("SELECT device_id, state FROM devices").fetchall())
    db.close()
    assert rows == {"slow1": "unknown"}  # recorded: it may have run; mx1 never started
    assert sim.execution_count("mx1", "CoolDown") == 0


def test_the_readme_exit_codes_and_demo_fleet_match_the_cli(repo_root: Path) -> None:
    import re

    import yaml
    from iotcentral.cli.fleet import DEMO_FLEET, FLEET_EXIT_CODES

    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    start = readme.index("### `iotcentral fleet`")
    table = readme[start : readme.index("\n#", start + 10)]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(FLEET_EXIT_CODES)
    scenario = yaml.safe_load((repo_root / "simulator" / "fleet-demo.yaml").read_text())
    assert scenario["fleets"] == [DEMO_FLEET]  # --simulator serves the documented demo fleet


def test_the_progress_bar_counts_each_status_and_shows_the_rate(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from iotcentral.cli._progress import FleetProgress, printable
    from iotcentral.fleet import Outcome, OutcomeStatus, RatePacer

    statuses = [OutcomeStatus.SUCCEEDED] * 2 + [OutcomeStatus.UNKNOWN, OutcomeStatus.NOT_RUN]
    with FleetProgress(4, RatePacer(20), enabled=True) as progress:
        for index, status in enumerate(statuses):
            progress.update(Outcome(f"d{index}", status))
    assert progress.counts == {"succeeded": 2, "device_failed": 0, "not_run": 1, "unknown": 1}
    drawn = capsys.readouterr().err
    assert "4/4" in drawn
    assert "ok 2  failed 0  not run 1  unknown 1  20.0 req/s" in drawn
    with FleetProgress(None, RatePacer(20), enabled=False) as quiet:
        quiet.update(Outcome("d", OutcomeStatus.SUCCEEDED))
    assert capsys.readouterr().err == ""  # not a terminal: nothing drawn
    assert printable("evil\x1b[2J\u009bid") == "evil\ufffd[2J\ufffdid"


def test_an_explicit_simulator_serves_the_demo_fleet(tmp_path: Path) -> None:
    from iotcentral.cli.fleet import exit_code_for

    ids = [f"demo-{i:05d}" for i in range(6)]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    result = fleet("run", "Reboot", "--devices", "ids.txt", "--simulator", "--json",
                   server=None, cwd=tmp_path)  # fmt: skip
    got = lines(result.stdout)
    assert sorted(got) == ids
    counts: dict[str, int] = {}
    for item in got.values():
        counts[str(item["status"])] = counts.get(str(item["status"]), 0) + 1
    assert result.returncode == exit_code_for(counts), result.stderr
    assert "embedded simulator at http://127.0.0.1:" in result.stderr


def test_the_api_version_is_chosen_like_for_single_commands(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    sim, server = served
    (tmp_path / "ids.txt").write_text("mx1\n")
    result = fleet("run", "CoolDown", "--devices", "ids.txt", "--api-version",
                   "2022-10-31-preview", "--verbose", server=server, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "api-version=2022-10-31-preview" in result.stderr
    assert "api-version=2022-07-31" not in result.stderr
    refused = fleet("run", "CoolDown", "--devices", "ids.txt", "--api-version", "2020-01-01",
                    server=server, cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert "2022-07-31" in refused.stderr  # names the choices
    assert sim.execution_count("mx1", "CoolDown") == 1
