"""Helpers for the fleet tests: a fleet scenario, virtual time, and an arrival recorder.

``VirtualTime`` runs asyncio code against a fake clock: ``sleep`` parks the caller until the clock
reaches its deadline, and ``run`` advances the clock to the earliest deadline whenever every task
has had its turn. The simulator (with ``clock=vt.clock``) then counts pacing in the same fake
seconds as the pacer spends, so no test reads the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable
from typing import Any, TypeVar

from fakes import FakeClock
from iotcentral_sim import Scenario

T = TypeVar("T")

#: Devices of the generated test fleet, and the behaviours its fractions give them.
FLEET: dict[str, Any] = {
    "prefix": "dev-",
    "count": 1000,
    "width": 4,
    "seed": 3,
    "offline": 0.1,
    "failing": 0.1,
    "never_answering": 0.1,
    "commands": {"Reboot": "echo"},
}


def fleet_scenario(**overrides: Any) -> Scenario:
    return Scenario.from_dict({"fleets": [{**FLEET, **overrides}]}, name="fleet")


class VirtualTime:
    """A fake clock and an asyncio sleep that waits on it (see the module docstring)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.clock = FakeClock(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.clock.now + seconds, next(self._order), future))
        await future

    async def run(self, work: Awaitable[T]) -> T:
        task = asyncio.ensure_future(work)
        while not task.done():
            for _ in range(50):  # let every runnable task reach its next wait
                await asyncio.sleep(0)
                if task.done():
                    break
            else:
                if self._sleepers:
                    deadline, _, future = heapq.heappop(self._sleepers)
                    self.clock.now = max(self.clock.now, deadline)
                    if not future.done():
                        future.set_result(None)
        return task.result()


class Arrivals:
    """ASGI middleware: the fake-clock time at which each command request reached the app."""

    def __init__(self, app: Any, clock: FakeClock) -> None:
        self.app = app
        self.clock = clock
        self.times: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            self.times.append(self.clock.now)
        await self.app(scope, receive, send)

    def most_in_window(self, seconds: float) -> int:
        """The most arrivals within any window of ``seconds``."""
        best, first = 0, 0
        for last, at in enumerate(self.times):
            while at - self.times[first] >= seconds:
                first += 1
            best = max(best, last - first + 1)
        return best
