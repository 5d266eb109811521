"""``python -m iotcentral_sim``: serve a simulator (the flags of ``iotcentral simulator serve``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _rate(value: str) -> float | None:
    rate = float(value)
    if rate < 0:
        raise argparse.ArgumentTypeError("must be >= 0 (0 disables throttling)")
    return rate or None


def _scale(value: str) -> float:
    scale = float(value)
    if scale < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return scale


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m iotcentral_sim",
        description="Serve a local IoT Central device-command simulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=8080, help="port (0: a free one)")
    parser.add_argument("--scenario", metavar="FILE", help="scenario file (YAML or JSON)")
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        default=20.0,
        metavar="N",
        help="requests per second per application (0: off; default 20)",
    )
    parser.add_argument(
        "--api-token",
        action="append",
        default=[],
        metavar="TOKEN",
        help="accept this API token (role operator); repeatable; replaces the scenario's",
    )
    parser.add_argument(
        "--time-scale",
        type=_scale,
        default=1.0,
        metavar="X",
        help="multiply every simulated wait by X (default 1)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve until Ctrl-C; returns the exit status."""
    from ._errors import ScenarioError
    from ._server import serve

    args = build_parser().parse_args(argv)
    try:
        serve(
            host=args.host,
            port=args.port,
            scenario_path=args.scenario,
            rate_limit=args.rate_limit,
            api_tokens=args.api_token,
            time_scale=args.time_scale,
        )
    except (ScenarioError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
