"""The generated client speaks the seed's wire format exactly."""

from __future__ import annotations

import json

import httpx
from iotcentral_api import AuthenticatedClient
from iotcentral_api.api.devices import run_command
from iotcentral_api.models import DeviceCommand, Error

BASE_URL = "https://appsubdomain.azureiotcentral.com/api"


def client_answering(response: httpx.Response, seen: list[httpx.Request]) -> AuthenticatedClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    return AuthenticatedClient(
        base_url=BASE_URL,
        token="SharedAccessSignature sr=x&sig=y&skn=z&se=1",
        prefix="",
        httpx_args={"transport": httpx.MockTransport(handler)},
    )


def test_run_command_sends_the_seed_request_exactly() -> None:
    seen: list[httpx.Request] = []
    client = client_answering(httpx.Response(201, json={}), seen)
    run_command.sync_detailed(
        "mx1",
        "CoolDown",
        client=client,
        body=DeviceCommand(request={"tempVal": 30}),
        api_version="2022-07-31",
    )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == (
        "https://appsubdomain.azureiotcentral.com/api/devices/mx1/commands/CoolDown"
        "?api-version=2022-07-31"
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "SharedAccessSignature sr=x&sig=y&skn=z&se=1"
    assert json.loads(request.content) == {"request": {"tempVal": 30}}


def test_a_201_body_parses_into_the_command_model() -> None:
    body = {
        "id": "a1b2",
        "connectionTimeout": 10,
        "responseTimeout": 20,
        "request": {"tempVal": 30},
        "response": {"ok": True},
        "responseCode": 200,
    }
    client = client_answering(httpx.Response(201, json=body), [])
    result = run_command.sync_detailed(
        "mx1", "CoolDown", client=client, body=DeviceCommand(), api_version="2022-07-31"
    )
    assert result.status_code == 201
    parsed = result.parsed
    assert isinstance(parsed, DeviceCommand)
    assert parsed.id == "a1b2"
    assert parsed.connection_timeout == 10
    assert parsed.response_timeout == 20
    assert parsed.request == {"tempVal": 30}
    assert parsed.response == {"ok": True}
    assert parsed.response_code == 200
    assert parsed.to_dict() == body


def test_an_error_body_parses_into_the_error_model_with_every_field() -> None:
    body = {
        "error": {
            "code": "NotFound",
            "message": "Device mx1 not found.",
            "requestId": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "time": "Sat, 28 Nov 2026 12:00:00 GMT",
        }
    }
    answer = httpx.Response(404, json=body, headers={"x-ms-error-code": "NotFound"})
    client = client_answering(answer, [])
    result = run_command.sync_detailed(
        "mx1", "CoolDown", client=client, body=DeviceCommand(), api_version="2022-07-31"
    )
    assert result.status_code == 404
    assert result.headers["x-ms-error-code"] == "NotFound"
    parsed = result.parsed
    assert isinstance(parsed, Error)
    assert parsed.error.code == "NotFound"
    assert parsed.error.message == "Device mx1 not found."
    assert parsed.error.request_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert parsed.error.time == "Sat, 28 Nov 2026 12:00:00 GMT"
    assert parsed.to_dict() == body
