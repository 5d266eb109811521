"""Mapping what came back to a result or a typed error: the one place that reads the wire.

`map_response()` turns an HTTP response into a `CommandResult` or `CommandHistory`, or raises the
typed error it means (`make_status_error()` for error statuses, `MalformedResponseError` for
anything that is not the documented answer). `map_transport_error()` turns an httpx exception into
`RequestNotSentError` (provably never sent) or `RequestMaybeSentError`. Every quote of a body is
short, redacted and escaped (`excerpt()`). The exception classes themselves live in `_errors`, and
escape every message built here (server text included: reason phrases, content types, error
messages) before it reaches `str(exc)`.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from iotcentral_api.models import DeviceCommand
from iotcentral_api.types import UNSET

from ._errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    DeviceOfflineError,
    DeviceTimeoutError,
    IoTCentralError,
    MalformedResponseError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RequestMaybeSentError,
    RequestNotSentError,
    ServerError,
    ServiceUnavailableError,
    ThrottledError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
    str_or_none,
)
from ._models import CommandHistory, CommandResult
from ._operations import Kind
from ._redact import cut, redact_request
from ._retry import parse_retry_after

__all__ = [
    "excerpt",
    "make_status_error",
    "map_response",
    "map_transport_error",
    "status_error_class",
]

_EXCERPT = 200

# Transport failures after which the request provably never reached the service.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)

_EXPECTED_STATUS: dict[Kind, int] = {"run": 201, "history": 200}


class _NotJSON(ValueError):
    """NaN, Infinity or -Infinity: accepted by Python's json module, but not JSON."""


def _reject_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not a JSON value")


_STRICT_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _loads(content: bytes) -> Any:
    """Strict JSON: NaN and Infinity are refused (results must print back as valid JSON)."""
    return _STRICT_JSON.decode(content.decode("utf-8"))


def excerpt(content: bytes, request: httpx.Request | None = None) -> str:
    """A short, printable, redacted quote of a response body, in `repr()` form.

    Redacted first, then escaped (`repr()` turns every unprintable character, controls and bidi
    ones included, into a visible escape), then cut to `_EXCERPT` characters between escapes.
    """
    if not content:
        return "<empty body>"
    text = content[: _EXCERPT * 4].decode("utf-8", errors="replace")
    quoted = repr(redact_request(" ".join(text.split()), request))
    quote, inner = quoted[0], quoted[1:-1]
    if len(inner) > _EXCERPT:
        inner = cut(inner, _EXCERPT)
    elif len(content) > _EXCERPT * 4:  # what was read fits, but it was not the whole body
        inner += "..."
    return quote + inner + quote


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: DeviceTimeoutError,
    412: PreconditionFailedError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: ThrottledError,
    503: ServiceUnavailableError,
    504: DeviceTimeoutError,
}


