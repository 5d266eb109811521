"""api-version, routes, body validation against the spec, lookups and the order of checks."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from iotcentral_sim import Scenario, Simulator
from sim_helpers import SPEC_FILE, asgi_client, assert_conforms, error_code, run_path

RUN = "/devices/mx1/commands/CoolDown"
_JSON = {"content-type": "application/json"}
ALL_PATHS = [
    run_path("mx1", "CoolDown"),
    run_path("thermostat1", "getMaxMinReport", component="thermostat1"),
    run_path("edge1", "restart", module="sensorModule"),
    run_path("edge1", "getMaxMinReport", component="thermostat", module="sensorModule"),
]


@pytest.mark.parametrize("path", ALL_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "MissingApiVersionParameter"),
        ({"api-version": "2022-05-31"}, "InvalidApiVersionParameter"),
        ({"api-version": ""}, "InvalidApiVersionParameter"),
        ({"api-version": "latest"}, "InvalidApiVersionParameter"),
    ],
)
async def test_api_version_is_required_and_checked(
    sim: Simulator, path: str, method: str, params: dict[str, str], code: str
) -> None:
    async with asgi_client(sim, params=params) as c:
        response = await c.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 400
    assert error_code(response) == code
    assert "2022-07-31" in response.json()["error"]["message"]


async def test_supported_api_versions_come_from_the_spec(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    spec["components"]["schemas"]["ApiVersion"]["enum"].append("2099-01-01")
    copy = tmp_path / "iotcentral.yaml"
    copy.write_text(yaml.safe_dump(spec), encoding="utf-8")
    sim = Simulator(spec_file=copy, rate_limit=None)
    async with asgi_client(sim, params={"api-version": "2099-01-01"}) as c:
        assert (await c.post(RUN, json={})).status_code == 201
    default = Simulator(rate_limit=None)
    async with asgi_client(default, params={"api-version": "2099-01-01"}) as c:
        assert error_code(await c.post(RUN, json={})) == "InvalidApiVersionParameter"


def test_every_spec_operation_needs_a_handler(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
    item = spec["paths"]["/devices/{deviceId}/commands/{commandName}"]
    spec["paths"]["/devices/{deviceId}/reboot"] = {
        "parameters": item["parameters"][:1],
        "post": {**item["post"], "operationId": "rebootDevice"},
    }
    copy = tmp_path / "iotcentral.yaml"
    copy.write_text(yaml.safe_dump(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="no simulator handler for spec operation"):
        Simulator(spec_file=copy)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"responseTimeout": 4}, "responseTimeout"),
        ({"responseTimeout": 31}, "responseTimeout"),
        ({"connectionTimeout": -1}, "connectionTimeout"),
        ({"connectionTimeout": 31}, "connectionTimeout"),
        ({"connectionTimeout": "5"}, "connectionTimeout"),
        ({"responseTimeout": 5.5}, "responseTimeout"),
        ({"responseTimeout": True}, "responseTimeout"),
        ({"connectionTimeout": None}, "connectionTimeout"),
        ([{"request": 1}], "body"),
        ("text", "body"),
        (None, "body"),
    ],
)
async def test_schema_violations_are_422_naming_the_field(
    client: httpx.AsyncClient, sim: Simulator, body: object, field: str
) -> None:
    response = await client.post(RUN, content=json.dumps(body).encode(), headers=_JSON)
    assert response.status_code == 422
    assert error_code(response) == "InvalidRequestBody"
    assert field in response.json()["error"]["message"]
    assert sim.execution_count("mx1", "CoolDown") == 0


@pytest.mark.parametrize(("value", "status"), [(0, 201), (30, 201)])
async def test_connection_timeout_bounds_are_inclusive(
    client: httpx.AsyncClient, value: int, status: int
) -> None:
    response = await client.post(RUN, json={"connectionTimeout": value, "responseTimeout": 30})
    assert response.status_code == status


async def test_integral_float_timeouts_are_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(RUN, content=b'{"responseTimeout": 5.0}', headers=_JSON)
    assert response.status_code == 201
    assert response.json()["responseTimeout"] == 5


@pytest.mark.parametrize(
    "content", [b"{", b"not json", b'{"request": }', b"\xff\xfe", b'{"request": NaN}']
)
async def test_body_that_is_not_json_is_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(RUN, content=content, headers=_JSON)
    assert response.status_code == 400
    assert error_code(response) == "InvalidJson"


async def test_missing_body_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(RUN, content=b"", headers=_JSON)
    assert response.status_code == 400
    assert error_code(response) == "InvalidJson"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
async def test_wrong_content_type_is_415(
    client: httpx.AsyncClient, sim: Simulator, content_type: str
) -> None:
    response = await client.post(RUN, content=b"{}", headers={"content-type": content_type})
    assert response.status_code == 415
    assert error_code(response) == "UnsupportedMediaType"
    assert sim.execution_count("mx1", "CoolDown") == 0


async def test_json_content_type_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        RUN, content=b"{}", headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("path", "code"),
    [
        (run_path("nope", "CoolDown"), "DeviceNotFound"),
        (run_path("mx1", "Nope"), "CommandNotFound"),
        (run_path("thermostat1", "getMaxMinReport", component="nope"), "ComponentNotFound"),
        (run_path("thermostat1", "nope", component="thermostat1"), "CommandNotFound"),
        (run_path("mx1", "CoolDown", component="thermostat1"), "ComponentNotFound"),
        (run_path("edge1", "restart", module="nope"), "ModuleNotFound"),
        (run_path("mx1", "restart", module="sensorModule"), "ModuleNotFound"),
        (run_path("edge1", "nope", module="sensorModule"), "CommandNotFound"),
        (run_path("edge1", "x", component="nope", module="sensorModule"), "ComponentNotFound"),
        (run_path("edge1", "getMaxMinReport", component="thermostat"), "ComponentNotFound"),
        (run_path("nope", "x", component="c", module="m"), "DeviceNotFound"),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_unknown_targets_are_404(
    client: httpx.AsyncClient, sim: Simulator, path: str, code: str, method: str
) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 404
    assert error_code(response) == code
    assert sim.executions() == {}


async def test_unknown_routes_and_methods_use_the_error_shape(client: httpx.AsyncClient) -> None:
    for path in ["/devices/mx1", "/devices/mx1/commands", "/devices//commands/x", "/nothing"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NotFound"
        assert response.headers["x-ms-error-code"] == "NotFound"
    outside = await client.get("http://sim/elsewhere")
    assert outside.status_code == 404
    assert outside.json()["error"]["code"] == "NotFound"
    for method in ["DELETE", "PUT", "PATCH"]:
        response = await client.request(method, RUN)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "MethodNotAllowed"
        assert response.headers["allow"] == "GET, POST"


async def test_body_is_validated_before_lookup(client: httpx.AsyncClient) -> None:
    response = await client.post(run_path("nope", "x"), json={"responseTimeout": 1})
    assert error_code(response) == "InvalidRequestBody"


async def test_history_ignores_a_body(client: httpx.AsyncClient) -> None:
    response = await client.request("GET", RUN, content=b"garbage", headers=_JSON)
    assert response.status_code == 200
    assert_conforms(response)


async def test_readonly_fields_in_the_request_are_ignored(client: httpx.AsyncClient) -> None:
    response = await client.post(RUN, json={"id": "mine", "responseCode": 1, "response": 2})
    assert response.status_code == 201
    assert response.json()["id"] != "mine"
    assert "response" not in response.json()
    assert response.json()["responseCode"] == 200


def test_spec_is_found_in_the_package_first_then_in_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iotcentral_sim import _spec

    assert _spec.spec_path() == SPEC_FILE  # a checkout has no packaged copy
    packaged = tmp_path / "_spec" / "iotcentral.yaml"
    packaged.parent.mkdir()
    packaged.write_text(SPEC_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(_spec.importlib.resources, "files", lambda package: tmp_path)
    assert _spec.spec_path() == packaged
    assert Simulator(Scenario()).spec.path == packaged
