"""The HTTP layer under the clients: one attempt's request, and logging of every exchange.

`build_attempt()` turns a call (the generated request builder's keyword arguments plus the call's
own options) into the `httpx.Request` of one attempt: the client's base URL, headers and
credential merged by httpx, the call's timeout and `x-ms-client-request-id` added, and dot segments
protected (see `_paths`). The clients send it from their `_send`.

The event hooks log each HTTP exchange at DEBUG with credentials redacted, including the requests
that the auth flow itself sends (a re-send with a fresh token after a 401). What the server
wrote (reason phrase, header values) is also escaped for a terminal and cut short: a log
record's message never holds a raw control, C1 or bidi character, nor a forged second line.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from ._paths import protect_dot_segments
from ._redact import redacted_headers
from ._sanitize import for_people

__all__ = ["ASYNC_HOOKS", "SYNC_HOOKS", "build_attempt"]

logger = logging.getLogger("iotcentral")

#: The longest header value or reason phrase a log line quotes (characters, after escaping).
_HEADER_LIMIT = 200


def build_attempt(
    http: httpx.Client | httpx.AsyncClient,
    request_kwargs: Mapping[str, Any],
    *,
    timeout: httpx.Timeout,
    client_request_id: str,
) -> httpx.Request:
    """The request of one attempt, from a generated builder's output (`method`, `url`, ...)."""
    options = dict(request_kwargs)
    headers = {**options.pop("headers", {}), "x-ms-client-request-id": client_request_id}
    method = options.pop("method")
    url = protect_dot_segments(options.pop("url"))
    return http.build_request(method, url, headers=headers, timeout=timeout, **options)


def log_request(request: httpx.Request) -> None:
    """Log an outgoing request (DEBUG), credentials redacted; bodies are never logged."""
    if logger.isEnabledFor(logging.DEBUG):
        try:
            size = str(len(request.content))
        except httpx.RequestNotRead:
            size = "streamed"
        logger.debug(
            "HTTP %s %s headers=%s body=%s bytes",
            request.method,
            # A page's URL carries the query of a server's nextLink.
            for_people(str(request.url), request),
            for_people(str(redacted_headers(request.headers)), request),
            size,
        )


def log_response(response: httpx.Response) -> None:
    """Log a response's status line and correlation headers (DEBUG).

    The reason phrase and the headers are the server's text: redacted, escaped and cut short.
    """
    if logger.isEnabledFor(logging.DEBUG):
        request = response.request
        logger.debug(
            "HTTP %s %s -> %d %s (x-ms-request-id %s, x-ms-error-code %s)",
            request.method,
            for_people(str(request.url), request),
            response.status_code,
            for_people(response.reason_phrase, request, limit=_HEADER_LIMIT),
            for_people(response.headers.get("x-ms-request-id", "-"), request, limit=_HEADER_LIMIT),
            for_people(response.headers.get("x-ms-error-code", "-"), request, limit=_HEADER_LIMIT),
        )


async def _async_log_request(request: httpx.Request) -> None:
    log_request(request)


async def _async_log_response(response: httpx.Response) -> None:
    log_response(response)


SYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [log_request],
    "response": [log_response],
}
ASYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [_async_log_request],
    "response": [_async_log_response],
}
