"""The soak script: a short smoke run in the suite, and the checks that make it fail.

The real soak (`scripts/soak`, 3 minutes by default) is opt-in; here it runs for a couple of
seconds with a fixed seed. Its accounting and its leak scan are also tested on their own, with
counters and log records made up to break each rule.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SOAK = REPO / "scripts" / "soak.py"
ARGS = [sys.executable, str(SOAK), "--async-workers", "4"]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


soak = _load()


def test_a_short_soak_runs_clean() -> None:
    done = subprocess.run(
        [*ARGS, "--seconds", "2", "--seed", "7", "--json", "--sync-workers", "2"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["clean"] is True
    assert report["violations"] == {}
    outcomes = report["outcomes"]
    assert outcomes["ok"] > 0
    assert outcomes.get("history_ok", 0) + outcomes.get("history_error", 0) > 0
    assert report["calls"] == sum(
        outcomes.get(k, 0) for k in ("ok", "maybe", "not_run", "history_ok", "history_error")
    )
    assert report["executions"] >= outcomes["ok"]  # every reported success was counted
    assert report["faults_injected"]  # faults were switched on
    assert report["log_records_scanned"] > 0
    assert 0 < report["rss_mib"]["start"] <= report["rss_mib"]["peak"]
    assert report["rss_mib"]["judged"] is False  # two seconds are too short to judge memory
    assert "SharedAccessSignature" not in done.stdout  # the report never shows the token


class _Counter:
    """Stands in for the simulator: only the execution counter."""

    def __init__(self) -> None:
        self.count = 0

    def execution_count(self, device: str, command: str) -> int:
        return self.count


def _settle(ledger: object, sim: _Counter, tally: object, outcome: str, expected: int) -> None:
    ledger.settle(sim, tally, outcome, expected, "test")  # type: ignore[attr-defined]


def test_the_ledger_accepts_exactly_once_and_maybe() -> None:
    sim, tally, ledger = _Counter(), soak.Tally(), soak.Ledger("d")
    sim.count = 1
    _settle(ledger, sim, tally, "ok", 1)
    _settle(ledger, sim, tally, "not_run", 0)
    _settle(ledger, sim, tally, "maybe", 0)  # did not run (yet): unsettled
    sim.count = 3  # this success, plus the earlier maybe arriving late
    _settle(ledger, sim, tally, "ok", 1)
    assert tally.violations == {}
    assert tally.outcomes == {"maybe_not_run": 1, "maybe_ran_late": 1}


@pytest.mark.parametrize(
    ("steps", "violation"),
    [
        ([("ok", 1, 2)], "duplicate"),  # a success counted twice
        ([("ok", 1, 0)], "lost"),  # a success the device never saw
        ([("not_run", 0, 1)], "duplicate"),  # "not run" but it ran
        ([("history_ok", 0, 1)], "duplicate"),  # a read that ran a command
        ([("maybe", 0, 2)], "duplicate"),  # a maybe that ran twice
        ([("maybe", 0, 0), ("ok", 1, 3)], "duplicate"),  # one late arrival allowed, not two
    ],
)
def test_the_ledger_catches_lost_and_duplicated_runs(
    steps: list[tuple[str, int, int]], violation: str
) -> None:
    sim, tally, ledger = _Counter(), soak.Tally(), soak.Ledger("d")
    for outcome, expected, count in steps:
        sim.count = count
        _settle(ledger, sim, tally, outcome, expected)
    assert tally.violations == {violation: 1}


def test_late_arrivals_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(soak.time, "monotonic", lambda: now[0])
    sim, tally, ledger = _Counter(), soak.Tally(), soak.Ledger("d")
    _settle(ledger, sim, tally, "maybe", 0)
    now[0] += soak.SETTLE_WINDOW + 1
    sim.count = 1
    _settle(ledger, sim, tally, "not_run", 0)
    assert tally.violations == {"duplicate": 1}


def test_the_leak_scanner_sees_the_token_in_messages_and_tracebacks() -> None:
    tally = soak.Tally()
    scanner = soak.LeakScanner(("s3cr3t",), tally)
    logger = logging.getLogger("soak-test")
    logger.addHandler(scanner)
    logger.propagate = False
    try:
        logger.warning("nothing here")
        assert tally.violations == {}
        logger.warning("sig=%s", "s3cr3t")
        try:
            raise RuntimeError("token s3cr3t in an exception")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(scanner)
    assert tally.violations == {"leak": 2}
    assert scanner.records == 3
