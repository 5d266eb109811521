"""The httpx layer under the generated operations: per-call options, dot segments, logging.

The generated operations call `client.get_httpx_client().request(...)` with no way to pass a
per-call timeout or header. The wrapper therefore hands them its own httpx client subclasses, whose
`build_request()` applies the options of the call in progress (a context variable, so every
thread and every asyncio task sees only its own call), and fixes dot segments (see `_paths`).
Event hooks log each HTTP exchange (credentials redacted) and record the raw response, which the
client maps to a result or a typed error itself, whatever the generated parser made of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

from ._paths import protect_dot_segments
from ._redact import redacted_headers

__all__ = ["AsyncHTTPClient", "CallContext", "SyncHTTPClient", "current_call"]

logger = logging.getLogger("iotcentral")


@dataclass
class CallContext:
    """What one attempt of one logical call needs below the generated layer."""

    client_request_id: str
    timeout: httpx.Timeout
    response: httpx.Response | None = None


current_call: ContextVar[CallContext | None] = ContextVar("iotcentral_call", default=None)


def _prepare(url: httpx.URL | str, kwargs: dict[str, Any]) -> httpx.URL | str:
    if isinstance(url, str):
        url = protect_dot_segments(url)
    call = current_call.get()
    if call is not None:
        kwargs["timeout"] = call.timeout
        headers = httpx.Headers(kwargs.get("headers"))
        headers["x-ms-client-request-id"] = call.client_request_id
        kwargs["headers"] = headers
    return url


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
            request.url,
            redacted_headers(request.headers),
            size,
        )


def record_response(response: httpx.Response) -> None:
    """Remember the raw response for the call in progress, and log it (DEBUG)."""
    call = current_call.get()
    if call is not None:
        call.response = response
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "HTTP %s %s -> %d %s (x-ms-request-id %s, x-ms-error-code %s)",
            response.request.method,
            response.request.url,
            response.status_code,
            response.reason_phrase,
            response.headers.get("x-ms-request-id", "-"),
            response.headers.get("x-ms-error-code", "-"),
        )


class SyncHTTPClient(httpx.Client):
    """httpx.Client that applies the current call's options and protects dot segments."""

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """Build a request as httpx does, after applying the current call's options."""
        return super().build_request(method, _prepare(url, kwargs), **kwargs)


class AsyncHTTPClient(httpx.AsyncClient):
    """httpx.AsyncClient that applies the current call's options and protects dot segments."""

    def build_request(self, method: str, url: httpx.URL | str, **kwargs: Any) -> httpx.Request:
        """Build a request as httpx does, after applying the current call's options."""
        return super().build_request(method, _prepare(url, kwargs), **kwargs)


async def async_log_request(request: httpx.Request) -> None:
    """Async event hook for `log_request`."""
    log_request(request)


async def async_record_response(response: httpx.Response) -> None:
    """Async event hook for `record_response`."""
    record_response(response)


SYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [log_request],
    "response": [record_response],
}
ASYNC_HOOKS: dict[str, list[Callable[..., Any]]] = {
    "request": [async_log_request],
    "response": [async_record_response],
}
