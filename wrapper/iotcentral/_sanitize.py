"""Terminal safety: the one place that makes server-supplied text harmless to print.

A hostile or broken server controls a result's `id`, `request` and `response`, error messages,
error codes and header values. Printed raw, an escape sequence in any of them can clear the
screen, set the window title, recolour or hide text, or (bidi overrides) make text read in
another order than it runs. Every printing path of the command line passes server text through
here (after `_redact`, which removes credentials): human output, the one-line errors on stderr,
the `--verbose` log and `--json` output.

The library applies the same escaping to its own exception text and log records (`for_people()`:
redacted, then escaped, then cut), so a program that prints an exception or logs it is safe too.
`for_terminal()` is idempotent (an escape holds no unsafe character), so the command line's own
pass over an exception's text changes nothing: one escaping, never `\\\\x1b`.

Nothing is dropped silently: each unsafe character becomes a visible escape (`\\x1b`, `\\x9b`,
`\\u202e`), so an ESC sequence loses its ESC and prints as plain text, and a reader can still see
that the server sent it. Unsafe means: C0 controls (U+0000-U+001F) and DEL, C1 controls
(U+0080-U+009F, which some terminals obey like ESC sequences), the bidirectional formatting
characters and the line and paragraph separators (U+2028, U+2029).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from ._redact import cut, redact_request

__all__ = ["UNSAFE", "for_people", "for_terminal", "json_for_terminal"]

#: The characters never printed as themselves.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def for_terminal(text: str) -> str:
    """`text` with every control, C1 and bidi character replaced by a visible escape.

    Newlines and tabs are escaped too: a line of output stays one line.
    """
    return UNSAFE.sub(_visible, text)


def for_people(text: str, request: httpx.Request | None, *, limit: int | None = None) -> str:
    """Server text made fit for an exception message or a log line.

    In this order: the credential `request` carried is removed (`_redact`), unsafe characters
    become visible escapes, and the text is cut to `limit` characters, between escapes.
    """
    text = for_terminal(redact_request(text, request))
    return text if limit is None else cut(text, limit)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def json_for_terminal(document: Any, *, indent: int | None = None) -> str:
    """`document` as JSON text that is both valid JSON and safe on a terminal.

    `json.dumps` escapes C0 controls inside strings, but with `ensure_ascii=False` it passes C1
    controls, DEL and bidi characters through raw. Outside strings JSON text holds only ASCII
    whitespace, digits, letters and punctuation, so each remaining unsafe character is inside a
    string, where the `\\uXXXX` escape that replaces it means the same character: the JSON
    decodes to exactly the same value. Non-ASCII text stays readable (`ensure_ascii=False`).
    """
    text = json.dumps(document, indent=indent, ensure_ascii=False, allow_nan=False)
    return UNSAFE.sub(lambda m: m.group(0) if m.group(0) in "\n" else _json_escape(m), text)
