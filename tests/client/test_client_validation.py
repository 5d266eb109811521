"""Arguments are checked before any I/O: nothing reaches the transport when one is wrong."""

from __future__ import annotations

import math
from typing import Any

import iotcentral as ic
import pytest
from client_helpers import TOKEN, Script, command_json


@pytest.fixture
def script() -> Script:
    return Script(command_json())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connection_timeout": 31}, "connection_timeout must be an integer from 0 to 30, got 31"),
        ({"connection_timeout": -1}, "connection_timeout must be an integer from 0 to 30, got -1"),
        (
            {"connection_timeout": True},
            "connection_timeout must be an integer from 0 to 30, got True",
        ),
        (
            {"connection_timeout": 1.5},
            "connection_timeout must be an integer from 0 to 30, got 1.5",
        ),
        (
            {"connection_timeout": "5"},
            "connection_timeout must be an integer from 0 to 30, got '5'",
        ),
        ({"response_timeout": 4}, "response_timeout must be an integer from 5 to 30, got 4"),
        ({"response_timeout": 31}, "response_timeout must be an integer from 5 to 30, got 31"),
        (
            {"response_timeout": False},
            "response_timeout must be an integer from 5 to 30, got False",
        ),
    ],
)
def test_timeouts_out_of_range_raise_value_error_naming_field_and_range(
    script: Script, kwargs: dict[str, Any], message: str
) -> None:
    with script.client() as client, pytest.raises(ValueError, match="^" + message + "$") as info:
        client.run_command("mx1", "CoolDown", **kwargs)
    assert isinstance(info.value, ic.InvalidArgumentError)
    assert isinstance(info.value, ic.ValidationError)
    assert script.requests == []


@pytest.mark.parametrize(("ct", "rt"), [(0, 5), (30, 30), (15, 10)])
def test_timeouts_at_the_edges_are_sent(script: Script, ct: int, rt: int) -> None:
    with script.client() as client:
        client.run_command("mx1", "CoolDown", connection_timeout=ct, response_timeout=rt)
    (request,) = script.requests
    assert request.content == f'{{"connectionTimeout":{ct},"responseTimeout":{rt}}}'.encode()


@pytest.mark.parametrize(
    "payload",
    [object(), {"a": {1, 2}}, b"bytes", {"x": math.nan}, [math.inf], lambda: 1],
)
def test_non_json_payload_raises_type_error(script: Script, payload: object) -> None:
    with script.client() as client, pytest.raises(TypeError, match="JSON") as info:
        client.run_command("mx1", "CoolDown", payload)
    assert isinstance(info.value, ic.InvalidPayloadError)
    assert script.requests == []


def test_circular_payload_raises_type_error(script: Script) -> None:
    loop: list[object] = []
    loop.append(loop)
    with script.client() as client, pytest.raises(ic.InvalidPayloadError):
        client.run_command("mx1", "CoolDown", loop)
    assert script.requests == []


@pytest.mark.parametrize("payload", [0, "text", True, [1, 2], {"nested": {"a": [None]}}, 2.5])
def test_any_json_value_is_a_valid_payload(script: Script, payload: object) -> None:
    with script.client() as client:
        client.run_command("mx1", "CoolDown", payload)
    assert script.requests[0].content.startswith(b'{"request":')


def test_no_payload_sends_an_empty_command(script: Script) -> None:
    with script.client() as client:
        client.run_command("mx1", "CoolDown")
    assert script.requests[0].content == b"{}"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"device_id": ""}, "device_id"),
        ({"command_name": ""}, "command_name"),
        ({"component": ""}, "component"),
        ({"module": ""}, "module"),
    ],
)
def test_empty_ids_raise_value_error(script: Script, kwargs: dict[str, Any], field: str) -> None:
    args = {"device_id": "mx1", "command_name": "CoolDown", **kwargs}
    with script.client() as client:
        with pytest.raises(ValueError, match=f"^{field} must not be empty$"):
            client.run_command(**args)
        with pytest.raises(ValueError, match=f"^{field} must not be empty$"):
            client.command_history(**args)
    assert script.requests == []


@pytest.mark.parametrize("bad", [None, 5, b"mx1", ["mx1"]])
def test_non_string_ids_are_refused(script: Script, bad: object) -> None:
    with script.client() as client, pytest.raises(ic.InvalidArgumentError, match="device_id"):
        client.run_command(bad, "CoolDown")  # type: ignore[arg-type]
    assert script.requests == []


