"""`iotcentral command`: run a command on one device, and read its last execution.

```
iotcentral command run DEVICE COMMAND [--request JSON|@FILE|@-] [--component C] [--module M]
                                      [--connection-timeout S] [--response-timeout S] [--json]
iotcentral command history DEVICE COMMAND [--component C] [--module M] [--json]
```

Both take the connection options of `_options` (`--app`, `--base-url`, `--api-token`, ...).
Each command builds its `Settings`, and its body runs through `_output.guarded`, which owns the
exit codes and the one-line errors; this module only parses, calls the client and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from .._config import DEFAULT_API_VERSION, DEFAULT_BASE_DOMAIN
from ._options import (
    ApiTokenOption,
    ApiVersionOption,
    AppOption,
    AzureOption,
    BaseDomainOption,
    BaseUrlOption,
    BearerTokenOption,
    CommandArgument,
    ComponentOption,
    ConnectionTimeoutOption,
    DeviceArgument,
    JsonOption,
    MaxRetriesOption,
    ModuleOption,
    RequestOption,
    ResponseTimeoutOption,
    VerboseOption,
)
from ._output import (
    EXIT_DEVICE_FAILURE,
    EXIT_OK,
    StdoutClosed,
    UsageError,
    answer_secrets,
    emit_json,
    emit_line,
    exit_codes_help,
    guarded,
    print_result,
)
from ._settings import Settings, connect

__all__ = ["app", "parse_request"]

app = typer.Typer(
    help="Run a command on one device and read its history. With no app configured"
    " (IOTC_APP or IOTC_BASE_URL), an embedded simulator answers.\n\n" + exit_codes_help(),
    no_args_is_help=True,
    rich_markup_mode=None,
)


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
            text, source = _read_stdin(), "--request @- (stdin)"
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


def _read_stdin() -> str:
    """All of stdin, for `--request @-`; `UsageError` if it is closed or unreadable."""
    if sys.stdin is None:  # started with stdin closed (`<&-`)
        raise UsageError("--request @-: stdin is closed: pipe the JSON in, or use --request JSON")
    try:
        return sys.stdin.read()
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--request @-: cannot read stdin: {exc}") from None


def _target(device: str, command: str, component: str | None, module: str | None) -> str:
    where = f"device {device}"
    if module:
        where += f" module {module}"
    if component:
        where += f" component {component}"
    return f"{command} on {where}"


@app.command("run")
def run(
    device: DeviceArgument,
    command: CommandArgument,
    request: RequestOption = None,
    component: ComponentOption = None,
    module: ModuleOption = None,
    connection_timeout: ConnectionTimeoutOption = None,
    response_timeout: ResponseTimeoutOption = None,
    as_json: JsonOption = False,
    app_name: AppOption = None,
    base_domain: BaseDomainOption = DEFAULT_BASE_DOMAIN,
    base_url: BaseUrlOption = None,
    api_token: ApiTokenOption = None,
    bearer_token: BearerTokenOption = None,
    azure: AzureOption = False,
    max_retries: MaxRetriesOption = 3,
    api_version: ApiVersionOption = DEFAULT_API_VERSION,
    verbose: VerboseOption = False,
) -> None:
    """Run a command on a device (or a component, module, or module component)."""
    settings = Settings(
        app=app_name,
        base_domain=base_domain,
        base_url=base_url,
        api_token=api_token,
        bearer_token=bearer_token,
        azure=azure,
        max_retries=max_retries,
        api_version=api_version,
    )

    def body() -> int:
        payload = parse_request(request)
        with connect(settings) as client:
            result = client.run_command(
                device,
                command,
                payload,
                component=component,
                module=module,
                connection_timeout=connection_timeout,
                response_timeout=response_timeout,
            )
        try:
            if as_json:
                emit_json(result.to_dict(), secrets=answer_secrets(result, settings.secrets))
            else:
                title = f"run {_target(device, command, component, module)}"
                print_result(result, title, secrets=settings.secrets)
        except StdoutClosed as exc:
            raise StdoutClosed(
                f"{exc}; the command ran: `iotcentral command history` shows its result"
            ) from None
        return EXIT_DEVICE_FAILURE if result.failed else EXIT_OK

    raise typer.Exit(guarded(body, secrets=settings.secrets, verbose=verbose))


@app.command("history")
def history(
    device: DeviceArgument,
    command: CommandArgument,
    component: ComponentOption = None,
    module: ModuleOption = None,
    as_json: JsonOption = False,
    app_name: AppOption = None,
    base_domain: BaseDomainOption = DEFAULT_BASE_DOMAIN,
    base_url: BaseUrlOption = None,
    api_token: ApiTokenOption = None,
    bearer_token: BearerTokenOption = None,
    azure: AzureOption = False,
    max_retries: MaxRetriesOption = 3,
    api_version: ApiVersionOption = DEFAULT_API_VERSION,
    verbose: VerboseOption = False,
) -> None:
    """Show the most recent execution of a command."""
    settings = Settings(
        app=app_name,
        base_domain=base_domain,
        base_url=base_url,
        api_token=api_token,
        bearer_token=bearer_token,
        azure=azure,
        max_retries=max_retries,
        api_version=api_version,
    )

    def body() -> int:
        with connect(settings) as client:
            found = client.command_history(device, command, component=component, module=module)
        target = _target(device, command, component, module)
        if as_json:
            emit_json(found.to_dict(), secrets=answer_secrets(found, settings.secrets))
        elif not found:
            emit_line(f"no recorded execution of {target}")
        else:
            for result in found:
                print_result(result, f"last execution of {target}", secrets=settings.secrets)
        return EXIT_OK

    raise typer.Exit(guarded(body, secrets=settings.secrets, verbose=verbose))
