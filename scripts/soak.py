"""Soak: clients and fleet runs against a loopback simulator whose faults come and go.

``scripts/soak [--seconds N]`` (default 180) serves a simulator on 127.0.0.1 (one device per worker,
each with an echo command; throttled at ``--rate-limit`` requests/s; waits scaled 1000x down) and
runs ``--sync-workers`` threads sharing two ``IoTCentralClient``s and ``--async-workers`` tasks
sharing two ``AsyncIoTCentralClient``s. Each worker owns one device and calls it one call at a
time: mostly runs, some history reads. Beside them, ``--fleet-workers`` threads (default 2; 0:
none) each own ``--fleet-devices`` devices of a generated fleet (some offline, slow, failing or
never answering) and run fleet runs over them (``run_command_many``), async and sync in turn, each
with a journal of its own in a temporary folder; some runs resume the previous run's journal
(some with ``retry_unknown``), some are stopped or abandoned part-way. Every fleet run waits for
one ``RatePacer`` (``--fleet-rate``, at most the simulator's limit). A controller alternates calm
and storm phases: in a storm it injects a few random faults of every kind the simulator has
(status before/after with 429/5xx and Retry-After, drops, HTML, truncated, slow, trickle,
oversized, gzip bomb), on runs, reads or both, on any device (fleet devices included), then
clears them.

Every call is accounted for against the simulator's execution counter of the worker's device,
read before and after the call (the device is the worker's alone):

- a returned result: the counter went up by exactly one and the last execution is that result;
- an error with ``may_have_executed`` false, or a history read: the counter did not move;
- an error with ``may_have_executed`` true: it moved by one (the command ran) or not at all (not
  yet, or never); the latter stay "unsettled" and may only show up later, once each.

Every fleet outcome likewise, against its device's counter before and after the run:
``succeeded`` / ``device_failed`` moved it by exactly one, ``not_run`` and outcomes read from the
journal (``from_journal``) not at all, ``unknown`` by one or none (unsettled, as above). Every
distinct device given to a run gets exactly one outcome (a stopped run: only the devices it
started, the others must not have run; an abandoned one: those left without an outcome may have
run). A resumed journal must skip the devices its rows say ran or may have run (unless
``retry_unknown``) and run the others; after each run the journal must hold every fresh outcome,
with no row left ``sending``.

Anything else is a lost or duplicated run. The token's secret is searched in every log record
(the ``iotcentral`` logger at DEBUG), every exception's text and repr, the clients' reprs, every
fleet outcome (its ``to_dict()`` JSON, repr, message and error), the bytes of every journal file,
and the process's stderr. RSS is sampled twice a second: start (after a warm-up), peak and end
(glibc's malloc is limited to two arenas, so that freed memory is handed back and the end
measures memory in use).

Exit status: 0 clean; 1 a run lost or duplicated, a leak, a crash, an unexpected exception, or
memory that grew (judged on runs of 30 s or more); 2 usage error. ``--json`` prints the figures
as JSON (the fleet's under ``fleet``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import iotcentral as ic
from iotcentral.fleet import Journal, Outcome, OutcomeStatus, RatePacer, StopSignal
from iotcentral_sim import FAULT_KINDS, Scenario, Simulator, SimulatorServer

COMMAND = "Run"
FLEET_PREFIX = "fleet-"
#: Runs wait for the device at most 5 s (the least the service allows): with these timeouts an
#: attempt lasts at most 0.5 + 0.5 + 0.5 + (5 + 0.5) = 7 s, so a trickled run ends by then.
TIMEOUT = ic.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5, margin=0.5)
RUN_OPTIONS: dict[str, Any] = {"response_timeout": 5}
ATTEMPT_BOUND = 7.0
#: Fleet runs: devices started at once per run, and the share of runs that resume the last journal.
FLEET_CONCURRENCY = 4
FLEET_RESUME_SHARE = 0.35
#: The generated fleet's behaviours, so that every outcome status shows up even in calm phases:
#: offline devices are not_run, failing ones device_failed, never-answering ones unknown (504).
FLEET_BEHAVIOURS = {"offline": 0.1, "slow": 0.1, "failing": 0.1, "never_answering": 0.05}
#: Memory may grow by at most this much between start and end (judged on runs >= 30 s).
GROWTH_ALLOWED = 24 * 1024 * 1024
GROWTH_FRACTION = 0.2
JUDGE_MEMORY_AFTER = 30.0


# -- what could go wrong, counted ------------------------------------------------------------------


@dataclass
class Tally:
    """Every outcome, by kind; every violation, by kind. Shared by all workers (locked)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    outcomes: Counter[str] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    started: int = 0
    finished: int = 0
    #: The fleet runs' figures (runs, outcomes per status, accounting), apart from the calls'.
    fleet: Counter[str] = field(default_factory=Counter)

    def count(self, outcome: str, *, fleet: bool = False) -> None:
        with self.lock:
            (self.fleet if fleet else self.outcomes)[outcome] += 1

    def violate(self, kind: str, detail: str, *, fleet: bool = False) -> None:
        with self.lock:
            self.violations[kind] += 1
            if fleet:
                self.fleet["violations"] += 1
            if len(self.examples) < 20:
                self.examples.append(f"{kind}: {detail}")


