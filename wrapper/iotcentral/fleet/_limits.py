"""Limits of a fleet run's arguments (kept apart so the clients can import them cheaply)."""

from __future__ import annotations

from .._errors import InvalidArgumentError

__all__ = ["DEFAULT_CONCURRENCY", "MAX_CONCURRENCY", "check_concurrency"]

#: How many commands a fleet run keeps in flight by default.
DEFAULT_CONCURRENCY = 50
#: The most a fleet run may keep in flight.
MAX_CONCURRENCY = 1000


def check_concurrency(value: object) -> int:
    """An integer from 1 to `MAX_CONCURRENCY`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        raise InvalidArgumentError(
            f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {value!r}"
        )
    return value
