"""run_command_many: one outcome per device, every status, never fail-fast, bounded work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import iotcentral as ic
import pytest
from fleet_helpers import fleet_scenario
from iotcentral.fleet import Journal, Outcome, OutcomeStatus, RatePacer, StopSignal
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

S = OutcomeStatus


@pytest.fixture
def fleet_sim() -> Simulator:
    return Simulator(fleet_scenario(), rate_limit=None, time_scale=0)


@pytest.fixture
async def client(fleet_sim: Simulator) -> AsyncIterator[ic.AsyncIoTCentralClient]:
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        transport=httpx.ASGITransport(app=fleet_sim.app),
        pacer=RatePacer(100_000),
        retry=ic.RetryPolicy(max_retries=2, async_sleep=_no_sleep),
    ) as client:
        yield client


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


async def collect(
    client: ic.AsyncIoTCentralClient, ids: object, **kwargs: object
) -> dict[str, Outcome]:
    outcomes = [o async for o in client.run_command_many(ids, "Reboot", **kwargs)]  # type: ignore[arg-type]
    by_id = {o.device_id: o for o in outcomes}
    assert len(by_id) == len(outcomes)  # one outcome per device
    return by_id


async def test_every_status_from_the_fleets_behaviours(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator
) -> None:
    fleet = fleet_sim.scenario.devices.fleets[0]  # type: ignore[attr-defined]
    ids = [f"dev-{i:04d}" for i in range(200)]
    fleet_sim.add_fault("status_after", device_id=ids[0], status=500)  # ran, then 500
    fleet_sim.add_fault("status_before", device_id=ids[1], status=400)
    outcomes = await collect(client, [*ids, "no-such-device"], response_timeout=5)
    expected = {
        "normal": S.SUCCEEDED,
        "slow": S.SUCCEEDED,
        "failing": S.DEVICE_FAILED,
        "offline": S.NOT_RUN,
        "never_answering": S.UNKNOWN,
    }
    for i, device_id in enumerate(ids[2:], start=2):
        behaviour = fleet.behaviour(i)
        outcome = outcomes[device_id]
        assert outcome.status is expected[behaviour], (device_id, behaviour)
        ran = 0 if behaviour == "offline" else 1
        assert fleet_sim.execution_count(device_id, "Reboot") == ran
    assert outcomes[ids[0]].status is S.UNKNOWN
    assert outcomes[ids[0]].error_code == "InternalServerError"
    assert outcomes[ids[1]].status is S.NOT_RUN
    assert outcomes["no-such-device"].status is S.NOT_RUN
    assert outcomes["no-such-device"].error_code == "DeviceNotFound"
    assert {o.status for o in outcomes.values()} == set(S)
    failed = next(o for o in outcomes.values() if o.status is S.DEVICE_FAILED)
    assert failed.response_code == 500
    assert failed.result is not None
    assert failed.to_dict()["status"] == "device_failed"
    assert all(count == 1 for count in fleet_sim.executions().values())


async def test_bad_shared_arguments_fail_before_any_request(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator
) -> None:
    with pytest.raises(
        ic.InvalidArgumentError, match="response_timeout must be an integer from 5 to 30"
    ):
        await collect(client, ["dev-0001"], response_timeout=31)
    with pytest.raises(
        ic.InvalidArgumentError, match="concurrency must be an integer from 1 to 1000"
    ):
        await collect(client, ["dev-0001"], concurrency=0)
    with pytest.raises(ic.InvalidPayloadError):
        await collect(client, ["dev-0001"], request={1, 2})
    with pytest.raises(ic.InvalidArgumentError, match="not one string"):
        await collect(client, "dev-0001")
    assert fleet_sim.request_count == 0


async def test_bad_ids_and_duplicates_do_not_stop_the_run(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator
) -> None:
    outcomes = await collect(client, ["dev-0002", "", "dev-0002", "dev-0003"])
    assert outcomes[""].status is S.NOT_RUN
    assert outcomes[""].error_code == "InvalidArgumentError"
    assert fleet_sim.execution_count("dev-0002", "Reboot") == 1  # the duplicate was dropped
    assert len(outcomes) == 3


async def test_a_generator_of_100000_ids_is_read_lazily_with_bounded_tasks(
    client: ic.AsyncIoTCentralClient, fleet_sim: Simulator
) -> None:
    pulled = 0

    def ids() -> Iterator[str]:
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield f"dev-{i % 1000:04d}-{i}"  # unknown devices: quick 404s

    tasks_seen = 0
    received = 0
    iterator = client.run_command_many(ids(), "Reboot", concurrency=8)
    async for _ in iterator:
        received += 1
        tasks_seen = max(tasks_seen, len(asyncio.all_tasks()))
        if received == 100:
            break
    await iterator.aclose()  # type: ignore[attr-defined]
    assert tasks_seen <= 8 + 3  # the workers, their supervisor, the test itself
    assert pulled <= 100 + 8 + 8 + 1  # outcomes, in flight, queued: never the whole input
    await asyncio.sleep(0)
    assert len(asyncio.all_tasks()) == 1  # closing the iterator ended every worker


def test_sync_counterpart_over_http(served: tuple[Simulator, SimulatorServer]) -> None:
    sim, server = served
    sim.add_fault("status_after", device_id="slow1", status=503)
    ids = ["mx1", "offline1", "slow1", "nope"]
    with ic.IoTCentralClient(base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN)) as c:
        got = {
            o.device_id: o.status for o in c.run_command_many(iter(ids), "CoolDown", concurrency=2)
        }
    assert got == {"mx1": S.SUCCEEDED, "offline1": S.NOT_RUN, "slow1": S.UNKNOWN, "nope": S.NOT_RUN}
    assert sim.execution_count("mx1", "CoolDown") == 1
    assert sim.execution_count("slow1", "CoolDown") == 1
    assert sim.request_count == 4  # the 503 after running was not re-sent


def test_sync_counterpart_journals_and_resumes(
    served: tuple[Simulator, SimulatorServer], tmp_path: Path
) -> None:
    sim, server = served
    journal = tmp_path / "run.db"
    with ic.IoTCentralClient(base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN)) as c:
        first = list(c.run_command_many(["mx1", "offline1"], "CoolDown", journal=journal))
        again = {o.device_id: o for o in c.run_command_many(["mx1", "sleepy1"], "CoolDown",
                                                              journal=journal)}  # fmt: skip
        stopped = StopSignal()
        stopped.set()
        assert list(c.run_command_many(["slow1"], "CoolDown", journal=journal, stop=stopped)) == []
    assert {o.status for o in first} == {S.SUCCEEDED, S.NOT_RUN}
    assert again["mx1"].from_journal
    assert not again["sleepy1"].from_journal
    assert sim.execution_count("mx1", "CoolDown") == 1
    assert sim.execution_count("slow1", "CoolDown") == 0  # stopped before it started
    with Journal(journal) as opened:
        assert opened.summary().counts == {"succeeded": 1, "not_run": 2}
