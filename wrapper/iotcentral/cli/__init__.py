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
so on stderr. Exit codes: see `EXIT_CODES`. Errors print one line on stderr, never a traceback or
a token.

The package, one module per concern:

- `_app`: the root typer app (`--version`), where the command groups are mounted;
- `command`: the `command run` / `command history` group;
- `_options`: every option, declared once as an `Annotated` alias;
- `_settings`: the connection settings (keyword-only) and `connect`;
- `_output`: printing, one-line errors, the exit codes and which exception gives which;
- `simulator serve` is the simulator's own click command (`iotcentral_sim._cli`).

This module imports neither typer nor rich (`main` and `create_app` do, when called), so the
console script can print an install hint without the `cli` extra; `import iotcentral` never
imports this package at all.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._output import (
    EXIT_API_ERROR,
    EXIT_CODES,
    EXIT_DEVICE_FAILURE,
    EXIT_INTERNAL_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STDOUT_CLOSED,
    EXIT_TRANSPORT_ERROR,
    EXIT_USAGE,
)

if TYPE_CHECKING:
    import typer

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_CODES",
    "EXIT_DEVICE_FAILURE",
    "EXIT_INTERNAL_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_STDOUT_CLOSED",
    "EXIT_TRANSPORT_ERROR",
    "EXIT_USAGE",
    "create_app",
    "main",
]

_INSTALL_CLI = "the command line needs the 'cli' extra: pip install 'iotcentral-client[cli]'"


def create_app() -> typer.Typer:
    """The root typer app (imports typer, rich and the command groups)."""
    from ._app import create_app as build

    return build()


def main(argv: Sequence[str] | None = None) -> None:
    """The `iotcentral` console script."""
    try:
        import rich  # noqa: F401 - checked here, for the hint below
        import typer  # noqa: F401

        app = create_app()
    except ImportError:
        print(f"iotcentral: {_INSTALL_CLI}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    app(args=list(argv) if argv is not None else None, prog_name="iotcentral")
