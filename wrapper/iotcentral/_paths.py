"""Path parameters: validation, and the fix for the dot-segment hole.

The generated operations build each path as a template whose placeholders are filled with
`urllib.parse.quote(value, safe="")`. That encodes every reserved character, `/` included, so one
value always fills exactly one path segment... except `.` and `..`: `quote` leaves dots alone, and
httpx then removes `.` and `..` segments while parsing the URL (RFC 3986 remove_dot_segments), so
device id `..` would send the request to `/api/commands/{name}`.

The fix sits at the one layer that sees the path after the template is filled and before httpx
parses it: `_http.build_attempt` calls `protect_dot_segments()`, which percent-encodes the
dots of every segment made only of dots (`..` becomes `%2E%2E`). httpx leaves `%2E` alone, and the
server decodes it back to `.`: RFC 3986 says a percent-encoded dot is not a dot segment. No literal
segment of the templates is made of dots, and every `/` inside a value is already `%2F`, so only
values change. `encode_segment()` states the complete encoding of one value, for tests and logs.
"""

from __future__ import annotations

from urllib.parse import quote

from ._errors import InvalidArgumentError

__all__ = ["check_id", "encode_segment", "protect_dot_segments"]


def check_id(name: str, value: object, *, optional: bool = False) -> str | None:
    """Check one path parameter: a non-empty string that UTF-8 can encode."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(f"{name} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"{name} must be valid Unicode text (it holds a lone surrogate), got {value!r}"
        ) from None
    return value


def _dots(segment: str) -> bool:
    return bool(segment) and segment.strip(".") == ""


def encode_segment(value: str) -> str:
    """The on-the-wire form of one path value: RFC 3986 percent-encoding, dot segments included."""
    encoded = quote(value, safe="")
    return "%2E" * len(encoded) if _dots(encoded) else encoded


def protect_dot_segments(path: str) -> str:
    """Percent-encode the dots of every path segment made only of dots ('.', '..', '...')."""
    head, sep, tail = path.partition("?")
    segments = head.split("/")
    if not any(_dots(segment) for segment in segments):
        return path
    fixed = "/".join("%2E" * len(s) if _dots(s) else s for s in segments)
    return fixed + sep + tail
