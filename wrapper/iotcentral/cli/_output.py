"""What the command line prints and how it exits: results, one-line errors, exit codes.

Every command body runs through `guarded`, the one place that turns an exception into an exit
code (`EXIT_CODES`) and one line on stderr: never a traceback, and never a credential (each line
passes through `iotcentral._redact`). Results print with rich (imported on first use) or, with
`--json`, as the service's JSON on stdout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._errors import APIError, CredentialError, IoTCentralError, TransportError, ValidationError
from .._models import CommandResult
from .._redact import redact

__all__ = [
    "EXIT_API_ERROR",
    "EXIT_CODES",
    "EXIT_DEVICE_FAILURE",
    "EXIT_INTERNAL_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TRANSPORT_ERROR",
    "EXIT_USAGE",
    "UsageError",
    "emit_json",
    "error",
    "exit_codes_help",
    "guarded",
    "print_result",
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


class UsageError(Exception):
    """A problem with the command line or its configuration (exit code 2; nothing was sent)."""


def exit_codes_help() -> str:
    """The exit-code table as one paragraph of `--help`."""
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


def error(message: str, secrets: Sequence[str] = ()) -> None:
    """`message` as one line on stderr, without `secrets`."""
    line = " ".join(redact(message, secrets).split())
    print(line, file=sys.stderr, flush=True)


def emit_json(document: Any) -> None:
    """`document` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def print_result(result: CommandResult, title: str) -> None:
    """One command execution for people: id, response code, request and response."""
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


@contextlib.contextmanager
def _http_logging(verbose: bool) -> Iterator[None]:
    """With `verbose`, the client's `iotcentral` logger (already redacted) goes to stderr."""
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


def guarded(body: Callable[[], int], *, secrets: Sequence[str] = (), verbose: bool = False) -> int:
    """Run `body()` and return its exit code; turn every failure into one line and an exit code."""
    try:
        with _http_logging(verbose):
            return body()
    except (UsageError, ValidationError) as exc:
        error(f"error: {exc}", secrets)
        return EXIT_USAGE
    except (APIError, CredentialError) as exc:
        hint = ""
        if getattr(exc, "may_have_executed", False):
            hint = " (the command may have run on the device: check `iotcentral command history`)"
        error(f"error: {exc}{hint}", secrets)
        return EXIT_API_ERROR
    except TransportError as exc:
        hint = ""
        if exc.may_have_executed:
            hint = " (check `iotcentral command history` before running it again)"
        error(f"error: {exc}{hint}", secrets)
        return EXIT_TRANSPORT_ERROR
    except IoTCentralError as exc:  # pragma: no cover - every branch is listed above
        error(f"error: {exc}", secrets)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        error(f"internal error: {type(exc).__name__}: {exc}", secrets)
        return EXIT_INTERNAL_ERROR
