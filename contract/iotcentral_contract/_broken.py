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


def _rewrite_json(
    app: ASGIApp, rewrite: Callable[[str, str, int, Any], tuple[int, Any]]
) -> ASGIApp:
    """Pass each JSON answer through `rewrite(method, path, status, document)`."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]

        def on_response(
            status: int, headers: dict[str, str], body: bytes
        ) -> tuple[int, dict[str, str], bytes]:
            try:
                document = json.loads(body)
            except ValueError:
                return status, headers, body
            status, document = rewrite(method, path, status, document)
            if isinstance(document, dict) and isinstance(document.get("error"), dict):
                headers["x-ms-error-code"] = str(document["error"].get("code", ""))
            return status, headers, json.dumps(document).encode()

        await _rewrite_response(app, on_response)(scope, receive, send)

    return wrapped


def wrong_echo(app: ASGIApp) -> ASGIApp:
    """A run's answer carries another `request` than the one sent (wrapped in an object)."""

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        if method == "POST" and status == 201 and isinstance(document, dict):
            document["request"] = {"tampered": document.get("request")}
        return status, document

    return _rewrite_json(app, rewrite)


def empty_history(app: ASGIApp) -> ASGIApp:
    """History is always empty, even right after a successful run."""

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        if method == "GET" and status == 200 and isinstance(document, dict):
            document["value"] = []
        return status, document

    return _rewrite_json(app, rewrite)


def stale_history(app: ASGIApp) -> ASGIApp:
    """History lags one run behind: it shows the run before the latest (empty after the first)."""
    runs: dict[str, list[Any]] = {}

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        if method == "POST" and status == 201:
            runs.setdefault(path, []).append(document)
        elif method == "GET" and status == 200 and isinstance(document, dict):
            earlier = runs.get(path, [])[:-1]
            document["value"] = earlier[-1:]
        return status, document

    return _rewrite_json(app, rewrite)


def history_loses_request(app: ASGIApp) -> ASGIApp:
    """History keeps the run but drops its `request`."""

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        if method == "GET" and status == 200 and isinstance(document, dict):
            for entry in document.get("value", []):
                if isinstance(entry, dict):
                    entry.pop("request", None)
        return status, document

    return _rewrite_json(app, rewrite)


def not_found_as_400(app: ASGIApp, code: str) -> ASGIApp:
    """A 404 with `code` is answered 400 `BadRequest` instead (still the Error shape)."""

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        error = document.get("error") if isinstance(document, dict) else None
        if status == 404 and isinstance(error, dict) and error.get("code") == code:
            error["code"] = "BadRequest"
            return 400, document
        return status, document

    return _rewrite_json(app, rewrite)


def blank_run_id(app: ASGIApp) -> ASGIApp:
    """A run's answer has an empty `id` (still a string: the schema cannot tell)."""

    def rewrite(method: str, path: str, status: int, document: Any) -> tuple[int, Any]:
        if method == "POST" and status == 201 and isinstance(document, dict):
            document["id"] = ""
        return status, document

    return _rewrite_json(app, rewrite)


def integral_float_timeout_500(app: ASGIApp) -> ASGIApp:
    """A timeout written as a float (`10.0`) crashes the server: 500 in the Error shape."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and any(
            isinstance(value, float) and value.is_integer()
            for value in (document.get("connectionTimeout"), document.get("responseTimeout"))
        ):
            error = json.dumps({"error": {"code": "InternalError", "message": "crashed"}}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"x-ms-error-code", b"InternalError"),
                (b"content-length", str(len(error)).encode()),
            ]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": error})
            return
        await app(scope, _replay(body), send)

    return wrapped


def coerces_string_timeouts(app: ASGIApp) -> ASGIApp:
    """Coerces numeric-string timeouts ("10", " 7") to integers before validating them."""

    def coerce(document: dict[str, Any]) -> bool:
        changed = False
        for field in ("connectionTimeout", "responseTimeout"):
            value = document.get(field)
            if isinstance(value, str) and value.strip().lstrip("-").isdigit():
                document[field] = int(value)
                changed = True
        return changed

    return _rewrite_request_body(app, coerce)


def _rewrite_request_body(app: ASGIApp, change: Callable[[dict[str, Any]], bool]) -> ASGIApp:
    """Let `change` edit each POST's JSON object body in place before `app` sees it."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and change(document):
            body = json.dumps(document).encode()
            scope = dict(scope)
            scope["headers"] = [
                (k, str(len(body)).encode() if k == b"content-length" else v)
                for k, v in scope["headers"]
            ]
        await app(scope, _replay(body), send)

    return wrapped


VARIANTS: dict[str, Callable[[ASGIApp, str], ASGIApp]] = {
    "accepts-response-timeout-31": lambda app, _: accepts_out_of_range_response_timeout(app),
    "answers-200-not-201": lambda app, _: answers_200_instead_of_201(app),
    "error-without-code": lambda app, _: error_body_without_code(app),
    "text-plain-errors": lambda app, _: text_plain_errors(app),
    "ignores-auth": ignores_auth,
    # The behavioural layer (`_behaviour.py`) catches these.
    "wrong-echo": lambda app, _: wrong_echo(app),
    "empty-history": lambda app, _: empty_history(app),
    "stale-history": lambda app, _: stale_history(app),
    "history-loses-request": lambda app, _: history_loses_request(app),
    "blank-run-id": lambda app, _: blank_run_id(app),
    "unknown-device-400": lambda app, _: not_found_as_400(app, "DeviceNotFound"),
    "unknown-command-400": lambda app, _: not_found_as_400(app, "CommandNotFound"),
    "integral-float-timeout-500": lambda app, _: integral_float_timeout_500(app),
    "coerces-string-timeouts": lambda app, _: coerces_string_timeouts(app),
}
