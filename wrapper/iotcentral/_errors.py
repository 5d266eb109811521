"""Every exception the client raises, in one tree.

```
IoTCentralError
├── ValidationError                  a bad argument, raised before any I/O
│   ├── InvalidArgumentError         (also ValueError) empty id, timeout out of range, http:// URL
│   └── InvalidPayloadError          (also TypeError) the request payload is not JSON
├── ClientClosedError                (also RuntimeError) the client was closed
├── WrongEventLoopError              (also RuntimeError) an async client used on a second event loop
├── CredentialError                  the credential could not produce a token
├── DeviceCommandFailedError         raised only by CommandResult.raise_for_response_code()
├── APIError                         the service answered, but not with a result
│   ├── APIStatusError               an error status (>= 400) with the error shape, or without it
│   │   ├── BadRequestError          400
│   │   ├── AuthenticationError      401
│   │   ├── PermissionDeniedError    403
│   │   ├── NotFoundError            404
│   │   │   └── DeviceOfflineError   404 DeviceNotOnline: not connected within connection_timeout
│   │   ├── PreconditionFailedError  412
│   │   ├── UnsupportedMediaTypeError 415
│   │   ├── UnprocessableEntityError 422
│   │   ├── ThrottledError           429 (retry_after)
│   │   ├── DeviceTimeoutError       504, 408 or code RequestTimeout: no answer in response_timeout
│   │   └── ServerError              any other status >= 500
│   │       └── ServiceUnavailableError 503 (retry_after)
│   └── MalformedResponseError       not JSON, truncated, wrong shape, or an undocumented status
│       ├── ResponseTooLargeError    larger than max_response_bytes (reading stopped there)
│       └── PagingError              a history nextLink to another host, repeated, or too many pages
└── TransportError                   no usable answer arrived
    ├── RequestNotSentError          provably never reached the service (connect error or timeout)
    └── RequestMaybeSentError        may have reached the service (read timeout, dropped connection)
```

`may_have_executed` on API and transport errors says whether a run-command request that failed this
way may still have run on the device (always False for history reads).

Exception text never contains the Authorization header or a token: messages taken from the wire pass
through `redact_request()` (in `_redact`), which removes the request's own credential
wherever it appears.

Nor does it contain a character a terminal would obey: a server controls error messages, codes,
request ids, header values, bodies and result ids, so every piece of text it supplied is redacted,
then escaped (`_sanitize.for_terminal`: controls, C1, bidi and line separators become `\\x1b`,
`\\u202e`...), then cut (`MESSAGE_LIMIT`), before it goes into `str(exc)`, `exc.args` or
`repr(exc)` (which shows each field as `repr()` does, bounded). A program may print or log any of
these exceptions. The values stay raw (redacted only) as attributes, where a program compares or
parses them: `message`, `code` and `request_id`, `body` (the parsed JSON, as sent, not even
redacted), `response`, and the `CommandResult` of a device failure. Print `str(exc)`, not them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx

from ._redact import cut, redact_request
from ._sanitize import for_people, for_terminal

if TYPE_CHECKING:
    from ._models import CommandResult

__all__ = [
    "APIError",
    "APIStatusError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "CredentialError",
    "DeviceCommandFailedError",
    "DeviceOfflineError",
    "DeviceTimeoutError",
    "InvalidArgumentError",
    "InvalidPayloadError",
    "IoTCentralError",
    "MalformedResponseError",
    "NotFoundError",
    "PagingError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RequestMaybeSentError",
    "RequestNotSentError",
    "ResponseTooLargeError",
    "ServerError",
    "ServiceUnavailableError",
    "ThrottledError",
    "TransportError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WrongEventLoopError",
]

#: The longest message (characters, after escaping) an exception carries; the rest is cut.
MESSAGE_LIMIT = 1000
#: The longest error code or request id that `str()` of a status error shows (attributes are whole).
FIELD_LIMIT = 200


class IoTCentralError(Exception):
    """Base class of every exception raised by iotcentral."""


class ValidationError(IoTCentralError):
    """An argument was rejected before any request was sent."""


class InvalidArgumentError(ValidationError, ValueError):
    """An argument has a wrong value: an empty id, a timeout out of range, an insecure URL, ..."""


class InvalidPayloadError(ValidationError, TypeError):
    """The command's request payload cannot be sent as JSON."""


class ClientClosedError(IoTCentralError, RuntimeError):
    """The client (or the client it was copied from) has been closed."""


