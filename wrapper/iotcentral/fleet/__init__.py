"""Fleet commands: one command to many devices, at the app's rate, with a crash-safe journal.

- `RatePacer` (`_pacer`): the app-wide pacer every request of a client waits for (20 requests/s by
  default, AIMD on 429s); share one between the clients that talk to the same app.
- `AsyncIoTCentralClient.run_command_many` / `IoTCentralClient.run_command_many` (`_runner`): one
  `Outcome` per device (`OutcomeStatus`: succeeded, device_failed, not_run, unknown).
- `Journal` (`_journal`): the SQLite record written before each request leaves; resume, status,
  `JournalMismatchError`.
- `check_unknown` / `async_check_unknown` (`_status`): what the command history of each device left
  unknown says now.

Names load lazily: `import iotcentral` stays light until a fleet feature is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._journal import Journal, JournalMismatchError, JournalRow, JournalSummary
    from ._limits import DEFAULT_CONCURRENCY, MAX_CONCURRENCY
    from ._outcome import Outcome, OutcomeStatus
    from ._pacer import DEFAULT_RATE, RatePacer
    from ._runner import StopSignal
    from ._status import UnknownCheck, async_check_unknown, check_unknown

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE",
    "MAX_CONCURRENCY",
    "Journal",
    "JournalMismatchError",
    "JournalRow",
    "JournalSummary",
    "Outcome",
    "OutcomeStatus",
    "RatePacer",
    "StopSignal",
    "UnknownCheck",
    "async_check_unknown",
    "check_unknown",
]

_HOMES = {
    "DEFAULT_CONCURRENCY": "_limits",
    "MAX_CONCURRENCY": "_limits",
    "DEFAULT_RATE": "_pacer",
    "RatePacer": "_pacer",
    "StopSignal": "_runner",
    "Journal": "_journal",
    "JournalMismatchError": "_journal",
    "JournalRow": "_journal",
    "JournalSummary": "_journal",
    "Outcome": "_outcome",
    "OutcomeStatus": "_outcome",
    "UnknownCheck": "_status",
    "async_check_unknown": "_status",
    "check_unknown": "_status",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
