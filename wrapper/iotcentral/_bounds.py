"""Bounds on what a server can cost the client: the size of an answer and the time of an attempt.

httpx bounds each socket operation, not the whole: a server that trickles one byte per second resets
the read timeout with every byte, and its decoders inflate a whole network chunk at once (64 KiB of
gzip can become 64 MiB). So the clients:

- read each answer through `BodyReader`, which decodes gzip and deflate itself with a bounded
  output and stops at `max_response_bytes` (command answers are small; IoT Hub caps a direct
  method's payload at 128 KiB);
- give each attempt a total time bound, `time_bound(timeout)`: pool + connect + write + read.
  The async client wraps the attempt in `asyncio.timeout`. The sync client cannot interrupt a
  blocking read, so `bound_reads()` wraps httpcore's network backend so that every socket read
  and write waits at most until the attempt's deadline (`attempt_deadline()`).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar, Token
from typing import Any

import httpcore
import httpx

from ._errors import InvalidArgumentError, MalformedResponseError, ResponseTooLargeError

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BodyReader",
    "attempt_deadline",
    "bound_reads",
    "check_max_response_bytes",
    "time_bound",
]

#: The default cap on an answer's decoded size.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
#: The encodings `BodyReader` decodes; the clients ask for no others.
ACCEPT_ENCODING = "gzip, deflate"


def check_max_response_bytes(value: object) -> int:
    """A positive whole number of bytes."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(
            f"max_response_bytes must be a positive integer (bytes), got {value!r}"
        )
    return value


def time_bound(timeout: httpx.Timeout) -> float:
    """The most one attempt may take: every phase's timeout added up."""
    total = 0.0
    for phase in (timeout.pool, timeout.connect, timeout.write, timeout.read):
        if phase is not None:
            total += phase
    return total


class BodyReader:
    """Reads one answer's raw body chunk by chunk, within a size cap and a deadline."""

    def __init__(self, response: httpx.Response, *, limit: int, deadline: float) -> None:
        self._response = response
        self._limit = limit
        self._deadline = deadline
        self._chunks: list[bytes] = []
        self._size = 0
        encoding = response.headers.get("content-encoding", "").strip().lower()
        self._encoding = encoding
        #: The transport built the answer in memory, already decoded (httpx.MockTransport does):
        #: there is nothing left to read, only the size cap to apply.
        self.preloaded = response.is_stream_consumed
        self._decoder: Any = None
        if self.preloaded:
            self._append(response.content)
        elif encoding in ("", "identity"):
            pass
        elif encoding == "gzip":
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._decoder = zlib.decompressobj()
        else:
            raise MalformedResponseError(
                f"the answer uses content-encoding {encoding!r}, which was not asked for"
                f" (Accept-Encoding: {ACCEPT_ENCODING})",
                response=self._finish_partial(),
            )
        declared = response.headers.get("content-length", "")
        if self._decoder is None and declared.isdigit() and int(declared) > limit:
            self._too_large(f"it announces {int(declared)} bytes")

    def feed(self, raw: bytes) -> None:
        """Take the next raw chunk; raises past the size cap or the deadline."""
        if time.monotonic() > self._deadline:
            raise httpx.ReadTimeout(
                "the answer did not arrive within the attempt's time bound",
                request=self._response.request,
            )
        if self._decoder is None:
            self._append(raw)
            return
        data = raw
        try:
            while data:
                self._append(self._decoder.decompress(data, self._limit - self._size + 1))
                data = self._decoder.unconsumed_tail
        except zlib.error as exc:
            raise MalformedResponseError(
                f"the answer could not be decoded ({self._encoding}): {exc}",
                response=self._finish_partial(),
            ) from None

    def finish(self) -> None:
        """After the last chunk: the whole decoded body becomes `response.content`."""
        if self._decoder is not None:
            try:
                self._append(self._decoder.flush())
            except zlib.error as exc:  # pragma: no cover - flush reports errors at decompress
                raise MalformedResponseError(
                    f"the answer could not be decoded ({self._encoding}): {exc}",
                    response=self._finish_partial(),
                ) from None
        self._finish_partial()

    def _append(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self._limit:
            self._too_large("reading stopped there")

    def _too_large(self, detail: str) -> None:
        response = self._finish_partial()
        consequence = (
            "; the command may have run on the device"
            if response.request.method == "POST" and not 400 <= response.status_code < 500
            else ""
        )
        raise ResponseTooLargeError(
            f"the answer (HTTP {response.status_code}) is larger than max_response_bytes"
            f" ({self._limit} bytes): {detail}{consequence}",
            response=response,
        )

    def raw_chunks(self) -> Iterator[bytes]:
        """The sync client's chunks to `feed`."""
        return iter(()) if self.preloaded else self._response.iter_raw()

    def async_raw_chunks(self) -> AsyncIterator[bytes]:
        """The async client's chunks to `feed`."""
        return _no_chunks() if self.preloaded else self._response.aiter_raw()

    def _finish_partial(self) -> httpx.Response:
        # httpx keeps a read body in `_content`; what was read (at most limit + 1 bytes) is
        # kept there so that `response.content` works on every error raised from here.
        self._response._content = b"".join(self._chunks)[: self._limit + 1]
        return self._response


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover - makes this an async generator


# -- the sync client's per-attempt deadline --------------------------------------------------

# The deadline (time.monotonic) of the attempt this thread is sending; None outside one. Read by
# the network streams below, which httpcore calls with only a per-operation timeout.
_deadline: ContextVar[float | None] = ContextVar("iotcentral_attempt_deadline", default=None)


class attempt_deadline:
    """Within this block, socket operations of `bound_reads` clients end by the deadline."""

    __slots__ = ("_seconds", "_token")
    _token: Token[float | None]

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def __enter__(self) -> float:
        deadline = time.monotonic() + self._seconds
        self._token = _deadline.set(deadline)
        return deadline

    def __exit__(self, *exc_info: object) -> None:
        _deadline.reset(self._token)


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the attempt's time bound ran out")
    return remaining if timeout is None else min(timeout, remaining)


class _BoundedStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _BoundedStream(self._stream.start_tls(*args, **kwargs))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _BoundedStream(self._backend.connect_tcp(*args, **kwargs))

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return _BoundedStream(self._backend.connect_unix_socket(*args, **kwargs))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def bound_reads(client: httpx.Client) -> int:
    """Make the socket operations of `client`'s own transports honour `attempt_deadline()`.

    Applies to the transports httpx built (the default one and proxy mounts), not to one passed
    in by the caller. Returns how many were bound (tests check it, so that an httpx upgrade that
    moves these private attributes fails loudly).
    """
    transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
    bound = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, _BoundedBackend):
                pool._network_backend = _BoundedBackend(backend)  # type: ignore[union-attr]
            bound += 1
    return bound
