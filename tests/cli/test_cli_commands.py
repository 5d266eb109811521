"""`iotcentral command run|history` through the real entry point: options, output, exit codes."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import iotcentral as ic
import pytest
import typer
from iotcentral import cli
from iotcentral.cli import _settings
from iotcentral_sim import DEFAULT_API_TOKEN, DEFAULT_BEARER_TOKEN, Simulator, SimulatorServer
from typer.testing import CliRunner

SECRET = "Sup3rS3cretSignature"
BAD_TOKEN = f"SharedAccessSignature sr=x&sig={SECRET}&skn=ops&se=1"


def invoke(
    app: typer.Typer, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> Any:
    return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def against(server: SimulatorServer, token: str = DEFAULT_API_TOKEN) -> dict[str, str]:
    return {"IOTC_BASE_URL": server.url, "IOTC_API_TOKEN": token}


# -- the embedded simulator --


def test_run_with_no_app_uses_the_embedded_simulator(app: typer.Typer) -> None:
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--request", '{"tempVal": 30}')
    assert result.exit_code == cli.EXIT_OK
    assert "using the embedded simulator at http://127.0.0.1:" in result.stderr
    assert "run CoolDown on device mx1" in result.stdout
    assert result.stdout.splitlines()[1:] == [
        f"  id             {result.stdout.split()[6]}",
        "  response code  200",
        '  request        {"tempVal": 30}',
        '  response       {"tempVal": 30}',
    ]


def test_json_prints_the_service_json(app: typer.Typer) -> None:
    result = invoke(app, "command", "run", "mx1", "CoolDown", "-r", "[1, 2]", "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["request"] == [1, 2]
    assert document["response"] == [1, 2]
    assert document["responseCode"] == 200
    assert set(document) == {"id", "request", "response", "responseCode"}


def test_device_reported_failure_exits_1(app: typer.Typer) -> None:
    human = invoke(app, "command", "run", "mx1", "SetMode", "-r", '"turbo"')
    assert human.exit_code == cli.EXIT_DEVICE_FAILURE == 1
    assert "400  the device reported a failure" in human.stdout
    as_json = invoke(app, "command", "run", "mx1", "Calibrate", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["responseCode"] == 500


def test_api_error_exits_3_with_one_line(app: typer.Typer) -> None:
    result = invoke(app, "command", "run", "nope", "CoolDown")
    assert result.exit_code == cli.EXIT_API_ERROR == 3
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert line.startswith("error: HTTP 404 DeviceNotFound: The device with id 'nope' does not")
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_components_and_modules(app: typer.Typer) -> None:
    component = invoke(
        app, "command", "run", "thermostat1", "getMaxMinReport", "--component", "thermostat1",
        "--json",
    )  # fmt: skip
    assert component.exit_code == 0
    assert json.loads(component.stdout)["response"]["maxTemp"] == 30.5
    module = invoke(
        app, "command", "run", "edge1", "restart", "--module", "sensorModule", "-r", "1"
    )
    assert module.exit_code == 0
    assert "run restart on device edge1 module sensorModule" in module.stdout
    both = invoke(
        app, "command", "run", "edge1", "getMaxMinReport", "--module", "sensorModule",
        "--component", "thermostat", "--json",
    )  # fmt: skip
    assert json.loads(both.stdout)["response"]["avgTemp"] == 20.0


# -- --request --


def test_request_from_a_file_and_from_stdin(app: typer.Typer, tmp_path: Path) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text('{"fromFile": true}', encoding="utf-8")
    from_file = invoke(app, "command", "run", "mx1", "CoolDown", "-r", f"@{payload}", "--json")
    assert json.loads(from_file.stdout)["request"] == {"fromFile": True}
    from_stdin = invoke(
        app, "command", "run", "mx1", "CoolDown", "-r", "@-", "--json", input='{"stdin": 1}'
    )
    assert json.loads(from_stdin.stdout)["request"] == {"stdin": 1}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "error: --request is not valid JSON: Expecting property name"),
        ("hello", "quote strings as JSON"),
        ("@/nonexistent/payload.json", "error: --request @/nonexistent/payload.json: cannot read"),
        ("NaN", "error: --request is not valid JSON: NaN is not a JSON value"),
        ("[1, -Infinity]", "-Infinity is not a JSON value"),
    ],
)
def test_bad_request_values_exit_2_before_any_io(
    app: typer.Typer, value: str, message: str
) -> None:
    result = invoke(app, "command", "run", "mx1", "CoolDown", "-r", value)
    assert result.exit_code == cli.EXIT_USAGE == 2
    assert message in result.stderr
    assert "embedded simulator" not in result.stderr  # nothing was started


# -- timeouts --


def test_connection_and_response_timeouts(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    simulator, server = served
    offline = invoke(
        app,
        "command",
        "run",
        "sleepy1",
        "CoolDown",
        "--connection-timeout",
        "1",
        env=against(server),
    )
    assert offline.exit_code == 3
    assert "DeviceNotOnline" in offline.stderr
    reached = invoke(
        app, "command", "run", "sleepy1", "CoolDown", "--connection-timeout", "10",
        "--response-timeout", "5", "--json", env=against(server),
    )  # fmt: skip
    assert reached.exit_code == 0
    document = json.loads(reached.stdout)
    assert (document["connectionTimeout"], document["responseTimeout"]) == (10, 5)
    timed_out = invoke(
        app, "command", "run", "slow1", "CoolDown", "--response-timeout", "5", env=against(server)
    )
    assert timed_out.exit_code == 3
    assert "RequestTimeout" in timed_out.stderr
    assert "may have run" in timed_out.stderr
    assert simulator.execution_count("slow1", "CoolDown") == 1


@pytest.mark.parametrize(
    "option", [("--connection-timeout", "31"), ("--response-timeout", "4"), ("--max-retries", "-1")]
)
def test_out_of_range_options_are_usage_errors(app: typer.Typer, option: tuple[str, str]) -> None:
    result = invoke(app, "command", "run", "mx1", "CoolDown", *option)
    assert result.exit_code == 2
    assert "Invalid value" in result.stderr
    assert "embedded simulator" not in result.stderr


# -- where and who --


def test_base_url_and_api_token_from_flags_and_env(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    simulator, server = served
    by_env = invoke(app, "command", "run", "mx1", "CoolDown", env=against(server))
    assert by_env.exit_code == 0
    assert "embedded" not in by_env.stderr
    by_flags = invoke(
        app, "command", "run", "mx1", "CoolDown",
        "--base-url", server.url, "--api-token", DEFAULT_API_TOKEN,
    )  # fmt: skip
    assert by_flags.exit_code == 0
    assert simulator.execution_count("mx1", "CoolDown") == 2


def test_bearer_token(app: typer.Typer, served: tuple[Simulator, SimulatorServer]) -> None:
    _, server = served
    env = {"IOTC_BASE_URL": server.url, "IOTC_BEARER_TOKEN": DEFAULT_BEARER_TOKEN}
    assert invoke(app, "command", "run", "mx1", "CoolDown", env=env).exit_code == 0


def test_app_and_base_domain_build_the_url(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "1", "responseCode": 200})

    real = _settings.IoTCentralClient

    def with_mock(*args: Any, **kwargs: Any) -> ic.IoTCentralClient:
        kwargs["transport"] = httpx.MockTransport(handler)
        return real(*args, **kwargs)

    monkeypatch.setattr(_settings, "IoTCentralClient", with_mock)
    env = {"IOTC_APP": "myapp", "IOTC_BASE_DOMAIN": "example.org", "IOTC_API_TOKEN": BAD_TOKEN}
    assert invoke(app, "command", "run", "mx1", "CoolDown", env=env).exit_code == 0
    flags = ["--app", "other", "--base-domain", "example.net", "--api-token", BAD_TOKEN]
    flags += ["--max-retries", "0"]
    assert invoke(app, "command", "history", "mx1", "CoolDown", *flags).exit_code == 3  # 201
    assert [str(r.url) for r in seen] == [
        "https://myapp.example.org/api/devices/mx1/commands/CoolDown?api-version=2022-07-31",
        "https://other.example.net/api/devices/mx1/commands/CoolDown?api-version=2022-07-31",
    ]
    assert seen[0].headers["authorization"] == BAD_TOKEN


@pytest.mark.parametrize(
    ("env", "flags", "message"),
    [
        ({"IOTC_APP": "myapp"}, [], "error: no credentials: set IOTC_API_TOKEN"),
        ({"IOTC_APP": "myapp", "IOTC_BASE_URL": "https://x.example/api"}, [], "not both"),
        ({"IOTC_APP": "my.app", "IOTC_API_TOKEN": BAD_TOKEN}, [], "only the subdomain"),
        (
            {"IOTC_BASE_URL": "http://example.com/api", "IOTC_API_TOKEN": BAD_TOKEN},
            [],
            "plain http",
        ),
        ({"IOTC_APP": "myapp", "IOTC_API_TOKEN": BAD_TOKEN}, ["--azure"], "choose one credential"),
        ({"IOTC_APP": "myapp", "IOTC_API_TOKEN": "x"}, ["--bearer-token", "y"], "choose one"),
    ],
)
def test_configuration_errors_exit_2(
    app: typer.Typer, env: dict[str, str], flags: list[str], message: str
) -> None:
    result = invoke(app, "command", "run", "mx1", "CoolDown", *flags, env=env)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert SECRET not in result.output


def test_azure_without_azure_identity_is_one_clear_line(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # import fails like when missing
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--azure", env={"IOTC_APP": "myapp"})
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --azure needs azure-identity: pip install 'iotcentral-client[azure]'\n"
    )


def test_azure_uses_default_azure_credential(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    class AccessToken(NamedTuple):
        token: str
        expires_on: int

    scopes: list[tuple[str, ...]] = []

    class DefaultAzureCredential:
        def get_token(self, *requested: str) -> AccessToken:
            scopes.append(requested)
            return AccessToken(DEFAULT_BEARER_TOKEN, 4102444800)

    fake = types.ModuleType("azure.identity")
    fake.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure", types.ModuleType("azure"))
    monkeypatch.setitem(sys.modules, "azure.identity", fake)
    _, server = served
    env = {"IOTC_BASE_URL": server.url}
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--azure", env=env)
    assert result.exit_code == 0, result.stderr
    assert scopes == [("https://apps.azureiotcentral.com/.default",)]


# -- failures --


def test_a_rejected_token_never_shows(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    _, server = served
    result = invoke(app, "command", "run", "mx1", "CoolDown", "-v", env=against(server, BAD_TOKEN))
    assert result.exit_code == 3
    assert "HTTP 401 Unauthorized" in result.stderr
    assert "DEBUG iotcentral" in result.stderr  # --verbose logs the exchange ...
    assert "[REDACTED]" in result.stderr  # ... with the credential redacted
    assert SECRET not in result.output


def test_unreachable_service_exits_4(app: typer.Typer) -> None:
    simulator = Simulator(rate_limit=None)
    with SimulatorServer(simulator) as server:
        url = server.url
    env = {"IOTC_BASE_URL": url, "IOTC_API_TOKEN": BAD_TOKEN}
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--max-retries", "0", env=env)
    assert result.exit_code == cli.EXIT_TRANSPORT_ERROR == 4
    assert "was not sent" in result.stderr
    assert SECRET not in result.output


def test_dropped_connection_exits_4_and_warns_it_may_have_run(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    simulator, server = served
    simulator.add_fault("drop_after")
    result = invoke(app, "command", "run", "mx1", "CoolDown", env=against(server))
    assert result.exit_code == 4
    assert "may have run" in result.stderr
    assert "check `iotcentral command history`" in result.stderr
    assert simulator.execution_count("mx1", "CoolDown") == 1


def test_malformed_answer_exits_3(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    simulator, server = served
    simulator.add_fault("truncated")
    result = invoke(app, "command", "run", "mx1", "CoolDown", env=against(server))
    assert result.exit_code == 3
    assert "not valid JSON" in result.stderr
    assert "may have run" in result.stderr


def test_unexpected_errors_are_one_line_exit_5(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"kaput {BAD_TOKEN}")

    monkeypatch.setattr(_settings, "IoTCentralClient", boom)
    env = {"IOTC_APP": "myapp", "IOTC_API_TOKEN": BAD_TOKEN}
    result = invoke(app, "command", "run", "mx1", "CoolDown", env=env)
    assert result.exit_code == cli.EXIT_INTERNAL_ERROR == 5
    assert result.stderr.startswith("internal error: RuntimeError: kaput [REDACTED]")
    assert SECRET not in result.output
    assert "Traceback" not in result.output


# -- history --


def test_history(app: typer.Typer, served: tuple[Simulator, SimulatorServer]) -> None:
    _, server = served
    env = against(server)
    empty = invoke(app, "command", "history", "mx1", "SetMode", env=env)
    assert empty.exit_code == 0
    assert empty.stdout == "no recorded execution of SetMode on device mx1\n"
    assert invoke(app, "command", "run", "mx1", "SetMode", "-r", '"eco"', env=env).exit_code == 1
    human = invoke(app, "command", "history", "mx1", "SetMode", env=env)
    assert human.exit_code == 0  # reading history succeeded, whatever the device said back then
    assert "last execution of SetMode on device mx1" in human.stdout
    assert '"eco"' in human.stdout
    as_json = invoke(app, "command", "history", "mx1", "SetMode", "--json", env=env)
    document = json.loads(as_json.stdout)
    assert document["value"][0]["request"] == "eco"
    assert document["value"][0]["responseCode"] == 400


def test_history_with_component_and_module(
    app: typer.Typer, served: tuple[Simulator, SimulatorServer]
) -> None:
    _, server = served
    env = against(server)
    where = ["--module", "sensorModule", "--component", "thermostat"]
    invoke(app, "command", "run", "edge1", "getMaxMinReport", *where, env=env)
    result = invoke(
        app, "command", "history", "edge1", "getMaxMinReport", *where, "--json", env=env
    )
    assert json.loads(result.stdout)["value"][0]["response"]["minTemp"] == 15.0
    missing = invoke(app, "command", "history", "edge1", "x", "--module", "nope", env=env)
    assert missing.exit_code == 3
    assert "ModuleNotFound" in missing.stderr


def test_history_with_no_app_uses_the_embedded_simulator(app: typer.Typer) -> None:
    result = invoke(app, "command", "history", "mx1", "CoolDown")
    assert result.exit_code == 0
    assert "embedded simulator" in result.stderr
    assert "no recorded execution" in result.stdout


# -- the program --


def test_version_and_help(app: typer.Typer) -> None:
    version = invoke(app, "--version")
    assert version.exit_code == 0
    assert version.stdout == f"iotcentral-client {ic.__version__}\n"
    top = invoke(app, "--help")
    assert top.exit_code == 0
    for code in ("0 success", "1 the device reported a failure", "2 usage", "3 the service"):
        assert code in " ".join(top.stdout.split())
    run_help = invoke(app, "command", "run", "--help")
    for option in ("--request", "--component", "--module", "--connection-timeout",
                   "--response-timeout", "--json", "--app", "--base-url", "--azure",
                   "IOTC_API_TOKEN", "IOTC_BASE_DOMAIN"):  # fmt: skip
        assert option in run_help.stdout
    assert invoke(app).exit_code == 2  # no command: help, as a usage error


def test_main_without_typer_prints_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "typer", None)
    with pytest.raises(SystemExit) as info:
        cli.main(["command", "run", "mx1", "CoolDown"])
    assert info.value.code == 2
    assert "pip install 'iotcentral-client[cli]'" in capsys.readouterr().err


def test_main_runs_the_app(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("iotcentral-client ")
