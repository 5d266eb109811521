"""The root `iotcentral` typer app: `--version`, and the command groups mounted in one place.

```
iotcentral command run|history ...     # .command (typer)
iotcentral fleet run|status ...        # .fleet (typer)
iotcentral contract-test ...           # .contract: the packaged contract suite (`contract` extra)
iotcentral simulator serve ...         # iotcentral_sim._cli (click), defined by the simulator
```

A new group is one module with its own `typer.Typer()`, added here with `add_typer`.

The simulator's `serve` is written with click inside `iotcentral_sim`, which does not depend on
typer. typer (0.27 is locked) bundles its own copy of click, so a click group cannot be added to a
typer group directly: `simulator` is a pass-through command that hands the rest of the command
line to the simulator's click group, which parses it, prints its own help and errors and exits
with its own code.
"""

from __future__ import annotations

from typing import Annotated

import typer
from typer.core import TyperGroup

from .._version import __version__
from . import command, contract, fleet
from ._output import EXIT_OK, EXIT_USAGE, error, exit_codes_help

__all__ = ["create_app"]

_INSTALL_SIM = "error: the simulator needs the 'sim' extra: pip install 'iotcentral-client[sim]'"
_HELP = "Run commands on Azure IoT Central devices, or serve a local simulator."


class _RootGroup(TyperGroup):
    """Lists the commands and groups by name in `--help` (typer lists commands first)."""

    def list_commands(self, ctx: object) -> list[str]:
        return sorted(self.commands)


def _show_version(value: bool) -> None:
    if value:
        print(f"iotcentral-client {__version__}")
        raise typer.Exit(EXIT_OK)


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Run commands on Azure IoT Central devices, or serve a local simulator."""


def _simulator(ctx: typer.Context) -> None:
    """The local IoT Central command simulator."""
    try:
        from iotcentral_sim._cli import simulator
    except ImportError:
        error(_INSTALL_SIM)
        raise typer.Exit(EXIT_USAGE) from None
    simulator.main(args=ctx.args, prog_name=ctx.command_path)


def create_app() -> typer.Typer:
    """The root typer app with every command group mounted."""
    app = typer.Typer(
        name="iotcentral",
        cls=_RootGroup,
        help=f"{_HELP}\n\n{exit_codes_help()}",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_root)
    app.add_typer(command.app, name="command")
    app.add_typer(fleet.app, name="fleet")
    app.command(
        "contract-test",
        help=contract.HELP,
        context_settings={"allow_extra_args": True},
    )(contract.contract_test)
    app.command(
        "simulator",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )(_simulator)
    return app
