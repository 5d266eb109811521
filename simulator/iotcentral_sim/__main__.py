"""``python -m iotcentral_sim``: the simulator's ``serve`` command, defined once in ``_cli``.

The ``iotcentral`` command line mounts the same command as ``iotcentral simulator serve``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._cli import serve

__all__ = ["PROG", "main"]

PROG = "python -m iotcentral_sim"


def main(argv: Sequence[str] | None = None) -> None:
    """Serve with the flags in ``argv`` (default: the command line) until Ctrl-C; exits."""
    serve.main(args=list(argv) if argv is not None else None, prog_name=PROG)


if __name__ == "__main__":
    main()
