"""Every answer maps to a result or a typed error, in one place; never KeyError/JSONDecodeError."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import iotcentral as ic
import pytest
from client_helpers import SECRET, TOKEN, Script, command_json, error_json, history_json
from iotcentral_sim import DEFAULT_API_TOKEN, DEFAULT_VIEWER_TOKEN, Simulator


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (400, "InvalidApiVersionParameter", ic.BadRequestError),
        (400, "InvalidJson", ic.BadRequestError),
        (401, "Unauthorized", ic.AuthenticationError),
        (403, "Forbidden", ic.PermissionDeniedError),
        (404, "DeviceNotFound", ic.NotFoundError),
        (404, "CommandNotFound", ic.NotFoundError),
        (404, "DeviceNotOnline", ic.DeviceOfflineError),
        (400, "DeviceNotOnline", ic.BadRequestError),  # only a 404 means "offline"
        (500, "RequestTimeout", ic.DeviceTimeoutError),  # the code wins at any status
        (404, "requesttimeout", ic.DeviceTimeoutError),
        (408, "RequestTimeout", ic.DeviceTimeoutError),
        (409, "Conflict", ic.APIStatusError),
        (412, "PreconditionFailed", ic.PreconditionFailedError),
        (415, "UnsupportedMediaType", ic.UnsupportedMediaTypeError),
        (422, "InvalidRequestBody", ic.UnprocessableEntityError),
        (429, "TooManyRequests", ic.ThrottledError),
        (500, "InternalServerError", ic.ServerError),
        (502, "BadGateway", ic.ServerError),
        (503, "ServiceUnavailable", ic.ServiceUnavailableError),
        (504, "RequestTimeout", ic.DeviceTimeoutError),
        (504, "GatewayTimeout", ic.DeviceTimeoutError),
        (599, "Weird", ic.ServerError),
        (418, "Teapot", ic.APIStatusError),
    ],
)
def test_status_and_code_map_to_classes(status: int, code: str, cls: type[Exception]) -> None:
    script = Script(error_json(status, code, "what happened", **{"x-ms-request-id": "hdr"}))
    with script.client(retry=0) as client, pytest.raises(ic.APIStatusError) as info:
        client.run_command("mx1", "CoolDown")
    error = info.value
    assert type(error) is cls
    assert isinstance(error, ic.APIError)
    assert isinstance(error, ic.IoTCentralError)
    assert error.status_code == status
    assert error.code == code
    assert error.message == "what happened"
    assert error.request_id == "rid-1"
    assert error.response.status_code == status
    assert error.request.method == "POST"
    assert str(error) == f"HTTP {status} {code}: what happened (request id rid-1)"


def test_error_fields_fall_back_to_headers_and_parse_time() -> None:
    body = {"error": {"message": "m", "time": "Sat, 28 Nov 2026 12:00:00 GMT"}}
    response = httpx.Response(
        404, json=body, headers={"x-ms-error-code": "DeviceNotFound", "x-ms-request-id": "r9"}
    )
    with Script(response).client() as client, pytest.raises(ic.NotFoundError) as info:
        client.command_history("mx1", "CoolDown")
    assert info.value.code == "DeviceNotFound"
    assert info.value.request_id == "r9"
    assert info.value.time == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    assert info.value.body == body


def test_empty_strings_from_the_service_are_kept() -> None:
    body = {"error": {"code": "", "message": "", "requestId": ""}}
    response = httpx.Response(400, json=body, headers={"x-ms-error-code": "Hdr"})
    with Script(response).client() as client, pytest.raises(ic.BadRequestError) as info:
        client.run_command("mx1", "CoolDown")
    assert (info.value.code, info.value.message, info.value.request_id) == ("", "", "")
    assert str(info.value) == "HTTP 400: Bad Request"


def test_retry_after_is_parsed_onto_the_error() -> None:
    script = Script(error_json(429, "TooManyRequests", **{"retry-after": "7"}))
    with script.client(retry=0) as client, pytest.raises(ic.ThrottledError) as info:
        client.run_command("mx1", "CoolDown")
    assert info.value.retry_after == 7.0
    assert not info.value.may_have_executed


@pytest.mark.parametrize(
    ("response", "cls", "fragment"),
    [
        (
            httpx.Response(
                502, text="<html>Bad gateway</html>", headers={"content-type": "text/html"}
            ),
            ic.ServerError,
            "not the documented error shape (text/html)",
        ),
        (httpx.Response(500, content=b""), ic.ServerError, "<empty body>"),
        (httpx.Response(404, json={"error": "nope"}), ic.NotFoundError, "not the documented"),
        (httpx.Response(400, json=[1, 2]), ic.BadRequestError, "not the documented"),
        (
            httpx.Response(401, content=b'{"error": {"code": "Unauth'),
            ic.AuthenticationError,
            "documented",
        ),
        (
            httpx.Response(503, json={"error": {"code": 5}}),
            ic.ServiceUnavailableError,
            "Service Unavailable",
        ),
    ],
)
def test_error_status_with_a_malformed_body_still_gets_its_class(
    response: httpx.Response, cls: type[Exception], fragment: str
) -> None:
    with Script(response).client(retry=0) as client, pytest.raises(ic.APIStatusError) as info:
        client.run_command("mx1", "CoolDown")
    assert type(info.value) is cls
    assert fragment in info.value.message


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (
            httpx.Response(201, text="<html>hi</html>", headers={"content-type": "text/html"}),
            "not valid JSON (text/html",
        ),
        (httpx.Response(201, content=b""), "not valid JSON"),
        (httpx.Response(201, content=b'{"id": "abc", "respo'), "not valid JSON"),
        (httpx.Response(201, content=b"\xff\xfe\x00"), "not valid JSON"),
        (httpx.Response(201, content=b"[" * 100_000), "not valid JSON"),
        (httpx.Response(201, json=[{"id": "x"}]), "should be a JSON object, got list"),
        (httpx.Response(201, json="text"), "should be a JSON object, got str"),
        (httpx.Response(201, json={"responseCode": "200"}), "responseCode should be an integer"),
        (httpx.Response(201, json={"responseCode": True}), "responseCode should be an integer"),
        (httpx.Response(201, json={"id": 12}), "id should be a string"),
        (httpx.Response(201, json={"connectionTimeout": 1.5}), "connectionTimeout should be"),
        (httpx.Response(200, json={"id": "x"}), "undocumented HTTP status 200"),
        (httpx.Response(202, json={}), "undocumented HTTP status 202"),
        (httpx.Response(204), "undocumented HTTP status 204"),
        (httpx.Response(299, json={}), "undocumented HTTP status 299"),
        (httpx.Response(302, headers={"location": "https://evil.example/"}), "status 302"),
        (httpx.Response(304), "status 304"),
    ],
)
def test_malformed_run_answers_raise_malformed_response_error(
    response: httpx.Response, fragment: str
) -> None:
    script = Script(response)
    with script.client() as client, pytest.raises(ic.MalformedResponseError) as info:
        client.run_command("mx1", "CoolDown")
    assert fragment in str(info.value)
    assert info.value.may_have_executed  # a POST answered with non-error status: it may have run
    assert len(script.requests) == 1  # never retried: the command may have run
    assert not isinstance(info.value, KeyError | json.JSONDecodeError)


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(200, json={"items": []}), "'value' array"),
        (httpx.Response(200, json={"value": {}}), "'value' array"),
        (httpx.Response(200, json={"value": [1]}), "value[0] should be a JSON object"),
        (httpx.Response(200, json={"value": [], "nextLink": 3}), "nextLink should be a string"),
        (httpx.Response(200, content=b"<html/>"), "not valid JSON"),
        (httpx.Response(201, json={"value": []}), "undocumented HTTP status 201"),
    ],
)
def test_malformed_history_answers_raise_malformed_response_error(
    response: httpx.Response, fragment: str
) -> None:
    with (
        Script(response).client(retry=0) as client,
        pytest.raises(ic.MalformedResponseError) as info,
    ):
        client.command_history("mx1", "CoolDown")
    assert fragment in str(info.value)
    assert not info.value.may_have_executed


def test_every_field_may_be_absent() -> None:
    with Script(httpx.Response(201, json={})).client() as client:
        result = client.run_command("mx1", "CoolDown", {"x": 1})
    assert (result.id, result.request, result.response, result.response_code) == (None,) * 4
    assert not result.failed
    with Script(history_json({})).client() as client:
        history = client.command_history("mx1", "CoolDown")
    assert history.latest is not None
    assert history.latest.id is None
    assert history.next_link is None


def test_long_bodies_are_quoted_short() -> None:
    page = "<html>" + "x" * 10_000 + "</html>"
    with (
        Script(httpx.Response(502, text=page)).client(retry=0) as client,
        pytest.raises(ic.ServerError) as info,
    ):
        client.run_command("mx1", "CoolDown")
    assert len(str(info.value)) < 400


def test_a_server_echoing_the_token_is_redacted() -> None:
    echo = httpx.Response(401, json={"error": {"code": "Unauthorized", "message": f"bad {TOKEN}"}})
    with Script(echo).client() as client, pytest.raises(ic.AuthenticationError) as info:
        client.run_command("mx1", "CoolDown")
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)
    assert "[REDACTED]" in info.value.message
    page = httpx.Response(200, text=f"<p>{TOKEN}</p>")
    with Script(page).client() as client, pytest.raises(ic.MalformedResponseError) as info2:
        client.command_history("mx1", "CoolDown", retry=0)
    assert SECRET not in str(info2.value)


def test_device_failure_is_a_result_not_an_exception() -> None:
    script = Script(command_json(responseCode=500, response={"error": "sensor fault"}))
    with script.client() as client:
        result = client.run_command("mx1", "Calibrate")
    assert result.failed
    assert result.status_code == 201
    with pytest.raises(ic.DeviceCommandFailedError, match="response code 500") as info:
        result.raise_for_response_code()
    assert info.value.result is result
    ok = Script(command_json()).client().run_command("mx1", "CoolDown")
    assert ok.raise_for_response_code() is ok


SIM_CASES: list[tuple[str, tuple[str, str], dict[str, object], type[Exception], str]] = [
    ("op", ("nope", "CoolDown"), {}, ic.NotFoundError, "DeviceNotFound"),
    ("op", ("mx1", "Nope"), {}, ic.NotFoundError, "CommandNotFound"),
    ("op", ("thermostat1", "x"), {"component": "nope"}, ic.NotFoundError, "ComponentNotFound"),
    ("op", ("edge1", "x"), {"module": "nope"}, ic.NotFoundError, "ModuleNotFound"),
    ("bad", ("mx1", "CoolDown"), {}, ic.AuthenticationError, "Unauthorized"),
    ("viewer", ("mx1", "CoolDown"), {}, ic.PermissionDeniedError, "Forbidden"),
    (
        "op",
        ("offline1", "CoolDown"),
        {"connection_timeout": 1},
        ic.DeviceOfflineError,
        "DeviceNotOnline",
    ),
    ("op", ("slow1", "CoolDown"), {"response_timeout": 5}, ic.DeviceTimeoutError, "RequestTimeout"),
]
TOKENS = {"op": DEFAULT_API_TOKEN, "viewer": DEFAULT_VIEWER_TOKEN, "bad": "SharedAccessSignature x"}


@pytest.mark.parametrize(("who", "args", "kwargs", "cls", "code"), SIM_CASES)
async def test_simulator_statuses_map_to_classes(
    sim: Simulator,
    who: str,
    args: tuple[str, str],
    kwargs: dict[str, object],
    cls: type[Exception],
    code: str,
) -> None:
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(TOKENS[who]),
        retry=0,
        transport=httpx.ASGITransport(app=sim.app),
    ) as client:
        with pytest.raises(ic.APIStatusError) as info:
            await client.run_command(*args, **kwargs)  # type: ignore[arg-type]
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.request_id
    assert info.value.time is not None
    if cls is ic.DeviceTimeoutError:
        assert sim.execution_count(*args) == 1  # timed out on the device, yet it ran
        assert info.value.may_have_executed
