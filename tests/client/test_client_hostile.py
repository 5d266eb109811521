"""What a hostile server or a careless caller broke (issue 10), each pinned by a regression test."""

from __future__ import annotations

import asyncio

import httpx
import iotcentral as ic
import pytest
from client_helpers import Script, command_json
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
