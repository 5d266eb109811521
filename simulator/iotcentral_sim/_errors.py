"""Simulator errors and the IoT Central error body they become (moto's ``exceptions.py`` role)."""

from __future__ import annotations

import email.utils
import json
import uuid
from collections.abc import Mapping
from http import HTTPStatus

__all__ = [
    "ConnectionDropped",
    "ScenarioError",
    "SimError",
    "default_error_code",
    "error_body",
    "rfc1123_now",
]


class ScenarioError(ValueError):
    """A scenario file or mapping is not valid; the message names the offending entry."""


class ConnectionDropped(Exception):
    """Raised by the ASGI app when a ``drop_before`` / ``drop_after`` fault fires.

    Over real HTTP (uvicorn) the app has already sent the response head announcing a
    ``Content-Length``; raising makes uvicorn close the socket without the body, so an HTTP client
    sees a protocol error (httpx: ``RemoteProtocolError``). In process, through
    ``httpx.ASGITransport``, the exception propagates to the caller unchanged.

    ``executed`` tells whether the command ran before the drop (``drop_after``).
    """

    def __init__(self, *, executed: bool) -> None:
        self.executed = executed
        when = "after" if executed else "before"
        super().__init__(f"simulated connection drop {when} the command executed")


class SimError(Exception):
    """An HTTP error answer in the service's Error shape.

    Carries the HTTP ``status``, the error ``code`` (body ``error.code`` and the
    ``x-ms-error-code`` header) and a human ``message``; ``retry_after`` (seconds) adds a
    ``Retry-After`` header; ``headers`` adds any other header.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def response_headers(self) -> dict[str, str]:
        """Headers for this error: content type, ``x-ms-error-code`` and ``Retry-After``."""
        headers = {"content-type": "application/json", "x-ms-error-code": self.code}
        if self.retry_after is not None:
            headers["retry-after"] = str(self.retry_after)
        headers.update(self.headers)
        return headers

    def body(self) -> bytes:
        """The JSON body ``{"error": {"code", "message", "requestId", "time"}}``."""
        return error_body(self.code, self.message)


def rfc1123_now() -> str:
    """The current time as an RFC 1123 date, e.g. ``Sat, 28 Nov 2026 12:00:00 GMT``."""
    return email.utils.formatdate(usegmt=True)


def error_body(code: str, message: str, *, request_id: str | None = None) -> bytes:
    """Serialise the service's Error shape with a fresh ``requestId`` and the current ``time``."""
    detail = {
        "code": code,
        "message": message,
        "requestId": request_id or str(uuid.uuid4()),
        "time": rfc1123_now(),
    }
    return json.dumps({"error": detail}, separators=(",", ":")).encode()


_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    408: "RequestTimeout",
    409: "Conflict",
    412: "PreconditionFailed",
    422: "UnprocessableEntity",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def default_error_code(status: int) -> str:
    """The error code for an injected ``status`` (e.g. 503 -> ``ServiceUnavailable``)."""
    if status in _CODES:
        return _CODES[status]
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"Http{status}"
    return "".join(word[:1].upper() + word[1:] for word in phrase.replace("-", " ").split())