class WrongEventLoopError(IoTCentralError, RuntimeError):
    """An async client was used on another event loop than the first one; nothing was sent.

    Its connections belong to the loop that opened them: create one `AsyncIoTCentralClient` per
    event loop (e.g. inside the coroutine that `asyncio.run()` runs).
    """


class CredentialError(IoTCentralError):
    """The credential failed to produce a usable token; nothing was sent.

    Its message may quote the credential's own exception (an identity service's answer): text
    arguments are escaped for a terminal, like every message built from text from the network.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(for_terminal(a) if isinstance(a, str) else a for a in args))


class DeviceCommandFailedError(IoTCentralError):
    """The device answered the command with a failure status (`response_code` >= 400).

    Raised only by `CommandResult.raise_for_response_code()`: a device-reported failure is a
    successful HTTP call, so `run_command()` itself returns it as a result.
    """

    def __init__(self, result: CommandResult) -> None:
        self.result = result
        self.response_code = result.response_code
        response = result.http_response
        # The command id comes from the service: redacted and escaped here, raw on `result.id`.
        super().__init__(
            for_people(
                f"the device answered with response code {result.response_code}"
                f" (command id {result.id or 'unknown'})",
                None if response is None else response.request,
                limit=MESSAGE_LIMIT,
            )
        )


class APIError(IoTCentralError):
    """The service answered, but the answer is not a result.

    Attributes:
        request: the request that was sent (its Authorization header is never printed).
        response: the raw HTTP response.
        status_code: the HTTP status.
        message: a human-readable explanation, redacted but otherwise as built from the answer:
            it may quote the server's text, control characters included. `args[0]` and
            `str()` hold it escaped for a terminal (`\\x1b` for ESC...) and cut to
            `MESSAGE_LIMIT` characters: print those, not `message`.
    """

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        self.response = response
        self.request = response.request
        self.status_code = response.status_code
        self.message = redact_request(message, self.request)
        super().__init__(_escaped(self.message))

    @property
    def headers(self) -> httpx.Headers:
        """The response headers."""
        return self.response.headers

    @property
    def client_request_id(self) -> str | None:
        """The `x-ms-client-request-id` this client sent (the same across retries of one call)."""
        return str_or_none(self.request.headers.get("x-ms-client-request-id"))

    @property
    def may_have_executed(self) -> bool:
        """True when a run-command request that failed this way may have run on the device."""
        return self.request.method == "POST" and (
            self.status_code >= 500 or self.status_code < 400 or self.status_code == 408
        )

    def __repr__(self) -> str:
        return for_terminal(
            f"{type(self).__name__}(status_code={self.status_code},"
            f" message={_quoted(self.message, MESSAGE_LIMIT)})"
        )


class APIStatusError(APIError):
    """The service answered with an error status (>= 400).

    Attributes:
        code: the service's error code (body `error.code`, else the `x-ms-error-code` header).
        request_id: the service's correlation id (body `error.requestId`, else `x-ms-request-id`).
        time: when the service says the error happened, if it said so in a readable form.
        retry_after: seconds the service asked us to wait (`Retry-After`), if it did.
        body: the parsed JSON body, or None when the body was not JSON.

    `code`, `request_id` and `message` are values a program compares (`error.code ==
    "DeviceNotFound"`) or passes on, so they are kept as the service sent them, only redacted:
    they are NOT escaped and may hold control characters. Print them through `str(error)` (which
    escapes and bounds them), or escape them yourself. `body` is the parsed answer as sent:
    neither redacted nor escaped.
    """

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        code: str | None = None,
        request_id: str | None = None,
        time: datetime | None = None,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, response=response)
        # Like the message, the ids come from the wire: a server may quote the token in them.
        self.code = None if code is None else redact_request(code, self.request)
        self.request_id = None if request_id is None else redact_request(request_id, self.request)
        self.time = time
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        code = f" {_shown(self.code)}" if self.code else ""
        rid = f" (request id {_shown(self.request_id)})" if self.request_id else ""
        message = _escaped(self.message) or _shown(self.response.reason_phrase or "error")
        return f"HTTP {self.status_code}{code}: {message}{rid}"

    def __repr__(self) -> str:
        # Each field as repr() shows it (every unprintable character escaped), bounded;
        # for_terminal() makes sure of it.
        return for_terminal(
            f"{type(self).__name__}(status_code={self.status_code},"
            f" code={_quoted(self.code, FIELD_LIMIT)},"
            f" message={_quoted(self.message, MESSAGE_LIMIT)},"
            f" request_id={_quoted(self.request_id, FIELD_LIMIT)})"
        )


class BadRequestError(APIStatusError):
    """400: the service rejected the request (missing or invalid api-version, invalid JSON)."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, expired, or not valid for this app."""


