"""Every typer option and argument of the `iotcentral` commands, declared once.

Each name is an `Annotated[type, typer.Option(...)]` alias: a command declares a parameter as
`app: AppOption = None` (the default stays in the signature), and every command that takes the
same option gets the same flag, environment variable and help. typer copies the option info for
each use, so sharing the aliases between commands and command groups is safe.

The connection options (`AppOption` ... `MaxRetriesOption`, `ApiVersionOption`) are what
`_settings.Settings` is built from; a command group that talks to the service (`command`, later
`fleet`) takes all of them, and `VerboseOption`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._config import DEFAULT_API_VERSION, SUPPORTED_API_VERSIONS

__all__ = [
    "ApiTokenOption",
    "ApiVersionOption",
    "AppOption",
    "AzureOption",
    "BaseDomainOption",
    "BaseUrlOption",
    "BearerTokenOption",
    "CommandArgument",
    "ComponentOption",
    "ConnectionTimeoutOption",
    "ContractApiVersionOption",
    "ContractBaseUrlOption",
    "ContractCommandOption",
    "ContractComponentOption",
    "ContractDeviceOption",
    "ContractModuleOption",
    "ContractTokenOption",
    "DeviceArgument",
    "JsonOption",
    "JunitOption",
    "MaxExamplesOption",
    "MaxRetriesOption",
    "ModuleOption",
    "RateLimitOption",
    "RequestOption",
    "ResponseTimeoutOption",
    "VerboseOption",
]

# -- where a command runs ---------------------------------------------------------------------

DeviceArgument = Annotated[str, typer.Argument(help="Device id.")]
CommandArgument = Annotated[str, typer.Argument(help="Command name.")]
ComponentOption = Annotated[
    str | None, typer.Option("--component", help="Component that defines the command.")
]
ModuleOption = Annotated[
    str | None, typer.Option("--module", help="IoT Edge module that defines the command.")
]

# -- `command run` ----------------------------------------------------------------------------

RequestOption = Annotated[
    str | None,
    typer.Option("--request", "-r", help="Payload: JSON text, @FILE or @- (stdin)."),
]
ConnectionTimeoutOption = Annotated[
    int | None,
    typer.Option(
        "--connection-timeout",
        min=0,
        max=30,
        help="Seconds to wait for an offline device (0-30; service default 0).",
    ),
]
ResponseTimeoutOption = Annotated[
    int | None,
    typer.Option(
        "--response-timeout",
        min=5,
        max=30,
        help="Seconds to wait for the device's answer (5-30; service default 30).",
    ),
]

# -- output -----------------------------------------------------------------------------------

JsonOption = Annotated[bool, typer.Option("--json", help="Print the service's JSON (camelCase).")]
VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Log HTTP exchanges to stderr (credentials redacted)."),
]

# -- connection (see `_settings.Settings`) ----------------------------------------------------

AppOption = Annotated[
    str | None, typer.Option("--app", envvar="IOTC_APP", help="Application subdomain (myapp).")
]
BaseDomainOption = Annotated[
    str, typer.Option("--base-domain", envvar="IOTC_BASE_DOMAIN", help="Base domain.")
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="IOTC_BASE_URL",
        help="API root instead of --app, e.g. http://127.0.0.1:8080/api.",
    ),
]
ApiTokenOption = Annotated[
    str | None,
    typer.Option(
        "--api-token",
        envvar="IOTC_API_TOKEN",
        help="IoT Central API token (SharedAccessSignature ...). Prefer the variable.",
        show_default=False,
    ),
]
BearerTokenOption = Annotated[
    str | None,
    typer.Option(
        "--bearer-token",
        envvar="IOTC_BEARER_TOKEN",
        help="Azure AD access token. Prefer the variable.",
        show_default=False,
    ),
]
AzureOption = Annotated[
    bool, typer.Option("--azure", help="Sign in with azure-identity's DefaultAzureCredential.")
]


def _check_api_version(value: str) -> str:
    """Refuse an api-version outside the registry before anything is sent, naming the choices."""
    if value not in SUPPORTED_API_VERSIONS:
        allowed = ", ".join(SUPPORTED_API_VERSIONS)
        raise typer.BadParameter(f"must be one of {allowed} (default {DEFAULT_API_VERSION})")
    return value


ApiVersionOption = Annotated[
    str,
    typer.Option(
        "--api-version",
        envvar="IOTC_API_VERSION",
        callback=_check_api_version,
        help=f"api-version to call: {', '.join(SUPPORTED_API_VERSIONS)}.",
    ),
]
MaxRetriesOption = Annotated[
    int,
    typer.Option(
        "--max-retries",
        min=0,
        help="Retries of what is safe to retry (429, never-sent requests; reads also 5xx).",
    ),
]

# -- `fleet run` / `fleet status` --------------------------------------------------------------

__all__ += [
    "CheckHistoryOption",
    "ConcurrencyOption",
    "DevicesOption",
    "IdColumnOption",
    "JournalArgument",
    "JournalOption",
    "JsonLinesOption",
    "RateOption",
    "ResumeOption",
    "RetryUnknownOption",
    "SimulatorOption",
    "StatusDevicesOption",
]

DevicesOption = Annotated[
    str,
    typer.Option(
        "--devices",
        "-d",
        help="Device ids: a file with one id per line (or CSV with --id-column), or - for stdin.",
    ),
]
StatusDevicesOption = Annotated[
    str | None,
    typer.Option(
        "--devices",
        "-d",
        help="The run's device list (as for fleet run): also count and list the devices the"
        " run never reached.",
    ),
]
IdColumnOption = Annotated[
    str | None,
    typer.Option("--id-column", help="Read --devices as CSV with a header; ids in this column."),
]
RateOption = Annotated[
    float,
    typer.Option(
        "--rate",
        min=0.1,
        max=100_000,
        help="Requests per second for the whole run, retries included (the app allows 20).",
    ),
]
ConcurrencyOption = Annotated[
    int,
    typer.Option("--concurrency", min=1, max=1000, help="Commands in flight at once (1-1000)."),
]
JournalOption = Annotated[
    str | None,
    typer.Option(
        "--journal",
        help="New journal file (SQLite). Default: fleet-COMMAND-TIMESTAMP.db here (printed).",
    ),
]
ResumeOption = Annotated[
    str | None,
    typer.Option(
        "--resume",
        help="Continue the run recorded in this journal: finished devices are skipped, and"
        " devices that may have run are not re-sent.",
    ),
]
RetryUnknownOption = Annotated[
    bool,
    typer.Option(
        "--retry-unknown",
        help="With --resume: re-send devices whose command MAY HAVE RUN (it may run twice).",
    ),
]
JsonLinesOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON object per device on stdout (JSON lines).")
]
SimulatorOption = Annotated[
    bool,
    typer.Option(
        "--simulator",
        help="Run against an embedded simulator with a demo fleet (ids demo-00000 to demo-09999).",
    ),
]
JournalArgument = Annotated[str, typer.Argument(help="A fleet run's journal file.")]
CheckHistoryOption = Annotated[
    bool,
    typer.Option(
        "--check-history",
        help="Read each unknown device's command history now (needs the app's connection options).",
    ),
]

# -- `contract-test` (the variables are the ones scripts/contract-test has always read) -----------

ContractBaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="IOTC_CONTRACT_BASE_URL",
        help="API root of the app under test; none: the in-process simulator.",
    ),
]
ContractTokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="IOTC_CONTRACT_TOKEN",
        help="The whole Authorization value (API token or 'Bearer <jwt>'). Prefer the variable.",
        show_default=False,
    ),
]
ContractDeviceOption = Annotated[
    str | None,
    typer.Option("--device", envvar="IOTC_CONTRACT_DEVICE", help="The only device to command."),
]
ContractCommandOption = Annotated[
    str | None,
    typer.Option("--command", envvar="IOTC_CONTRACT_COMMAND", help="The only command to run."),
]
ContractComponentOption = Annotated[
    str | None,
    typer.Option("--component", envvar="IOTC_CONTRACT_COMPONENT", help="The command's component."),
]
ContractModuleOption = Annotated[
    str | None,
    typer.Option("--module", envvar="IOTC_CONTRACT_MODULE", help="The command's IoT Edge module."),
]
ContractApiVersionOption = Annotated[
    str | None,
    typer.Option(
        "--api-version",
        envvar="IOTC_CONTRACT_API_VERSION",
        help="api-version the behavioural checks send (one this client supports).",
    ),
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write a JUnit XML report (tokens redacted).")
]
RateLimitOption = Annotated[
    str,
    typer.Option(
        "--rate-limit",
        envvar="IOTC_CONTRACT_RATE_LIMIT",
        help="Pace of live requests (N/s, N/m or N/h); the app allows 20/s in all.",
    ),
]
MaxExamplesOption = Annotated[
    int | None,
    typer.Option(
        "--max-examples",
        envvar="IOTC_CONTRACT_MAX_EXAMPLES",
        min=1,
        help="Generated examples per operation and mode (default 40).",
    ),
]
