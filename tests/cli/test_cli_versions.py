"""`--api-version` / `IOTC_API_VERSION` on `iotcentral command`: each version, one default."""

from __future__ import annotations

from typing import Any

import iotcentral as ic
import pytest
import typer
from iotcentral import cli
from iotcentral_sim import DEFAULT_API_TOKEN
from iotcentral_sim.pytest_plugin import IoTCentralSim
from typer.testing import CliRunner


def invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _versions_seen(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the api-version of every request the CLI's client sends."""
    seen: list[str] = []
    real = ic.IoTCentralClient._send

    def recording(self: ic.IoTCentralClient, call: Any) -> Any:
        response = real(self, call)
        seen.append(response.request.url.params["api-version"])
        return response

    monkeypatch.setattr(ic.IoTCentralClient, "_send", recording)
    return seen


@pytest.mark.parametrize("version", ic.SUPPORTED_API_VERSIONS)
@pytest.mark.parametrize("how", ["flag", "env"])
def test_each_supported_version_reaches_the_service(
    app: typer.Typer,
    iotcentral_sim_shared: IoTCentralSim,
    monkeypatch: pytest.MonkeyPatch,
    version: str,
    how: str,
) -> None:
    seen = _versions_seen(monkeypatch)
    env = {"IOTC_BASE_URL": iotcentral_sim_shared.base_url, "IOTC_API_TOKEN": DEFAULT_API_TOKEN}
    flags: list[str] = []
    if how == "flag":
        flags = ["--api-version", version]
    else:
        env["IOTC_API_VERSION"] = version
    for group in ("run", "history"):
        result = invoke(app, "command", group, "mx1", "CoolDown", *flags, env=env)
        assert result.exit_code == cli.EXIT_OK, result.stderr
    assert seen == [version, version]


def test_without_a_choice_the_default_version_is_sent(
    app: typer.Typer, iotcentral_sim_shared: IoTCentralSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _versions_seen(monkeypatch)
    env = {"IOTC_BASE_URL": iotcentral_sim_shared.base_url, "IOTC_API_TOKEN": DEFAULT_API_TOKEN}
    assert invoke(app, "command", "run", "mx1", "CoolDown", env=env).exit_code == cli.EXIT_OK
    assert seen == [ic.DEFAULT_API_VERSION]


def test_the_embedded_simulator_serves_every_version(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _versions_seen(monkeypatch)
    preview = ic.SUPPORTED_API_VERSIONS[-1]
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--api-version", preview)
    assert result.exit_code == cli.EXIT_OK, result.stderr
    assert seen == [preview]


@pytest.mark.parametrize("group", ["run", "history"])
def test_an_unsupported_version_is_a_usage_error_naming_the_choices(
    app: typer.Typer, iotcentral_sim_shared: IoTCentralSim, group: str
) -> None:
    env = {
        "IOTC_BASE_URL": iotcentral_sim_shared.base_url,
        "IOTC_API_TOKEN": DEFAULT_API_TOKEN,
        "IOTC_API_VERSION": "2099-01-01",
    }
    result = invoke(app, "command", group, "mx1", "CoolDown", env=env)
    assert result.exit_code == cli.EXIT_USAGE
    assert "--api-version" in result.stderr
    assert all(version in result.stderr for version in ic.SUPPORTED_API_VERSIONS)
    assert iotcentral_sim_shared.request_count == 0  # nothing was sent
