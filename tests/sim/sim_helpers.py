"""Spec-conformance helpers and constants for the simulator's behaviour tests."""

from __future__ import annotations

import email.utils
from pathlib import Path
from typing import Any

import httpx
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator
from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.response.validators import V31ResponseValidator
from starlette.datastructures import Headers, QueryParams

API_VERSION = "2022-07-31"
Q = {"api-version": API_VERSION}
AUTH = {"Authorization": DEFAULT_API_TOKEN}
SPEC_FILE = Path(__file__).resolve().parents[2] / "spec" / "iotcentral.yaml"
SPEC_HOST = "https://appsubdomain.azureiotcentral.com"

_VALIDATOR = V31ResponseValidator(SchemaPath.from_file_path(str(SPEC_FILE)))


class _Req:
    def __init__(self, request: httpx.Request) -> None:
        self.host_url = SPEC_HOST
        self.path = request.url.raw_path.decode().split("?", 1)[0]
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=QueryParams(request.url.query.decode()), header=Headers(dict(request.headers))
        )
        self.body = request.content
        self.content_type = request.headers.get("content-type", "application/octet-stream")


class _Resp:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(dict(response.headers))
        self.content_type = response.headers.get("content-type", "")
        self.data = response.content


def assert_conforms(response: httpx.Response) -> None:
    """Fail unless ``response`` conforms to the spec (openapi-core) and to the error rules."""
    errors = list(_VALIDATOR.iter_errors(_Req(response.request), _Resp(response)))
    assert not errors, [f"{e}: {e.__cause__}" for e in errors]
    assert response.headers["content-type"] == "application/json"
    if response.status_code >= 400:
        body = response.json()
        detail = body["error"]
        assert set(detail) == {"code", "message", "requestId", "time"}
        assert response.headers["x-ms-error-code"] == detail["code"]
        assert email.utils.parsedate_to_datetime(detail["time"]).tzinfo is not None
        assert detail["time"].endswith(" GMT")


def error_code(response: httpx.Response) -> str:
    """The Error shape's code, after checking that the response conforms to the spec."""
    assert_conforms(response)
    code: str = response.json()["error"]["code"]
    return code


def run_path(
    device: str, command: str, *, component: str | None = None, module: str | None = None
) -> str:
    """The spec path (under /api) for a command target."""
    path = f"/devices/{device}"
    if module is not None:
        path += f"/modules/{module}"
    if component is not None:
        path += f"/components/{component}"
    return f"{path}/commands/{command}"


def asgi_client(simulator: Simulator, **kwargs: Any) -> httpx.AsyncClient:
    """An in-process client for ``simulator`` (operator token and api-version by default)."""
    kwargs.setdefault("headers", AUTH)
    kwargs.setdefault("params", Q)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator.app), base_url="http://sim/api", **kwargs
    )
