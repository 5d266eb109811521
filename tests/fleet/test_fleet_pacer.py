"""The rate pacer: slots, pauses, AIMD, and the simulator's count of what reached it."""

from __future__ import annotations

import itertools

import httpx
import iotcentral as ic
import pytest
from fakes import FakeClock
from fleet_helpers import Arrivals, VirtualTime, fleet_scenario
from iotcentral.fleet import RatePacer
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator


def sync_pacer(clock: FakeClock, **kwargs: float) -> RatePacer:
    return RatePacer(clock=clock, sleep=clock.advance, **kwargs)


def test_slots_are_one_over_rate_apart_and_idle_time_earns_no_burst() -> None:
    clock = FakeClock(1000.0)
    pacer = sync_pacer(clock, rate=20)
    starts = []
    for _ in range(5):
        pacer.acquire()
        starts.append(clock.now)
    assert [round(b - a, 9) for a, b in itertools.pairwise(starts)] == [0.05] * 4
    clock.advance(10)  # idle: the next request goes at once, the one after still waits its slot
    before = clock.now
    pacer.acquire()
    pacer.acquire()
    assert clock.now - before == pytest.approx(0.05)
    assert pacer.requests == 7


def test_a_429_pauses_the_whole_pacer_and_slows_it_once_per_pause() -> None:
    clock = FakeClock(1000.0)
    pacer = sync_pacer(clock, rate=20, decrease=0.5)
    pacer.acquire()
    pacer.observe(429, retry_after=2.0)
    pacer.observe(429, retry_after=2.0)  # the rest of a burst of 429s: no second decrease
    assert pacer.rate == 10
    assert pacer.throttled == 2
    assert pacer.pauses == 1
    before = clock.now
    pacer.acquire()
    assert clock.now - before == pytest.approx(2.0)  # waited out the Retry-After
    pacer.observe(429)  # no Retry-After: the default pause, and a new decrease
    assert pacer.rate == 5
    assert pacer.paused_for == pytest.approx(1.0)


def test_answers_without_429_raise_the_rate_back_to_the_ceiling_only() -> None:
    pacer = RatePacer(rate=20, decrease=0.5, increase=1.0, clock=FakeClock(1000.0))
    pacer.observe(429, retry_after=0)
    assert pacer.rate == 10
    for _ in range(10):  # ~1 s of answers at 10/s adds ~1 request/s
        pacer.observe(201)
    assert 10.9 < pacer.rate < 11.1
    for _ in range(10_000):
        pacer.observe(201)
    assert pacer.rate == 20


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": float("nan")}, "rate"),
        ({"rate": True}, "rate"),
        ({"decrease": 1.5}, "decrease"),
        ({"increase": -1}, "increase"),
        ({"min_rate": 0}, "min_rate"),
        ({"pause_without_retry_after": 0}, "pause_without_retry_after"),
    ],
)
def test_bad_settings_name_the_field_and_its_range(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match=f"^{field} must be"):
        RatePacer(**kwargs)


def test_a_client_refuses_something_that_is_not_a_pacer() -> None:
    with pytest.raises(ic.InvalidArgumentError, match="pacer must be a RatePacer"):
        ic.IoTCentralClient(base_url="http://127.0.0.1/api", credential="Bearer x", pacer=20)  # type: ignore[arg-type]


async def paced_run(pacer_rate: float, devices: int) -> tuple[Arrivals, Simulator, RatePacer]:
    """A fleet run against a simulator limited to 20 requests/s, all on virtual time."""
    vt = VirtualTime()
    sim = Simulator(
        fleet_scenario(offline=0, failing=0, never_answering=0),
        time_scale=0,
        rate_limit=20,
        clock=vt.clock,
    )
    arrivals = Arrivals(sim.app, vt.clock)
    pacer = RatePacer(pacer_rate, clock=vt.clock, async_sleep=vt.sleep)
    retry = ic.RetryPolicy(max_retries=10, async_sleep=vt.sleep, random=lambda: 0.5)
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        transport=httpx.ASGITransport(app=arrivals),
        pacer=pacer,
        retry=retry,
    ) as client:

        async def run() -> list[ic.fleet.Outcome]:
            ids = (f"dev-{i:04d}" for i in range(devices))
            return [o async for o in client.run_command_many(ids, "Reboot", concurrency=20)]

        outcomes = await vt.run(run())
    assert len(outcomes) == devices
    assert {o.status for o in outcomes} == {ic.fleet.OutcomeStatus.SUCCEEDED}
    return arrivals, sim, pacer


async def test_at_the_limit_the_simulator_never_throttles_and_sees_each_device_once() -> None:
    arrivals, sim, pacer = await paced_run(20, 120)
    assert sim.request_count == 120  # no 429, so no retry: one request per device
    assert pacer.throttled == 0
    assert arrivals.most_in_window(1.0) <= 21
    assert all(count == 1 for count in sim.executions().values())
    assert len(sim.executions()) == 120


async def test_above_the_limit_429s_pause_the_pacer_and_it_slows_down() -> None:
    arrivals, sim, pacer = await paced_run(60, 200)
    assert pacer.throttled > 0  # the simulator refused some: the pacer heard of it
    assert pacer.pauses >= 1
    assert pacer.rate < 60
    assert sim.request_count == 200 + pacer.throttled  # each 429 was retried once more
    assert all(count == 1 for count in sim.executions().values())  # nothing ran twice
    # After each pause started, nothing reached the simulator for its Retry-After (1 s):
    gaps = [b - a for a, b in zip(arrivals.times, arrivals.times[1:], strict=False)]
    assert max(gaps) >= 1.0


class TwoTokens:
    """A credential whose first token the simulator rejects (401), then a good one."""

    def __init__(self) -> None:
        from iotcentral_sim import DEFAULT_BEARER_TOKEN

        self.tokens = ["expired-token-value", DEFAULT_BEARER_TOKEN]

    def get_token(self, *scopes: str, **kwargs: object) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(token=self.tokens.pop(0), expires_on=4_000_000_000)


async def test_the_auth_flows_401_re_send_takes_a_slot_too(sim: Simulator) -> None:
    clock = FakeClock(1000.0)
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds)

    pacer = RatePacer(10, clock=clock, async_sleep=record)
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=TwoTokens(),
        transport=httpx.ASGITransport(app=sim.app),
        pacer=pacer,
    ) as client:
        await client.run_command("mx1", "CoolDown", {"tempVal": 1})
    assert sim.request_count == 2  # the 401, then the re-send with a fresh token
    assert pacer.requests == 2
    assert slept == [pytest.approx(0.1)]  # the re-send waited for its own slot
    assert sim.execution_count("mx1", "CoolDown") == 1


def test_sync_client_paces_every_attempt_and_the_401_re_send(
    served: tuple[Simulator, object],
) -> None:
    sim, server = served
    clock = FakeClock(1000.0)
    pacer = sync_pacer(clock, rate=10)
    with ic.IoTCentralClient(
        base_url=server.url,  # type: ignore[attr-defined]
        credential=TwoTokens(),
        pacer=pacer,
    ) as client:
        client.run_command("mx1", "CoolDown")
        client.command_history("mx1", "CoolDown")
    assert sim.request_count == 3
    assert pacer.requests == 3
    assert clock.now == pytest.approx(1000.2)  # three slots, 0.1 s apart
