"""The soak script: a short smoke run in the suite, and the checks that make it fail.

The real soak (`scripts/soak`, 3 minutes by default) is opt-in; here it runs for a couple of
seconds with a fixed seed, fleet workers included. Its accounting (of calls and of fleet outcomes)
and its leak scans are also tested on their own, with counters, outcomes, journal states and log
records made up to break each rule.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from iotcentral import CommandResult
from iotcentral.fleet import Outcome, OutcomeStatus

REPO = Path(__file__).resolve().parents[2]
SOAK = REPO / "scripts" / "soak.py"
ARGS = [sys.executable, str(SOAK), "--async-workers", "4"]
FLEET = ["--fleet-workers", "2", "--fleet-devices", "6"]


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
        [*ARGS, *FLEET, "--seconds", "2", "--seed", "7", "--json", "--sync-workers", "2"],
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
    fleet = report["fleet"]
    assert (fleet["workers"], fleet["devices"]) == (2, 12)
    assert fleet["runs"] == fleet["runs_by"]["async"] + fleet["runs_by"]["sync"] > 0
    assert sum(fleet["outcomes"].values()) > 0  # fleet outcomes were accounted for
    assert fleet["violations"] == 0
    assert fleet["journal_bytes_scanned"] > 0  # journals were read back and scanned
    assert fleet["pacer"]["requests"] > 0  # the fleet runs went through the shared pacer
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


# -- fleet runs: every outcome against the counters and the journal --------------------------------

PAYLOAD = {"fleet": 0, "run": 1}
OK, FAILED = OutcomeStatus.SUCCEEDED, OutcomeStatus.DEVICE_FAILED
NOT_RUN, UNKNOWN = OutcomeStatus.NOT_RUN, OutcomeStatus.UNKNOWN


class _Fleet:
    """Stands in for the simulator: per-device execution counters and last executions."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.last: dict[str, dict[str, Any]] = {}

    def execution_count(self, device: str, command: str) -> int:
        return self.counts.get(device, 0)

    def last_execution(self, device: str, command: str) -> dict[str, Any] | None:
        return self.last.get(device)


def _outcome(device: str, status: OutcomeStatus, *, journal: bool = False, **kw: Any) -> Outcome:
    """A made-up outcome; a fresh succeeded / device_failed one carries the result it ran."""
    result = None
    if status in (OK, FAILED) and not journal:
        code = 200 if status is OK else 500
        result = CommandResult(f"run-{device}", PAYLOAD, kw.pop("response", PAYLOAD), code)
    return Outcome(device, status, result=result, from_journal=journal, **kw)


def _account_fleet(
    outcomes: list[Outcome],
    ran: dict[str, int],
    *,
    devices: list[str] | None = None,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    cut: str = "none",
    retry_unknown: bool = False,
) -> object:
    """Account one run whose devices' counters moved by `ran` (devices not in it: 0).

    The journal afterwards holds each fresh outcome's status unless `after` says otherwise.
    """
    sim, tally = _Fleet(), soak.Tally()
    given = devices if devices is not None else sorted({o.device_id for o in outcomes})
    ledgers = {d: soak.Ledger(d, fleet=True) for d in given}
    for outcome in outcomes:
        if outcome.result is not None:
            sim.last[outcome.device_id] = {"id": outcome.result.id}
    sim.counts = dict(ran)
    journal = {**(before or {}), **{o.device_id: o.status.value for o in outcomes}}
    run = soak.FleetRun(
        given,
        PAYLOAD,
        resumed=before is not None,
        retry_unknown=retry_unknown,
        cut=cut,
        before=before or {},
        after=journal if after is None else after,
    )
    soak.account_fleet_run(sim, tally, ledgers, run, outcomes)
    return tally


