"""Boundaries with exact expectations: each answered with the right status and the spec's error.

Against the simulator every status and error code is exact (the mapping is documented in
simulator/README.md). Against a live app, whose codes for these cases are not documented, invalid
input must be a 4xx in the Error shape and valid input must get past validation.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from iotcentral_contract import _harness
from iotcentral_contract._spec import default_api_version, property_bounds, supported_api_versions
from iotcentral_contract._wire import assert_error_shape, raw_client

API_VERSION = default_api_version()
CONNECTION = property_bounds("DeviceCommand", "connectionTimeout")
RESPONSE = property_bounds("DeviceCommand", "responseTimeout")


def run_path(device: str | None = None, command: str | None = None) -> str:
    return _harness.target().command_path(device, command)


async def post(
    path: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    bound = _harness.target()
    sent_headers = {"Authorization": bound.authorization, **(headers or {})}
    query = {"api-version": API_VERSION} if params is None else params
    async with raw_client() as client:
        return await client.post(
            path, json=json, content=content, params=query, headers=sent_headers
        )


def expect_rejected(response: httpx.Response, status: int, code: str) -> None:
    details = assert_error_shape(response)
    if _harness.target().live:
        assert 400 <= response.status_code < 500, response.text
    else:
        assert (response.status_code, details["code"]) == (status, code), response.text


def expect_accepted(response: httpx.Response) -> None:
    if _harness.target().live:
        # Past validation; the device itself may still be offline (404) or slow (504).
        assert response.status_code not in (400, 401, 403, 415, 422), response.text
    else:
        assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("field", "value", "valid"),
    [
        ("connectionTimeout", CONNECTION[0] - 1, False),
        ("connectionTimeout", CONNECTION[0], True),
        ("connectionTimeout", CONNECTION[1], True),
        ("connectionTimeout", CONNECTION[1] + 1, False),
        ("responseTimeout", RESPONSE[0] - 1, False),
        ("responseTimeout", RESPONSE[0], True),
        ("responseTimeout", RESPONSE[1], True),
        ("responseTimeout", RESPONSE[1] + 1, False),
    ],
)
async def test_timeout_bounds(field: str, value: int, valid: bool) -> None:
    response = await post(run_path(), json={field: value, "request": {"tempVal": 30}})
    if valid:
        expect_accepted(response)
    else:
        expect_rejected(response, 422, "InvalidRequestBody")
        if not _harness.target().live:
            assert field in response.json()["error"]["message"]


async def test_missing_api_version() -> None:
    response = await post(run_path(), json={}, params={})
    expect_rejected(response, 400, "MissingApiVersionParameter")


@pytest.mark.parametrize("version", supported_api_versions())
async def test_every_supported_api_version_is_accepted(version: str) -> None:
    response = await post(
        run_path(), json={"request": {"tempVal": 30}}, params={"api-version": version}
    )
    expect_accepted(response)


async def test_unsupported_api_version() -> None:
    response = await post(run_path(), json={}, params={"api-version": "2099-01-01"})
    expect_rejected(response, 400, "InvalidApiVersionParameter")


async def test_missing_authorization() -> None:
    bound = _harness.target()
    async with raw_client() as client:
        response = await client.post(run_path(), json={}, params={"api-version": API_VERSION})
    expect_rejected(response, 401, "Unauthorized")
    assert bound.authorization not in response.text


async def test_invalid_authorization() -> None:
    bad = "SharedAccessSignature sr=nobody&sig=forged&skn=none&se=1"
    response = await post(run_path(), json={}, headers={"Authorization": bad})
    expect_rejected(response, 401, "Unauthorized")
    assert "forged" not in response.text


@pytest.mark.simulator_only
async def test_insufficient_permission() -> None:
    from iotcentral_sim import DEFAULT_VIEWER_TOKEN

    response = await post(run_path(), json={}, headers={"Authorization": DEFAULT_VIEWER_TOKEN})
    expect_rejected(response, 403, "Forbidden")


@pytest.mark.simulator_only
async def test_unknown_device() -> None:
    response = await post(run_path(device="no-such-device"), json={})
    expect_rejected(response, 404, "DeviceNotFound")


@pytest.mark.simulator_only
async def test_unknown_command() -> None:
    response = await post(run_path(command="NoSuchCommand"), json={})
    expect_rejected(response, 404, "CommandNotFound")


async def test_wrong_content_type() -> None:
    response = await post(
        run_path(), content=b'{"request": 1}', headers={"Content-Type": "text/plain"}
    )
    expect_rejected(response, 415, "UnsupportedMediaType")


async def test_body_that_is_not_json() -> None:
    response = await post(
        run_path(), content=b"{not json", headers={"Content-Type": "application/json"}
    )
    expect_rejected(response, 400, "InvalidJson")