def status_error_class(status_code: int, code: str | None) -> type[APIStatusError]:
    """The exception class for an error status and the service's error code.

    Code RequestTimeout means a device timeout at any status; DeviceNotOnline refines a 404 (only:
    DeviceOfflineError is a NotFoundError); otherwise the status decides.
    """
    normalised = (code or "").lower()
    if normalised == "requesttimeout":
        return DeviceTimeoutError
    if normalised == "devicenotonline" and status_code == 404:
        return DeviceOfflineError
    by_status = _STATUS_CLASSES.get(status_code)
    if by_status is not None:
        return by_status
    return ServerError if status_code >= 500 else APIStatusError


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def make_status_error(response: httpx.Response, *, retry_after: float | None) -> APIStatusError:
    """Build the typed error for an error status, whatever its body holds.

    A body of the documented shape `{"error": {"code", "message", "requestId"?, "time"?}}` fills the
    fields; any other body (HTML from a proxy, empty, truncated JSON) still yields the class of the
    status, with the `x-ms-error-code` header as code and a quote of the body as message.
    """
    status = response.status_code
    body: Any = None
    details: dict[str, Any] | None = None
    try:
        body = _loads(response.content)
    except (ValueError, RecursionError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        details = body["error"]
    header_code = str_or_none(response.headers.get("x-ms-error-code"))
    header_rid = str_or_none(response.headers.get("x-ms-request-id"))
    if details is not None:
        # Strings are kept exactly as the service sent them, empty ones included.
        code = _str(details.get("code"))
        code = header_code if code is None else code
        message = _str(details.get("message"))
        request_id = _str(details.get("requestId"))
        request_id = header_rid if request_id is None else request_id
        when = _parse_time(details.get("time"))
    else:
        code, message, request_id, when = header_code, None, header_rid, None
    if message is None:
        reason = response.reason_phrase or "error"
        if details is None:
            content_type = response.headers.get("content-type", "no content type")
            message = (
                f"{reason}; the body is not the documented error shape"
                f" ({content_type}): {excerpt(response.content, response.request)}"
            )
        else:
            message = reason
    cls = status_error_class(status, code)
    return cls(
        message,
        response=response,
        code=code,
        request_id=request_id,
        time=when,
        retry_after=retry_after,
        body=body,
    )


def map_response(kind: Kind, response: httpx.Response) -> CommandResult | CommandHistory:
    """The result a (fully read) response carries, or the typed error it means (raised)."""
    status = response.status_code
    expected = _EXPECTED_STATUS[kind]
    if status >= 400:
        raise make_status_error(
            response, retry_after=parse_retry_after(response.headers, now=time.time())
        )
    if status != expected:
        raise MalformedResponseError(
            f"undocumented HTTP status {status} {response.reason_phrase} (expected {expected});"
            f" body: {excerpt(response.content, response.request)}",
            response=response,
        )
    try:
        body = _loads(response.content)
    except (ValueError, RecursionError) as exc:
        content_type = response.headers.get("content-type", "no content type")
        reason = f"{exc}; " if isinstance(exc, _NotJSON) else ""
        raise MalformedResponseError(
            f"the answer is not valid JSON ({reason}{content_type}, {len(response.content)} bytes):"
            f" {excerpt(response.content, response.request)}",
            response=response,
        ) from None
    if kind == "run":
        return _command_result(body, response, "the answer")
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise MalformedResponseError(
            "the answer should be a JSON object with a 'value' array:"
            f" {excerpt(response.content, response.request)}",
            response=response,
        )
    next_link = body.get("nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise MalformedResponseError("the answer's nextLink should be a string", response=response)
    items = tuple(
        _command_result(item, response, f"value[{i}]") for i, item in enumerate(body["value"])
    )
    return CommandHistory(items=items, next_link=next_link, raw=body, http_response=response)


def _int_field(obj: dict[str, Any], key: str, response: httpx.Response) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponseError(
            f"the answer's {key} should be an integer, got {type(value).__name__}",
            response=response,
        )
    return value


def _command_result(obj: object, response: httpx.Response, where: str) -> CommandResult:
    if not isinstance(obj, dict):
        raise MalformedResponseError(
            f"{where} should be a JSON object, got {type(obj).__name__}", response=response
        )
    ident = obj.get("id")
    if ident is not None and not isinstance(ident, str):
        raise MalformedResponseError(
            f"{where}: id should be a string, got {type(ident).__name__}", response=response
        )
    timeouts = {k: _int_field(obj, k, response) for k in ("connectionTimeout", "responseTimeout")}
    response_code = _int_field(obj, "responseCode", response)
    model = DeviceCommand.from_dict(obj)  # the generated model reads the wire names
    return CommandResult(
        id=ident,
        request=None if model.request is UNSET else model.request,
        response=None if model.response is UNSET else model.response,
        response_code=response_code,
        connection_timeout=timeouts["connectionTimeout"],
        response_timeout=timeouts["responseTimeout"],
        raw=obj,
        http_response=response,
    )


def map_transport_error(exc: httpx.HTTPError, request: httpx.Request) -> IoTCentralError:
    """The typed error for an httpx exception raised sending `request` or reading its answer."""
    # The auth flow may have re-sent another request (a fresh token after a 401): report that one.
    request = _request_of(exc) or request
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where = f"{request.method} {request.url.copy_with(query=None)}"
    if isinstance(exc, _NOT_SENT):
        return RequestNotSentError(
            f"could not reach the service ({detail}); {where} was not sent",
            request=request,
            cause=exc,
        )
    consequence = (
        "the command may have run on the device" if request.method == "POST" else "no answer"
    )
    return RequestMaybeSentError(
        f"{where} failed after it may have been sent ({detail}); {consequence}",
        request=request,
        cause=exc,
    )


def _request_of(exc: httpx.HTTPError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:  # httpx raises when no request was attached
        return None
