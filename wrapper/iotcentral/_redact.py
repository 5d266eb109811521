"""Redaction: the one place that removes credentials from text meant for people.

Exception messages, HTTP log lines and the command line's output all pass through here, so a
server that quotes the Authorization header back cannot put the token on a terminal or in a log.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

__all__ = [
    "REDACTED",
    "SENSITIVE_HEADERS",
    "redact",
    "redact_request",
    "redacted_headers",
    "secrets_in",
]

REDACTED = "[REDACTED]"

#: Headers whose values are never logged.
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})

# Shorter strings are too likely to occur by chance; no real credential is this short.
_MIN_SECRET = 4


def secrets_in(authorization: str | None) -> tuple[str, ...]:
    """What to hide for one Authorization value: the value, and the token after its scheme."""
    if not authorization:
        return ()
    value = authorization.strip()
    _, _, token = value.partition(" ")
    found = {value, token.strip()}
    return tuple(s for s in found if len(s) >= _MIN_SECRET)


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of every secret replaced by `REDACTED` (longest first)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    return text


def redact_request(text: str, request: httpx.Request | None) -> str:
    """`text` without the credential that `request` carried."""
    if request is None:
        return text
    return redact(text, secrets_in(request.headers.get("authorization")))


def redacted_headers(headers: httpx.Headers) -> dict[str, str]:
    """Headers for a log line, with credentials replaced by `REDACTED`."""
    return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else v) for k, v in headers.items()}
