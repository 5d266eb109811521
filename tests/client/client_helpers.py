"""Helpers for the client tests: scripted transports and canned answers.

``FakeClock`` and ``Sleeps`` are re-exported from the shared ``fakes`` module (tests/fakes.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import iotcentral as ic
from fakes import FakeClock as FakeClock
from fakes import Sleeps as Sleeps

#: A token whose secret part must never show up in logs, reprs or exception text.
SECRET = "S3cr3tSignatureValue"
TOKEN = f"SharedAccessSignature sr=app&sig={SECRET}&skn=ops&se=4102444800000"
BASE = "https://myapp.azureiotcentral.com/api"


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler that answers from a list of steps and records every request.

    A step is a response, an exception to raise (its request is attached), or a callable. The
    last step repeats when the script runs out.
    """

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # A snapshot: an auth flow may change the same request object before re-sending it.
        snapshot = httpx.Request(
            request.method,
            request.url,
            headers=request.headers.copy(),
            content=request.read(),
            extensions=dict(request.extensions),
        )
        self.requests.append(snapshot)
        index = min(len(self.requests), len(self.steps)) - 1
        step = self.steps[index]
        if isinstance(step, httpx.Response):
            return httpx.Response(
                step.status_code, headers=step.headers, content=step.content, request=request
            )
        if isinstance(step, Exception):
            if isinstance(step, httpx.RequestError):
                step = type(step)(str(step), request=request)
            raise step
        return step(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def client(self, **kwargs: Any) -> ic.IoTCentralClient:
        kwargs.setdefault("credential", ic.ApiToken(TOKEN))
        if "base_url" not in kwargs:
            kwargs.setdefault("app", "myapp")
        return ic.IoTCentralClient(transport=self.transport, **kwargs)

    def async_client(self, **kwargs: Any) -> ic.AsyncIoTCentralClient:
        kwargs.setdefault("credential", ic.ApiToken(TOKEN))
        if "base_url" not in kwargs:
            kwargs.setdefault("app", "myapp")
        return ic.AsyncIoTCentralClient(transport=self.transport, **kwargs)


def command_json(**fields: Any) -> httpx.Response:
    body = {"id": "c0ffee", "request": {"tempVal": 30}, "response": {"ok": True}}
    body["responseCode"] = 200
    body.update(fields)
    return httpx.Response(201, json=body)


def history_json(*items: dict[str, Any], **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"value": list(items), **extra})


def error_json(status: int, code: str, message: str = "boom", **headers: str) -> httpx.Response:
    body = {"error": {"code": code, "message": message, "requestId": "rid-1"}}
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json", "x-ms-error-code": code, **headers},
    )
