"""Hostile input against the simulator (issue 10.10): bodies, nesting, odd ids, stalled clients.

The simulator may be served on 0.0.0.0, so it must hold up against what anyone on the network
can send: it authenticates before reading a body and reads at most ``max_body_bytes``; it refuses
JSON nested too deep with a 400 (not a 500, which a client reads as "may have run"); it routes
every id the client can encode.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import iotcentral as ic
import pytest
from iotcentral_sim import DEFAULT_API_TOKEN, Scenario, Simulator, SimulatorServer
from iotcentral_sim._spec import MAX_JSON_DEPTH
from sim_helpers import API_VERSION, AUTH, asgi_client, error_code

RUN = "/devices/mx1/commands/CoolDown"
RUN_URL = f"/api{RUN}?api-version={API_VERSION}"


def count(sim: Simulator) -> int:
    return sim.execution_count("mx1", "CoolDown")


# -- (a) authentication before the body; the body's size bounded ---------------------------------


async def call_app(sim: Simulator, headers: dict[str, str], body_chunks: int) -> list[Any]:
    """Send a POST straight to the ASGI app; returns what it sent, fails if it read the body."""
    read: list[int] = []
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:  # 2 MiB of spaces (valid around JSON) in 64 KiB
        read.append(1)
        return {"type": "http.request", "body": b" " * 65536, "more_body": len(read) < 32}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/api{RUN}",
        "raw_path": f"/api{RUN}".encode(),
        "root_path": "",
        "query_string": f"api-version={API_VERSION}".encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }
    await sim.app(scope, receive, send)
    assert len(read) <= body_chunks
    return sent


@pytest.mark.parametrize("authorization", [None, "SharedAccessSignature sr=x&sig=nope&skn=a&se=1"])
async def test_an_unauthenticated_body_is_never_read(
    sim: Simulator, authorization: str | None
) -> None:
    headers = {"content-type": "application/json", "content-length": str(100 * 1024 * 1024)}
    if authorization:
        headers["authorization"] = authorization
    sent = await call_app(sim, headers, body_chunks=0)
    assert sent[0]["status"] == 401
    assert count(sim) == 0


async def test_a_declared_body_over_the_limit_is_413_unread(sim: Simulator) -> None:
    headers = {**AUTH, "content-type": "application/json", "content-length": str(2 * 1024 * 1024)}
    sent = await call_app(sim, headers, body_chunks=0)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "PayloadTooLarge"
    assert count(sim) == 0


async def test_a_streamed_body_over_the_limit_stops_at_the_limit(sim: Simulator) -> None:
    # No Content-Length (chunked): read until the limit (1 MiB = 16 chunks of 64 KiB), not on.
    headers = {**AUTH, "content-type": "application/json"}
    sent = await call_app(sim, headers, body_chunks=17)
    assert sent[0]["status"] == 413
    assert count(sim) == 0


@pytest.mark.parametrize("size", [999, 1000, 1001, 5000])
async def test_max_body_bytes_is_exact(size: int) -> None:
    sim = Simulator(rate_limit=None, time_scale=0, max_body_bytes=1000)
    body = json.dumps({"request": "x" * (size - 15)}).encode()
    assert len(body) == size

    async def chunks() -> Any:  # streamed, so no Content-Length announces the size
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    async with asgi_client(sim) as client:
        for content in (body, chunks()):
            answer = await client.post(
                RUN, content=content, headers={"content-type": "application/json"}
            )
            if size <= 1000:
                assert answer.status_code == 201
            else:
                assert answer.status_code == 413
                assert answer.json()["error"]["code"] == "PayloadTooLarge"
    assert count(sim) == (2 if size <= 1000 else 0)


@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_max_body_bytes_is_checked(value: Any) -> None:
    with pytest.raises((TypeError, ValueError), match="max_body_bytes"):
        Simulator(max_body_bytes=value)


def test_over_http_a_huge_unauthenticated_body_is_answered_401_at_once(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = served
    head = (
        f"POST {RUN_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head.encode() + b" " * 4096)  # 4 KiB of the announced 100 MiB
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 401 Unauthorized"  # answered without waiting for the rest
    assert simulator.execution_count("mx1", "CoolDown") == 0


# -- (d) deep nesting: a 400 before validation, never a 500 --------------------------------------


def nested(depth: int) -> str:
    """A DeviceCommand whose request nests arrays so the body is `depth` levels deep."""
    inner = depth - 1  # the body object itself is level 1
    return '{"request": ' + "[" * inner + "]" * inner + "}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
async def test_too_deep_json_is_400_invalid_json(
    client: httpx.AsyncClient, sim: Simulator, depth: int
) -> None:
    answer = await client.post(
        RUN, content=nested(depth), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert error_code(answer) == "InvalidJson"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in answer.json()["error"]["message"]
    assert count(sim) == 0


async def test_json_at_the_depth_limit_runs(client: httpx.AsyncClient, sim: Simulator) -> None:
    answer = await client.post(
        RUN, content=nested(MAX_JSON_DEPTH), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 201
    assert count(sim) == 1


def test_the_client_reports_too_deep_json_as_not_run(
    served: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = served
    payload: Any = []
    for _ in range(300):
        payload = [payload]
    with (
        ic.IoTCentralClient(
            base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=0
        ) as client,
        pytest.raises(ic.BadRequestError) as info,
    ):
        client.run_command("mx1", "CoolDown", payload)
    assert info.value.code == "InvalidJson"
    assert info.value.may_have_executed is False
    assert simulator.execution_count("mx1", "CoolDown") == 0


# -- (e) ids with a newline (or any character) are routed ----------------------------------------


@pytest.mark.parametrize("device", ["a\nb", "mx1\n", "\n", "\r\n", "tab\there"])
async def test_an_unknown_id_with_a_newline_is_device_not_found(
    client: httpx.AsyncClient, device: str
) -> None:
    path = "/devices/" + "".join(f"%{b:02X}" if b < 0x21 else chr(b) for b in device.encode())
    for method in ("POST", "GET"):
        answer = await client.request(method, path + "/commands/CoolDown", json={})
        assert answer.status_code == 404
        assert error_code(answer) == "DeviceNotFound"


@pytest.fixture
def odd_server() -> Iterator[tuple[Simulator, SimulatorServer]]:
    scenario = Scenario.from_dict(
        {"devices": {"line\nbreak": {"commands": {"Go\r\n": "echo"}, "components": {}}}}
    )
    simulator = Simulator(scenario, rate_limit=None, time_scale=0)
    with SimulatorServer(simulator) as server:
        yield simulator, server


def test_the_client_reaches_ids_with_newlines_end_to_end(
    odd_server: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = odd_server
    with ic.IoTCentralClient(
        base_url=server.url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=0
    ) as client:
        result = client.run_command("line\nbreak", "Go\r\n", {"x": 1})
        assert result.response == {"x": 1}
        assert client.command_history("line\nbreak", "Go\r\n").latest == result
        with pytest.raises(ic.NotFoundError) as info:
            client.run_command("line\nbreak\n", "Go\r\n")
        assert info.value.code == "DeviceNotFound"
        with pytest.raises(ic.NotFoundError) as info:
            client.run_command("line\nbreak", "Go\n")
        assert info.value.code == "CommandNotFound"
    assert simulator.execution_count("line\nbreak", "Go\r\n") == 1


# -- (c) the control API: JSON only, no cross-site callers ---------------------------------------

SIM = "http://sim/_sim"
FAULT = {"kind": "status_before", "status": 503}


async def test_a_fault_sent_as_text_plain_is_415_and_not_stored(
    client: httpx.AsyncClient, sim: Simulator
) -> None:
    # What an HTML form or a no-preflight cross-site fetch() can send.
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"content-type": content_type} if content_type else {}
        answer = await client.post(f"{SIM}/faults", content=json.dumps(FAULT), headers=headers)
        assert answer.status_code == 415
        assert answer.json()["error"]["code"] == "UnsupportedMediaType"
    assert sim.faults() == []
    answer = await client.post(f"{SIM}/faults", json=FAULT)  # the right way still works
    assert answer.status_code == 201


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "http://127.0.0.1.evil.example:8080"},
        {"origin": "http://localhost.evil.example"},
        {"origin": "http://sub.localhost"},
        {"origin": "null"},
        {"origin": "http://192.168.1.10:8080"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "https://evil.example", "sec-fetch-site": "same-origin"},
    ],
)
async def test_cross_site_requests_are_refused_and_change_nothing(
    client: httpx.AsyncClient, sim: Simulator, headers: dict[str, str]
) -> None:
    sim.add_fault("status_before")
    assert (await client.post(RUN, json={})).status_code == 500  # used up: now 0 pending
    sim.add_fault("html")
    requests = [
        ("POST", "/faults", FAULT),
        ("DELETE", "/faults", None),
        ("POST", "/reset", None),
        ("GET", "/executions", None),
        ("GET", "/faults", None),
        ("GET", "/health", None),
    ]
    for method, path, body in requests:
        answer = await client.request(method, f"{SIM}{path}", json=body, headers=headers)
        assert answer.status_code == 403, (method, path)
        assert answer.json()["error"]["code"] == "CrossSiteRequest"
    assert [f.kind for f in sim.faults()] == ["html"]  # nothing added, cleared or reset
    assert sim.request_count == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "http://localhost:3000"},
        {"origin": "http://127.0.0.1:8080"},
        {"origin": "http://127.1.2.3"},
        {"origin": "http://[::1]:8080"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"origin": "http://localhost:3000", "sec-fetch-site": "cross-site"},
    ],
)
async def test_programs_and_loopback_pages_may_use_it(
    client: httpx.AsyncClient, sim: Simulator, headers: dict[str, str]
) -> None:
    answer = await client.post(f"{SIM}/faults", json=FAULT, headers=headers)
    assert answer.status_code == 201
    assert (await client.post(f"{SIM}/reset", headers=headers)).status_code == 204
    assert sim.faults() == []


async def test_control_bodies_are_bounded(client: httpx.AsyncClient, sim: Simulator) -> None:
    big = json.dumps({**FAULT, "device_id": "x" * 70_000})
    answer = await client.post(
        f"{SIM}/faults", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    deep = '{"kind": ' + "[" * 20_000 + "]" * 20_000 + "}"
    answer = await client.post(
        f"{SIM}/faults", content=deep, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "InvalidFault"
    assert sim.faults() == []


def test_a_wildcard_host_gives_a_url_clients_accept() -> None:
    from iotcentral_sim._server import _base_url

    assert _base_url("0.0.0.0", 8080, "/api") == "http://127.0.0.1:8080/api"  # noqa: S104
    assert _base_url("::", 8080, "/api") == "http://[::1]:8080/api"
    assert _base_url("127.0.0.1", 8080, "/api") == "http://127.0.0.1:8080/api"
    ic.IoTCentralClient(  # the client accepts it (plain http only to loopback)
        base_url=_base_url("0.0.0.0", 8080, "/api"),  # noqa: S104
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
    ).close()


# -- (b) half-sent requests are timed out; the server keeps serving ------------------------------

REQUEST_TIMEOUT = 0.5  # seconds a test server gives a client to send one whole request


@pytest.fixture
def strict_server() -> Iterator[tuple[Simulator, SimulatorServer]]:
    simulator = Simulator(rate_limit=None, time_scale=0.1)  # slow1 answers after 1 s
    with SimulatorServer(simulator, request_timeout=REQUEST_TIMEOUT) as server:
        yield simulator, server


def stalled(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if data:
        sock.sendall(data)
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (30 s at most)."""
    received = b""
    with sock:
        while chunk := sock.recv(4096):
            received += chunk
    return received


