"""Hypothesis properties of the client against the spec.

(b) timeouts are accepted exactly when the spec allows them, and the rest rejected before any I/O;
(c) every id reaches the server exactly as given, and no value changes the path;
(d) every JSON payload round-trips through the simulator's echo command;
(e) every spec-valid error body, at any error status, becomes the matching typed exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import httpx
import iotcentral
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iotcentral import ApiToken, AsyncIoTCentralClient, IoTCentralClient
from iotcentral_contract._broken import Receive, Scope, Send
from iotcentral_contract._spec import instances_of, json_values, property_bounds

pytestmark = pytest.mark.simulator_only

TOKEN = "SharedAccessSignature sr=contract&sig=property&skn=tests&se=1"
BASE_URL = "https://app.azureiotcentral.com/api"
CREATED = {"id": "1", "responseCode": 200}


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> IoTCentralClient:
    return IoTCentralClient(
        base_url=BASE_URL,
        credential=ApiToken(TOKEN),
        transport=httpx.MockTransport(handler),
        retry=iotcentral.NO_RETRY,
    )


# -- (b) timeouts ---------------------------------------------------------------------------


def timeouts_around(field: str) -> st.SearchStrategy[int]:
    low, high = property_bounds("DeviceCommand", field)
    near = st.integers(min_value=low - 3, max_value=high + 3)
    return near | st.integers(min_value=-(2**40), max_value=2**40)


@pytest.mark.parametrize(
    ("argument", "field"),
    [("connection_timeout", "connectionTimeout"), ("response_timeout", "responseTimeout")],
)
@given(data=st.data())
def test_timeout_accepted_exactly_when_the_spec_allows_it(
    argument: str, field: str, data: st.DataObject
) -> None:
    value = data.draw(timeouts_around(field), label=argument)
    low, high = property_bounds("DeviceCommand", field)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json=CREATED)

    with mock_client(handler) as client:
        if low <= value <= high:
            client.run_command("mx1", "CoolDown", {"tempVal": 30}, **{argument: value})
            (request,) = sent
            assert json.loads(request.content)[field] == value
        else:
            with pytest.raises(ValueError, match=argument) as raised:
                client.run_command("mx1", "CoolDown", **{argument: value})
            assert f"{low} to {high}" in str(raised.value)
            assert sent == []


# -- (c) ids --------------------------------------------------------------------------------


class PathRecorder:
    """A bare ASGI server that records the raw path it received and answers 201."""

    def __init__(self) -> None:
        self.raw_paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.raw_paths.append(scope["raw_path"].decode("ascii"))
        body = json.dumps(CREATED).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": body})


ids = st.text(min_size=1, max_size=12)
tricky_ids = st.sampled_from([".", "..", "...", "/", "a/..", "?", "#", "%", "%2E", " ", "é", "🙂"])


@given(
    device=ids | tricky_ids,
    command=ids | tricky_ids,
    component=st.none() | ids | tricky_ids,
    module=st.none() | ids | tricky_ids,
)
async def test_every_id_reaches_the_server_exactly_as_given(
    device: str, command: str, component: str | None, module: str | None
) -> None:
    server = PathRecorder()
    async with AsyncIoTCentralClient(
        base_url=BASE_URL,
        credential=ApiToken(TOKEN),
        transport=httpx.ASGITransport(app=server),
        retry=iotcentral.NO_RETRY,
    ) as client:
        await client.run_command(device, command, component=component, module=module)
    (raw_path,) = server.raw_paths
    expected = ["", "api", "devices", device]
    if module is not None:
        expected += ["modules", module]
    if component is not None:
        expected += ["components", component]
    expected += ["commands", command]
    segments = raw_path.split("?")[0].split("/")
    # Same number of segments (nothing added, removed or merged) and each decodes to its value.
    assert [unquote(segment) for segment in segments] == expected
    assert all(segment.strip(".") for segment in segments[1:]), raw_path


# -- (d) payloads ---------------------------------------------------------------------------


@settings(max_examples=60)
@given(payload=json_values().filter(lambda value: value is not None))
async def test_every_json_payload_round_trips_through_echo(simulator: Any, payload: Any) -> None:
    async with AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ApiToken(_default_token()),
        transport=httpx.ASGITransport(app=simulator.app),
        retry=iotcentral.NO_RETRY,
    ) as client:
        result = await client.run_command("mx1", "CoolDown", payload)
    assert result.request == payload
    assert result.response == payload


def _default_token() -> str:
    from iotcentral_sim import DEFAULT_API_TOKEN

    return str(DEFAULT_API_TOKEN)


# -- (e) errors -----------------------------------------------------------------------------


def expected_class(status: int, code: str) -> type[iotcentral.APIStatusError]:
    """The documented status (and code) -> exception mapping (README, "Errors")."""
    if code == "DeviceNotOnline" and status == 404:
        return iotcentral.DeviceOfflineError
    if status in (408, 504) or code == "RequestTimeout":
        return iotcentral.DeviceTimeoutError
    by_status: dict[int, type[iotcentral.APIStatusError]] = {
        400: iotcentral.BadRequestError,
        401: iotcentral.AuthenticationError,
        403: iotcentral.PermissionDeniedError,
        404: iotcentral.NotFoundError,
        412: iotcentral.PreconditionFailedError,
        415: iotcentral.UnsupportedMediaTypeError,
        422: iotcentral.UnprocessableEntityError,
        429: iotcentral.ThrottledError,
        503: iotcentral.ServiceUnavailableError,
    }
    if status in by_status:
        return by_status[status]
    return iotcentral.ServerError if status >= 500 else iotcentral.APIStatusError


error_statuses = st.sampled_from([400, 401, 403, 404, 408, 412, 415, 422, 429, 500, 503, 504])
# Codes travel in a header too, so they are visible ASCII (as the service's codes are).
header_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
codes = st.sampled_from(["DeviceNotOnline", "RequestTimeout", "NotFound"]) | header_text


@given(
    status=error_statuses | st.integers(min_value=400, max_value=599),
    document=instances_of("Error"),
    code=codes,
    history=st.booleans(),
)
def test_every_spec_valid_error_becomes_the_matching_exception(
    status: int, document: dict[str, Any], code: str, history: bool
) -> None:
    document["error"]["code"] = code
    details = document["error"]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=document, headers={"x-ms-error-code": code})

    with mock_client(handler) as client:
        call = client.command_history if history else client.run_command
        with pytest.raises(iotcentral.APIStatusError) as raised:
            call("mx1", "CoolDown")
    error = raised.value
    assert type(error) is expected_class(status, code)
    assert error.status_code == status
    assert error.code == code
    assert error.message == details["message"] or details["message"] in str(error)
    assert error.request_id == details.get("requestId")
    if "time" in details:
        assert error.time is not None
    assert error.body == document
