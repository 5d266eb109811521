"""Named fault injectors: status answers, dropped connections, broken bodies, latency and floods."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, replace
from typing import Literal, get_args

__all__ = ["FAULT_KINDS", "MAX_SECONDS", "Fault", "FaultKind", "FaultSet", "FaultTarget"]

FaultKind = Literal[
    "status_before",
    "status_after",
    "drop_before",
    "drop_after",
    "html",
    "truncated",
    "slow",
    "trickle",
    "oversized",
    "gzip_bomb",
]
#: Every fault kind, in documentation order.
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
FaultTarget = Literal["run", "history", "any"]
#: The longest ``retry_after`` / ``delay`` a fault may ask for, in seconds (one day).
MAX_SECONDS = 86400.0
_TARGETS: tuple[str, ...] = get_args(FaultTarget)

#: Whether a kind lets the command run on the device before the fault shows.
EXECUTES: dict[str, bool] = {
    "status_before": False,
    "drop_before": False,
    "html": False,
    "status_after": True,
    "drop_after": True,
    "truncated": True,
    "slow": True,
    "trickle": True,
    "oversized": True,
    "gzip_bomb": True,
}

#: The kinds that take ``size`` (the decoded size of the answer), and their default sizes.
SIZED: dict[str, int] = {"oversized": 2 * 1024 * 1024, "gzip_bomb": 64 * 1024 * 1024}
#: The largest ``size`` accepted (1 GiB): a fault must not exhaust the simulator's own memory.
MAX_SIZE = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """One injected fault (see :meth:`iotcentral_sim.Simulator.add_fault` for the kinds)."""

    kind: FaultKind
    device_id: str | None = None
    command_name: str | None = None
    times: int | None = 1
    status: int | None = None
    retry_after: float | None = None
    delay: float | None = None
    on: FaultTarget = "run"
    size: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(FAULT_KINDS)}")
        if self.on not in _TARGETS:
            raise ValueError(f"on must be one of {', '.join(_TARGETS)}")
        for name in ("device_id", "command_name"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string or null, got {_kind_of(value)}")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise ValueError(
                f"times must be an integer >= 1, or null for forever, got {self.times!r}"
            )
        if self.status is not None and (not _is_int(self.status) or not 100 <= self.status <= 599):
            raise ValueError(f"status must be an HTTP status code (100..599), got {self.status!r}")
        for name in ("retry_after", "delay"):
            value = getattr(self, name)
            if value is not None and not (_is_number(value) and 0 <= value <= MAX_SECONDS):
                raise ValueError(
                    f"{name} must be a number of seconds from 0 to {MAX_SECONDS:g}, got {value!r}"
                )
        if self.kind == "slow" and self.delay is None:
            raise ValueError("a 'slow' fault needs delay (seconds, scaled by time_scale)")
        if self.size is not None:
            if self.kind not in SIZED:
                raise ValueError(f"size applies only to {' and '.join(SIZED)} faults")
            if isinstance(self.size, bool) or not isinstance(self.size, int):
                raise ValueError("size must be a whole number of bytes")
            if not 1 <= self.size <= MAX_SIZE:
                raise ValueError(f"size must be from 1 to {MAX_SIZE} bytes")
        if self.kind == "status_after" and self.status is not None and _claims_not_run(self.status):
            raise ValueError(
                f"a 'status_after' fault cannot answer {self.status}: a 4xx answer tells the client"
                " the command did not run, but status_after runs it; use status_before for 4xx"
                " (408 is allowed: a timeout may have run)"
            )

    @property
    def executes(self) -> bool:
        """Whether the command runs on the device when this fault fires."""
        return EXECUTES[self.kind]

    def matches(self, device_id: str, command_name: str, target: str) -> bool:
        """Whether this fault applies to a request on ``device_id``/``command_name``."""
        return (
            (self.device_id is None or self.device_id == device_id)
            and (self.command_name is None or self.command_name == command_name)
            and (self.on == "any" or self.on == target)
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready description (for the control API)."""
        return {
            "kind": self.kind,
            "device_id": self.device_id,
            "command_name": self.command_name,
            "times": self.times,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "on": self.on,
            "size": self.size,
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite int or float; booleans, NaN and the infinities are not numbers here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)


def _claims_not_run(status: int) -> bool:
    """Whether clients read ``status`` as "the command did not run" (4xx except 408)."""
    return 400 <= status <= 499 and status != 408


def _kind_of(value: object) -> str:
    return type(value).__name__


class FaultSet:
    """Faults waiting to fire, first added first; each use counts down ``times``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue ``fault``."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """A snapshot of the pending faults."""
        with self._lock:
            return list(self._faults)

    def take(self, device_id: str, command_name: str, target: str) -> Fault | None:
        """Use up one firing of the first matching fault, or return ``None``."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not fault.matches(device_id, command_name, target):
                    continue
                if fault.times is None:
                    return fault
                if fault.times <= 1:
                    del self._faults[index]
                else:
                    self._faults[index] = replace(fault, times=fault.times - 1)
                return fault
            return None
