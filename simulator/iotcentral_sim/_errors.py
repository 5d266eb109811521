"""Simulator errors and the IoT Central error body they become (moto's ``exceptions.py`` role).

Every error code the simulator answers is built here, by a named constructor on :class:`SimError`
(``SimError.device_not_found(...)``, ``SimError.too_many_requests(...)`` ...), so each code, its
HTTP status and its message live in one place and the rest of the package never spells a code.
Messages that echo a request value pass it through :func:`shown` (printable, bounded).
"""

from __future__ import annotations

import email.utils
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from http import HTTPStatus

__all__ = [
    "ConnectionDropped",
    "ScenarioError",
    "SimError",
    "default_error_code",
    "error_body",
    "rfc1123_now",
    "shown",
    "status_phrase",
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

    # ------------------------------------------------------------- routing and parameters

    @classmethod
    def not_found(cls) -> SimError:
        """404 ``NotFound``: no spec path matches the request."""
        return cls(404, "NotFound", "The requested resource does not exist.")

    @classmethod
    def method_not_allowed(cls, method: str, allowed: Iterable[str]) -> SimError:
        """405 ``MethodNotAllowed`` with an ``Allow`` header listing ``allowed``."""
        return cls(
            405,
            "MethodNotAllowed",
            f"The method {method.upper()} is not allowed on this resource.",
            headers={"allow": ", ".join(sorted(m.upper() for m in allowed))},
        )

    @classmethod
    def missing_api_version(cls, supported: Iterable[str]) -> SimError:
        """400 ``MissingApiVersionParameter``."""
        return cls(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests. "
            f"Supported api-versions: {_quoted(supported)}.",
        )

    @classmethod
    def invalid_api_version(cls, given: str, supported: Iterable[str]) -> SimError:
        """400 ``InvalidApiVersionParameter`` (``given`` is shown bounded)."""
        shown_version = given if len(given) <= 40 and given.isprintable() else given[:40] + "..."
        return cls(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{shown_version}' is invalid. "
            f"Supported api-versions: {_quoted(supported)}.",
        )

    @classmethod
    def invalid_parameter(cls, name: str) -> SimError:
        """400 ``InvalidParameter``: a path, query or header parameter other than api-version."""
        return cls(400, "InvalidParameter", f"Invalid parameter '{name}'.")

    # ------------------------------------------------------------------- credentials

    @classmethod
    def missing_credentials(cls) -> SimError:
        """401 ``Unauthorized``: no ``Authorization`` header."""
        return cls(
            401,
            "Unauthorized",
            "The Authorization header is missing: send an IoT Central API token or "
            "'Bearer <Azure AD token>'.",
        )

    @classmethod
    def invalid_credentials(cls) -> SimError:
        """401 ``Unauthorized``: the token is not one the application accepts."""
        return cls(401, "Unauthorized", "The token is expired or not valid for this application.")

    @classmethod
    def forbidden_run(cls) -> SimError:
        """403 ``Forbidden``: the token's role may read history but not run commands."""
        return cls(
            403,
            "Forbidden",
            "The token's role does not have permission to run device commands.",
        )

    @classmethod
    def too_many_requests(cls, rate_limit: float, retry_after: int) -> SimError:
        """429 ``TooManyRequests`` with ``Retry-After`` (whole seconds)."""
        return cls(
            429,
            "TooManyRequests",
            f"Too many requests: the application is limited to {rate_limit:g} "
            "requests per second. Back off and send fewer requests concurrently.",
            retry_after=retry_after,
        )

    # ---------------------------------------------------------------------- bodies

    @classmethod
    def missing_body(cls) -> SimError:
        """400 ``InvalidJson``: an operation that takes a body got none."""
        return cls(
            400,
            "InvalidJson",
            "The request body is missing: send a JSON DeviceCommand object, e.g. {}.",
        )

    @classmethod
    def invalid_json(cls) -> SimError:
        """400 ``InvalidJson``: the body does not parse (NaN and Infinity included)."""
        return cls(400, "InvalidJson", "The request body is not valid JSON.")

    @classmethod
    def json_too_deep(cls, limit: int) -> SimError:
        """400 ``InvalidJson``: the body nests arrays and objects deeper than ``limit`` levels."""
        return cls(
            400,
            "InvalidJson",
            f"The request body nests JSON arrays and objects deeper than {limit} levels.",
        )

    @classmethod
    def payload_too_large(cls, limit: int) -> SimError:
        """413 ``PayloadTooLarge``: the body is longer than ``limit`` bytes (nothing ran)."""
        return cls(
            413,
            "PayloadTooLarge",
            f"The request body is larger than the simulator's limit of {limit} bytes.",
        )

    @classmethod
    def unsupported_media_type(cls) -> SimError:
        """415 ``UnsupportedMediaType``: the body is not ``application/json``."""
        return cls(
            415, "UnsupportedMediaType", "The request content type must be application/json."
        )

    @classmethod
    def invalid_request_body(cls, problems: Iterable[str] = ()) -> SimError:
        """422 ``InvalidRequestBody``; ``problems`` name each offending field."""
        listed = "; ".join(problems)
        if not listed:
            return cls(422, "InvalidRequestBody", "The request body is invalid.")
        return cls(422, "InvalidRequestBody", f"The request body is invalid: {listed}.")

    @classmethod
    def bad_request(cls) -> SimError:
        """400 ``BadRequest``: a request problem with no more specific code."""
        return cls(400, "BadRequest", "The request is invalid.")

    # ------------------------------------------------------------------ command targets

    @classmethod
    def device_not_found(cls, device_id: str) -> SimError:
        """404 ``DeviceNotFound``."""
        return cls(
            404, "DeviceNotFound", f"The device with id '{shown(device_id)}' does not exist."
        )

    @classmethod
    def module_not_found(cls, module_name: str, device_id: str) -> SimError:
        """404 ``ModuleNotFound``: the device has no such module."""
        return cls(
            404,
            "ModuleNotFound",
            f"The module '{shown(module_name)}' does not exist on device '{shown(device_id)}'.",
        )

    @classmethod
    def component_not_found(cls, component_name: str) -> SimError:
        """404 ``ComponentNotFound``: the device (or module) has no such component."""
        return cls(
            404,
            "ComponentNotFound",
            f"The component '{shown(component_name)}' does not exist.",
        )

    @classmethod
    def command_not_found(cls, command_name: str) -> SimError:
        """404 ``CommandNotFound``: the target does not define the command."""
        return cls(
            404,
            "CommandNotFound",
            f"The command '{shown(command_name)}' is not defined for this device.",
        )

    @classmethod
    def device_not_online(cls, device_id: str, connection_timeout: int) -> SimError:
        """404 ``DeviceNotOnline``: the device did not connect within ``connectionTimeout``."""
        return cls(
            404,
            "DeviceNotOnline",
            f"The device '{shown(device_id)}' is not online: it did not connect within the "
            f"connection timeout of {connection_timeout} s.",
        )

    @classmethod
    def device_timeout(cls) -> SimError:
        """504 ``RequestTimeout``: the device did not answer within ``responseTimeout``."""
        return cls(504, "RequestTimeout", "Request timeout waiting for the device to respond.")

    # ------------------------------------------------------------- simulator-made errors

    @classmethod
    def injected(cls, status: int, retry_after: float | None = None) -> SimError:
        """An injected ``status_before`` / ``status_after`` fault (code from the status).

        ``retry_after`` is rounded up to whole seconds; 429 and 503 default to 1 s.
        """
        seconds: int | None = None
        if retry_after is not None:
            seconds = math.ceil(retry_after)
        elif status in (429, 503):
            seconds = 1
        return cls(
            status,
            default_error_code(status),
            f"{status_phrase(status)} (simulated fault).",
            retry_after=seconds,
        )

    @classmethod
    def cross_site_request(cls) -> SimError:
        """403 ``CrossSiteRequest``: a web page on another site called the control API."""
        return cls(
            403,
            "CrossSiteRequest",
            "The control API accepts no requests from web pages on other sites (Origin or"
            " Sec-Fetch-Site); call it from a program or from a page served on loopback.",
        )

    @classmethod
    def invalid_fault(cls, reason: str) -> SimError:
        """400 ``InvalidFault``: the control API got a fault it cannot inject."""
        return cls(400, "InvalidFault", reason)

    @classmethod
    def invalid_setting(cls, reason: str) -> SimError:
        """400 ``InvalidSetting``: the control API got a setting out of range (history paging)."""
        return cls(400, "InvalidSetting", reason)

    @classmethod
    def for_status(cls, status: int) -> SimError:
        """A routing error outside the command API (the control API's 404 / 405 ...)."""
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, default_error_code(status))
        return cls(status, code, status_phrase(status) + ".")

    @classmethod
    def internal(cls) -> SimError:
        """500 ``InternalServerError``: a bug in the simulator (logged with its traceback)."""
        return cls(500, "InternalServerError", "An internal server error occurred.")


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
    413: "PayloadTooLarge",
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


def status_phrase(status: int) -> str:
    """The reason phrase for ``status`` (``"Error"`` for a code HTTP does not name)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def shown(value: str) -> str:
    """A request value fit for an error message: printable and bounded."""
    printable = "".join(c if c.isprintable() else "?" for c in value)
    return printable if len(printable) <= 80 else printable[:80] + "..."


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)
