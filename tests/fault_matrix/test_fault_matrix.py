"""The fault matrix: every simulator fault kind x {run, history} x {sync, async, fleet runner}.

Each cell injects one fault into the session's served simulator (loopback HTTP, waits scaled
1000x down, reset before each test), makes one call with the default retry policy (waits recorded,
not slept) and checks, against `matrix_cases.ROWS`:

- the outcome: the result, or exactly the documented exception class and its `may_have_executed`;
- the retries: how many requests reached the simulator and the waits the policy asked for;
- the simulator's execution counter: at most once always, exactly once wherever a result was
  returned (and the recorded execution is the one the result reports).

The columns are `RUNNERS`. The fleet runner runs a one-device fleet (`run_command_many`) with the
same client settings, for the run cells only (a fleet only runs commands), and also checks that the
device's fleet status agrees with the error (`unknown` exactly when the command may have run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import iotcentral as ic
import pytest
from fakes import FakeClock, Sleeps
from iotcentral.fleet import OutcomeStatus, RatePacer
from iotcentral_sim import DEFAULT_API_TOKEN, FAULT_KINDS, Simulator, SimulatorServer
from matrix_cases import README, ROWS, Expect, Row, readme_table, render_table

DEVICE, COMMAND = "mx1", "CoolDown"  # the default scenario's echo command


@dataclass
class Outcome:
    """What one call ended with: a result or a client error (anything else propagates)."""

    result: ic.CommandResult | ic.CommandHistory | None = None
    error: ic.IoTCentralError | None = None


def _options(row: Row, op: str) -> dict[str, Any]:
    if op == "run":
        return {"timeout": row.run_timeout, **row.run_options}
    return {"timeout": row.history_timeout}


def _payload(row: Row) -> dict[str, str]:
    return {"case": row.label}


def _sync_call(row: Row, op: str, server: SimulatorServer, sleeps: Sleeps) -> Outcome:
    with ic.IoTCentralClient(
        base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=sleeps.policy()
    ) as client:
        try:
            if op == "run":
                result: Any = client.run_command(
                    DEVICE, COMMAND, _payload(row), **_options(row, op)
                )
            else:
                result = client.command_history(DEVICE, COMMAND, **_options(row, op))
        except ic.IoTCentralError as error:
            return Outcome(error=error)
    return Outcome(result=result)


async def run_sync(row: Row, op: str, server: SimulatorServer, sleeps: Sleeps) -> Outcome:
    """`IoTCentralClient`, in a worker thread (the event loop stays free for nothing else)."""
    return await asyncio.to_thread(_sync_call, row, op, server, sleeps)


async def run_async(row: Row, op: str, server: SimulatorServer, sleeps: Sleeps) -> Outcome:
    """`AsyncIoTCentralClient` over the same loopback server."""
    async with ic.AsyncIoTCentralClient(
        base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=sleeps.policy()
    ) as client:
        try:
            if op == "run":
                result: Any = await client.run_command(
                    DEVICE, COMMAND, _payload(row), **_options(row, op)
                )
            else:
                result = await client.command_history(DEVICE, COMMAND, **_options(row, op))
        except ic.IoTCentralError as error:
            return Outcome(error=error)
    return Outcome(result=result)


async def run_fleet(row: Row, op: str, server: SimulatorServer, sleeps: Sleeps) -> Outcome:
    """A one-device fleet run; its pacer on virtual time, so a 429's pause costs no real time."""
    assert op == "run"
    clock = FakeClock(1000.0)

    async def virtual_sleep(seconds: float) -> None:
        clock.advance(seconds)

    pacer = RatePacer(clock=clock, sleep=clock.advance, async_sleep=virtual_sleep)
    async with ic.AsyncIoTCentralClient(
        base_url=server.url,
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        retry=sleeps.policy(),
        timeout=row.run_timeout,
        pacer=pacer,
    ) as client:
        outcomes = [
            outcome
            async for outcome in client.run_command_many(
                [DEVICE], COMMAND, _payload(row), **row.run_options
            )
        ]
    (outcome,) = outcomes
    if outcome.result is not None:
        assert outcome.status in (OutcomeStatus.SUCCEEDED, OutcomeStatus.DEVICE_FAILED)
        return Outcome(result=outcome.result)
    assert isinstance(outcome.error, ic.IoTCentralError), outcome
    may_have_run = getattr(outcome.error, "may_have_executed", False)
    assert outcome.status is (OutcomeStatus.UNKNOWN if may_have_run else OutcomeStatus.NOT_RUN)
    return Outcome(error=outcome.error)


