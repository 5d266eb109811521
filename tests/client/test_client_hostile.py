"""What a hostile server or a careless caller broke (issue 10), each pinned by a regression test."""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator

import httpx
import iotcentral as ic
import pytest
from client_helpers import Script, command_json
from iotcentral._bounds import bound_reads
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_or_infinity_in_an_answer_is_malformed(constant: str) -> None:
    body = f'{{"id": "1", "response": {constant}, "responseCode": 200}}'.encode()
    script = Script(httpx.Response(201, content=body))
    with script.client() as client, pytest.raises(ic.MalformedResponseError, match="JSON") as info:
        client.run_command("mx1", "CoolDown")
    assert info.value.may_have_executed  # a 201: the command ran, its answer is unusable


def test_nan_in_an_error_body_still_gives_the_status_class() -> None:
    body = b'{"error": {"code": "DeviceNotFound", "message": "x", "time": NaN}}'
    answer = httpx.Response(404, content=body, headers={"x-ms-error-code": "DeviceNotFound"})
    with Script(answer).client() as client, pytest.raises(ic.NotFoundError) as info:
        client.run_command("mx1", "CoolDown")
    assert info.value.code == "DeviceNotFound"
    assert info.value.body is None  # not JSON: the header supplies the code


@pytest.mark.parametrize("field", ["connect", "read", "margin", "write", "pool"])
@pytest.mark.parametrize("value", [1e10, 3600.5, float("inf"), 0, -1])
def test_timeouts_are_bounded(field: str, value: float) -> None:
    with pytest.raises(ic.InvalidArgumentError, match=rf"timeout\.{field} .* at most 3600"):
        ic.Timeout(**{field: value})


def test_the_largest_timeout_is_accepted() -> None:
    assert ic.Timeout(read=3600).read == 3600.0


@pytest.mark.parametrize(
    "url",
    ["http://evil.localhost/api", "http://localhost.evil.com/api", "http://127.0.0.1.nip.io/api"],
)
def test_plain_http_only_to_names_that_cannot_leave_the_machine(url: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match="plain http"):
        ic.IoTCentralClient(base_url=url, credential="Bearer x")


