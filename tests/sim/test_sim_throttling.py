"""Per-application throttling: 429 TooManyRequests with Retry-After (fake clock: deterministic)."""

from __future__ import annotations

import pytest
from fakes import FakeClock
from iotcentral_sim import DEFAULT_BEARER_TOKEN, DEFAULT_VIEWER_TOKEN, Simulator
from sim_helpers import asgi_client, error_code

RUN = "/devices/mx1/commands/CoolDown"


async def test_default_limit_is_20_per_second_with_a_burst_of_20() -> None:
    clock = FakeClock(1000.0)  # low, so that 20/s * 0.05 s is exactly one token
    sim = Simulator(clock=clock, time_scale=0)
    async with asgi_client(sim) as c:
        statuses = [(await c.post(RUN, json={"request": n})).status_code for n in range(20)]
        throttled = await c.post(RUN, json={"request": 20})
        clock.advance(0.05)  # one token back at 20/s
        after = await c.post(RUN, json={})
        again = await c.post(RUN, json={})
    assert statuses == [201] * 20
    assert throttled.status_code == 429
    assert error_code(throttled) == "TooManyRequests"
    assert throttled.headers["retry-after"] == "1"
    assert after.status_code == 201
    assert again.status_code == 429
    assert sim.execution_count("mx1", "CoolDown") == 21  # the throttled ones never ran


@pytest.mark.parametrize(("rate", "retry_after"), [(0.5, "2"), (0.1, "10"), (3, "1")])
async def test_retry_after_is_whole_seconds_until_the_next_token(
    rate: float, retry_after: str
) -> None:
    clock = FakeClock()
    sim = Simulator(rate_limit=rate, clock=clock, time_scale=0)
    burst = max(1, int(rate))
    async with asgi_client(sim) as c:
        for _ in range(burst):
            assert (await c.get(RUN)).status_code == 200
        throttled = await c.get(RUN)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == retry_after
    assert int(throttled.headers["retry-after"]) >= 1


async def test_limit_is_shared_by_all_tokens_and_covers_history() -> None:
    clock = FakeClock()
    sim = Simulator(rate_limit=2, clock=clock, time_scale=0)
    async with asgi_client(sim, headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}) as c:
        assert (await c.post(RUN, json={})).status_code == 201
    async with asgi_client(sim, headers={"Authorization": DEFAULT_VIEWER_TOKEN}) as c:
        assert (await c.get(RUN)).status_code == 200
        assert (await c.get(RUN)).status_code == 429
    async with asgi_client(sim) as c:
        assert (await c.post(RUN, json={})).status_code == 429


async def test_rejected_requests_do_not_use_the_budget() -> None:
    clock = FakeClock()
    sim = Simulator(rate_limit=1, clock=clock, time_scale=0)
    async with asgi_client(sim, headers={}) as c:
        for _ in range(5):
            assert (await c.get(RUN)).status_code == 401  # auth comes before throttling
    async with asgi_client(sim, params={}) as c:
        assert (await c.get(RUN)).status_code == 400
    async with asgi_client(sim) as c:
        assert (await c.get(RUN)).status_code == 200


async def test_throttling_comes_before_body_validation_and_lookup() -> None:
    clock = FakeClock()
    sim = Simulator(rate_limit=1, clock=clock, time_scale=0)
    async with asgi_client(sim) as c:
        assert (await c.post(RUN, json={"responseTimeout": 1})).status_code == 422
        assert error_code(await c.post(RUN, json={"responseTimeout": 1})) == "TooManyRequests"
        assert error_code(await c.get("/devices/nope/commands/x")) == "TooManyRequests"


@pytest.mark.parametrize("rate_limit", [None, 0])
async def test_throttling_can_be_disabled(rate_limit: float | None) -> None:
    sim = Simulator(rate_limit=rate_limit, clock=FakeClock(), time_scale=0)
    async with asgi_client(sim) as c:
        statuses = {(await c.get(RUN)).status_code for _ in range(60)}
    assert statuses == {200}


async def test_reset_refills_the_bucket() -> None:
    sim = Simulator(rate_limit=1, clock=FakeClock(), time_scale=0)
    async with asgi_client(sim) as c:
        assert (await c.get(RUN)).status_code == 200
        assert (await c.get(RUN)).status_code == 429
        sim.reset()
        assert (await c.get(RUN)).status_code == 200


def test_negative_rate_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        Simulator(rate_limit=-1)