class LeakScanner(logging.Handler):
    """Formats every log record (exceptions included) and looks for the secret; keeps nothing."""

    def __init__(self, needles: tuple[str, ...], tally: Tally) -> None:
        super().__init__(logging.DEBUG)
        self.needles = needles
        self.tally = tally
        self.records = 0
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        try:
            text = self.format(record)
        except Exception as exc:  # a record that cannot be formatted is a bug too
            self.tally.violate("crash", f"log record could not be formatted: {exc!r}")
            return
        scan(text, self.needles, self.tally, f"log record from {record.name}")


def scan(text: str, needles: tuple[str, ...], tally: Tally, where: str) -> None:
    """Count a leak when any needle (the token, its secret) appears in ``text``."""
    for needle in needles:
        if needle in text:
            tally.violate("leak", where)
            return


# -- one device's accounting -----------------------------------------------------------------------


#: How long after a may-have-run call ended its command may still show up in the counter (the
#: server may not have reached it yet when the client gave up). Later than that, it is a duplicate.
SETTLE_WINDOW = 10.0


class Counters(Protocol):
    """What the accounting reads from the simulator (tests pass made-up counters)."""

    def execution_count(self, device_id: str, command_name: str) -> int: ...

    def last_execution(self, device_id: str, command_name: str) -> dict[str, Any] | None: ...


@dataclass
class Ledger:
    """What one worker knows about its device's counter."""

    device: str
    seen: int = 0  # executions accounted for so far
    #: When each may-have-run call that had not run (yet) ended.
    unsettled: list[float] = field(default_factory=list)
    #: A fleet device: its maybe_* figures go to the fleet's counter.
    fleet: bool = False

    def settle(self, sim: Counters, tally: Tally, outcome: str, expected: int, detail: str) -> None:
        """Check the counter after a call that must have added ``expected`` executions.

        A "maybe" call may add 0 or 1. Executions beyond that are allowed only as the late
        arrival of an earlier unsettled "maybe" call (each once, within ``SETTLE_WINDOW``).
        """
        now = sim.execution_count(self.device, COMMAND)
        delta = now - self.seen
        self.seen = now
        moment = time.monotonic()
        self.unsettled = [t for t in self.unsettled if moment - t <= SETTLE_WINDOW]
        late = delta - expected
        if outcome == "maybe":
            if delta >= 1:
                tally.count("maybe_ran", fleet=self.fleet)
                late = delta - 1
            else:
                tally.count("maybe_not_run", fleet=self.fleet)
                self.unsettled.append(moment)
                late = 0
        if late < 0:
            tally.violate(
                "lost",
                f"{self.device}: {detail} but the counter moved by {delta}",
                fleet=self.fleet,
            )
        elif late > len(self.unsettled):
            tally.violate(
                "duplicate",
                f"{self.device}: {detail}; the counter moved by {delta}",
                fleet=self.fleet,
            )
        elif late:
            del self.unsettled[:late]
            tally.count("maybe_ran_late", fleet=self.fleet)


# -- one fleet run's accounting --------------------------------------------------------------------

#: Journal states a resumed run must take from the journal without sending (the device ran).
FINISHED = frozenset({OutcomeStatus.SUCCEEDED.value, OutcomeStatus.DEVICE_FAILED.value})
#: Journal states of devices that may have run: not re-sent on resume unless retry_unknown.
MAYBE_RAN = frozenset({OutcomeStatus.UNKNOWN.value, "sending"})


@dataclass
class FleetRun:
    """One fleet run: what it was given, how it ended, and its journal before and after it.

    ``cut``: ``none`` (ran to the end), ``stopped`` (a `StopSignal`: devices not started yet get
    no outcome and must not have run) or ``abandoned`` (the iterator was closed early, or the run
    raised: a device without an outcome may have run once, or not at all).
    """

    devices: list[str]  # the distinct ids given
    payload: dict[str, Any]
    resumed: bool = False
    retry_unknown: bool = False
    cut: str = "none"
    before: Mapping[str, str] = field(default_factory=dict)  # journal state per device
    after: Mapping[str, str] = field(default_factory=dict)


def journal_states(path: Path) -> dict[str, str]:
    """The state of each device's row in a journal file ({} when there is no file yet)."""
    if not path.exists():
        return {}
    with Journal(path) as journal:
        return {row.device_id: row.state for row in journal.rows()}


def account_fleet_run(
    sim: Counters,
    tally: Tally,
    ledgers: Mapping[str, Ledger],
    run: FleetRun,
    outcomes: Sequence[Outcome],
) -> None:
    """Check every outcome of a fleet run against the devices' counters and the journal.

    Each device given gets exactly one outcome (unless the run was cut), and its counter moved
    by 1 for a fresh succeeded / device_failed, 0 for not_run and for an outcome read from the
    journal, 0 or 1 for unknown. On a resumed journal, devices the journal says ran (or may have
    run, without retry_unknown) must come from the journal, the others must run again; and the
    journal must hold every fresh outcome, with no row left ``sending``.
    """
    given = set(run.devices)
    by_device: dict[str, Outcome] = {}
    for outcome in outcomes:
        if outcome.device_id not in given:
            tally.violate(
                "outcome", f"{outcome.device_id}: an outcome for a device not given", fleet=True
            )
        elif outcome.device_id in by_device:
            tally.violate("outcome", f"{outcome.device_id}: two outcomes in one run", fleet=True)
        else:
            by_device[outcome.device_id] = outcome
    for device in run.devices:
        ledger = ledgers[device]
        if run.after.get(device) == "sending":
            tally.violate(
                "journal", f"{device}: the journal row was left sending after the run", fleet=True
            )
        found = by_device.get(device)
        if found is not None:
            account_fleet_outcome(sim, tally, ledger, run, found)
        elif run.cut == "stopped":  # never started: it must not have run
            tally.count("not_started", fleet=True)
            ledger.settle(sim, tally, "not_started", 0, "fleet run stopped before this device")
        elif run.cut == "abandoned":  # in flight when the run was closed: it may have run
            tally.count("abandoned", fleet=True)
            ledger.settle(sim, tally, "maybe", 0, "fleet run abandoned with this device")
        else:
            tally.violate(
                "outcome", f"{device}: no outcome from a run that ended normally", fleet=True
            )
            ledger.settle(sim, tally, "maybe", 0, "fleet run gave no outcome")


