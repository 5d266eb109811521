"""The shape of the `iotcentral.cli` package: shared options, keyword-only settings, the mounted
simulator group, and an import that stays light."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from iotcentral.cli import _options, _settings, command
from typer.testing import CliRunner

SCRIPT = Path(sys.executable).with_name("iotcentral")
TOKEN = "SharedAccessSignature sr=x&sig=not-for-repr&skn=ops&se=1"

# -- options: declared once, the same on every command that takes them ------------------------

CONNECTION = [
    "AppOption",
    "BaseDomainOption",
    "BaseUrlOption",
    "ApiTokenOption",
    "BearerTokenOption",
    "AzureOption",
    "MaxRetriesOption",
    "ApiVersionOption",
]
SHARED = [*CONNECTION, "ComponentOption", "ModuleOption", "JsonOption", "VerboseOption"]


def _described(param: Any) -> tuple[Any, ...]:
    return (tuple(param.opts), param.envvar, param.help, param.default, param.type.name)


def _params(name: str) -> dict[tuple[str, ...], Any]:
    group = typer.main.get_group(command.app)
    return {tuple(p.opts): p for p in group.commands[name].params}


@pytest.mark.parametrize("alias", SHARED)
def test_run_and_history_take_the_same_shared_options(alias: str) -> None:
    info = getattr(_options, alias).__metadata__[0]
    opts = (info.default, *info.param_decls)  # typer.Option("--flag", ...) in Annotated
    run, history = _params("run"), _params("history")
    matching = [key for key in run if set(key) == set(opts)]
    assert len(matching) == 1, alias
    assert _described(run[matching[0]]) == _described(history[matching[0]])


def test_every_connection_option_fills_a_settings_field() -> None:
    fields = [f.name for f in dataclasses.fields(_settings.Settings)]
    assert len(fields) == len(CONNECTION)
    assert set(_options.__all__) >= set(SHARED)


# -- settings: keyword-only, tokens kept out of sight ----------------------------------------


def test_settings_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        _settings.Settings("myapp")  # type: ignore[misc]
    settings = _settings.Settings(app="myapp", api_token=TOKEN)
    assert settings.app == "myapp"
    assert settings.base_domain == "azureiotcentral.com"
    assert settings.max_retries == 3


def test_settings_hide_their_tokens_and_list_them_as_secrets() -> None:
    settings = _settings.Settings(app="myapp", bearer_token=f"Bearer {TOKEN}")
    assert "not-for-repr" not in repr(settings)
    assert TOKEN in settings.secrets
    assert _settings.Settings().secrets == ()


# -- `iotcentral simulator`: the simulator's own click group, mounted ------------------------


def test_simulator_serve_help_through_the_typer_app(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["simulator", "serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: iotcentral simulator serve [OPTIONS]\n")
    for flag in ("--host", "--port", "--scenario", "--rate-limit", "--api-token", "--time-scale"):
        assert flag in result.stdout
    group = CliRunner().invoke(app, ["simulator", "--help"])
    assert group.exit_code == 0
    assert "serve  Serve the simulator over HTTP until Ctrl-C." in group.stdout


def test_simulator_serve_help_from_the_installed_script() -> None:
    result = subprocess.run(
        [str(SCRIPT), "simulator", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage: iotcentral simulator serve [OPTIONS]\n")
    assert "--time-scale" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulator"], "Usage: iotcentral simulator [OPTIONS] COMMAND"),
        (["simulator", "stop"], "No such command 'stop'"),
        (["simulator", "serve", "--port", "x"], "Invalid value for '--port'"),
    ],
)
def test_simulator_usage_errors_exit_2(app: typer.Typer, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_simulator_without_the_sim_extra_is_one_line(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "iotcentral_sim._cli", None)  # import fails like when missing
    result = CliRunner().invoke(app, ["simulator", "serve"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: the simulator needs the 'sim' extra: pip install 'iotcentral-client[sim]'\n"
    )


def test_root_help_lists_the_groups_by_name(app: typer.Typer) -> None:
    listed = CliRunner().invoke(app, ["--help"]).stdout.split("Commands:")[1]
    assert 0 < listed.index("  command ") < listed.index("  simulator ")


# -- importing the package stays light ---------------------------------------------------------


def test_importing_the_cli_package_does_not_import_typer() -> None:
    """So the console script can say which extra to install (httpx itself imports rich)."""
    code = (
        "import sys, iotcentral.cli; print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('typer', 'iotcentral_sim') or m == 'iotcentral.cli._app'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