def test_lone_surrogate_id_is_refused(script: Script) -> None:
    with script.client() as client, pytest.raises(ic.InvalidArgumentError, match="surrogate"):
        client.run_command("mx\udc801", "CoolDown")
    assert script.requests == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of app"),
        ({"app": "myapp", "base_url": "https://x.example/api"}, "exactly one of app"),
        ({"app": "my.app"}, "only the subdomain"),
        ({"app": ""}, "subdomain"),
        ({"app": "a_b"}, "DNS label"),
        ({"app": "myapp", "base_domain": "bad domain"}, "base_domain"),
        ({"app": "myapp", "api_version": "2021-04-30"}, "api_version must be one of 2022-07-31"),
        ({"base_url": "ftp://x.example/api"}, "https://"),
        ({"base_url": "https://user:pw@x.example/api"}, "user name or password"),
        ({"base_url": "https://x.example/api?x=1"}, "query"),
        ({"app": "myapp", "retry": -1}, "max_retries must be >= 0"),
        ({"app": "myapp", "retry": "3"}, "retry must be a RetryPolicy"),
        ({"app": "myapp", "timeout": 5}, "timeout must be an iotcentral.Timeout"),
    ],
)
def test_constructor_checks(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match=match):
        ic.IoTCentralClient(credential=ic.ApiToken(TOKEN), **kwargs)
    with pytest.raises(ic.InvalidArgumentError, match=match):
        ic.AsyncIoTCentralClient(credential=ic.ApiToken(TOKEN), **kwargs)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/api",
        "http://10.0.0.1/api",
        "http://127.0.0.1.example.com/api",
        "http://localhost.evil.com/api",
        "http://[::2]/api",
    ],
)
def test_plain_http_is_refused_except_to_loopback(url: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match="plain http://"):
        ic.IoTCentralClient(base_url=url, credential=ic.ApiToken(TOKEN))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/api",
        "http://127.8.9.10/api",
        "http://[::1]:9000/api",
        "http://localhost:8080/api",
        "http://LOCALHOST/api/",
        "https://iotc.internal.example/api",
    ],
)
def test_loopback_http_and_any_https_are_accepted(url: str) -> None:
    client = ic.IoTCentralClient(base_url=url, credential=ic.ApiToken(TOKEN))
    assert client.base_url.startswith(url.split(":")[0] + "://")
    assert client.base_url.lower().endswith("/api")
    client.close()


def test_app_and_base_domain_build_the_url() -> None:
    client = ic.IoTCentralClient("myapp", credential=ic.ApiToken(TOKEN), base_domain="example.org")
    assert client.base_url == "https://myapp.example.org/api"
    assert client.api_version == "2022-07-31"
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_retries": True}, "max_retries must be an integer"),
        ({"max_retries": 1.5}, "max_retries must be an integer"),
        ({"backoff_initial": -1}, "backoff_initial must be >= 0"),
        ({"max_retry_after": math.inf}, "max_retry_after must be >= 0"),
        ({"jitter": 2}, "jitter must be from 0 to 1"),
        ({"retry_unsafe": 1}, "retry_unsafe must be a bool"),
    ],
)
def test_retry_policy_checks(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ic.InvalidArgumentError, match=match):
        ic.RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    "kwargs", [{"connect": 0}, {"read": -1}, {"margin": math.nan}, {"pool": True}, {"write": "1"}]
)
def test_timeout_checks(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ic.InvalidArgumentError, match="timeout"):
        ic.Timeout(**kwargs)


def test_wrong_transport_kind_is_refused() -> None:
    import httpx

    with pytest.raises(ic.InvalidArgumentError, match="BaseTransport"):
        ic.IoTCentralClient(
            "myapp",
            credential=ic.ApiToken(TOKEN),
            transport=httpx.ASGITransport(app=None),  # type: ignore[arg-type]
        )
    with pytest.raises(ic.InvalidArgumentError, match="AsyncBaseTransport"):
        ic.AsyncIoTCentralClient(
            "myapp",
            credential=ic.ApiToken(TOKEN),
            transport=httpx.HTTPTransport(),  # type: ignore[arg-type]
        )


async def test_async_client_validates_before_io(script: Script) -> None:
    async with script.async_client() as client:
        with pytest.raises(ic.InvalidArgumentError, match="response_timeout"):
            await client.run_command("mx1", "CoolDown", response_timeout=0)
        with pytest.raises(ic.InvalidPayloadError):
            await client.run_command("mx1", "CoolDown", {1, 2})
        with pytest.raises(ic.InvalidArgumentError, match="device_id must not be empty"):
            await client.command_history("", "CoolDown")
    assert script.requests == []
