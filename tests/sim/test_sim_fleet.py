"""Generated fleets: devices from a pattern, seeded behaviours, nothing built up front."""

from __future__ import annotations

import collections

import httpx
import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, Scenario, ScenarioError, Simulator

FLEET = {
    "prefix": "sensor-",
    "count": 100_000,
    "seed": 11,
    "offline": 0.1,
    "slow": 0.1,
    "failing": 0.1,
    "never_answering": 0.1,
    "slow_after": 7,
    "commands": {"Reboot": "echo"},
}


def test_a_fleet_of_100000_is_a_pattern_not_a_table() -> None:
    scenario = Scenario.from_dict({"devices": {"mx1": {}}, "fleets": [FLEET]})
    devices = scenario.devices
    assert len(devices) == 100_001
    assert "sensor-99999" in devices
    assert "sensor-100000" not in devices
    assert "sensor-1" not in devices  # the width is fixed: 5 digits here
    assert "mx1" in devices
    assert len(devices.explicit) == 1  # type: ignore[attr-defined]  # only what was declared
    fleet = devices.fleets[0]  # type: ignore[attr-defined]
    counts = collections.Counter(fleet.behaviour(i) for i in range(20_000))
    for name in ("offline", "slow", "failing", "never_answering"):
        assert 0.08 < counts[name] / 20_000 < 0.12
    # Seeded: the same device behaves the same in every scenario built from the same data.
    again = Scenario.from_dict({"fleets": [FLEET]}).devices.fleets[0]  # type: ignore[attr-defined]
    assert [again.behaviour(i) for i in range(500)] == [fleet.behaviour(i) for i in range(500)]
    other = Scenario.from_dict({"fleets": [{**FLEET, "seed": 12}]}).devices.fleets[0]  # type: ignore[attr-defined]
    assert [other.behaviour(i) for i in range(500)] != [fleet.behaviour(i) for i in range(500)]
    slow = next(i for i in range(1000) if fleet.behaviour(i) == "slow")
    assert devices[fleet.device_id(slow)].responds_after == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 0}, r"fleets\[0\].count: expected an integer from 1"),
        ({"offline": 1.5}, r"fleets\[0\].offline: expected a fraction from 0 to 1"),
        ({"offline": 0.6, "failing": 0.6}, "add up to more than 1"),
        ({"commands": {}}, "at least one command"),
        ({"colour": "red"}, r"unknown key\(s\) colour"),
        ({"width": 2}, r"fleets\[0\].width: expected an integer from 5"),
    ],
)
def test_bad_fleets_are_refused_with_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_dict({"fleets": [{**FLEET, **change}]})


async def test_each_behaviour_answers_as_documented_and_is_counted_per_device() -> None:
    sim = Simulator(Scenario.from_dict({"fleets": [FLEET]}), rate_limit=None, time_scale=0)
    fleet = sim.scenario.devices.fleets[0]  # type: ignore[attr-defined]
    first = {}
    for i in range(200):
        first.setdefault(fleet.behaviour(i), fleet.device_id(i))
    expected = {
        "normal": (201, 200),
        "slow": (201, 200),
        "failing": (201, 500),
        "offline": (404, None),
        "never_answering": (504, None),
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sim.app), base_url="http://sim/api"
    ) as http:
        for behaviour, device_id in first.items():
            answer = await http.post(
                f"/devices/{device_id}/commands/Reboot",
                params={"api-version": "2022-07-31"},
                headers={"Authorization": DEFAULT_API_TOKEN},
                json={"responseTimeout": 10},
            )
            status, code = expected[behaviour]
            assert answer.status_code == status, behaviour
            if code is not None:
                assert answer.json()["responseCode"] == code
            ran = 0 if behaviour == "offline" else 1
            assert sim.execution_count(device_id, "Reboot") == ran, behaviour
