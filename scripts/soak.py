"""Soak: many sync and async clients against a loopback simulator whose faults come and go.

``scripts/soak [--seconds N]`` (default 180) serves a simulator on 127.0.0.1 (one device per worker,
each with an echo command; throttled at ``--rate-limit`` requests/s; waits scaled 1000x down) and
runs ``--sync-workers`` threads sharing two ``IoTCentralClient``s and ``--async-workers`` tasks
sharing two ``AsyncIoTCentralClient``s. Each worker owns one device and calls it one call at a
time: mostly runs, some history reads. A controller alternates calm and storm phases: in a storm
it injects a few random faults of every kind the simulator has (status before/after with
429/5xx and Retry-After, drops, HTML, truncated, slow, trickle, oversized, gzip bomb), on runs,
reads or both, then clears them.

Every call is accounted for against the simulator's execution counter of the worker's device,
read before and after the call (the device is the worker's alone):

- a returned result: the counter went up by exactly one and the last execution is that result;
- an error with ``may_have_executed`` false, or a history read: the counter did not move;
- an error with ``may_have_executed`` true: it moved by one (the command ran) or not at all (not
  yet, or never); the latter stay "unsettled" and may only show up later, once each.

Anything else is a lost or duplicated run. The token's secret is searched in every log record
(the ``iotcentral`` logger at DEBUG), every exception's text and repr, the clients' reprs and the
process's stderr. RSS is sampled twice a second: start (after a warm-up), peak and end.

Exit status: 0 clean; 1 a run lost or duplicated, a leak, a crash, an unexpected exception, or
memory that grew (judged on runs of 30 s or more); 2 usage error. ``--json`` prints the figures
as JSON.
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
from dataclasses import dataclass, field
from typing import Any

import iotcentral as ic
from iotcentral_sim import FAULT_KINDS, Scenario, Simulator, SimulatorServer

COMMAND = "Run"
#: Runs wait for the device at most 5 s (the least the service allows): with these timeouts an
#: attempt lasts at most 0.5 + 0.5 + 0.5 + (5 + 0.5) = 7 s, so a trickled run ends by then.
TIMEOUT = ic.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5, margin=0.5)
RUN_OPTIONS: dict[str, Any] = {"response_timeout": 5}
ATTEMPT_BOUND = 7.0
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

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def violate(self, kind: str, detail: str) -> None:
        with self.lock:
            self.violations[kind] += 1
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


@dataclass
class Ledger:
    """What one worker knows about its device's counter."""

    device: str
    seen: int = 0  # executions accounted for so far
    #: When each may-have-run call that had not run (yet) ended.
    unsettled: list[float] = field(default_factory=list)

    def settle(
        self, sim: Simulator, tally: Tally, outcome: str, expected: int, detail: str
    ) -> None:
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
                tally.count("maybe_ran")
                late = delta - 1
            else:
                tally.count("maybe_not_run")
                self.unsettled.append(moment)
                late = 0
        if late < 0:
            tally.violate("lost", f"{self.device}: {detail} but the counter moved by {delta}")
        elif late > len(self.unsettled):
            tally.violate("duplicate", f"{self.device}: {detail}; the counter moved by {delta}")
        elif late:
            del self.unsettled[:late]
            tally.count("maybe_ran_late")


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

    def sync_worker(self, name: str, device: str, client: ic.IoTCentralClient, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        ledger = Ledger(device)
        n = 0
        while not self.stop.is_set():
            n += 1
            op = "history" if rng.random() < self.history_share else "run"
            payload = self.payload(name, n)
            result: object = None
            error: BaseException | None = None
            with self.tally.lock:
                self.tally.started += 1
            try:
                if op == "run":
                    result = client.run_command(device, COMMAND, payload, **RUN_OPTIONS)
                else:
                    result = client.command_history(device, COMMAND)
            except Exception as exc:
                error = exc
            self.account(ledger, op, result, error, payload)
            with self.tally.lock:
                self.tally.finished += 1
        self.ledgers.append(ledger)

    async def async_worker(
        self, name: str, device: str, client: ic.AsyncIoTCentralClient, seed: int
    ) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
        ledger = Ledger(device)
        n = 0
        while not self.stop.is_set():
            n += 1
            op = "history" if rng.random() < self.history_share else "run"
            payload = self.payload(name, n)
            result: object = None
            error: BaseException | None = None
            with self.tally.lock:
                self.tally.started += 1
            try:
                if op == "run":
                    result = await client.run_command(device, COMMAND, payload, **RUN_OPTIONS)
                else:
                    result = await client.command_history(device, COMMAND)
            except Exception as exc:
                error = exc
            self.account(ledger, op, result, error, payload)
            with self.tally.lock:
                self.tally.finished += 1
        self.ledgers.append(ledger)


# -- faults on and off -----------------------------------------------------------------------------


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

    Megabyte answers read by two dozen threads leave glibc's per-thread arenas holding freed
    memory that RSS still counts; what remains after this is memory still in use.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: RSS stays as it is
        ctypes.CDLL("libc.so.6").malloc_trim(0)


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
    scenario = Scenario.from_dict(
        {"name": "soak", "devices": {d: {"commands": {COMMAND: "echo"}} for d in devices}}
    )
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
    with SimulatorServer(sim) as server:
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
        for thread in [*threads, async_thread]:
            thread.start()
        try:
            control(soak, devices, deadline, warmup_until, memory, seed, phase, fired)
        finally:
            stop.set()
            for thread in [*threads, async_thread]:
                thread.join(timeout=ATTEMPT_BOUND * 5 + 10)
                if thread.is_alive():
                    tally.violate("crash", f"{thread.name} did not stop")
            for client in sync_clients:
                client.close()
        # Requests the clients gave up on may still be running in the server: let them end.
        time.sleep(0.5)
        raw_end = rss_bytes()
        release_free_memory()
        end_rss = rss_bytes()
        for ledger in soak.ledgers:
            ledger.settle(sim, tally, "drain", 0, "after the soak")
    threading.excepthook = crash_hook
    root.removeHandler(scanner)
    elapsed = time.monotonic() - started_at
    lost_calls = tally.started - tally.finished
    if lost_calls:
        tally.violate("lost", f"{lost_calls} calls never finished")
    if len(soak.ledgers) != workers:
        tally.violate("crash", f"{workers - len(soak.ledgers)} workers ended abnormally")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="how long (default 180)")
    parser.add_argument("--sync-workers", type=int, default=8, help="threads (default 8)")
    parser.add_argument("--async-workers", type=int, default=16, help="tasks (default 16)")
    parser.add_argument(
        "--rate-limit", type=float, default=200.0, help="simulator requests/s (default 200)"
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

    secret = secrets.token_hex(16)
    token = f"SharedAccessSignature sr=soak&sig={secret}&skn=soak&se=4102444800000"
    needles = (secret, token)
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
