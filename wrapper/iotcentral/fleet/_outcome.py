"""One outcome per device of a fleet run, and how a call's ending maps to its status.

- `succeeded`: the device ran the command and answered `responseCode` < 400 (a result);
- `device_failed`: the device ran it and reported a failure, `responseCode` >= 400 (a result);
- `not_run`: provably never ran: a 4xx answer (a 429 after the last retry included), or never
  sent (an error whose `may_have_executed` is False);
- `unknown`: may have run: 5xx, device timeout, malformed answer, dropped after sending, or
  interrupted (an error whose `may_have_executed` is True, or one this package does not know).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import httpx

from .._errors import APIError, APIStatusError, IoTCentralError, TransportError
from .._models import CommandResult
from .._redact import cut, redact_json, request_secrets

__all__ = ["Outcome", "OutcomeStatus", "classify"]

#: The longest error message an outcome (and the journal) keeps.
MESSAGE_LIMIT = 300


class OutcomeStatus(enum.StrEnum):
    """How one device's command ended (see the module docstring)."""

    SUCCEEDED = "succeeded"
    DEVICE_FAILED = "device_failed"
    NOT_RUN = "not_run"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    """What happened to one device.

    Attributes:
        device_id: the device.
        status: see `OutcomeStatus`.
        result: the execution the service reported (succeeded / device_failed), when it ran now.
        error: the exception that ended the call (not_run / unknown), when it ended now.
        response_code: the device's status (from the result, or from the journal).
        request_id: the service's request id of the last answer, if any.
        error_code: the service's error code, or the exception's class name.
        message: a short, redacted explanation of an error.
        from_journal: True when this outcome was read from the journal of an earlier run (the
            device was not contacted now: finished before, or left unknown and not re-sent).
    """

    device_id: str
    status: OutcomeStatus
    result: CommandResult | None = None
    error: BaseException | None = None
    response_code: int | None = None
    request_id: str | None = None
    error_code: str | None = None
    message: str | None = None
    from_journal: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what `iotcentral fleet run --json` prints per line)."""
        data: dict[str, Any] = {"deviceId": self.device_id, "status": self.status.value}
        if self.result is not None:
            data["result"] = dict(self.result.raw)
        for key, value in (
            ("responseCode", self.response_code),
            ("requestId", self.request_id),
            ("errorCode", self.error_code),
            ("message", self.message),
        ):
            if value is not None:
                data[key] = value
        if self.from_journal:
            data["fromJournal"] = True
        # Printed and journaled: never with a credential the server quoted back.
        return dict(redact_json(data, self._secrets()))

    def _secrets(self) -> tuple[str, ...]:
        """The credential of the request this outcome answers (for redaction)."""
        response = None if self.result is None else self.result.http_response
        request = getattr(self.error, "request", None) if response is None else response.request
        return request_secrets(request if isinstance(request, httpx.Request) else None)


def succeeded(device_id: str, result: CommandResult) -> Outcome:
    """The outcome of a call that returned a result."""
    status = OutcomeStatus.DEVICE_FAILED if result.failed else OutcomeStatus.SUCCEEDED
    return Outcome(
        device_id,
        status,
        result=result,
        response_code=result.response_code,
        request_id=result.request_id,
    )


def classify(device_id: str, error: BaseException) -> Outcome:
    """The outcome of a call that raised `error`.

    Errors that say the command cannot have run (`may_have_executed` False: 4xx, never sent,
    rejected before sending) are `not_run`; everything else, including exceptions this package
    does not know, is `unknown`: when in doubt, the command may have run.
    """
    if isinstance(error, APIError | TransportError):
        may_have_run = error.may_have_executed
    elif isinstance(error, IoTCentralError):
        may_have_run = False  # validation, closed client, credential: raised before sending
    else:
        may_have_run = True
    code: str | None = type(error).__name__
    request_id = None
    if isinstance(error, APIStatusError):
        code = error.code or f"HTTP{error.status_code}"
        request_id = error.request_id
    message = cut(str(error) or type(error).__name__, MESSAGE_LIMIT)
    return Outcome(
        device_id,
        OutcomeStatus.UNKNOWN if may_have_run else OutcomeStatus.NOT_RUN,
        error=error,
        request_id=request_id,
        error_code=code,
        message=message,
    )
