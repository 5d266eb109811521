"""What the command history of each device left *unknown* by a fleet run says now.

A device is unknown when its command may have run (5xx, device timeout, dropped after sending, or
a row left *sending* by a crash). IoT Central keeps the most recent execution of each command; its
history cannot prove the command did not run (another caller may have run it), but it tells the
operator what the device last answered, so they can decide whether to run it again
(`retry_unknown=True`, `iotcentral fleet run --resume FILE --retry-unknown`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import IoTCentralError
from .._models import CommandResult
from .._redact import cut
from ._journal import Journal, JournalRow

if TYPE_CHECKING:
    from .._client import AsyncIoTCentralClient, IoTCentralClient

__all__ = ["UnknownCheck", "async_check_unknown", "check_unknown"]


@dataclass(frozen=True)
class UnknownCheck:
    """One unknown device and its command history now.

    Attributes:
        row: the device's journal row.
        latest: the most recent execution the service reports (None: none recorded).
        error: why the history could not be read (redacted), if it could not.
    """

    row: JournalRow
    latest: CommandResult | None = None
    error: str | None = None

    @property
    def device_id(self) -> str:
        """The device."""
        return self.row.device_id

    def describe(self) -> str:
        """One line for a terminal."""
        if self.error is not None:
            return f"history unavailable: {self.error}"
        if self.latest is None:
            return "no execution recorded"
        return f"last execution {self.latest.id or '?'}: responseCode {self.latest.response_code}"


def _target(journal: Journal) -> tuple[str, str | None, str | None]:
    fingerprint = journal.summary().fingerprint
    if fingerprint is None:
        raise IoTCentralError(f"journal {journal.path.name} holds no run")
    return fingerprint.command_name, fingerprint.component, fingerprint.module


def check_unknown(client: IoTCentralClient, journal: Journal) -> Iterator[UnknownCheck]:
    """For each unknown device of `journal`, read its command history (safe: a GET)."""
    command, component, module = _target(journal)
    for row in list(journal.unknown_rows()):
        try:
            history = client.command_history(
                row.device_id, command, component=component, module=module
            )
        except IoTCentralError as error:
            yield UnknownCheck(row, error=cut(str(error), 200))
        else:
            yield UnknownCheck(row, latest=history.latest)


async def async_check_unknown(
    client: AsyncIoTCentralClient, journal: Journal
) -> AsyncIterator[UnknownCheck]:
    """`check_unknown` for the async client."""
    command, component, module = _target(journal)
    for row in list(journal.unknown_rows()):
        try:
            history = await client.command_history(
                row.device_id, command, component=component, module=module
            )
        except IoTCentralError as error:
            yield UnknownCheck(row, error=cut(str(error), 200))
        else:
            yield UnknownCheck(row, latest=history.latest)
