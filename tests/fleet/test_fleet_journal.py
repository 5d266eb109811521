"""The journal: written before sending, resume without re-sending, refusal, interruption."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import iotcentral as ic
import pytest
from fleet_helpers import fleet_scenario
from iotcentral.fleet import Journal, JournalMismatchError, Outcome, OutcomeStatus, RatePacer
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator

S = OutcomeStatus
IDS = [f"dev-{i:04d}" for i in range(40)]


@pytest.fixture
def fleet_sim() -> Simulator:
    return Simulator(fleet_scenario(), rate_limit=None, time_scale=0)


def make_client(sim: Simulator, base_url: str = "http://127.0.0.1/api") -> ic.AsyncIoTCentralClient:
    return ic.AsyncIoTCentralClient(
        base_url=base_url,
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        transport=httpx.ASGITransport(app=sim.app),
        pacer=RatePacer(100_000),
    )


@pytest.fixture
async def client(fleet_sim: Simulator) -> AsyncIterator[ic.AsyncIoTCentralClient]:
    async with make_client(fleet_sim) as client:
        yield client


async def run(
    client: ic.AsyncIoTCentralClient, journal: object, ids: list[str] = IDS, **kw: object
) -> dict[str, Outcome]:
    return {
        o.device_id: o
        async for o in client.run_command_many(ids, "Reboot", {"level": 2}, journal=journal, **kw)  # type: ignore[arg-type]
    }


class CrashingJournal(Journal):
    """Dies (as kill -9 would) between committing *sending* and committing the outcome."""

    def __init__(self, path: Path, crash_on: set[str]) -> None:
        super().__init__(path)
        self.crash_on = crash_on
        self.sent_before_crash: list[str] = []

    def mark_sending(self, device_id: str, client_request_id: str | None = None) -> None:
        super().mark_sending(device_id, client_request_id)
        # The row is committed: a second connection (another process) already sees it.
        other = sqlite3.connect(self.path)
        state = other.execute(
            "SELECT state FROM devices WHERE device_id=?", (device_id,)
        ).fetchone()
        other.close()
        assert state == ("sending",)
        self.sent_before_crash.append(device_id)

    def record(self, outcome: Outcome) -> None:
        if outcome.device_id not in self.crash_on:
            super().record(outcome)


async def test_resume_skips_finished_and_never_re_sends_what_may_have_run(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    crashed = {IDS[3], IDS[7]}
    first = CrashingJournal(path, crashed)
    done = await run(client, first, IDS[:20])
    first.close()
    assert set(first.sent_before_crash) >= crashed
    executed_after_first = fleet_sim.executions()

    resumed = await run(client, path)  # the whole list again, same journal
    assert set(resumed) == set(IDS)
    for device_id in IDS[:20]:
        assert resumed[device_id].from_journal is (resumed[device_id].status is not S.NOT_RUN)
    for device_id in crashed:
        assert resumed[device_id].status is S.UNKNOWN
        assert "stopped after sending" in (resumed[device_id].message or "")
    for device_id in IDS[20:]:
        assert not resumed[device_id].from_journal
    # Nothing that ran in the first run ran again; the devices new to this run ran once.
    for key, count in fleet_sim.executions().items():
        assert count == 1, key
    assert all(executed_after_first[k] == 1 for k in executed_after_first)
    assert done[IDS[3]].status is not None

    with Journal(path) as journal:
        summary = journal.summary()
        assert summary.total == len(IDS)  # every device reached has its row
        assert {row.device_id for row in journal.unknown_rows()} >= crashed


async def test_a_fresh_journal_costs_two_writes_per_device_and_no_reads(
    client: ic.AsyncIoTCentralClient, tmp_path: Path
) -> None:
    """Lookups are for resuming: a run on a new journal only writes (sending, then the outcome)."""
    journal = Journal(tmp_path / "run.db")
    statements: list[str] = []
    journal._db.set_trace_callback(statements.append)
    outcomes = await run(client, journal, IDS[:10])
    journal.close()
    assert len(outcomes) == 10
    device_reads = [s for s in statements if s.startswith("SELECT") and "device_id" in s]
    writes = [s for s in statements if s.startswith(("INSERT INTO devices", "UPDATE devices"))]
    assert device_reads == []
    assert len(writes) == 2 * 10

    resumed = Journal(tmp_path / "run.db")
    statements.clear()
    resumed._db.set_trace_callback(statements.append)
    again = await run(client, resumed, IDS[:10])
    resumed.close()
    assert all(outcome.from_journal for outcome in again.values())
    assert len([s for s in statements if s.startswith("SELECT") and "device_id" in s]) == 10


async def test_retry_unknown_is_an_explicit_opt_in(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator, tmp_path: Path
) -> None:
    path = tmp_path / "run.db"
    first = CrashingJournal(path, {IDS[0]})
    await run(client, first, IDS[:1])
    first.close()
    again = await run(client, path, IDS[:1])
    assert again[IDS[0]].status is S.UNKNOWN
    assert fleet_sim.execution_count(IDS[0], "Reboot") == 1
    forced = await run(client, path, IDS[:1], retry_unknown=True)
    assert not forced[IDS[0]].from_journal
    assert fleet_sim.execution_count(IDS[0], "Reboot") == 2  # the caller asked for it


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"command_name": "Restart"}, "command_name"),
        ({"request": {"level": 3}}, "the request payload"),
        ({"component": "c1"}, "component"),
        ({"response_timeout": 10}, "response_timeout"),
    ],
)
async def test_a_journal_refuses_to_resume_another_run(
    client: ic.AsyncIoTCentralClient,
    fleet_sim: Simulator,
    tmp_path: Path,
    change: dict[str, object],
    named: str,
) -> None:
    path = tmp_path / "run.db"
    await run(client, path, IDS[:2])
    before = fleet_sim.request_count
    arguments: dict[str, object] = {"command_name": "Reboot", "request": {"level": 2}, **change}
    with pytest.raises(JournalMismatchError, match=f"written for another run.*{named}"):
        async for _ in client.run_command_many(IDS[:2], journal=path, **arguments):  # type: ignore[arg-type]
            pass
    assert fleet_sim.request_count == before  # nothing sent


async def test_a_journal_refuses_another_app(fleet_sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    async with make_client(fleet_sim) as first:
        await run(first, path, IDS[:1])
    async with make_client(fleet_sim, "http://127.0.0.2/api") as other:
        with pytest.raises(JournalMismatchError, match="base_url"):
            await run(other, path, IDS[:1])


async def test_cancelling_a_run_records_calls_in_flight_as_unknown(tmp_path: Path) -> None:
    path = tmp_path / "run.db"
    fleet_sim = Simulator(fleet_scenario(), rate_limit=None, time_scale=1)  # real waits
    fleet_sim.add_fault("slow", device_id=IDS[1], delay=3600, times=None)  # ran, answer held
    async with make_client(fleet_sim) as client:
        await _cancel_midway(client, path)
    with Journal(path) as journal:
        row = journal.row(IDS[1])
        assert row is not None
        assert row.state == "unknown"
        assert row.error_code == "Interrupted"
        assert journal.summary().counts.get("sending", 0) == 0  # nothing left pending
    assert fleet_sim.execution_count(IDS[1], "Reboot") == 1


async def _cancel_midway(client: ic.AsyncIoTCentralClient, path: Path) -> None:
    seen: list[str] = []
    two_done = asyncio.Event()

    async def consume() -> None:
        async for outcome in client.run_command_many(IDS[:3], "Reboot", {"level": 2}, journal=path):
            seen.append(outcome.device_id)
            if len(seen) == 2:
                two_done.set()

    task = asyncio.create_task(consume())
    await two_done.wait()  # the third call (IDS[1]) is in flight, its answer held
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_the_journal_holds_no_secret_and_shows_unknown_devices_history(
    fleet_sim: Simulator, tmp_path: Path
) -> None:
    secret_token = "SharedAccessSignature sr=app&sig=TopSecretSignature123&skn=ops&se=1"
    sim = Simulator(fleet_scenario(), rate_limit=None, time_scale=0, api_tokens=[secret_token])
    path = tmp_path / "run.db"
    sim.add_fault("status_after", device_id=IDS[0], status=500)
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(secret_token),
        transport=httpx.ASGITransport(app=sim.app),
    ) as client:
        outcomes = await run(client, path, IDS[:5])
        assert outcomes[IDS[0]].status is S.UNKNOWN
        with Journal(path) as journal:
            checks = [c async for c in ic.fleet.async_check_unknown(client, journal)]
    assert [c.device_id for c in checks] == [IDS[0]]
    assert checks[0].latest is not None  # the history says it did run
    assert "responseCode 200" in checks[0].describe()
    with Journal(path) as journal:
        meta = journal.meta()
    assert not any("level" in value for value in meta.values())  # the payload only as a hash
    data = await asyncio.to_thread(lambda: b"".join(f.read_bytes() for f in tmp_path.iterdir()))
    assert b"TopSecretSignature" not in data
