"""Property tests: any valid run is a conformant 201 that echoes, counts once and is history."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from iotcentral_sim import Simulator
from sim_helpers import asgi_client, assert_conforms

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "request": JSON,
        "connectionTimeout": st.integers(0, 30),
        "responseTimeout": st.integers(5, 30),
    },
)
SIM = Simulator(rate_limit=None, time_scale=0)  # reset() per example: nothing leaks between them


@settings(max_examples=30)
@given(body=BODIES)
def test_any_valid_run_is_a_conformant_201(body: dict[str, Any]) -> None:
    SIM.reset()

    async def scenario() -> None:
        async with asgi_client(SIM) as c:
            run = await c.post("/devices/mx1/commands/CoolDown", json=body)
            assert run.status_code == 201, run.text
            assert_conforms(run)
            result = run.json()
            for field in ("request", "connectionTimeout", "responseTimeout"):
                assert result.get(field, "absent") == body.get(field, "absent")
            assert result.get("response", "absent") == body.get("request", "absent")
            history = await c.get("/devices/mx1/commands/CoolDown")
            assert_conforms(history)
            assert history.json() == {"value": [result]}

    asyncio.run(scenario())
    assert SIM.execution_count("mx1", "CoolDown") == 1


@settings(max_examples=30)
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "connectionTimeout": st.integers().filter(lambda n: not 0 <= n <= 30),
            "responseTimeout": st.integers().filter(lambda n: not 5 <= n <= 30),
        },
    ).filter(bool)
)
def test_any_out_of_range_timeout_is_422_and_never_runs(body: dict[str, Any]) -> None:
    SIM.reset()

    async def scenario() -> None:
        async with asgi_client(SIM) as c:
            run = await c.post("/devices/mx1/commands/CoolDown", json=body)
            assert run.status_code == 422
            assert_conforms(run)
            assert any(field in run.json()["error"]["message"] for field in body)

    asyncio.run(scenario())
    assert SIM.execution_count("mx1", "CoolDown") == 0