def test_stalled_requests_are_dropped_while_normal_ones_are_served(
    strict_server: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = strict_server
    head = (
        f"POST {RUN_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {DEFAULT_API_TOKEN}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    silent = stalled(server.port, b"")
    half_head = stalled(server.port, head[:40])
    half_body = stalled(server.port, head + b'{"request": ')
    with httpx.Client(base_url=server.url, headers=AUTH, params={"api-version": API_VERSION}) as c:
        assert c.post(RUN, json={"request": 1}).status_code == 201  # served meanwhile
    assert answer_of(silent).startswith(b"HTTP/1.1 408 ")
    assert answer_of(half_head).startswith(b"HTTP/1.1 408 ")
    assert answer_of(half_body) == b""  # mid-body: dropped, never answered
    assert simulator.execution_count("mx1", "CoolDown") == 1  # only the normal request ran
    with httpx.Client(base_url=server.url, headers=AUTH, params={"api-version": API_VERSION}) as c:
        assert c.post(RUN, json={"request": 2}).status_code == 201  # and it still serves


def test_the_deadline_covers_receiving_not_a_slow_device_or_keep_alive(
    strict_server: tuple[Simulator, SimulatorServer],
) -> None:
    simulator, server = strict_server
    with httpx.Client(base_url=server.url, headers=AUTH, params={"api-version": API_VERSION}) as c:
        # slow1 answers after 1 s (twice the request deadline): the request was complete.
        assert c.post("/devices/slow1/commands/CoolDown", json={}).status_code == 201
        threading.Event().wait(REQUEST_TIMEOUT * 1.5)  # idle on the kept-alive connection
        assert c.post(RUN, json={}).status_code == 201
    assert simulator.execution_count("slow1", "CoolDown") == 1


def test_request_timeout_is_checked() -> None:
    with pytest.raises(ValueError, match="request_timeout"):
        SimulatorServer(Simulator(), request_timeout=0)