Runner = Callable[[Row, str, SimulatorServer, Sleeps], Awaitable[Outcome]]
#: The matrix's columns.
RUNNERS: dict[str, Runner] = {"sync": run_sync, "async": run_async, "fleet": run_fleet}

CELLS = [
    pytest.param(row, op, client, id=f"{row.id}-{op}-{client}")
    for row in ROWS
    for op in ("run", "history")
    if getattr(row, op) is not None
    for client in RUNNERS
    if not (client == "fleet" and op == "history")  # a fleet only runs commands
]


@pytest.mark.parametrize(("row", "op", "client"), CELLS)
async def test_fault(
    row: Row,
    op: str,
    client: str,
    served: tuple[Simulator, SimulatorServer],
    sleeps: Sleeps,
) -> None:
    sim, server = served
    sim.add_fault(**row.fault, on=op)
    expect = row.run if op == "run" else row.history
    assert expect is not None

    outcome = await RUNNERS[client](row, op, server, sleeps)

    if expect.raises is None:
        if outcome.error is not None:
            raise AssertionError(f"expected a result, got {outcome.error!r}") from outcome.error
        _check_result(sim, row, op, outcome)
    else:
        assert type(outcome.error) is expect.raises, outcome
        assert outcome.error.may_have_executed is expect.may_have_executed
    assert sim.execution_count(DEVICE, COMMAND) == expect.ran  # never twice
    assert sim.request_count == expect.attempts
    assert sleeps.calls == pytest.approx(list(expect.waits))
    if row.fault.get("times", 1) is not None:
        assert sim.faults() == []  # the fault did fire (and only as often as it was told)


def _check_result(sim: Simulator, row: Row, op: str, outcome: Outcome) -> None:
    if op == "history":
        assert isinstance(outcome.result, ic.CommandHistory)
        assert outcome.result.latest is None  # nothing ran: a read never executes
        return
    result = outcome.result
    assert isinstance(result, ic.CommandResult)
    assert result.response == _payload(row)  # echo: the device saw this call's payload
    last = sim.last_execution(DEVICE, COMMAND)
    assert last is not None
    assert last["id"] == result.id  # the reported run is the one that ran


# -- the matrix covers every kind, and the README says what it checks ----------------------------


def test_every_simulator_fault_kind_is_in_the_matrix() -> None:
    kinds = {row.kind for row in ROWS}
    assert kinds == set(FAULT_KINDS)
    for kind in FAULT_KINDS:
        assert any(row.run is not None for row in ROWS if row.kind == kind), kind


def test_the_expectations_keep_the_contract() -> None:
    """The rows themselves: at most once, exactly once on success, no run re-sent but a 429."""
    expects: list[Expect] = [e for row in ROWS for e in (row.run, row.history) if e is not None]
    assert all(e.ran in (0, 1) for e in expects)
    for row in ROWS:
        assert row.history.ran == 0
        if row.run is None:
            continue
        if row.run.raises is None:
            assert row.run.ran == 1, row.label
        elif row.run.ran == 1:
            assert row.run.may_have_executed, row.label  # never "did not run" when it did
        if row.run.attempts > 1:
            assert row.run.raises in (None, ic.ThrottledError), row.label


def test_readme_table_matches_the_matrix() -> None:
    expected = render_table()
    found = readme_table(README.read_text())
    assert found == expected, (
        "README.md's fault table differs from tests/fault_matrix/matrix_cases.py;"
        " run: python tests/fault_matrix/matrix_cases.py --write\n" + expected
    )
