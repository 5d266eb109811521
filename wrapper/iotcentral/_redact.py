"""Redaction: the one place that removes credentials from text meant for people.

Exception messages, HTTP log lines and the command line's output all pass through here, so a
server that quotes the Authorization header back cannot put the token on a terminal or in a log,
however it quotes it. Three layers, each catching what the one before can miss:

1. every known secret (the Authorization value and the token after its scheme) in each common
   encoding: raw, JSON-escaped (also Go's `\\u0026` style), HTML-escaped and percent-encoded;
2. any run of `_FRAGMENT` (12) or more characters of a secret's *core* (the `sig=` value of an API
   token, the token of a bearer credential), so a quote cut by the server still loses its secret;
3. credential shapes wherever they appear, ours or not: the value after `sig=` and after
   `Bearer `.

Callers that shorten text must redact first and cut afterwards (`cut()` never splits a marker, nor
an escape: text meant for a terminal is redacted, then escaped, then cut).
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

__all__ = [
    "REDACTED",
    "SENSITIVE_HEADERS",
    "cut",
    "redact",
    "redact_json",
    "redact_request",
    "redacted_headers",
    "request_secrets",
    "secrets_in",
]

REDACTED = "[REDACTED]"

#: Headers whose values are never logged.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# Shorter strings are too likely to occur by chance; no real credential is this short.
_MIN_SECRET = 4
# A run of this many characters of a secret's core counts as the secret. Real cores are random
# (an HMAC signature, a signed token): 12 characters (~72 bits) never match text by chance, and a
# shorter run cannot rebuild a 256-bit signature. (Shorter windows also hit ordinary words in the
# simulator's public dev tokens, such as "iotcentral-sim-operator".) A cut `sig=` value is caught
# whatever its length by the shape rule.
_FRAGMENT = 12

# Whatever follows `sig=` (an SAS signature) or `Bearer ` (a token), in the encodings of layer 1.
_SHAPES = (
    re.compile(r"(?i)(\bsig(?:=|%3D|\\u003d|&#61;|&#x3d;))[A-Za-z0-9%+/=_.~-]+"),
    re.compile(r"(?i)(\bbearer(?:\s|%20|\+)+)[A-Za-z0-9%+/=_.~-]+"),
)
_SIG = re.compile(r"(?i)(?:^|[&\s])sig=([^&\s]+)")


def secrets_in(authorization: str | None) -> tuple[str, ...]:
    """What to hide for one Authorization value: the value, and the token after its scheme."""
    if not authorization:
        return ()
    value = authorization.strip()
    _, _, token = value.partition(" ")
    found = {value, token.strip()}
    return tuple(s for s in found if len(s) >= _MIN_SECRET)


def _encodings(secret: str) -> Iterator[str]:
    """`secret` as a server may quote it back."""
    yield secret
    escaped = json.dumps(secret)[1:-1]
    yield escaped
    yield escaped.replace("/", "\\/")
    yield escaped.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    yield html.escape(secret)
    yield secret.replace("&", "&#38;")
    yield secret.replace("&", "&#x26;")
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe="")):
        yield encoded
        yield re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)


def _core(secret: str) -> str:
    """The part of a credential that is secret: an SAS signature, else the token itself."""
    match = _SIG.search(secret)
    if match:
        return match.group(1)
    _, _, token = secret.partition(" ")
    return token.strip() or secret


@functools.lru_cache(maxsize=16)
def _plan(known: frozenset[str]) -> tuple[tuple[str, ...], frozenset[str]]:
    """What to look for, computed once per set of secrets (a fleet run redacts thousands of
    strings with one credential): every encoding, longest first, and every `_FRAGMENT`-long run
    of every encoding of every core."""
    variants = tuple(sorted({v for s in known for v in _encodings(s)}, key=len, reverse=True))
    cores = {v for s in known for v in _encodings(_core(s)) if len(v) >= _FRAGMENT}
    grams = frozenset(
        core[i : i + _FRAGMENT] for core in cores for i in range(len(core) - _FRAGMENT + 1)
    )
    return variants, grams


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, fragment of one, or credential shape replaced by `REDACTED`."""
    known = frozenset(s for s in secrets if len(s) >= _MIN_SECRET)
    if known:
        variants, grams = _plan(known)
        for variant in variants:
            text = text.replace(variant, REDACTED)
        text = _redact_fragments(text, grams)
    for shape in _SHAPES:
        text = shape.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _redact_fragments(text: str, grams: frozenset[str]) -> str:
    if not grams or len(text) < _FRAGMENT:
        return text
    spans: list[list[int]] = []
    for start in range(len(text) - _FRAGMENT + 1):
        if text[start : start + _FRAGMENT] in grams:
            end = start + _FRAGMENT
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
    for start, end in reversed(spans):
        text = text[:start] + REDACTED + text[end:]
    return text


def request_secrets(request: httpx.Request | None) -> tuple[str, ...]:
    """The secrets of the credential `request` carried."""
    return () if request is None else secrets_in(request.headers.get("authorization"))


def redact_request(text: str, request: httpx.Request | None) -> str:
    """`text` without the credential that `request` carried (and without credential shapes)."""
    return redact(text, request_secrets(request))


def redact_json(value: Any, secrets: Iterable[str]) -> Any:
    """Parsed JSON with every string in it (keys too) redacted; numbers and structure kept.

    For documents that are printed or stored as JSON: redacting the serialised text instead could
    cut an escape sequence in two and leave invalid JSON.
    """
    known = tuple(secrets)
    if isinstance(value, str):
        return redact(value, known)
    if isinstance(value, dict):
        return {redact(str(k), known): redact_json(v, known) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_json(item, known) for item in value]
    return value


# A visible escape that `cut()` keeps whole: `_sanitize.for_terminal()`'s `\\xNN` and `\\uNNNN`,
# and `repr()`'s (also `\\UNNNNNNNN` and single-character ones such as `\\\\` and `\\'`).
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[\\'\"nrt])")
_LONGEST_ESCAPE = 10


def cut(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (then "..."), never inside a `REDACTED` marker or an escape.

    Escaped text (`_sanitize.for_terminal()`, `repr()`) is cut between escapes, never inside one:
    `\\x1b` never becomes `\\x1`, and a `repr()` quote never ends in half a `\\\\`. So redact
    first, then escape, then cut. Cutting is conservative: it may end a few characters early.
    """
    if len(text) <= limit:
        return text
    head = text[:limit]
    for start in range(max(0, limit - _LONGEST_ESCAPE + 1), limit):
        if text[start] == "\\":
            match = _ESCAPE.match(text, start)
            if match is not None and match.end() > limit:
                head = text[:start]
                break
    run = len(head) - len(head.rstrip("\\"))
    if run % 2:  # half of a `\\\\` pair (in repr text; in other text, a backslash less)
        head = head[:-1]
    marker = head.rfind("[")
    if marker != -1 and REDACTED.startswith(head[marker:]) and text[marker:].startswith(REDACTED):
        head = head[:marker]
    return head + "..."


def redacted_headers(headers: httpx.Headers) -> dict[str, str]:
    """Headers for a log line, with credentials replaced by `REDACTED`."""
    return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}