def account_fleet_outcome(
    sim: Counters, tally: Tally, ledger: Ledger, run: FleetRun, outcome: Outcome
) -> None:
    """One device's outcome (see `account_fleet_run`)."""
    device, status = ledger.device, outcome.status
    tally.count(f"outcome:{status.value}", fleet=True)
    if outcome.from_journal:
        tally.count(f"from_journal:{status.value}", fleet=True)
    if outcome.error is not None and not isinstance(outcome.error, ic.IoTCentralError):
        tally.violate(
            "unexpected", f"{device}: {type(outcome.error).__name__} in an outcome", fleet=True
        )
    prior = run.before.get(device)
    skip = prior in FINISHED or (prior in MAYBE_RAN and not run.retry_unknown)
    if skip and not outcome.from_journal:
        tally.violate(
            "duplicate", f"{device}: sent again although its journal row said {prior}", fleet=True
        )
    elif outcome.from_journal and not skip:
        tally.violate(
            "outcome", f"{device}: read from the journal (row {prior}), not run", fleet=True
        )
    elif outcome.from_journal and prior in FINISHED and status.value != prior:
        tally.violate(
            "journal", f"{device}: journal row {prior} read back as {status.value}", fleet=True
        )
    if not outcome.from_journal:
        row = run.after.get(device)
        recorded = row == status.value or (row is None and status is OutcomeStatus.NOT_RUN)
        if not recorded and row != "sending":  # a row left sending is reported above
            tally.violate(
                "journal", f"{device}: ended {status.value}, journal row says {row}", fleet=True
            )
    detail = f"fleet outcome {status.value}" + (" from the journal" if outcome.from_journal else "")
    if outcome.from_journal:
        ledger.settle(sim, tally, "from_journal", 0, detail)
    elif status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.DEVICE_FAILED):
        ledger.settle(sim, tally, "ok", 1, detail)
        result = outcome.result
        if result is None:
            tally.violate("outcome", f"{device}: {detail} without a result", fleet=True)
            return
        if status is OutcomeStatus.SUCCEEDED and result.response != run.payload:
            tally.violate("wrong_answer", f"{device}: {result.response!r}", fleet=True)
        last = sim.last_execution(device, COMMAND)
        if not ledger.unsettled and (last is None or last.get("id") != result.id):
            tally.violate("lost", f"{device}: the last execution is not {result.id}", fleet=True)
    elif status is OutcomeStatus.NOT_RUN:
        ledger.settle(sim, tally, "not_run", 0, detail)
    else:
        ledger.settle(sim, tally, "maybe", 0, detail)


class RunStop(StopSignal):
    """A fleet run's stop signal that is also set when the soak ends."""

    def __init__(self, soak_stop: threading.Event) -> None:
        super().__init__()
        self.soak_stop = soak_stop

    def is_set(self) -> bool:
        return super().is_set() or self.soak_stop.is_set()


# -- the workers -----------------------------------------------------------------------------------


