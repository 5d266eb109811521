"""The send path: generated request builders only, one `_send` per client, nothing swallowed."""

from __future__ import annotations

import importlib
import re
from typing import Any

import httpx
import iotcentral as ic
import pytest
import yaml
from client_helpers import Script, command_json, error_json, history_json
from iotcentral._operations import OPERATIONS, SUPPORTED_API_VERSIONS, Target
from iotcentral_api.models import DeviceCommand

TARGETS = [Target(), Target(component=True), Target(module=True), Target(True, True)]
PATH_ARGS = {
    "device_id": "d",
    "command_name": "c",
    "component_name": "comp",
    "module_name": "mod",
}


def _spec_operations(spec_path: Any) -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template) from the spec."""
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    found = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = (method.upper(), path)
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_the_table_covers_every_spec_operation_with_its_generated_builder(spec_path: Any) -> None:
    spec_ops = _spec_operations(spec_path)
    builders = set(OPERATIONS.values())
    assert len(spec_ops) == len(builders) == 8
    # Every supported version has every operation (today all versions share one generated package).
    assert len(OPERATIONS) == 8 * len(SUPPORTED_API_VERSIONS)
    assert {version for version, _, _ in OPERATIONS} == set(SUPPORTED_API_VERSIONS)
    for operation_id in spec_ops:
        module = importlib.import_module(f"iotcentral_api.api.devices.{_snake(operation_id)}")
        # The one generated name the wrapper relies on: renamed by a generator upgrade -> red here.
        assert module._get_kwargs in builders, operation_id


@pytest.mark.parametrize("version", SUPPORTED_API_VERSIONS)
@pytest.mark.parametrize("kind", ["run", "history"])
@pytest.mark.parametrize("target", TARGETS)
def test_each_builder_makes_the_method_and_path_the_spec_names(
    version: str, kind: str, target: Target, spec_path: Any
) -> None:
    build = OPERATIONS[version, kind, target]  # type: ignore[index]
    operation_id = build.__module__.rsplit(".", 1)[1]
    method, template = next(
        v for k, v in _spec_operations(spec_path).items() if _snake(k) == operation_id
    )
    args = {"device_id": "d", "command_name": "c"}
    if target.component:
        args["component_name"] = "comp"
    if target.module:
        args["module_name"] = "mod"
    if kind == "run":
        args["body"] = DeviceCommand()  # type: ignore[assignment]
    built = build(**args, api_version=version)
    expected = (
        template.replace("{deviceId}", "d")
        .replace("{commandName}", "c")
        .replace("{componentName}", "comp")
        .replace("{moduleName}", "mod")
    )
    assert (built["method"].upper(), built["url"]) == (method, expected)
    assert built["params"] == {"api-version": version}
    assert ("json" in built) == (kind == "run")


def test_target_of_names() -> None:
    assert Target.of(component=None, module=None) == Target()
    assert Target.of(component="x", module=None) == Target(component=True)
    assert Target.of(component=None, module="m") == Target(module=True)
    assert Target.of(component="x", module="m") == Target(component=True, module=True)


def test_the_generated_send_functions_are_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    for build in set(OPERATIONS.values()):
        module = importlib.import_module(build.__module__)
        for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            monkeypatch.setattr(module, name, _forbidden)
    script = Script(command_json(), history_json())
    with script.client() as client:
        assert client.run_command("d", "c", module="m").id == "c0ffee"
        assert list(client.command_history("d", "c", component="x")) == []
    assert [r.url.path for r in script.requests] == [
        "/api/devices/d/modules/m/commands/c",
        "/api/devices/d/components/x/commands/c",
    ]


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the generated send functions must not be used")


def test_every_attempt_leaves_through_send(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `_send` per attempt, retries included: the hook the rate pacer will use."""
    sent: list[str] = []
    original = ic.IoTCentralClient._send

    def counting(self: ic.IoTCentralClient, call: Any) -> httpx.Response:
        sent.append(call.kind)
        return original(self, call)

    monkeypatch.setattr(ic.IoTCentralClient, "_send", counting)
    script = Script(error_json(429, "TooManyRequests", **{"Retry-After": "0"}), command_json())
    with script.client(retry=ic.RetryPolicy(sleep=lambda s: None)) as client:
        client.run_command("d", "c")
    assert sent == ["run", "run"]
    assert len(script.requests) == 2
    ids = {r.headers["x-ms-client-request-id"] for r in script.requests}
    assert len(ids) == 1  # a retry is the same logical call


async def test_async_attempts_leave_through_send(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    original = ic.AsyncIoTCentralClient._send

    async def counting(self: ic.AsyncIoTCentralClient, call: Any) -> httpx.Response:
        sent.append(call.kind)
        return await original(self, call)

    monkeypatch.setattr(ic.AsyncIoTCentralClient, "_send", counting)
    script = Script(history_json())
    async with script.async_client() as client:
        await client.command_history("d", "c")
    assert sent == ["history"]


def test_a_bug_in_response_mapping_is_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A TypeError from our own code surfaces as itself, not as a malformed answer."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("bug in the wrapper")

    monkeypatch.setattr(DeviceCommand, "from_dict", broken)
    with Script(command_json()).client() as client, pytest.raises(TypeError, match="bug in"):
        client.run_command("d", "c")


def test_a_body_that_fails_to_decode_is_a_malformed_answer() -> None:
    def bad_gzip(request: httpx.Request) -> httpx.Response:
        gzip = {"content-encoding": "gzip"}
        return httpx.Response(201, stream=httpx.ByteStream(b"not gzip"), headers=gzip)

    with Script(bad_gzip).client() as client, pytest.raises(ic.MalformedResponseError) as info:
        client.run_command("d", "c")
    assert "could not be decoded" in str(info.value)
    assert info.value.may_have_executed  # the service answered 201: the command ran