def test_the_fleet_accounting_accepts_every_status_run_once_or_not() -> None:
    outcomes = [
        _outcome("a", OK),
        _outcome("b", FAILED),
        _outcome("c", NOT_RUN),
        _outcome("d", UNKNOWN),  # ran
        _outcome("e", UNKNOWN),  # did not run (yet)
    ]
    tally = _account_fleet(outcomes, {"a": 1, "b": 1, "d": 1})
    assert tally.violations == {}  # type: ignore[attr-defined]
    fleet = tally.fleet  # type: ignore[attr-defined]
    assert [fleet[f"outcome:{s.value}"] for s in (OK, FAILED, NOT_RUN, UNKNOWN)] == [1, 1, 1, 2]
    assert (fleet["maybe_ran"], fleet["maybe_not_run"], fleet["violations"]) == (1, 1, 0)
    assert tally.outcomes == {}  # type: ignore[attr-defined]  # apart from the calls' figures


def test_a_resumed_journal_is_accepted_when_it_sends_only_what_it_must() -> None:
    before = {"a": "succeeded", "b": "device_failed", "c": "unknown", "d": "not_run"}
    outcomes = [
        _outcome("a", OK, journal=True),
        _outcome("b", FAILED, journal=True),
        _outcome("c", UNKNOWN, journal=True),
        _outcome("d", OK),  # provably never ran before: runs again
        _outcome("e", OK),  # not reached before: runs now
    ]
    tally = _account_fleet(outcomes, {"d": 1, "e": 1}, before=before)
    assert tally.violations == {}  # type: ignore[attr-defined]
    assert tally.fleet["from_journal:succeeded"] == 1  # type: ignore[attr-defined]
    # retry_unknown re-sends the unknown one.
    resent = [_outcome("c", OK)]
    tally = _account_fleet(resent, {"c": 1}, before={"c": "unknown"}, retry_unknown=True)
    assert tally.violations == {}  # type: ignore[attr-defined]


def test_a_stopped_or_abandoned_run_may_leave_devices_without_an_outcome() -> None:
    devices = ["a", "b", "c"]
    stopped = _account_fleet([_outcome("a", OK)], {"a": 1}, devices=devices, cut="stopped")
    assert stopped.violations == {}  # type: ignore[attr-defined]
    assert stopped.fleet["not_started"] == 2  # type: ignore[attr-defined]
    abandoned = _account_fleet(
        [_outcome("a", OK)], {"a": 1, "b": 1}, devices=devices, cut="abandoned"
    )
    assert abandoned.violations == {}  # type: ignore[attr-defined]  # b was in flight: it may have run


@pytest.mark.parametrize(
    ("outcomes", "ran", "options", "violation"),
    [
        ([_outcome("a", OK)], {"a": 2}, {}, "duplicate"),  # succeeded, ran twice
        ([_outcome("a", OK)], {}, {}, "lost"),  # succeeded, never ran
        ([_outcome("a", FAILED)], {"a": 2}, {}, "duplicate"),  # device_failed, ran twice
        ([_outcome("a", NOT_RUN)], {"a": 1}, {}, "duplicate"),  # "not run" but it ran
        ([_outcome("a", UNKNOWN)], {"a": 2}, {}, "duplicate"),  # unknown ran twice
        # Read from the journal, yet the device ran again.
        ([_outcome("a", OK, journal=True)], {"a": 1}, {"before": {"a": "succeeded"}}, "duplicate"),
        # The journal said it ran (or may have): the resume must not send it again.
        ([_outcome("a", OK)], {"a": 1}, {"before": {"a": "succeeded"}}, "duplicate"),
        ([_outcome("a", OK)], {"a": 1}, {"before": {"a": "unknown"}}, "duplicate"),
        ([_outcome("a", OK)], {"a": 1}, {"before": {"a": "sending"}}, "duplicate"),
        # A device that provably never ran, held back on resume: it never gets the command.
        ([_outcome("a", NOT_RUN, journal=True)], {}, {"before": {"a": "not_run"}}, "outcome"),
        ([_outcome("a", OK, journal=True)], {}, {}, "outcome"),  # from_journal on a new journal
        ([], {}, {"devices": ["a"]}, "outcome"),  # a device without an outcome
        ([], {"a": 1}, {"devices": ["a"], "cut": "stopped"}, "duplicate"),  # not started, ran
        ([_outcome("a", OK), _outcome("a", OK)], {"a": 1}, {}, "outcome"),  # two outcomes
        (
            [_outcome("b", NOT_RUN)],
            {},
            {"devices": ["a"], "cut": "stopped"},
            "outcome",
        ),  # not given
        ([_outcome("a", OK)], {"a": 1}, {"after": {"a": "unknown"}}, "journal"),  # not recorded
        ([_outcome("a", UNKNOWN)], {}, {"after": {"a": "sending"}}, "journal"),  # left sending
        ([_outcome("a", OK, response={"x": 1})], {"a": 1}, {}, "wrong_answer"),
        ([_outcome("a", UNKNOWN, error=RuntimeError("x"))], {}, {}, "unexpected"),
    ],
)
def test_the_fleet_accounting_catches_lost_and_duplicated_runs(
    outcomes: list[Outcome], ran: dict[str, int], options: dict[str, Any], violation: str
) -> None:
    tally = _account_fleet(outcomes, ran, **options)
    assert tally.violations == {violation: 1}  # type: ignore[attr-defined]
    assert tally.fleet["violations"] == 1  # type: ignore[attr-defined]