@pytest.mark.parametrize(
    "url", ["http://localhost:8080/api", "http://127.0.0.2/api", "http://[::1]/api"]
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    with ic.IoTCentralClient(base_url=url, credential="Bearer x") as client:
        assert client.base_url == url


def test_an_async_client_on_a_second_event_loop_refuses_before_sending() -> None:
    script = Script(command_json())
    client = script.async_client()
    assert asyncio.run(client.run_command("mx1", "CoolDown")).id == "c0ffee"
    copy = client.with_options(retry=0)
    for user in (client, copy):
        with pytest.raises(ic.WrongEventLoopError, match="Nothing was sent") as info:
            asyncio.run(user.run_command("mx1", "CoolDown"))
        assert isinstance(info.value, RuntimeError)
        assert not getattr(info.value, "may_have_executed", False)
    assert len(script.requests) == 1


def test_a_second_event_loop_runs_nothing_on_the_simulator(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = served
    token = ic.ApiToken(DEFAULT_API_TOKEN)
    client = ic.AsyncIoTCentralClient(base_url=server.url, credential=token)
    asyncio.run(client.run_command("mx1", "CoolDown", {"tempVal": 30}))
    with pytest.raises(ic.WrongEventLoopError):
        asyncio.run(client.run_command("mx1", "CoolDown", {"tempVal": 30}))
    assert simulator.execution_count("mx1", "CoolDown") == 1


# -- unbounded bodies (issue 10.3) ---------------------------------------------------------------


class _Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that arrives in network-sized pieces, as from a socket (not preloaded)."""

    def __init__(self, data: bytes, size: int = 16 * 1024) -> None:
        self.pieces = [data[i : i + size] for i in range(0, len(data), size)]
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            self.served += 1
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            self.served += 1
            yield piece


def _streamed(status: int, data: bytes, **headers: str) -> Script:
    stream = _Chunks(data)
    script = Script(lambda request: httpx.Response(status, headers=headers, stream=stream))
    script.stream = stream  # type: ignore[attr-defined]
    return script


def test_a_gzip_bomb_is_stopped_at_the_cap_without_inflating() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB from ~64 KiB
    script = _streamed(201, bomb, **{"content-encoding": "gzip"})
    tracemalloc.start()
    try:
        with script.client() as client, pytest.raises(ic.ResponseTooLargeError) as info:
            client.run_command("mx1", "CoolDown")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # the cap (1 MiB) plus buffers, not the 64 MiB it inflates to
    assert "max_response_bytes (1048576 bytes)" in str(info.value)
    assert info.value.may_have_executed  # 201: the command ran
    assert len(info.value.response.content) <= 1024 * 1024 + 1


@pytest.mark.parametrize(("status", "ran"), [(201, True), (404, False), (503, True)])
async def test_an_oversized_plain_body_is_refused(status: int, ran: bool) -> None:
    script = _streamed(status, b"x" * 5000)
    async with script.async_client(max_response_bytes=1000) as client:
        with pytest.raises(ic.ResponseTooLargeError) as info:
            await client.run_command("mx1", "CoolDown", retry=0)
    assert info.value.status_code == status
    assert info.value.may_have_executed is ran
    assert ("may have run" in str(info.value)) is ran
    assert script.stream.served < len(script.stream.pieces) or len(script.stream.pieces) == 1  # type: ignore[attr-defined]


def test_an_announced_oversized_body_is_not_read() -> None:
    script = _streamed(200, b"y" * 200_000, **{"content-length": "200000"})
    with script.client(max_response_bytes=1000) as client, pytest.raises(ic.ResponseTooLargeError):
        client.command_history("mx1", "CoolDown", retry=0)
    assert script.stream.served == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity", ""])
def test_compressed_answers_within_the_cap_decode(encoding: str) -> None:
    body = json.dumps({"id": "1", "responseCode": 200, "response": "ok" * 100}).encode()
    data = {"gzip": gzip.compress, "deflate": zlib.compress}.get(encoding, bytes)(body)
    headers = {"content-encoding": encoding} if encoding else {}
    script = _streamed(201, data, **headers)
    with script.client() as client:
        assert client.run_command("mx1", "CoolDown").response == "ok" * 100
    assert script.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_an_encoding_that_was_not_asked_for_is_malformed() -> None:
    script = _streamed(201, b"\x1b\x00", **{"content-encoding": "br"})
    with script.client() as client, pytest.raises(ic.MalformedResponseError, match="'br'"):
        client.run_command("mx1", "CoolDown")


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "1MB", None])
def test_max_response_bytes_is_checked(value: object) -> None:
    with pytest.raises(ic.InvalidArgumentError, match="max_response_bytes must be a positive"):
        ic.IoTCentralClient("myapp", credential="Bearer x", max_response_bytes=value)  # type: ignore[arg-type]


# -- no overall bound per attempt (issue 10.4) ---------------------------------------------------


class _Trickler:
    """A loopback server that answers one byte every 0.05 s, in the headers or in the body."""

    STEPS = 400  # 20 s of trickle: far beyond the 2 s bound the tests give their clients

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/api"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            head = b"HTTP/1.1 200 OK\r\n"
            if self.phase == "body":
                head += b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            try:
                connection.sendall(head)
                for _ in range(self.STEPS):
                    connection.sendall(b"a" if self.phase == "body" else b"X-A: b\r\n"[:1])
                    self.sent += 1
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up and closed the connection

    def close(self) -> None:
        self.thread.join(timeout=30)
        self.listener.close()


FAST = ic.Timeout(connect=0.5, read=0.5, write=0.5, pool=0.5)  # a 2 s bound per attempt


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_a_trickling_server_cannot_hold_a_sync_call(phase: str) -> None:
    server = _Trickler(phase)
    try:
        client = ic.IoTCentralClient(base_url=server.url, credential="Bearer x", timeout=FAST)
        with client, pytest.raises(ic.RequestMaybeSentError, match="Timeout"):
            client.command_history("mx1", "CoolDown", retry=0)
    finally:
        server.close()
    assert server.sent < _Trickler.STEPS / 2  # cut off long before the trickle ended


@pytest.mark.parametrize("phase", ["headers", "body"])
async def test_a_trickling_server_cannot_hold_an_async_call(phase: str) -> None:
    server = _Trickler(phase)
    try:
        client = ic.AsyncIoTCentralClient(base_url=server.url, credential="Bearer x", timeout=FAST)
        async with client:
            with pytest.raises(ic.RequestMaybeSentError, match="Timeout"):
                await client.command_history("mx1", "CoolDown", retry=0)
    finally:
        await asyncio.to_thread(server.close)
    assert server.sent < _Trickler.STEPS / 2


def test_the_sync_clients_own_transport_is_bounded() -> None:
    """Pins the httpx/httpcore attributes `bound_reads` relies on: moving them fails here."""
    client = ic.IoTCentralClient("myapp", credential="Bearer x")
    assert bound_reads(client._http) >= 1
    custom = ic.IoTCentralClient(
        "myapp", credential="Bearer x", transport=httpx.MockTransport(print)
    )
    assert bound_reads(custom._http) == 0
