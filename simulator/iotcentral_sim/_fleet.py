"""Generated fleets: thousands of devices from a pattern, none of them held in memory up front.

A scenario's ``fleets`` section declares devices by pattern::

    fleets:
      - prefix: "sensor-"      # ids sensor-000000 ... sensor-099999
        count: 100000
        width: 6               # zero-padded index (default: the width of the largest index)
        start: 0
        seed: 7                # which devices get which behaviour (deterministic)
        offline: 0.01          # never online: 404 DeviceNotOnline (the command never runs)
        slow: 0.02             # answer after ``slow_after`` seconds (default 10; within timeouts)
        failing: 0.01          # answer with responseCode 500 (a device-side failure)
        never_answering: 0.01  # never answer: 504 RequestTimeout after responseTimeout (it ran)
        commands: {Reboot: echo}

:class:`FleetDevices` is the scenario's ``devices`` mapping: the explicit devices plus every fleet.
Looking an id up parses it against each fleet's pattern and builds its :class:`DeviceSpec` on the
spot; the behaviour comes from a hash of ``(seed, index)``, so it is the same in every process and
needs no table. Iterating yields the explicit devices, then the generated ids, lazily.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._errors import ScenarioError
from ._scenario import CommandSpec, DeviceSpec

__all__ = ["BEHAVIOURS", "FleetDevices", "FleetSpec", "parse_fleets"]

Behaviour = Literal["normal", "offline", "slow", "failing", "never_answering"]
#: The behaviours a fleet's fractions choose from (the rest of the devices are ``normal``).
BEHAVIOURS: tuple[Behaviour, ...] = ("offline", "slow", "failing", "never_answering")
_KEYS = {"prefix", "count", "width", "start", "seed", "slow_after", "commands", *BEHAVIOURS}
_NEVER = 1e9  # seconds: longer than any responseTimeout


@dataclass(frozen=True)
class FleetSpec:
    """One generated fleet (see the module docstring)."""

    prefix: str
    count: int
    width: int
    start: int = 0
    seed: int = 0
    fractions: Mapping[Behaviour, float] = field(default_factory=dict)
    slow_after: float = 10.0
    commands: Mapping[str, CommandSpec] = field(default_factory=dict)

    def device_id(self, index: int) -> str:
        """The id of the device at ``index`` (from ``start``)."""
        return f"{self.prefix}{index:0{self.width}d}"

    def index_of(self, device_id: str) -> int | None:
        """The index ``device_id`` stands for in this fleet, or None."""
        if not device_id.startswith(self.prefix):
            return None
        digits = device_id[len(self.prefix) :]
        if len(digits) != self.width or not digits.isascii() or not digits.isdigit():
            return None
        index = int(digits)
        return index if self.start <= index < self.start + self.count else None

    def behaviour(self, index: int) -> Behaviour:
        """The seeded behaviour of the device at ``index``."""
        digest = hashlib.blake2b(f"{self.seed}:{index}".encode(), digest_size=8).digest()
        draw = int.from_bytes(digest, "big") / 2.0**64
        for name in BEHAVIOURS:
            share = self.fractions.get(name, 0.0)
            if draw < share:
                return name
            draw -= share
        return "normal"

    def device(self, index: int) -> DeviceSpec:
        """The device at ``index``, built now."""
        behaviour = self.behaviour(index)
        commands = self.commands
        if behaviour == "failing":
            commands = {name: CommandSpec("fail") for name in commands}
        return DeviceSpec(
            id=self.device_id(index),
            online=behaviour != "offline",
            responds_after={"slow": self.slow_after, "never_answering": _NEVER}.get(behaviour, 0.0),
            commands=commands,
        )


class FleetDevices(Mapping[str, DeviceSpec]):
    """The explicit devices plus the generated fleets, as one read-only mapping."""

    def __init__(self, explicit: Mapping[str, DeviceSpec], fleets: tuple[FleetSpec, ...]) -> None:
        self.explicit = dict(explicit)
        self.fleets = fleets

    def __getitem__(self, device_id: str) -> DeviceSpec:
        found = self.explicit.get(device_id)
        if found is not None:
            return found
        for fleet in self.fleets:
            index = fleet.index_of(device_id)
            if index is not None:
                return fleet.device(index)
        raise KeyError(device_id)

    def __len__(self) -> int:
        return len(self.explicit) + sum(fleet.count for fleet in self.fleets)

    def __iter__(self) -> Iterator[str]:
        yield from self.explicit
        for fleet in self.fleets:
            for index in range(fleet.start, fleet.start + fleet.count):
                device_id = fleet.device_id(index)
                if device_id not in self.explicit:
                    yield device_id

    def __repr__(self) -> str:
        return f"FleetDevices(explicit={len(self.explicit)}, fleets={len(self.fleets)})"


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ScenarioError(f"{where}: expected an integer from {low} to {high}, got {value!r}")
    return value


def _fraction(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ScenarioError(f"{where}: expected a fraction from 0 to 1, got {value!r}")
    return float(value)


def parse_fleets(value: Any, parse_commands: Any) -> tuple[FleetSpec, ...]:
    """The ``fleets`` section; ``parse_commands(raw, where)`` parses a ``commands`` mapping."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError("fleets: expected a list of {prefix, count, ...}")
    fleets = []
    for position, raw in enumerate(value):
        where = f"fleets[{position}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where}: expected a mapping with prefix and count")
        unknown = sorted(str(k) for k in raw if k not in _KEYS)
        if unknown:
            raise ScenarioError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}"
            )
        prefix = raw.get("prefix")
        if not isinstance(prefix, str) or not prefix:
            raise ScenarioError(f"{where}.prefix: expected a non-empty string")
        count = _int(raw.get("count"), f"{where}.count", 1, 10_000_000)
        start = _int(raw.get("start", 0), f"{where}.start", 0, 10**12)
        natural = len(str(start + count - 1))
        width = _int(raw.get("width", natural), f"{where}.width", natural, 20)
        fractions = {name: _fraction(raw.get(name, 0), f"{where}.{name}") for name in BEHAVIOURS}
        if sum(fractions.values()) > 1 + 1e-9:
            raise ScenarioError(f"{where}: the behaviour fractions add up to more than 1")
        slow_after = raw.get("slow_after", 10.0)
        if isinstance(slow_after, bool) or not isinstance(slow_after, int | float):
            raise ScenarioError(f"{where}.slow_after: expected a number of seconds")
        commands = parse_commands(raw.get("commands"), f"{where}.commands")
        if not commands:
            raise ScenarioError(f"{where}.commands: a fleet needs at least one command")
        fleets.append(
            FleetSpec(
                prefix=prefix,
                count=count,
                width=width,
                start=start,
                seed=_int(raw.get("seed", 0), f"{where}.seed", 0, 2**63),
                fractions=fractions,
                slow_after=float(slow_after),
                commands=commands,
            )
        )
    return tuple(fleets)
