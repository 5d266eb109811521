"""The gate: live requests outside the allow-list are refused before sending, and paced."""

from __future__ import annotations

import pytest
from iotcentral_contract._gate import Gate, Ledger, Pacer, parse_rate
from iotcentral_contract._target import NotAllowListed, Target

LIVE = Target(
    base_url="https://app.example/api", authorization="x", device="d1", command="c1", live=True
)


def test_parse_rate() -> None:
    assert parse_rate("10/s") == 10
    assert parse_rate("120/m") == 2
    with pytest.raises(ValueError, match="10/s"):
        parse_rate("fast")
    with pytest.raises(ValueError, match="10/s"):
        parse_rate("0/s")


def test_pacer_books_slots_an_interval_apart_without_waiting_for_real() -> None:
    now = [100.0]
    pacer = Pacer(10, clock=lambda: now[0])
    assert [pacer.reserve() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.2])
    now[0] = 101.0  # idle for a while: no debt carried over
    assert pacer.reserve() == 0.0


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/devices/d2/commands/c1"),  # another device
        ("POST", "/api/devices/d1/commands/c2"),  # another command
        ("POST", "/api/devices/d1/components/x/commands/c1"),  # a component not listed
        ("GET", "/api/somewhere/else"),  # no spec operation
        ("POST", "/elsewhere/devices/d1/commands/c1"),  # outside the API root
    ],
)
def test_gate_refuses_what_is_not_allow_listed(method: str, path: str) -> None:
    ledger = Ledger()
    with pytest.raises(NotAllowListed):
        Gate(LIVE, None, ledger).admit(method, path)
    assert ledger.total == 0


def test_gate_admits_the_target_and_its_own_probes_only_in_place() -> None:
    target = Target(base_url=LIVE.base_url, authorization="x", device="d1", command="c1", live=True)
    ledger = Ledger()
    gate = Gate(target, None, ledger)
    gate.admit("POST", "/api/devices/d1/commands/c1")
    gate.admit("TRACE", "/api/devices/d1/commands/c1")
    device, command = target.nonexistent_device(), target.impossible_command()
    gate.admit("POST", f"/api/devices/{device}/commands/c1")
    gate.admit("GET", f"/api/devices/d1/commands/{command}")
    with pytest.raises(NotAllowListed):  # a probe device with a probe command: not both
        gate.admit("POST", f"/api/devices/{device}/commands/{device}")
    with pytest.raises(NotAllowListed):  # a probe is not a device for another target
        Gate(LIVE, None, ledger).admit("POST", f"/api/devices/{device}/commands/c1")
    assert ledger.requests == {"runCommand": 2, "getCommandHistory": 1, None: 1}


def test_with_a_component_only_the_component_command_is_allow_listed() -> None:
    target = Target(
        base_url=LIVE.base_url,
        authorization="x",
        device="d1",
        command="c1",
        component="k",
        live=True,
    )
    gate = Gate(target, None, Ledger())
    gate.admit("POST", "/api/devices/d1/components/k/commands/c1")
    with pytest.raises(NotAllowListed):
        gate.admit("POST", "/api/devices/d1/commands/c1")
    assert target.command_path() == "/devices/d1/components/k/commands/c1"
