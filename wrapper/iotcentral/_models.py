"""Typed results: one command execution, and a command's history."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, overload

import httpx

from ._errors import DeviceCommandFailedError
from ._redact import redact_request

__all__ = ["CommandHistory", "CommandResult"]


def _redacted_repr(obj: Any, fields: Sequence[str]) -> str:
    """A dataclass-style repr without the credential of the request that fetched `obj`.

    The data keeps exactly what the service sent; only what is printed is redacted, so that a
    server quoting the Authorization header back cannot put the token into a log or a terminal.
    """
    shown = ", ".join(f"{name}={getattr(obj, name)!r}" for name in fields)
    response: httpx.Response | None = obj.http_response
    return redact_request(
        f"{type(obj).__name__}({shown})", None if response is None else response.request
    )


@dataclass(frozen=True)
class CommandResult:
    """One execution of a command, as the service reported it.

    Every field may be absent in an answer; absent fields are None.

    Attributes:
        id: the id of this command execution.
        request: the payload sent to the device.
        response: the device's answer payload.
        response_code: the status the *device* returned (not the HTTP status): >= 400 is a failure
            reported by the device, see `failed` and `raise_for_response_code()`.
        connection_timeout: the connectionTimeout the service applied, if it echoed it.
        response_timeout: the responseTimeout the service applied, if it echoed it.
        raw: the JSON object exactly as received (camelCase keys).
        http_response: the HTTP response that carried it.
    """

    id: str | None
    request: Any
    response: Any
    response_code: int | None
    connection_timeout: int | None = None
    response_timeout: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    http_response: httpx.Response | None = field(default=None, repr=False, compare=False)

    @property
    def failed(self) -> bool:
        """True when the device reported a failure (`response_code` >= 400)."""
        return self.response_code is not None and self.response_code >= 400

    @property
    def status_code(self) -> int | None:
        """The HTTP status of the answer (201 for run, 200 for history)."""
        return None if self.http_response is None else self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        """The HTTP response headers."""
        return httpx.Headers() if self.http_response is None else self.http_response.headers

    @property
    def request_id(self) -> str | None:
        """The service's `x-ms-request-id`, if it sent one."""
        value: str | None = self.headers.get("x-ms-request-id")
        return value

    @property
    def client_request_id(self) -> str | None:
        """The `x-ms-client-request-id` this client sent for the call."""
        if self.http_response is None:
            return None
        value: str | None = self.http_response.request.headers.get("x-ms-client-request-id")
        return value

    def to_dict(self) -> dict[str, Any]:
        """The result as the service's JSON (camelCase keys), as received."""
        return dict(self.raw)

    def __repr__(self) -> str:
        return _redacted_repr(
            self,
            (
                "id",
                "request",
                "response",
                "response_code",
                "connection_timeout",
                "response_timeout",
            ),
        )

    def raise_for_response_code(self) -> Self:
        """Raise DeviceCommandFailedError if the device reported a failure; else return self."""
        if self.failed:
            raise DeviceCommandFailedError(self)
        return self


@dataclass(frozen=True)
class CommandHistory(Sequence[CommandResult]):
    """The recorded executions of a command (the service keeps only the most recent one).

    A sequence of CommandResult, most recent first.

    Attributes:
        items: the executions.
        next_link: the service's link to a further page, if it gave one.
        raw: the JSON object exactly as received.
        http_response: the HTTP response that carried it.
    """

    items: tuple[CommandResult, ...]
    next_link: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    http_response: httpx.Response | None = field(default=None, repr=False, compare=False)

    @property
    def latest(self) -> CommandResult | None:
        """The most recent execution, or None if the command never ran."""
        return self.items[0] if self.items else None

    @property
    def headers(self) -> httpx.Headers:
        """The HTTP response headers."""
        return httpx.Headers() if self.http_response is None else self.http_response.headers

    def to_dict(self) -> dict[str, Any]:
        """The history as the service's JSON (camelCase keys), as received."""
        return dict(self.raw)

    def __repr__(self) -> str:
        return _redacted_repr(self, ("items", "next_link"))

    @overload
    def __getitem__(self, index: int) -> CommandResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[CommandResult]: ...

    def __getitem__(self, index: int | slice) -> CommandResult | Sequence[CommandResult]:
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[CommandResult]:
        return iter(self.items)
