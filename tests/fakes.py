"""Test doubles for time, shared by every test folder: one fake clock, one sleep recorder.

Importable as ``fakes`` from any test module: pytest puts ``tests/`` on ``sys.path`` when it loads
``tests/conftest.py`` (rootdir-relative "prepend" imports; the test folders are not packages).
The ``clock`` and ``sleeps`` fixtures in ``tests/conftest.py`` hand out fresh instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import iotcentral as ic

__all__ = ["FakeClock", "Sleeps"]


@dataclass
class FakeClock:
    """A clock that moves only when told to: pass it wherever code takes ``clock=``.

    Reads as epoch seconds, so wall-clock consumers (token expiry, HTTP dates) work too.
    Floats lose precision at that size (about 2e-7 s), so a test that adds up small steps exactly,
    such as the simulator's token bucket, starts the clock low: ``FakeClock(1000.0)``.
    """

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Sleeps:
    """Records every wait asked for and returns at once.

    ``sleep`` stands in for ``time.sleep``, ``async_sleep`` for ``anyio.sleep`` (the simulator's
    waits) and ``policy()`` builds a client retry policy that sleeps through this recorder.
    """

    calls: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.calls.append(seconds)

    def policy(self, **kwargs: Any) -> ic.RetryPolicy:
        """``iotcentral.RetryPolicy(**kwargs)`` with these sleeps and no jitter (random 0.5)."""
        import iotcentral as ic  # lazy: the simulator's tests never need the client

        kwargs.setdefault("random", lambda: 0.5)
        return ic.RetryPolicy(sleep=self.sleep, async_sleep=self.async_sleep, **kwargs)
