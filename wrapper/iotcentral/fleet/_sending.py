"""The moment a request is about to leave: how a fleet run's journal hears of it.

The fleet runners set `ON_SENDING` (a context variable, so each task or worker thread has its own)
to a callback; each client's `_send` calls `notify_sending(request)` after the request got its
pacer slot and right before it goes on the wire. The journal's row is committed as *sending* there,
so a row exists before any request that may run the command leaves, and rows do not sit *sending*
while their request still waits for a slot.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

import httpx

__all__ = ["ON_SENDING", "notify_sending"]

ON_SENDING: ContextVar[Callable[[httpx.Request], None] | None] = ContextVar(
    "iotcentral_on_sending", default=None
)


def notify_sending(request: httpx.Request) -> None:
    """Tell the current fleet run (if any) that `request` leaves now; its errors propagate."""
    callback = ON_SENDING.get()
    if callback is not None:
        callback(request)
