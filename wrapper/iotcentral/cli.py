"""The `iotcentral` command line: run a command on a device, read its history, serve the simulator.

```
iotcentral command run DEVICE COMMAND [--request JSON|@FILE|@-] [--component C] [--module M]
                                      [--connection-timeout S] [--response-timeout S] [--json]
iotcentral command history DEVICE COMMAND [--component C] [--module M] [--json]
iotcentral simulator serve [--host H] [--port P] [--scenario FILE] [--rate-limit N]
                           [--api-token TOKEN]... [--time-scale X]
```

The app comes from `--app`/`IOTC_APP` (with `--base-domain`/`IOTC_BASE_DOMAIN`) or
`--base-url`/`IOTC_BASE_URL`; credentials from `--api-token`/`IOTC_API_TOKEN`,
`--bearer-token`/`IOTC_BEARER_TOKEN` or `--azure` (azure-identity's DefaultAzureCredential, from
the `azure` extra). With no app configured, the commands run against an embedded simulator and say
so on stderr.

Exit codes: see `EXIT_CODES`. Errors print one line on stderr, never a traceback or a token.
typer and rich are imported only when the command line runs, so `import iotcentral` stays light.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._auth import ApiToken, BearerToken, TokenCredentialAuth
from ._client import IoTCentralClient
from ._config import DEFAULT_BASE_DOMAIN
from ._errors import (
    APIError,
    CredentialError,
    IoTCentralError,
    TransportError,
    ValidationError,
)
from ._models import CommandHistory, CommandResult
from ._redact import redact, secrets_in
from ._version import __version__

if TYPE_CHECKING:
    import httpx
    import typer

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_CODES",
    "EXIT_DEVICE_FAILURE",
    "EXIT_INTERNAL_ERROR",
    "EXIT_OK",
    "EXIT_TRANSPORT_ERROR",
    "EXIT_USAGE",
    "create_app",
    "main",
]

EXIT_OK = 0
EXIT_DEVICE_FAILURE = 1
EXIT_USAGE = 2
EXIT_API_ERROR = 3
EXIT_TRANSPORT_ERROR = 4
EXIT_INTERNAL_ERROR = 5
EXIT_INTERRUPTED = 130

#: Every exit code and its meaning (also in the README and `iotcentral --help`).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (for history: an answer was received)",
    EXIT_DEVICE_FAILURE: "the device reported a failure (responseCode >= 400)",
    EXIT_USAGE: "usage or configuration error; nothing was sent",
    EXIT_API_ERROR: "the service answered with an error or an unusable answer, or no token",
    EXIT_TRANSPORT_ERROR: "no answer: the service could not be reached or the connection failed",
    EXIT_INTERNAL_ERROR: "unexpected internal error (a bug: please report it)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}

_INSTALL_CLI = "the command line needs the 'cli' extra: pip install 'iotcentral-client[cli]'"
_INSTALL_AZURE = "--azure needs azure-identity: pip install 'iotcentral-client[azure]'"
_INSTALL_SIM = (
    "no app configured and the embedded simulator is not installed:"
    " pip install 'iotcentral-client[sim]', or set IOTC_APP / IOTC_BASE_URL"
)


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""


@dataclass
class Connection:
    """Where to send and with which credential, as given on the command line or environment."""

    app: str | None = None
    base_domain: str = DEFAULT_BASE_DOMAIN
    base_url: str | None = None
    api_token: str | None = None
    bearer_token: str | None = None
    azure: bool = False
    verbose: bool = False
    max_retries: int = 3
    secrets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for value in (self.api_token, self.bearer_token):
            self.secrets.extend(secrets_in(value))


def _err(message: str, secrets: Sequence[str] = ()) -> None:
    line = " ".join(redact(message, secrets).split())
    print(line, file=sys.stderr, flush=True)


class _NotJSONConstant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJSONConstant(f"{name} is not a JSON value")


def parse_request(value: str | None) -> Any:
    """The --request value: JSON text, @FILE (JSON in a file) or @- (JSON on stdin)."""
    if value is None:
        return None
    source = "--request"
    text = value
    if value.startswith("@"):
        name = value[1:]
        if name == "-":
            text, source = sys.stdin.read(), "--request @- (stdin)"
        else:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise UsageError(f"--request {value}: cannot read the file: {exc}") from None
            source = f"--request {value}"
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        plain_word = value[:1].isalpha() and not isinstance(exc, _NotJSONConstant)
        hint = " (quote strings as JSON, e.g. '\"on\"')" if plain_word else ""
        raise UsageError(f"{source} is not valid JSON{hint}: {exc}") from None


def _credential(conn: Connection) -> object:
    chosen = [n for n, v in (("--api-token", conn.api_token), ("--bearer-token", conn.bearer_token),
                             ("--azure", conn.azure)) if v]  # fmt: skip
    if len(chosen) > 1:
        raise UsageError(f"choose one credential, got {' and '.join(chosen)}")
    if conn.api_token:
        return ApiToken(conn.api_token)
    if conn.bearer_token:
        return BearerToken(conn.bearer_token)
    if conn.azure:
        try:
            identity = importlib.import_module("azure.identity")  # the optional `azure` extra
        except ImportError:
            raise UsageError(_INSTALL_AZURE) from None
        return TokenCredentialAuth(identity.DefaultAzureCredential())
    raise UsageError(
        "no credentials: set IOTC_API_TOKEN (or --api-token), IOTC_BEARER_TOKEN"
        " (or --bearer-token), or pass --azure"
    )


@contextlib.contextmanager
def connect(
    conn: Connection, transport: httpx.BaseTransport | None = None
) -> Iterator[IoTCentralClient]:
    """A client for `conn`; with no app configured, one for an embedded simulator."""
    if conn.app or conn.base_url:
        if conn.app and conn.base_url:
            raise UsageError("give either --app/IOTC_APP or --base-url/IOTC_BASE_URL, not both")
        credential = _credential(conn)
        with IoTCentralClient(
            conn.app or None,
            base_url=conn.base_url or None,
            base_domain=conn.base_domain,
            credential=credential,
            retry=conn.max_retries,
            transport=transport,
        ) as client:
            yield client
        return
    try:
        from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer
    except ImportError:
        raise UsageError(_INSTALL_SIM) from None
    with SimulatorServer(Simulator(), host="127.0.0.1", port=0) as server:
        _err(
            f"no app configured (IOTC_APP or IOTC_BASE_URL): using the embedded simulator at"
            f" {server.url}"
        )
        with IoTCentralClient(
            base_url=server.url, credential=ApiToken(DEFAULT_API_TOKEN), retry=conn.max_retries
        ) as client:
            yield client


@contextlib.contextmanager
def _logging(verbose: bool) -> Iterator[None]:
    if not verbose:
        yield
        return
    logger = logging.getLogger("iotcentral")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _target(device: str, command: str, component: str | None, module: str | None) -> str:
    where = f"device {device}"
    if module:
        where += f" module {module}"
    if component:
        where += f" component {component}"
    return f"{command} on {where}"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _print_result(result: CommandResult, title: str) -> None:
    from rich.console import Console
    from rich.text import Text

    console = Console(highlight=False, soft_wrap=True)
    console.print(Text(title, style="bold"))
    code = Text("-" if result.response_code is None else str(result.response_code))
    if result.failed:
        code.append("  the device reported a failure", style="red")
    rows = [
        ("id", Text(result.id or "-")),
        ("response code", code),
        ("request", Text(_compact(result.request))),
        ("response", Text(_compact(result.response))),
    ]
    for name, value in rows:
        console.print(Text.assemble((f"  {name:<15}", "dim"), value))


def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _guarded(conn: Connection, body: Any) -> int:
    """Run `body()` and turn every failure into one line on stderr and an exit code."""
    try:
        with _logging(conn.verbose):
            code: int = body()
            return code
    except UsageError as exc:
        _err(f"error: {exc}", conn.secrets)
        return EXIT_USAGE
    except ValidationError as exc:
        _err(f"error: {exc}", conn.secrets)
        return EXIT_USAGE
    except (APIError, CredentialError) as exc:
        hint = ""
        if getattr(exc, "may_have_executed", False):
            hint = " (the command may have run on the device: check `iotcentral command history`)"
        _err(f"error: {exc}{hint}", conn.secrets)
        return EXIT_API_ERROR
    except TransportError as exc:
        hint = ""
        if exc.may_have_executed:
            hint = " (check `iotcentral command history` before running it again)"
        _err(f"error: {exc}{hint}", conn.secrets)
        return EXIT_TRANSPORT_ERROR
    except IoTCentralError as exc:  # pragma: no cover - every branch is listed above
        _err(f"error: {exc}", conn.secrets)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        _err(f"internal error: {type(exc).__name__}: {exc}", conn.secrets)
        return EXIT_INTERNAL_ERROR


def run_command(
    conn: Connection,
    device: str,
    command: str,
    request: str | None,
    *,
    component: str | None,
    module: str | None,
    connection_timeout: int | None,
    response_timeout: int | None,
    as_json: bool,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """`iotcentral command run`: returns the exit code."""

    def body() -> int:
        payload = parse_request(request)
        with connect(conn, transport) as client:
            result = client.run_command(
                device,
                command,
                payload,
                component=component,
                module=module,
                connection_timeout=connection_timeout,
                response_timeout=response_timeout,
            )
        if as_json:
            _emit_json(result.to_dict())
        else:
            title = f"run {_target(device, command, component, module)}"
            _print_result(result, title)
        return EXIT_DEVICE_FAILURE if result.failed else EXIT_OK

    return _guarded(conn, body)


def command_history(
    conn: Connection,
    device: str,
    command: str,
    *,
    component: str | None,
    module: str | None,
    as_json: bool,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """`iotcentral command history`: returns the exit code."""

    def body() -> int:
        with connect(conn, transport) as client:
            history: CommandHistory = client.command_history(
                device, command, component=component, module=module
            )
        target = _target(device, command, component, module)
        if as_json:
            _emit_json(history.to_dict())
        elif not history:
            print(f"no recorded execution of {target}")
        else:
            for result in history:
                _print_result(result, f"last execution of {target}")
        return EXIT_OK

    return _guarded(conn, body)


def serve_simulator(
    *,
    host: str,
    port: int,
    scenario: str | None,
    rate_limit: float,
    api_tokens: Sequence[str],
    time_scale: float,
) -> int:
    """`iotcentral simulator serve`: blocks until Ctrl-C; returns the exit code."""
    try:
        import iotcentral_sim
        from iotcentral_sim import ScenarioError
    except ImportError:
        _err("error: the simulator needs the 'sim' extra: pip install 'iotcentral-client[sim]'")
        return EXIT_USAGE
    from ._config import is_loopback

    if not is_loopback(host):
        _err(
            f"warning: serving on {host}: anyone who can reach it can run commands with the"
            " simulator's public default tokens"
        )
    secrets = list(api_tokens)
    try:
        iotcentral_sim.serve(
            host=host,
            port=port,
            scenario_path=scenario,
            rate_limit=rate_limit or None,
            api_tokens=tuple(api_tokens),
            time_scale=time_scale,
            echo=lambda line: print(line, flush=True),
        )
    except ScenarioError as exc:
        _err(f"error: --scenario: {exc}", secrets)
        return EXIT_USAGE
    except OSError as exc:
        _err(f"error: cannot serve on {host}:{port}: {exc}", secrets)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        _err(f"internal error: {type(exc).__name__}: {exc}", secrets)
        return EXIT_INTERNAL_ERROR
    return EXIT_OK


def _exit_codes_help() -> str:
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


def create_app() -> typer.Typer:
    """Build the typer application (imports typer and rich)."""
    import typer

    app = typer.Typer(
        name="iotcentral",
        help="Run commands on Azure IoT Central devices, or serve a local simulator.\n\n"
        + _exit_codes_help(),
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    command_app = typer.Typer(
        help="Run a command on one device and read its history. With no app configured"
        " (IOTC_APP or IOTC_BASE_URL), an embedded simulator answers.\n\n" + _exit_codes_help(),
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    simulator_app = typer.Typer(
        help="The local IoT Central command simulator.", no_args_is_help=True, rich_markup_mode=None
    )
    app.add_typer(command_app, name="command")
    app.add_typer(simulator_app, name="simulator")

    def show_version(value: bool) -> None:
        if value:
            print(f"iotcentral-client {__version__}")
            raise typer.Exit(EXIT_OK)

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=show_version, is_eager=True, help="Print the version."
        ),
    ) -> None:
        """Run commands on Azure IoT Central devices, or serve a local simulator."""

    # Options shared by `command run` and `command history` (fresh objects for each command).
    def app_option() -> Any:
        return typer.Option(None, "--app", envvar="IOTC_APP", help="Application subdomain (myapp).")

    def base_domain_option() -> Any:
        return typer.Option(
            DEFAULT_BASE_DOMAIN, "--base-domain", envvar="IOTC_BASE_DOMAIN", help="Base domain."
        )

    def base_url_option() -> Any:
        return typer.Option(
            None,
            "--base-url",
            envvar="IOTC_BASE_URL",
            help="API root instead of --app, e.g. http://127.0.0.1:8080/api.",
        )

    def api_token_option() -> Any:
        return typer.Option(
            None,
            "--api-token",
            envvar="IOTC_API_TOKEN",
            help="IoT Central API token (SharedAccessSignature ...). Prefer the variable.",
            show_default=False,
        )

    def bearer_token_option() -> Any:
        return typer.Option(
            None,
            "--bearer-token",
            envvar="IOTC_BEARER_TOKEN",
            help="Azure AD access token. Prefer the variable.",
            show_default=False,
        )

    def azure_option() -> Any:
        return typer.Option(
            False, "--azure", help="Sign in with azure-identity's DefaultAzureCredential."
        )

    def verbose_option() -> Any:
        return typer.Option(
            False, "--verbose", "-v", help="Log HTTP exchanges to stderr (credentials redacted)."
        )

    def retries_option() -> Any:
        return typer.Option(
            3,
            "--max-retries",
            min=0,
            help="Retries of what is safe to retry (429, never-sent requests; reads also 5xx).",
        )

    def component_option() -> Any:
        return typer.Option(None, "--component", help="Component that defines the command.")

    def module_option() -> Any:
        return typer.Option(None, "--module", help="IoT Edge module that defines the command.")

    def json_option() -> Any:
        return typer.Option(False, "--json", help="Print the service's JSON (camelCase).")

    @command_app.command("run")
    def run(
        device: str = typer.Argument(..., help="Device id."),
        command: str = typer.Argument(..., help="Command name."),
        request: str | None = typer.Option(
            None, "--request", "-r", help="Payload: JSON text, @FILE or @- (stdin)."
        ),
        component: str | None = component_option(),
        module: str | None = module_option(),
        connection_timeout: int | None = typer.Option(
            None,
            "--connection-timeout",
            min=0,
            max=30,
            help="Seconds to wait for an offline device (0-30; service default 0).",
        ),
        response_timeout: int | None = typer.Option(
            None,
            "--response-timeout",
            min=5,
            max=30,
            help="Seconds to wait for the device's answer (5-30; service default 30).",
        ),
        as_json: bool = json_option(),
        app_name: str | None = app_option(),
        base_domain: str = base_domain_option(),
        base_url: str | None = base_url_option(),
        api_token: str | None = api_token_option(),
        bearer_token: str | None = bearer_token_option(),
        azure: bool = azure_option(),
        max_retries: int = retries_option(),
        verbose: bool = verbose_option(),
    ) -> None:
        """Run a command on a device (or a component, module, or module component)."""
        conn = Connection(
            app_name, base_domain, base_url, api_token, bearer_token, azure, verbose, max_retries
        )
        code = run_command(
            conn,
            device,
            command,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            as_json=as_json,
        )
        raise typer.Exit(code)

    @command_app.command("history")
    def history(
        device: str = typer.Argument(..., help="Device id."),
        command: str = typer.Argument(..., help="Command name."),
        component: str | None = component_option(),
        module: str | None = module_option(),
        as_json: bool = json_option(),
        app_name: str | None = app_option(),
        base_domain: str = base_domain_option(),
        base_url: str | None = base_url_option(),
        api_token: str | None = api_token_option(),
        bearer_token: str | None = bearer_token_option(),
        azure: bool = azure_option(),
        max_retries: int = retries_option(),
        verbose: bool = verbose_option(),
    ) -> None:
        """Show the most recent execution of a command."""
        conn = Connection(
            app_name, base_domain, base_url, api_token, bearer_token, azure, verbose, max_retries
        )
        code = command_history(
            conn, device, command, component=component, module=module, as_json=as_json
        )
        raise typer.Exit(code)

    @simulator_app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0: any free)."),
        scenario: Path | None = typer.Option(  # noqa: B008 - typer's declaration style
            None,
            "--scenario",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Scenario file (YAML or JSON); default: the built-in scenario.",
        ),
        rate_limit: float = typer.Option(
            20.0, "--rate-limit", min=0, help="Requests per second per app (0: no throttling)."
        ),
        api_token: list[str] = typer.Option(  # noqa: B008 - typer's declaration style
            [], "--api-token", help="Accept this API token (repeatable); replaces the defaults."
        ),
        time_scale: float = typer.Option(
            1.0, "--time-scale", min=0, help="Multiply simulated waits (0.001: 30 s -> 30 ms)."
        ),
    ) -> None:
        """Serve the simulator over HTTP until Ctrl-C."""
        code = serve_simulator(
            host=host,
            port=port,
            scenario=str(scenario) if scenario is not None else None,
            rate_limit=rate_limit,
            api_tokens=api_token,
            time_scale=time_scale,
        )
        raise typer.Exit(code)

    return app


def main(argv: Sequence[str] | None = None) -> None:
    """The `iotcentral` console script."""
    try:
        app = create_app()
    except ImportError:
        print(f"iotcentral: {_INSTALL_CLI}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    app(args=list(argv) if argv is not None else None, prog_name="iotcentral")