class PermissionDeniedError(APIStatusError):
    """403: the token's role does not allow this operation."""


class NotFoundError(APIStatusError):
    """404: the app, device, component, module or command does not exist."""


class DeviceOfflineError(NotFoundError):
    """404 DeviceNotOnline: the device did not connect within `connection_timeout`; nothing ran."""


class PreconditionFailedError(APIStatusError):
    """412: a precondition of the request failed."""


class UnsupportedMediaTypeError(APIStatusError):
    """415: the request body was not sent as application/json."""


class UnprocessableEntityError(APIStatusError):
    """422: the request body failed the service's validation."""


class ThrottledError(APIStatusError):
    """429: too many requests (20 per second per app); the command did not run.

    `retry_after` holds the seconds the service asked to wait, when it said.
    """


class DeviceTimeoutError(APIStatusError):
    """The device did not answer within `response_timeout` (504, 408 or code RequestTimeout).

    The command may have run on the device: it is never re-sent automatically.
    """

    @property
    def may_have_executed(self) -> bool:
        """A run-command request that timed out on the device may have run."""
        return self.request.method == "POST"


class ServerError(APIStatusError):
    """A status >= 500: the service failed. A command may still have run."""


class ServiceUnavailableError(ServerError):
    """503: the service is unavailable for now; `retry_after` says for how long, if it said."""


class MalformedResponseError(APIError):
    """An unusable answer: not JSON, truncated, of the wrong shape, or an undocumented status.

    For a run-command request this usually means the command was accepted (and may have run).
    """


class ResponseTooLargeError(MalformedResponseError):
    """The answer was larger than the client's `max_response_bytes`; reading stopped there.

    For a run-command request that the service accepted (2xx, or 5xx), the command may have run.
    """


class PagingError(MalformedResponseError):
    """A history page's `nextLink` was not followed: nothing more was sent.

    It points to another origin (scheme, host or port) than the client's base URL (the
    credential never travels there), is not a valid URL, repeats an earlier page, or the history
    has more pages than the iteration's `max_pages`. `response` is the page that carried it.
    """


class TransportError(IoTCentralError):
    """No usable answer arrived: the connection failed, timed out or was dropped.

    Attributes:
        request: the request that was being sent.
        cause: the underlying httpx exception (also chained as `__cause__`), its text raw.
        message: what happened, redacted; it may quote the httpx exception, whose text can
            hold the server's bytes. `args[0]` and `str()` hold it escaped and bounded.
    """

    def __init__(self, message: str, *, request: httpx.Request, cause: Exception) -> None:
        self.request = request
        self.cause = cause
        self.message = redact_request(message, request)
        super().__init__(_escaped(self.message))

    @property
    def may_have_executed(self) -> bool:
        """True when a run-command request that failed this way may have run on the device."""
        return False

    @property
    def client_request_id(self) -> str | None:
        """The `x-ms-client-request-id` this client sent (the same across retries of one call)."""
        return str_or_none(self.request.headers.get("x-ms-client-request-id"))

    def __repr__(self) -> str:
        return for_terminal(
            f"{type(self).__name__}(message={_quoted(self.message, MESSAGE_LIMIT)})"
        )


class RequestNotSentError(TransportError):
    """The request provably never reached the service (connection refused, connect timeout)."""


class RequestMaybeSentError(TransportError):
    """The request may have reached the service (read timeout, connection dropped mid-answer)."""

    @property
    def may_have_executed(self) -> bool:
        """A run-command request that may have been sent may have run."""
        return self.request.method == "POST"


def str_or_none(value: object) -> str | None:
    """`value` if it is a non-empty string, else None."""
    if isinstance(value, str) and value:
        return value
    return None


def _escaped(message: str) -> str:
    """A (redacted) message as exception text holds it: escaped, then cut to `MESSAGE_LIMIT`."""
    return cut(for_terminal(message), MESSAGE_LIMIT)


def _shown(value: str | None) -> str:
    """A raw field (a code, a request id, a reason phrase) as exception text shows it."""
    return cut(for_terminal(value or ""), FIELD_LIMIT)


def _quoted(value: str | None, limit: int) -> str:
    """`repr(value)` for a `repr()` of an exception: escaped by `repr()`, cut to `limit` inside
    its quotes (never inside an escape)."""
    if value is None:
        return "None"
    quoted = repr(value)
    return quoted[0] + cut(quoted[1:-1], limit) + quoted[-1]
