"""Deliberately broken variants of a server, to prove the contract suite has teeth.

Each variant wraps any ASGI app (the simulator) and breaks one promise of the spec. The teeth test
runs the schemathesis part against each and asserts that it fails.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _rewrite_response(
    app: ASGIApp, rewrite: Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
) -> ASGIApp:
    """Buffer each response and pass it through `rewrite(status, headers, body)`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
                    headers.pop("content-length", None)
                    status, headers, body = rewrite(start["status"], headers, b"".join(chunks))
                    headers["content-length"] = str(len(body))
                    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
                    await send({"type": "http.response.start", "status": status, "headers": raw})
                    await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return wrapped


def accepts_out_of_range_response_timeout(app: ASGIApp) -> ASGIApp:
    """Accepts responseTimeout above 30 (31 and beyond) by clamping it before validation."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        timeout = document.get("responseTimeout") if isinstance(document, dict) else None
        if isinstance(timeout, int | float) and not isinstance(timeout, bool) and timeout > 30:
            document["responseTimeout"] = 30
            body = json.dumps(document).encode()
            scope = dict(scope)
            scope["headers"] = [
                (k, str(len(body)).encode() if k == b"content-length" else v)
                for k, v in scope["headers"]
            ]
        await app(scope, _replay(body), send)

    return wrapped


def answers_200_instead_of_201(app: ASGIApp) -> ASGIApp:
    """Answers a successful run with 200 instead of the documented 201."""
    return _rewrite_response(app, lambda s, h, b: (200 if s == 201 else s, h, b))


def error_body_without_code(app: ASGIApp) -> ASGIApp:
    """Drops the required `code` from every error body."""

    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if status >= 400:
            document = json.loads(body)
            document["error"].pop("code", None)
            body = json.dumps(document).encode()
        return status, headers, body

    return _rewrite_response(app, rewrite)


def text_plain_errors(app: ASGIApp) -> ASGIApp:
    """Answers errors as text/plain instead of the Error JSON shape."""

    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if status >= 400:
            headers["content-type"] = "text/plain; charset=utf-8"
            body = f"error {status}".encode()
        return status, headers, body

    return _rewrite_response(app, rewrite)


def ignores_auth(app: ASGIApp, valid_authorization: str) -> ASGIApp:
    """Serves every request as if it carried a valid token, whatever it carries."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = dict(scope)
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
            headers.append((b"authorization", valid_authorization.encode()))
            scope["headers"] = headers
        await app(scope, receive, send)

    return wrapped


VARIANTS: dict[str, Callable[[ASGIApp, str], ASGIApp]] = {
    "accepts-response-timeout-31": lambda app, _: accepts_out_of_range_response_timeout(app),
    "answers-200-not-201": lambda app, _: answers_200_instead_of_201(app),
    "error-without-code": lambda app, _: error_body_without_code(app),
    "text-plain-errors": lambda app, _: text_plain_errors(app),
    "ignores-auth": ignores_auth,
}
