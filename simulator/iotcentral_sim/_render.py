"""Putting answers on the wire: raw ASGI sending, error answers and the rendering of faults.

The command API answers through raw ASGI messages rather than starlette responses, because
some faults need control a response object does not give: ``drop_before`` / ``drop_after`` send
a response head announcing a body and then raise :class:`ConnectionDropped` instead of sending
it; ``truncated`` sends half a body; ``html`` answers a gateway's HTML page; ``slow`` holds the
answer; ``trickle`` sends the body a byte at a time; ``oversized`` pads the answer past any sane
size (chunked, no ``Content-Length``); ``gzip_bomb`` sends a small gzip body that inflates hugely.
What a fault *means* (whether the command runs first) is decided by the request pipeline; this
module only renders it.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Send

from ._errors import ConnectionDropped, SimError, status_phrase
from ._faults import SIZED, Fault

__all__ = [
    "RequestAborted",
    "error_response",
    "gzip_bomb",
    "http_exception",
    "read_body",
    "send_error",
    "send_fault_after",
    "send_fault_before",
    "send_json",
    "send_response",
]

_JSON = {"content-type": "application/json"}
_DROP_CONTENT_LENGTH = 256
#: ``trickle``: seconds (simulated, scaled) between two bytes when the fault gives no ``delay``.
_TRICKLE_INTERVAL = 1.0
#: ``oversized`` is streamed in pieces of this size.
_CHUNK = 64 * 1024
_HTML_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>"
    "<body><h1>{status} {phrase}</h1><p>The gateway could not reach the service.</p>"
    "</body></html>\n"
)


class RequestAborted(Exception):
    """The client went away (or was cut off) before sending its whole body: answer nothing."""


async def read_body(receive: Receive, headers: Headers, limit: int) -> bytes:
    """The whole request body, at most ``limit`` bytes.

    Raises :class:`SimError` 413 ``PayloadTooLarge`` as soon as ``Content-Length`` or the bytes
    received pass ``limit`` (the rest is never read), and :class:`RequestAborted` if the client
    disconnects first.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise SimError.payload_too_large(limit)
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted
        body += message.get("body", b"")
        if len(body) > limit:
            raise SimError.payload_too_large(limit)
        if not message.get("more_body", False):
            return bytes(body)


def _encode_headers(headers: Mapping[str, str], length: int) -> list[tuple[bytes, bytes]]:
    encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    encoded.append((b"content-length", str(length).encode()))
    return encoded


