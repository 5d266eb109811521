"""What the command line prints and how it exits: results, one-line errors, exit codes.

Every command body runs through `guarded`, the one place that turns an exception into an exit
code (`EXIT_CODES`) and one line on stderr: never a traceback, and never a credential (each line
passes through `iotcentral._redact`). Results print with rich (imported on first use) or, with
`--json`, as the service's JSON on stdout.

Everything printed here that a server could have written (ids, payloads, error messages, the
`--verbose` log) passes through `iotcentral._sanitize` last, so no escape sequence reaches the
terminal. The library already escapes its exception text and log records; `for_terminal` is
idempotent (an escape such as `\\x1b` holds no unsafe character), so that second pass only
guards text the library did not escape (the command line's own, a bug's message) and a user sees
each escape once, never `\\\\x1b`.

A closed stdout (`| head -0`) is not a failure of the command: the output functions raise
`StdoutClosed` and `guarded` exits with `EXIT_STDOUT_CLOSED` (141, what a shell reports for a
program killed by SIGPIPE).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .._errors import APIError, CredentialError, IoTCentralError, TransportError, ValidationError
from .._models import CommandHistory, CommandResult
from .._redact import redact, redact_json, request_secrets
from .._sanitize import for_terminal, json_for_terminal

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
    "StdoutClosed",
    "UsageError",
    "answer_secrets",
    "emit_json",
    "emit_line",
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
EXIT_STDOUT_CLOSED = 141  # 128 + SIGPIPE, as a shell reports `yes | head -0`

#: Every exit code and its meaning (also in the README and `iotcentral --help`).
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success (for history: an answer was received)",
    EXIT_DEVICE_FAILURE: "the device reported a failure (responseCode >= 400)",
    EXIT_USAGE: "usage or configuration error; nothing was sent",
    EXIT_API_ERROR: "the service answered with an error or an unusable answer, or no token",
    EXIT_TRANSPORT_ERROR: "no answer: the service could not be reached or the connection failed",
    EXIT_INTERNAL_ERROR: "unexpected internal error (a bug: please report it)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
    EXIT_STDOUT_CLOSED: "stdout was closed before the output was written (e.g. `| head -0`)",
}


class UsageError(Exception):
    """A problem with the command line or its configuration (exit code 2; nothing was sent)."""


class StdoutClosed(Exception):
    """stdout was closed before the output was written (exit code 141).

    The message says what happened to the request (e.g. that the command ran).
    """


def exit_codes_help() -> str:
    """The exit-code table as one paragraph of `--help`."""
    return "Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + "."


def error(message: str, secrets: Sequence[str] = ()) -> None:
    """`message` as one line on stderr, without `secrets` or control characters."""
    line = for_terminal(" ".join(redact(message, secrets).split()))
    with contextlib.suppress(OSError):  # a closed stderr must not turn into another error
        print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _stdout() -> Iterator[None]:
    """Turn a closed stdout (EPIPE) into `StdoutClosed`."""
    try:
        yield
    except BrokenPipeError:
        raise StdoutClosed("stdout was closed before the output was written") from None


def answer_secrets(answer: CommandResult | CommandHistory, given: Sequence[str]) -> tuple[str, ...]:
    """What output of `answer` must not show: the `given` tokens and the one its request carried.

    The second covers credentials fetched at run time (`--azure`), which `given` cannot know.
    """
    response = answer.http_response
    return (*given, *request_secrets(None if response is None else response.request))


def emit_json(document: Any, *, secrets: Sequence[str] = ()) -> None:
    """`document` as indented JSON on stdout (valid JSON, safe on a terminal, `secrets` hidden)."""
    text = json_for_terminal(redact_json(document, secrets), indent=2) + "\n"
    with _stdout():
        sys.stdout.write(text)
        sys.stdout.flush()


def emit_line(text: str) -> None:
    """One line of text on stdout, control characters escaped."""
    with _stdout():
        sys.stdout.write(for_terminal(text) + "\n")
        sys.stdout.flush()


def _compact(value: Any) -> str:
    return for_terminal(json.dumps(value, ensure_ascii=False))


def _console() -> Any:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's default exits 1, as for a device failure
            self.quiet = True
            raise BrokenPipeError

    return _Console(highlight=False, soft_wrap=True)


def print_result(result: CommandResult, title: str, *, secrets: Sequence[str] = ()) -> None:
    """One command execution for people: id, response code, request and response.

    Nothing the server sent reaches the terminal raw: control characters are escaped, and the
    credential (`secrets`, and the one the request carried) is hidden even if quoted back.
    """
    from rich.text import Text

    hidden = answer_secrets(result, secrets)
    console = _console()
    code = Text("-" if result.response_code is None else str(result.response_code))
    if result.failed:
        code.append("  the device reported a failure", style="red")
    rows = [
        ("id", Text(for_terminal(redact(result.id or "-", hidden)))),
        ("response code", code),
        ("request", Text(_compact(redact_json(result.request, hidden)))),
        ("response", Text(_compact(redact_json(result.response, hidden)))),
    ]
    with _stdout():
        console.print(Text(for_terminal(title), style="bold"))
        for name, value in rows:
            console.print(Text.assemble((f"  {name:<15}", "dim"), value))


class _TerminalFormatter(logging.Formatter):
    """Log lines with control characters escaped (headers and URLs come from the network)."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record))


@contextlib.contextmanager
def _http_logging(verbose: bool) -> Iterator[None]:
    """With `verbose`, the client's `iotcentral` logger (already redacted) goes to stderr."""
    if not verbose:
        yield
        return
    logger = logging.getLogger("iotcentral")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_TerminalFormatter("%(levelname)s %(name)s: %(message)s"))
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
    except StdoutClosed as exc:
        _silence_stdout()
        error(f"error: {exc}", secrets)
        return EXIT_STDOUT_CLOSED
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:
        error(f"internal error: {type(exc).__name__}: {exc}", secrets)
        return EXIT_INTERNAL_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit cannot print "Exception ignored"."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
