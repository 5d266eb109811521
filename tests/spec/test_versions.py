"""The api-version registry: stated once in the spec, read by every part of the project.

The spec's `components/schemas/ApiVersion` lists the supported versions (oldest first) and
`DefaultApiVersion` names the default. The wrapper reads both through the generated package, the
simulator, its pytest plugin and the contract suite read the spec: these tests check that each of
them agrees with the spec, and that every supported version works end to end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import iotcentral as ic
import pytest
import yaml
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator
from iotcentral_sim.pytest_plugin import IoTCentralSim


def _registry(spec_path: Path) -> tuple[list[str], list[str]]:
    schemas = yaml.safe_load(spec_path.read_text(encoding="utf-8"))["components"]["schemas"]
    return schemas["ApiVersion"]["enum"], schemas["DefaultApiVersion"]["enum"]


def test_the_spec_declares_distinct_versions_and_one_default_among_them(spec_path: Path) -> None:
    versions, defaults = _registry(spec_path)
    assert versions, "ApiVersion lists no version"
    assert len(set(versions)) == len(versions)
    assert len(defaults) == 1
    assert defaults[0] in versions


def test_the_client_reads_the_registry_from_the_spec(spec_path: Path) -> None:
    versions, (default,) = _registry(spec_path)
    assert tuple(versions) == ic.SUPPORTED_API_VERSIONS
    assert default == ic.DEFAULT_API_VERSION
    client = ic.IoTCentralClient("myapp", credential=ic.ApiToken("t"))
    try:
        assert client.api_version == default
    finally:
        client.close()


def test_the_client_refuses_a_version_outside_the_registry_naming_the_allowed_ones() -> None:
    with pytest.raises(ic.InvalidArgumentError) as caught:
        ic.IoTCentralClient("myapp", credential=ic.ApiToken("t"), api_version="2099-01-01")
    message = str(caught.value)
    assert "api_version" in message
    assert "2099-01-01" in message
    assert all(version in message for version in ic.SUPPORTED_API_VERSIONS)


def test_the_simulator_and_its_plugin_read_the_registry_from_the_spec(
    spec_path: Path, iotcentral_sim_shared: IoTCentralSim
) -> None:
    versions, (default,) = _registry(spec_path)
    assert Simulator().spec.api_versions == tuple(versions)
    assert Simulator().spec.default_api_version == default
    assert iotcentral_sim_shared.api_version == default


def test_the_contract_suite_reads_the_registry_from_the_spec(spec_path: Path) -> None:
    from iotcentral_contract._spec import default_api_version, supported_api_versions

    versions, (default,) = _registry(spec_path)
    assert supported_api_versions() == versions
    assert default_api_version() == default


def _spec_with(spec_path: Path, tmp_path: Path, **schemas: Any) -> Path:
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    spec["components"]["schemas"].update(schemas)
    changed = tmp_path / "iotcentral.yaml"
    changed.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return changed


def test_the_simulator_follows_a_changed_default(spec_path: Path, tmp_path: Path) -> None:
    versions, _ = _registry(spec_path)
    changed = _spec_with(
        spec_path, tmp_path, DefaultApiVersion={"type": "string", "enum": [versions[-1]]}
    )
    assert Simulator(spec_file=changed).spec.default_api_version == versions[-1]


@pytest.mark.parametrize("defaults", [[], ["2099-01-01"], ["2022-07-31", "2022-10-31-preview"]])
def test_the_simulator_refuses_a_default_that_is_not_one_supported_version(
    spec_path: Path, tmp_path: Path, defaults: list[str]
) -> None:
    changed = _spec_with(
        spec_path, tmp_path, DefaultApiVersion={"type": "string", "enum": defaults}
    )
    with pytest.raises(ValueError, match="DefaultApiVersion"):
        Simulator(spec_file=changed)


@pytest.mark.parametrize("version", ic.SUPPORTED_API_VERSIONS)
def test_every_version_runs_and_reads_history_against_the_served_simulator(
    version: str, iotcentral_sim_shared: IoTCentralSim
) -> None:
    seen: list[str] = []
    with ic.IoTCentralClient(
        base_url=iotcentral_sim_shared.base_url,
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        api_version=version,
    ) as client:
        result = client.run_command("mx1", "CoolDown", {"tempVal": 30})
        seen.append(result.http_response.request.url.params["api-version"])  # type: ignore[union-attr]
        history = client.command_history("mx1", "CoolDown")
        seen.append(history.http_response.request.url.params["api-version"])  # type: ignore[union-attr]
    assert seen == [version, version]
    assert history.latest is not None
    assert history.latest.id == result.id
    assert iotcentral_sim_shared.execution_count("mx1", "CoolDown") == 1