@dataclass
class Soak:
    sim: Simulator
    server: SimulatorServer
    token: str
    needles: tuple[str, ...]
    tally: Tally
    stop: threading.Event
    history_share: float = 0.2
    ledgers: list[Ledger] = field(default_factory=list)
    fleet_ledgers: list[Ledger] = field(default_factory=list)
    fleet_workers_done: int = 0
    journal_bytes: int = 0

    def payload(self, worker: str, n: int) -> dict[str, Any]:
        return {"worker": worker, "n": n}

    def classify(self, op: str, error: ic.IoTCentralError | None) -> tuple[str, int]:
        """(outcome, executions the counter must show): ok 1, maybe 0-1, not_run 0."""
        if op == "history":
            return ("history_ok" if error is None else "history_error", 0)
        if error is None:
            return ("ok", 1)
        maybe = getattr(error, "may_have_executed", False)
        return ("maybe", 0) if maybe else ("not_run", 0)

    def account(
        self,
        ledger: Ledger,
        op: str,
        result: object,
        error: BaseException | None,
        payload: dict[str, Any],
    ) -> None:
        tally = self.tally
        if error is not None and not isinstance(error, ic.IoTCentralError):
            tally.violate("unexpected", f"{type(error).__name__}: {error}")
            return
        if error is not None:
            scan(str(error), self.needles, tally, f"str({type(error).__name__})")
            scan(repr(error), self.needles, tally, f"repr({type(error).__name__})")
            if error.__cause__ is not None:
                scan(str(error.__cause__), self.needles, tally, "the error's cause")
            tally.count(f"error:{type(error).__name__}")
        outcome, expected = self.classify(op, error)
        tally.count(outcome)
        ledger.settle(self.sim, tally, outcome, expected, f"{op} ended {outcome}")
        if outcome == "ok":
            assert isinstance(result, ic.CommandResult)
            if result.response != payload:
                tally.violate("wrong_answer", f"{ledger.device}: {result.response!r}")
            last = self.sim.last_execution(ledger.device, COMMAND)
            if not ledger.unsettled and (last is None or last.get("id") != result.id):
                tally.violate("lost", f"{ledger.device}: the last execution is not {result.id}")

    def calls(self, name: str, seed: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """A worker's calls until the soak stops: (op, payload), each counted as started."""
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        n = 0
        while not self.stop.is_set():
            n += 1
            op = "history" if rng.random() < self.history_share else "run"
            with self.tally.lock:
                self.tally.started += 1
            yield op, self.payload(name, n)

    def finish(
        self,
        ledger: Ledger,
        op: str,
        result: object,
        error: BaseException | None,
        payload: dict[str, Any],
    ) -> None:
        """Account for one call and count it as finished."""
        self.account(ledger, op, result, error, payload)
        with self.tally.lock:
            self.tally.finished += 1

    def sync_worker(self, name: str, device: str, client: ic.IoTCentralClient, seed: int) -> None:
        ledger = Ledger(device)
        for op, payload in self.calls(name, seed):
            result: object = None
            error: BaseException | None = None
            try:
                if op == "run":
                    result = client.run_command(device, COMMAND, payload, **RUN_OPTIONS)
                else:
                    result = client.command_history(device, COMMAND)
            except Exception as exc:
                error = exc
            self.finish(ledger, op, result, error, payload)
        self.ledgers.append(ledger)

    async def async_worker(
        self, name: str, device: str, client: ic.AsyncIoTCentralClient, seed: int
    ) -> None:
        ledger = Ledger(device)
        for op, payload in self.calls(name, seed):
            result: object = None
            error: BaseException | None = None
            try:
                if op == "run":
                    result = await client.run_command(device, COMMAND, payload, **RUN_OPTIONS)
                else:
                    result = await client.command_history(device, COMMAND)
            except Exception as exc:
                error = exc
            self.finish(ledger, op, result, error, payload)
        self.ledgers.append(ledger)

    # -- fleet runs --------------------------------------------------------------------------------

    def fleet_worker(
        self,
        index: int,
        devices: list[str],
        sync_client: ic.IoTCentralClient,
        async_options: dict[str, Any],
        folder: Path,
        seed: int,
    ) -> None:
        """Fleet runs over this worker's own devices, async and sync in turn, until the stop.

        Each run gets a journal of its own; some runs resume the previous run's journal instead
        (the same devices and payload), some with ``retry_unknown``. Some runs are stopped (a
        `StopSignal`) or abandoned (the iterator closed) after a few outcomes, so that resumes
        have interrupted journals to continue.
        """
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        ledgers = {device: Ledger(device, fleet=True) for device in devices}
        previous: FleetRun | None = None
        journal = folder / f"fleet-{index}-0.db"
        n = 0
        with asyncio.Runner() as runner:
            runner.get_loop().set_exception_handler(
                lambda _loop, context: self.tally.violate("crash", str(context.get("message")))
            )
            async_client = ic.AsyncIoTCentralClient(**async_options)
            scan(repr(async_client), self.needles, self.tally, "repr(fleet client)")
            try:
                while not self.stop.is_set():
                    n += 1
                    if previous is not None and rng.random() < FLEET_RESUME_SHARE:
                        run = FleetRun(
                            previous.devices,
                            previous.payload,
                            resumed=True,
                            retry_unknown=rng.random() < 0.25,
                        )
                    else:
                        remove_journal(journal)
                        journal = folder / f"fleet-{index}-{n}.db"
                        size = rng.randint(max(1, len(devices) // 2), len(devices))
                        run = FleetRun(rng.sample(devices, size), {"fleet": index, "run": n})
                    run.before = journal_states(journal)
                    given = list(run.devices)
                    if rng.random() < 0.2:
                        given.insert(rng.randrange(len(given) + 1), rng.choice(given))  # runs once
                    cut = rng.choices(["none", "stopped", "abandoned"], [8, 1, 1])[0]
                    cut_after = rng.randint(1, max(1, len(given) - 1))
                    kind = "async" if n % 2 else "sync"
                    for name in ("runs", f"runs:{kind}"):
                        self.tally.count(name, fleet=True)
                    outcomes: list[Outcome] = []
                    try:
                        if kind == "async":
                            run.cut = runner.run(
                                self.fleet_async(
                                    async_client, given, run, journal, cut, cut_after, outcomes
                                )
                            )
                        else:
                            run.cut = self.fleet_sync(
                                sync_client, given, run, journal, cut, cut_after, outcomes
                            )
                    except Exception as exc:  # a run must never raise: count it, go on
                        run.cut = "abandoned"
                        text = f"{type(exc).__name__}: {exc}"
                        scan(text, self.needles, self.tally, "an exception out of a fleet run")
                        self.tally.violate(
                            "unexpected", f"fleet run: {type(exc).__name__}", fleet=True
                        )
                    for name in ("resumed", "retry_unknown"):
                        if getattr(run, name):
                            self.tally.count(f"runs:{name}", fleet=True)
                    if run.cut != "none":
                        self.tally.count(f"runs:{run.cut}", fleet=True)
                    for outcome in outcomes:
                        self.scan_outcome(outcome)
                    self.scan_journal(journal)
                    run.after = journal_states(journal)
                    account_fleet_run(self.sim, self.tally, ledgers, run, outcomes)
                    previous = run
            finally:
                runner.run(async_client.aclose())
        remove_journal(journal)
        with self.tally.lock:
            self.fleet_ledgers.extend(ledgers.values())
            self.fleet_workers_done += 1

    def fleet_options(self, run: FleetRun, journal: Path, stop: RunStop) -> dict[str, Any]:
        """The keyword arguments of one fleet run (sync and async alike)."""
        return {
            **RUN_OPTIONS,
            "concurrency": FLEET_CONCURRENCY,
            "journal": journal,
            "retry_unknown": run.retry_unknown,
            "stop": stop,
        }

    def fleet_sync(
        self,
        client: ic.IoTCentralClient,
        given: list[str],
        run: FleetRun,
        journal: Path,
        cut: str,
        cut_after: int,
        outcomes: list[Outcome],
    ) -> str:
        """One sync fleet run; returns how it ended (see `FleetRun.cut`)."""
        stop = RunStop(self.stop)
        options = self.fleet_options(run, journal, stop)
        iterator = cast(
            Generator[Outcome, None, None],
            client.run_command_many(given, COMMAND, run.payload, **options),
        )
        try:
            for outcome in iterator:
                if take_outcome(outcomes, outcome, cut, cut_after, stop):
                    return "abandoned"
        finally:
            iterator.close()
        return "stopped" if stop.is_set() else "none"

    async def fleet_async(
        self,
        client: ic.AsyncIoTCentralClient,
        given: list[str],
        run: FleetRun,
        journal: Path,
        cut: str,
        cut_after: int,
        outcomes: list[Outcome],
    ) -> str:
        """One async fleet run; returns how it ended (see `FleetRun.cut`)."""
        stop = RunStop(self.stop)
        options = self.fleet_options(run, journal, stop)
        iterator = cast(
            AsyncGenerator[Outcome, None],
            client.run_command_many(given, COMMAND, run.payload, **options),
        )
        try:
            async for outcome in iterator:
                if take_outcome(outcomes, outcome, cut, cut_after, stop):
                    return "abandoned"
        finally:
            await iterator.aclose()
        return "stopped" if stop.is_set() else "none"

    def scan_outcome(self, outcome: Outcome) -> None:
        """Look for the secret in everything an outcome shows: its JSON, repr, message, error."""
        needles, tally = self.needles, self.tally
        scan(json.dumps(outcome.to_dict()), needles, tally, "a fleet outcome's to_dict()")
        scan(repr(outcome), needles, tally, "repr(a fleet outcome)")
        scan(outcome.message or "", needles, tally, "a fleet outcome's message")
        error = outcome.error
        if error is not None:
            scan(str(error), needles, tally, f"str({type(error).__name__}) in a fleet outcome")
            scan(repr(error), needles, tally, f"repr({type(error).__name__}) in a fleet outcome")
            if error.__cause__ is not None:
                scan(str(error.__cause__), needles, tally, "a fleet outcome's error's cause")

    def scan_journal(self, journal: Path) -> None:
        """Look for the secret in the bytes of a journal (and its WAL files, if still there)."""
        for path in journal_files(journal):
            with contextlib.suppress(FileNotFoundError):
                data = path.read_bytes()
                with self.tally.lock:
                    self.journal_bytes += len(data)
                for needle in self.needles:
                    if needle.encode() in data:
                        self.tally.violate("leak", f"the fleet journal {path.name}", fleet=True)
                        break


def journal_files(journal: Path) -> list[Path]:
    """A journal's SQLite file and its WAL and shared-memory files."""
    return [
        journal,
        journal.with_name(journal.name + "-wal"),
        journal.with_name(journal.name + "-shm"),
    ]


def remove_journal(journal: Path) -> None:
    """Delete a journal no run will resume any more."""
    for path in journal_files(journal):
        path.unlink(missing_ok=True)


# -- faults on and off -----------------------------------------------------------------------------


def take_outcome(
    outcomes: list[Outcome], outcome: Outcome, cut: str, cut_after: int, stop: RunStop
) -> bool:
    """Keep `outcome`; once `cut_after` are in, stop the run (`stopped`) or say to abandon it."""
    outcomes.append(outcome)
    if len(outcomes) >= cut_after:
        if cut == "abandoned":
            return True
        if cut == "stopped":
            stop.set()
    return False


def random_fault(rng: random.Random, devices: list[str], trickle_runs: bool) -> dict[str, Any]:
    """The keyword arguments of one random `add_fault`."""
    kind = rng.choice(FAULT_KINDS)
    on = rng.choice(["run", "run", "history", "any"])
    fault: dict[str, Any] = {
        "kind": kind,
        "on": on,
        "times": rng.choice([1, 3, 10, None]),
        "device_id": rng.choice([None, rng.choice(devices)]),
    }
    if kind == "status_before":
        fault["status"] = rng.choice([429, 500, 502, 503, 504])
    elif kind == "status_after":
        fault["status"] = rng.choice([500, 503, 504])
    elif kind == "html":
        fault["status"] = rng.choice([502, 503])
    elif kind == "slow":
        fault["delay"] = rng.choice([5, 200, 2000])  # 2 s: past a read's 0.5 s timeout
    elif kind == "trickle":
        fault["delay"] = 150  # a byte every 0.15 s: only the attempt's bound ends it
        if not trickle_runs:
            fault["on"] = "history"
    if kind in ("status_before", "status_after") and rng.random() < 0.5:
        fault["retry_after"] = rng.choice([0, 1])
    return fault


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def release_free_memory() -> None:
    """Collect garbage and hand freed heap pages back to the system (glibc's malloc_trim).

    Megabyte answers read by two dozen threads leave glibc's arenas holding freed memory that
    RSS still counts; with at most two arenas (`limit_malloc_arenas`), what remains after this
    is memory still in use.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: RSS stays as it is
        ctypes.CDLL("libc.so.6").malloc_trim(0)


#: glibc's mallopt parameter for the most arenas malloc may create.
M_ARENA_MAX = -8


def limit_malloc_arenas() -> None:
    """Have glibc's malloc use at most two arenas (call it before any thread starts).

    By default glibc gives busy threads arenas of their own (up to eight per core). Megabyte
    answers read by the clients' threads and the fleet runs' worker threads then leave freed
    memory scattered over a dozen arenas, which `malloc_trim` does not hand back: on the 2-core
    development machine (180 s, seed 2026) the end RSS stayed 28 and 34 MiB above the start,
    and 4 MiB with two arenas (tracemalloc saw no growth of Python's heap beyond imports and
    bounded caches). Two arenas keep the memory judgment a judgment of memory in use.
    """
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to limit
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)


def quarters(samples: list[int]) -> list[float]:
    """The median RSS (MiB) of each quarter of the samples: the trend over the run."""
    if len(samples) < 4:
        return []
    size = len(samples) // 4
    parts = [sorted(samples[i * size : (i + 1) * size]) for i in range(4)]
    return [round(part[len(part) // 2] / 2**20, 1) for part in parts]


@dataclass
class Memory:
    samples: list[int] = field(default_factory=list)
    start: int = 0


def control(
    soak: Soak,
    devices: list[str],
    deadline: float,
    warmup_until: float,
    memory: Memory,
    seed: int,
    phase: float,
    fired: Counter[str],
) -> None:
    """Alternate calm and storm phases until the deadline; sample RSS twice a second."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    storm = False
    next_switch = time.monotonic() + phase / 2
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        if not memory.start and now >= warmup_until:
            release_free_memory()
            memory.start = rss_bytes()
        if memory.start:
            memory.samples.append(rss_bytes())
        if now >= next_switch:
            soak.sim.clear_faults()
            storm = not storm
            if storm:
                trickle_runs = deadline - now > ATTEMPT_BOUND + 1  # end on time
                for _ in range(rng.randint(1, 4)):
                    fault = random_fault(rng, devices, trickle_runs)
                    soak.sim.add_fault(**fault)
                    fired[fault["kind"]] += 1
            next_switch = now + phase
        time.sleep(min(0.5, max(0.0, deadline - now)))
    soak.sim.clear_faults()
    if not memory.start:
        memory.start = rss_bytes()


# -- the run ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace, token: str, needles: tuple[str, ...]) -> dict[str, Any]:
    """The soak itself; returns the figures (never the token)."""
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    workers = args.sync_workers + args.async_workers
    devices = [f"soak-{i:03d}" for i in range(workers)]
    fleet_count = args.fleet_workers * args.fleet_devices
    # The fleet devices are generated (offline, slow, failing, never-answering ones included).
    fleet_devices = [f"{FLEET_PREFIX}{i:05d}" for i in range(fleet_count)]
    layout: dict[str, Any] = {
        "name": "soak",
        "devices": {d: {"commands": {COMMAND: "echo"}} for d in devices},
    }
    if fleet_count:
        layout["fleets"] = [
            {
                "prefix": FLEET_PREFIX,
                "count": fleet_count,
                "width": 5,
                "seed": seed,
                **FLEET_BEHAVIOURS,
                "commands": {COMMAND: "echo"},
            }
        ]
    scenario = Scenario.from_dict(layout)
    sim = Simulator(scenario, api_tokens=[token], rate_limit=args.rate_limit, time_scale=0.001)
    tally = Tally()
    scanner = LeakScanner(needles, tally)
    root = logging.getLogger()
    root.addHandler(scanner)
    root.setLevel(logging.INFO)
    logging.getLogger("iotcentral").setLevel(logging.DEBUG)
    crash_hook = threading.excepthook

    def on_thread_crash(info: threading.ExceptHookArgs) -> None:
        tally.violate("crash", f"thread {info.thread}: {info.exc_type.__name__}: {info.exc_value}")

    threading.excepthook = on_thread_crash
    policy = ic.RetryPolicy(max_retry_after=1.0, backoff_max=1.0, retry_unsafe=args.unsafe_retries)
    stop = threading.Event()
    memory = Memory()
    fired: Counter[str] = Counter()
    started_at = time.monotonic()
    deadline = started_at + args.seconds
    warmup_until = started_at + min(10.0, args.seconds * 0.1)
    phase = min(4.0, max(0.5, args.seconds / 6))
    # One pacer for every fleet run, at or below the simulator's limit (the clients are unpaced:
    # they push the app to its limit, so the fleet runs meet 429s and back off).
    pacer = RatePacer(args.fleet_rate)
    journals = tempfile.TemporaryDirectory(prefix="soak-journals-")
    with journals, SimulatorServer(sim) as server:
        soak = Soak(sim, server, token, needles, tally, stop)
        common: dict[str, Any] = {
            "base_url": server.url,
            "credential": ic.ApiToken(token),
            "timeout": TIMEOUT,
            "retry": policy,
        }
        sync_clients = [ic.IoTCentralClient(**common) for _ in range(2)]
        for client in sync_clients:
            scan(repr(client), needles, tally, "repr(client)")
        threads = [
            threading.Thread(
                target=soak.sync_worker,
                args=(f"sync-{i}", devices[i], sync_clients[i % 2], seed + i),
                name=f"soak-sync-{i}",
            )
            for i in range(args.sync_workers)
        ]

        async def async_side() -> None:
            loop = asyncio.get_running_loop()
            loop.set_exception_handler(
                lambda _loop, context: tally.violate("crash", str(context.get("message")))
            )
            clients = [ic.AsyncIoTCentralClient(**common) for _ in range(2)]
            try:
                await asyncio.gather(
                    *(
                        soak.async_worker(
                            f"async-{i}",
                            devices[args.sync_workers + i],
                            clients[i % 2],
                            seed + args.sync_workers + i,
                        )
                        for i in range(args.async_workers)
                    )
                )
            finally:
                for client in clients:
                    await client.aclose()

        async_thread = threading.Thread(target=asyncio.run, args=(async_side(),), name="soak-async")
        fleet_options = {**common, "pacer": pacer}
        fleet_client = ic.IoTCentralClient(**fleet_options)
        scan(repr(fleet_client), needles, tally, "repr(fleet client)")
        per_worker = args.fleet_devices
        fleet_threads = [
            threading.Thread(
                target=soak.fleet_worker,
                args=(
                    i,
                    fleet_devices[i * per_worker : (i + 1) * per_worker],
                    fleet_client,
                    fleet_options,
                    Path(journals.name),
                    seed + workers + i,
                ),
                name=f"soak-fleet-{i}",
            )
            for i in range(args.fleet_workers)
        ]
        all_threads = [*threads, async_thread, *fleet_threads]
        for thread in all_threads:
            thread.start()
        try:
            control(
                soak, devices + fleet_devices, deadline, warmup_until, memory, seed, phase, fired
            )
        finally:
            stop.set()
            for thread in all_threads:
                thread.join(timeout=ATTEMPT_BOUND * 5 + 10)
                if thread.is_alive():
                    tally.violate("crash", f"{thread.name} did not stop")
            for client in [*sync_clients, fleet_client]:
                client.close()
        # Requests the clients gave up on may still be running in the server: let them end.
        time.sleep(0.5)
        raw_end = rss_bytes()
        release_free_memory()
        end_rss = rss_bytes()
        for ledger in [*soak.ledgers, *soak.fleet_ledgers]:
            ledger.settle(sim, tally, "drain", 0, "after the soak")
    threading.excepthook = crash_hook
    root.removeHandler(scanner)
    elapsed = time.monotonic() - started_at
    lost_calls = tally.started - tally.finished
    if lost_calls:
        tally.violate("lost", f"{lost_calls} calls never finished")
    if len(soak.ledgers) != workers:
        tally.violate("crash", f"{workers - len(soak.ledgers)} workers ended abnormally")
    if soak.fleet_workers_done != args.fleet_workers:
        missing = args.fleet_workers - soak.fleet_workers_done
        tally.violate("crash", f"{missing} fleet workers ended abnormally")
    growth = end_rss - memory.start
    judged = args.seconds >= JUDGE_MEMORY_AFTER
    if judged and growth > max(GROWTH_ALLOWED, GROWTH_FRACTION * memory.start):
        tally.violate("memory", f"RSS grew by {growth / 2**20:.1f} MiB")
    executions = sum(sim.executions().values())
    return {
        "seconds": round(elapsed, 1),
        "seed": seed,
        "workers": {"sync": args.sync_workers, "async": args.async_workers},
        "calls": tally.finished,
        "requests": sim.request_count,
        "executions": executions,
        "outcomes": dict(sorted(tally.outcomes.items())),
        "fleet": fleet_report(args, tally, pacer, fleet_count, soak.journal_bytes),
        "faults_injected": dict(sorted(fired.items())),
        "log_records_scanned": scanner.records,
        "rss_mib": {
            "start": round(memory.start / 2**20, 1),
            "peak": round(max([*memory.samples, raw_end]) / 2**20, 1),
            "end": round(end_rss / 2**20, 1),
            "end_before_trim": round(raw_end / 2**20, 1),
            "quarters": quarters(memory.samples),
            "judged": judged,
        },
        "violations": dict(sorted(tally.violations.items())),
        "examples": tally.examples,
    }


def fleet_report(
    args: argparse.Namespace, tally: Tally, pacer: RatePacer, devices: int, journal_bytes: int
) -> dict[str, Any]:
    """The fleet runs' figures: runs by kind, outcomes per status, how unknowns settled."""
    counts = tally.fleet
    statuses = [status.value for status in OutcomeStatus]
    return {
        "workers": args.fleet_workers,
        "devices": devices,
        "runs": counts["runs"],
        "runs_by": {
            name: counts[f"runs:{name}"]
            for name in ("async", "sync", "resumed", "retry_unknown", "stopped", "abandoned")
        },
        "outcomes": {status: counts[f"outcome:{status}"] for status in statuses},
        "from_journal": {status: counts[f"from_journal:{status}"] for status in statuses},
        "violations": counts["violations"],
        # Fresh unknown outcomes and devices in flight when a run was abandoned: did they run?
        "maybe_ran": counts["maybe_ran"],
        "maybe_not_run": counts["maybe_not_run"],
        "maybe_ran_late": counts["maybe_ran_late"],
        "not_started": counts["not_started"],
        "abandoned_in_flight": counts["abandoned"],
        "journal_bytes_scanned": journal_bytes,
        "pacer": {
            "rate": args.fleet_rate,
            "requests": pacer.requests,
            "throttled": pacer.throttled,
            "pauses": pacer.pauses,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long (default 180)")
    parser.add_argument("--sync-workers", type=int, default=8, help="threads (default 8)")
    parser.add_argument("--async-workers", type=int, default=16, help="tasks (default 16)")
    parser.add_argument(
        "--rate-limit", type=float, default=200.0, help="simulator requests/s (default 200)"
    )
    parser.add_argument(
        "--fleet-workers",
        type=int,
        default=2,
        help="threads running fleet runs, async and sync in turn (default 2; 0: none)",
    )
    parser.add_argument(
        "--fleet-devices", type=int, default=12, help="devices per fleet worker (default 12)"
    )
    parser.add_argument(
        "--fleet-rate",
        type=float,
        default=20.0,
        help="requests/s of the pacer all fleet runs share (default 20; at most --rate-limit)",
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--unsafe-retries",
        action="store_true",
        help="check the soak itself: re-send runs that may have run (it must then fail)",
    )
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.sync_workers < 1 or args.async_workers < 1:
        parser.error("--seconds and the worker counts must be positive")
    if args.fleet_workers < 0 or args.fleet_devices < 1:
        parser.error("--fleet-workers must be 0 or more, --fleet-devices positive")
    if not 0 < args.fleet_rate <= (args.rate_limit or float("inf")):
        parser.error("--fleet-rate must be above 0 and at most --rate-limit")

    secret = secrets.token_hex(16)
    token = f"SharedAccessSignature sr=soak&sig={secret}&skn=soak&se=4102444800000"
    needles = (secret, token)
    limit_malloc_arenas()
    # Everything the process writes on stderr during the soak is captured and scanned too.
    with tempfile.TemporaryFile(mode="w+b") as captured:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(captured.fileno(), 2)
        try:
            report = run(args, token, needles)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        stderr = captured.read().decode("utf-8", "replace")
    report["stderr_bytes"] = len(stderr.encode())
    if any(needle in stderr for needle in needles):
        report["violations"]["leak"] = report["violations"].get("leak", 0) + 1
        report["examples"].append("leak: the token is in the captured stderr")
    if "Traceback" in stderr:
        report["violations"]["crash"] = report["violations"].get("crash", 0) + 1
        report["examples"].append("crash: a traceback on stderr: " + stderr[-400:])
    clean = not report["violations"]
    report["clean"] = clean
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if clean else 1


def print_report(report: dict[str, Any]) -> None:
    rss = report["rss_mib"]
    print(f"soak: {report['seconds']} s, seed {report['seed']}, workers {report['workers']}")
    print(
        f"  calls {report['calls']}, requests {report['requests']},"
        f" executions counted {report['executions']}"
    )
    for name, value in report["outcomes"].items():
        print(f"  {name:<40} {value}")
    fleet = report["fleet"]
    if fleet["workers"]:
        by, pacer = fleet["runs_by"], fleet["pacer"]
        print(
            f"  fleet: {fleet['workers']} workers, {fleet['devices']} devices, {fleet['runs']} runs"
            f" (async {by['async']}, sync {by['sync']}; resumed {by['resumed']}"
            f" of which {by['retry_unknown']} with retry_unknown; stopped {by['stopped']},"
            f" abandoned {by['abandoned']})"
        )
        outcomes = ", ".join(f"{k} {v}" for k, v in fleet["outcomes"].items())
        journal = sum(fleet["from_journal"].values())
        print(f"    outcomes: {outcomes} ({journal} of them from a journal)")
        print(
            f"    may have run (unknown, or abandoned in flight): {fleet['maybe_ran']} had run,"
            f" {fleet['maybe_not_run']} had not ({fleet['maybe_ran_late']} ran later); cut runs:"
            f" {fleet['not_started']} devices not started, {fleet['abandoned_in_flight']} abandoned"
        )
        print(
            f"    violations found by the fleet accounting: {fleet['violations']};"
            f" pacer {pacer['rate']:g}/s: {pacer['requests']} requests, {pacer['throttled']}"
            f" answered 429, {pacer['pauses']} pauses; journal bytes scanned"
            f" {fleet['journal_bytes_scanned']}"
        )
    print(f"  faults injected: {report['faults_injected']}")
    print(f"  log records scanned: {report['log_records_scanned']}")
    judged = "" if rss["judged"] else " (too short to judge)"
    print(
        f"  RSS MiB: start {rss['start']}, peak {rss['peak']}, end {rss['end']}"
        f" ({rss['end_before_trim']} before giving freed memory back){judged}"
    )
    print(f"  RSS MiB, median of each quarter of the run: {rss['quarters']}")
    if report["clean"]:
        print("  clean: nothing lost, nothing run twice, nothing leaked")
    else:
        print(f"  VIOLATIONS: {report['violations']}")
        for example in report["examples"]:
            print(f"    {example}")


if __name__ == "__main__":
    sys.exit(main())