async def send_response(send: Send, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Send a complete response (``Content-Length`` added)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": _encode_headers(headers, len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_json(send: Send, status: int, body: bytes) -> None:
    """Send an ``application/json`` response."""
    await send_response(send, status, _JSON, body)


async def send_error(send: Send, error: SimError) -> None:
    """Send ``error`` in the service's Error shape."""
    await send_response(send, error.status, error.response_headers(), error.body())


async def _send_head(send: Send, status: int, length: int) -> None:
    headers = _encode_headers(_JSON, length)
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def send_fault_before(send: Send, fault: Fault, *, status: int) -> None:
    """Render a fault that fires before the command runs (``status`` is the success status).

    ``status_before`` raises its :class:`SimError` (the caller sends it like any error);
    ``drop_before`` sends a head and raises :class:`ConnectionDropped`.
    """
    if fault.kind == "status_before":
        raise SimError.injected(fault.status or 500, fault.retry_after)
    if fault.kind == "html":
        code = fault.status or 502
        phrase = status_phrase(code)
        page = _HTML_PAGE.format(status=code, phrase=phrase).encode()
        await send_response(send, code, {"content-type": "text/html; charset=utf-8"}, page)
        return
    # drop_before
    await _send_head(send, status, _DROP_CONTENT_LENGTH)
    raise ConnectionDropped(executed=False)


async def send_fault_after(
    send: Send,
    fault: Fault,
    status: int,
    body: bytes,
    *,
    sleep: Callable[[float], Awaitable[None]],
    receive: Receive | None = None,
) -> None:
    """Render a fault that fires after the command ran; ``body`` is the normal answer.

    ``sleep`` waits simulated seconds (the backend's, so ``slow`` and ``trickle`` follow the time
    scale). ``receive`` lets ``trickle`` stop as soon as the client hangs up.
    """
    if fault.kind == "status_after":
        raise SimError.injected(fault.status or 500, fault.retry_after)
    if fault.kind == "drop_after":
        await _send_head(send, status, len(body))
        raise ConnectionDropped(executed=True)
    if fault.kind == "truncated":
        await send_json(send, status, body[: max(1, len(body) // 2)])
        return
    if fault.kind == "trickle":
        interval = _TRICKLE_INTERVAL if fault.delay is None else fault.delay
        await _trickle(send, receive, status, body, interval, sleep)
        return
    if fault.kind == "oversized":
        await _oversized(send, status, _padded(body, fault.size or SIZED["oversized"]))
        return
    if fault.kind == "gzip_bomb":
        bomb = gzip_bomb(body, fault.size or SIZED["gzip_bomb"])
        headers = {**_JSON, "content-encoding": "gzip"}
        await send_response(send, status, headers, bomb)
        return
    # slow
    await sleep(fault.delay or 0.0)
    await send_json(send, status, body)


def _padded(body: bytes, size: int) -> bytes:
    """``body`` preceded by whitespace up to ``size`` bytes: still the same JSON document."""
    return b" " * max(0, size - len(body)) + body


async def _trickle(
    send: Send,
    receive: Receive | None,
    status: int,
    body: bytes,
    interval: float,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """The head at once, then the body one byte every ``interval`` simulated seconds.

    Each byte resets a client's per-read timeout, so only a bound on the whole attempt ends it.
    Stops early when the client disconnects (a server that keeps trickling to nobody would hold
    its task until the end).
    """
    await _send_head(send, status, len(body))

    async def watch(scope: anyio.CancelScope) -> None:
        assert receive is not None
        while (await receive())["type"] != "http.disconnect":
            pass
        scope.cancel()

    async with anyio.create_task_group() as group:
        if receive is not None:
            group.start_soon(watch, group.cancel_scope)
        for index in range(len(body)):
            await sleep(interval)
            last = index == len(body) - 1
            chunk = body[index : index + 1]
            await send({"type": "http.response.body", "body": chunk, "more_body": not last})
        group.cancel_scope.cancel()


async def _oversized(send: Send, status: int, body: bytes) -> None:
    """``body`` in pieces, without ``Content-Length``: the client must count what it reads."""
    head = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": head})
    for start in range(0, len(body), _CHUNK):
        more = start + _CHUNK < len(body)
        piece = body[start : start + _CHUNK]
        await send({"type": "http.response.body", "body": piece, "more_body": more})


@functools.lru_cache(maxsize=4)
def _bomb_prefix(size: int) -> tuple[bytes, Any]:
    """``size`` spaces gzip-compressed (not flushed), and the compressor's state after them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    pieces = []
    for start in range(0, size, len(block)):
        pieces.append(compressor.compress(block[: min(len(block), size - start)]))
    return b"".join(pieces), compressor


def gzip_bomb(body: bytes, size: int) -> bytes:
    """A gzip stream of ``size`` spaces followed by ``body``: valid JSON once inflated.

    JSON allows leading whitespace, so a client without a size cap decodes it as the normal
    answer after inflating ``size`` bytes. The padding is compressed once per size (cached);
    each answer continues a copy of that compressor, so building one costs microseconds.
    """
    prefix, compressor = _bomb_prefix(size)
    tail = compressor.copy()
    end: bytes = tail.compress(body) + tail.flush()
    return prefix + end


def error_response(error: SimError) -> Response:
    """``error`` as a starlette response (the control API's errors)."""
    return Response(error.body(), status_code=error.status, headers=error.response_headers())


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's routing errors outside the command API (404, 405) in the Error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return error_response(SimError.for_status(status))
