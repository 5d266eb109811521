"""What a fleet run shows while it runs and when it ends (rich, imported on first use).

`FleetProgress` draws a progress bar on stderr when stderr is a terminal: devices done (of the
total when known), succeeded, device failures, not run, unknown, the pacer's current rate and the
ETA. `summary_table` renders the counts at the end. Device ids come from the caller's file and
error messages from the network: both are passed as `rich.text.Text` (never markup) and cut short.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from .._redact import cut
from ..fleet._outcome import Outcome, OutcomeStatus
from ..fleet._pacer import RatePacer

__all__ = ["FleetProgress", "printable", "summary_table"]

#: `fleet status --devices`: ids of the run's list that the journal has no row for.
NOT_REACHED = "not_reached"

_LABELS = {
    OutcomeStatus.SUCCEEDED.value: "succeeded",
    OutcomeStatus.DEVICE_FAILED.value: "device failed (responseCode >= 400)",
    OutcomeStatus.NOT_RUN.value: "not run (provably never ran)",
    OutcomeStatus.UNKNOWN.value: "unknown (may have run)",
    "sending": "left sending by a crash (may have run)",
    NOT_REACHED: "never reached (in --devices, not in the journal)",
}


def printable(text: object, limit: int = 120) -> str:
    """`text` safe for a terminal: control characters replaced, cut to `limit` characters."""
    cleaned = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in str(text))
    return cut(cleaned, limit)


class FleetProgress:
    """A live progress bar on stderr (only when stderr is a terminal; else it does nothing)."""

    def __init__(self, total: int | None, pacer: RatePacer, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.pacer = pacer
        self.counts = {status.value: 0 for status in OutcomeStatus}
        self._progress: Any = None
        self._task: Any = None
        self._total = total

    def __enter__(self) -> FleetProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("fleet"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                console=Console(stderr=True, highlight=False),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("fleet", total=self._total, detail="")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)

    def update(self, outcome: Outcome) -> None:
        """Count one outcome and redraw."""
        self.counts[outcome.status.value] += 1
        if self._progress is None:
            return
        c = self.counts
        detail = (
            f"ok {c['succeeded']}  failed {c['device_failed']}  not run {c['not_run']}"
            f"  unknown {c['unknown']}  {self.pacer.rate:.1f} req/s"
        )
        self._progress.update(self._task, advance=1, detail=detail)


def summary_table(counts: Mapping[str, int], title: str) -> Any:
    """A rich table of counts per status (the end of `fleet run`, and `fleet status`)."""
    from rich.table import Table

    table = Table(title=printable(title, 200), title_justify="left")
    table.add_column("status")
    table.add_column("devices", justify="right")
    for status, label in _LABELS.items():
        if status in ("sending", NOT_REACHED) and not counts.get(status):
            continue
        table.add_row(label, str(counts.get(status, 0)))
    table.add_row("total", str(sum(counts.values())), style="bold")
    return table
