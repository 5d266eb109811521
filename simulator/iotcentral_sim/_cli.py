"""The simulator's ``serve`` command, defined once: ``python -m iotcentral_sim`` runs it.

Written with click, which the ``sim`` extra already has through uvicorn, so serving needs neither
typer nor the client. The ``iotcentral`` command line mounts :data:`simulator` (the group holding
:data:`serve`) as ``iotcentral simulator``. Like everything in this package, it reads only the
spec, never ``iotcentral``; hence its own small loopback check for the warning below.

Serving off loopback prints a warning (the default tokens are public). Errors are one line on
stderr, never a traceback: exit 2 for bad options, a bad scenario or a port that cannot be bound,
5 for anything unexpected; Ctrl-C stops the server with exit 0.
Tokens given with ``--api-token`` are never printed, not even inside an error message.
"""

from __future__ import annotations

import ipaddress
from typing import NoReturn

import click

__all__ = ["serve", "simulator"]

_EXIT_USAGE = 2
_EXIT_INTERNAL_ERROR = 5  # the same numbers as the `iotcentral` command line's
_HIDDEN = "[REDACTED]"


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fail(message: str, tokens: tuple[str, ...], code: int) -> NoReturn:
    for token in tokens:
        message = message.replace(token, _HIDDEN)
    click.echo(" ".join(message.split()), err=True)
    raise SystemExit(code)


@click.group(name="simulator", no_args_is_help=True)
def simulator() -> None:
    """The local IoT Central command simulator."""


@simulator.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port (0: any free).",
)
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, readable=True),
    help="Scenario file (YAML or JSON); default: the built-in scenario.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="Requests per second per app (0: no throttling).",
)
@click.option(
    "--api-token",
    "api_tokens",
    multiple=True,
    help="Accept this API token (repeatable); replaces the defaults.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiply simulated waits (0.001: 30 s -> 30 ms).",
)
def serve(
    host: str,
    port: int,
    scenario: str | None,
    rate_limit: float,
    api_tokens: tuple[str, ...],
    time_scale: float,
) -> None:
    """Serve the simulator over HTTP until Ctrl-C."""
    import iotcentral_sim  # looked up at run time: tests replace `iotcentral_sim.serve`

    if not _is_loopback(host):
        click.echo(
            f"warning: serving on {host}: anyone who can reach it can run commands with the"
            " simulator's public default tokens, and use its control API (/_sim: reset it,"
            " inject faults), which has no authentication",
            err=True,
        )
    try:
        iotcentral_sim.serve(
            host=host,
            port=port,
            scenario_path=scenario,
            rate_limit=rate_limit or None,
            api_tokens=api_tokens,
            time_scale=time_scale,
            echo=click.echo,
        )
    except iotcentral_sim.ScenarioError as exc:
        _fail(f"error: --scenario: {exc}", api_tokens, _EXIT_USAGE)
    except OSError as exc:
        _fail(f"error: cannot serve on {host}:{port}: {exc}", api_tokens, _EXIT_USAGE)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        _fail(f"internal error: {type(exc).__name__}: {exc}", api_tokens, _EXIT_INTERNAL_ERROR)