def test_a_late_unknown_from_an_earlier_run_is_not_a_duplicate() -> None:
    sim, tally = _Fleet(), soak.Tally()
    ledgers = {"a": soak.Ledger("a", fleet=True)}
    first = soak.FleetRun(["a"], PAYLOAD, after={"a": "unknown"})
    soak.account_fleet_run(sim, tally, ledgers, first, [_outcome("a", UNKNOWN)])  # not yet run
    sim.counts = {"a": 2}  # the earlier unknown arrived, plus this run's own execution
    sim.last = {"a": {"id": "run-a"}}
    second = soak.FleetRun(["a"], PAYLOAD, after={"a": "succeeded"})
    soak.account_fleet_run(sim, tally, ledgers, second, [_outcome("a", OK)])
    assert tally.violations == {}
    sim.counts = {"a": 4}  # but only once: a third run's success cannot hide another one
    soak.account_fleet_run(sim, tally, ledgers, second, [_outcome("a", OK)])
    assert tally.violations == {"duplicate": 1}


def _soak_for_scans(tally: object) -> object:
    return soak.Soak(None, None, "t", ("s3cr3t",), tally, threading.Event())  # type: ignore[arg-type]


def test_the_fleet_scans_see_the_token_in_outcomes_and_journal_files(tmp_path: Path) -> None:
    tally = soak.Tally()
    scanner = _soak_for_scans(tally)
    scanner.scan_outcome(_outcome("a", NOT_RUN, message="nothing here"))  # type: ignore[attr-defined]
    assert tally.violations == {}
    scanner.scan_outcome(_outcome("a", NOT_RUN, message="token s3cr3t quoted back"))  # type: ignore[attr-defined]
    assert tally.violations == {"leak": 3}  # its to_dict(), its repr and its message
    journal = tmp_path / "run.db"
    journal.write_bytes(b"SQLite format 3\x00 clean")
    scanner.scan_journal(journal)  # type: ignore[attr-defined]
    wal = tmp_path / "run.db-wal"
    wal.write_bytes(b"\x00\x01 sig=s3cr3t \x02")
    scanner.scan_journal(journal)  # type: ignore[attr-defined]
    assert tally.violations == {"leak": 4}
    scanned = 2 * journal.stat().st_size + wal.stat().st_size
    assert scanner.journal_bytes == scanned  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "args",
    [
        ["--fleet-rate", "300", "--rate-limit", "200"],  # paced above the app's limit
        ["--fleet-rate", "0"],
        ["--fleet-workers", "-1"],
        ["--fleet-devices", "0"],
    ],
)
def test_fleet_options_are_checked(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        soak.main(args)
    assert exited.value.code == 2
    assert "--fleet" in capsys.readouterr().err
