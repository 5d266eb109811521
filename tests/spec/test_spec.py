"""The spec validates and says exactly what the seed page ("Devices - Run Command") says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename

SEED_PATH = "/devices/{deviceId}/commands/{commandName}"
RUN_PATHS = [
    "/devices/{deviceId}/commands/{commandName}",
    "/devices/{deviceId}/components/{componentName}/commands/{commandName}",
    "/devices/{deviceId}/modules/{moduleName}/commands/{commandName}",
    "/devices/{deviceId}/modules/{moduleName}/components/{componentName}/commands/{commandName}",
]


@pytest.fixture(scope="module")
def spec(spec_path: Path) -> dict[str, Any]:
    with spec_path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local $refs until a concrete node."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def params_of(spec: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in (resolve(spec, ref) for ref in spec["paths"][path]["parameters"])}


def test_spec_is_a_valid_openapi_document(spec_path: Path) -> None:
    document, _ = read_from_filename(str(spec_path))
    validate(document)


def test_server_url_and_base_domain_default(spec: dict[str, Any]) -> None:
    (server,) = spec["servers"]
    assert server["url"] == "https://{subdomain}.{baseDomain}/api"
    assert server["variables"]["baseDomain"]["default"] == "azureiotcentral.com"


def test_all_eight_operations_exist(spec: dict[str, Any]) -> None:
    operations = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert operations == {(m, p) for p in RUN_PATHS for m in ("get", "post")}


def test_seed_operation_parameters(spec: dict[str, Any]) -> None:
    params = params_of(spec, SEED_PATH)
    assert set(params) == {"deviceId", "commandName", "api-version"}
    assert params["deviceId"]["in"] == "path"
    assert params["deviceId"]["description"] == "Unique ID of the device."
    assert params["commandName"]["description"] == "Name of this device command."
    api_version = params["api-version"]
    assert api_version["in"] == "query"
    assert api_version["required"] is True
    assert api_version["description"] == "The version of the API being called."
    # The enum is the version registry (tests/spec/test_versions.py checks who reads it).
    assert api_version["schema"] == {"$ref": "#/components/schemas/ApiVersion"}
    for name in ("deviceId", "commandName"):
        assert params[name]["required"] is True
        assert params[name]["schema"] == {"type": "string"}


def test_seed_operation_text_and_responses(spec: dict[str, Any]) -> None:
    op = spec["paths"][SEED_PATH]["post"]
    assert op["summary"] == "Run a device command"
    assert op["description"] == "Run a command on a device."
    assert set(op["responses"]) == {"201", "default"}
    body = resolve(spec, op["requestBody"])["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/DeviceCommand"}
    assert body["examples"]["sendCommand"]["value"] == {"request": {"tempVal": 30}}
    created = resolve(spec, op["responses"]["201"])["content"]["application/json"]
    assert created["schema"] == {"$ref": "#/components/schemas/DeviceCommand"}
    assert created["examples"]["sendCommand"]["value"] == {}


def test_every_operation_has_the_error_default(spec: dict[str, Any]) -> None:
    for path in RUN_PATHS:
        for method in ("get", "post"):
            error = resolve(spec, spec["paths"][path][method]["responses"]["default"])
            assert error["headers"]["x-ms-error-code"]["schema"] == {"type": "string"}
            schema = error["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}


def test_device_command_constraints_match_the_seed(spec: dict[str, Any]) -> None:
    props = spec["components"]["schemas"]["DeviceCommand"]["properties"]
    assert "required" not in spec["components"]["schemas"]["DeviceCommand"]
    assert props["connectionTimeout"] | {} == {
        "type": "integer",
        "format": "int32",
        "minimum": 0,
        "maximum": 30,
        "description": "Connection timeout in seconds to wait for a disconnected device to come "
        "online. Defaults to 0 seconds.",
    }
    assert props["responseTimeout"]["minimum"] == 5
    assert props["responseTimeout"]["maximum"] == 30
    assert props["responseTimeout"]["format"] == "int32"
    assert props["responseCode"]["format"] == "int32"
    read_only = {name for name, prop in props.items() if prop.get("readOnly")}
    assert read_only == {"id", "response", "responseCode"}
    # "any JSON": no type restriction on the payloads.
    assert "type" not in props["request"]
    assert "type" not in props["response"]


def test_error_shape_matches_the_seed(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    details = schemas["ErrorDetails"]
    assert details["required"] == ["code", "message"]
    assert set(details["properties"]) == {"code", "message", "requestId", "time"}
    assert details["properties"]["time"]["format"] == "date-time-rfc1123"


def test_security_accepts_azure_ad_or_api_token(spec: dict[str, Any]) -> None:
    assert spec["security"] == [{"azure_auth": ["user_impersonation"]}, {"api_token": []}]
    schemes = spec["components"]["securitySchemes"]
    implicit = schemes["azure_auth"]["flows"]["implicit"]
    assert (
        implicit["authorizationUrl"] == "https://login.microsoftonline.com/common/oauth2/authorize"
    )
    assert set(implicit["scopes"]) == {"user_impersonation"}
    assert schemes["api_token"] == schemes["api_token"] | {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
    }


def test_each_run_operation_links_to_its_history(spec: dict[str, Any]) -> None:
    for path in RUN_PATHS:
        run = spec["paths"][path]["post"]
        history_id = spec["paths"][path]["get"]["operationId"]
        links = resolve(spec, run["responses"]["201"])["links"]
        (link,) = links.values()
        assert link["operationId"] == history_id
        expected = {name: f"$request.path.{name}" for name in params_of(spec, path)}
        expected["api-version"] = "$request.query.api-version"
        assert link["parameters"] == expected
