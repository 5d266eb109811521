"""A hostile loopback server that quotes the request's Authorization header back, every way it can.

The device id in the path picks the answer: `<status>-<encoding>` (e.g. `500-html`, `201-json`,
`401-url`, `404-header`, `drop-raw`). Encodings: raw, json, html, url, header (the value in response
headers only), cut (the first 60 characters of the value, cut by the server). Used by the secrets
tests of the client and the command line.
"""

from __future__ import annotations

import html
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

ENCODINGS = ("raw", "json", "html", "url", "header", "cut")
STATUSES = ("201", "200", "400", "401", "403", "404", "429", "500", "503", "504", "drop")


def quoted(value: str, encoding: str) -> str:
    """`value` as a server might quote it back."""
    return {
        "raw": value,
        "json": json.dumps(value)[1:-1].replace("&", "\\u0026"),
        "html": html.escape(value),
        "url": quote(value, safe=""),
        "header": "",
        "cut": value[:60],
    }[encoding]


class _Handler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        device = unquote(self.path.split("/devices/", 1)[-1].split("/", 1)[0])
        status, _, encoding = device.partition("-")
        secret = self.headers.get("authorization", "")
        text = quoted(secret, encoding)
        if status == "drop":
            self.wfile.write(b"HTTP/1.1 201 Created\r\nContent-Length: 500\r\n\r\n" + text.encode())
            self.close_connection = True
            return
        code = int(status)
        if code in (200, 201):
            body = {"id": text, "request": text, "response": {"echo": text}, "responseCode": 500}
            if code == 200:
                body = {"value": [body], "nextLink": text}
            payload = json.dumps(body).encode()
        else:
            error = {"code": "Echo" + text[:40], "message": f"bad credential: {text}"}
            payload = json.dumps({"error": {**error, "requestId": text}}).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-ms-error-code", "Echo")
        self.send_header("www-authenticate", f'Bearer error="{secret}"')
        self.send_header("x-echo", secret)
        if code in (429, 503):
            self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the tests read the client's output, not the server's


class EchoServer:
    """`with EchoServer() as url:` serves on 127.0.0.1 (a free port) until the block ends."""

    def __enter__(self) -> str:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/api"

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
