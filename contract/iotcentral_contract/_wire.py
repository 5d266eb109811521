"""Raw HTTP access to the target for exact boundary checks (no client library in between)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from iotcentral_contract import _harness
from iotcentral_contract._gate import GatedTransport
from iotcentral_contract._spec import component_schema

_ERROR_VALIDATOR = Draft202012Validator(component_schema("Error"))


@asynccontextmanager
async def raw_client() -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client aimed at the target's API root: in-process for the simulator."""
    bound = _harness.target()
    if bound.live:
        # Every request is checked against the allow-list and paced before it is sent.
        inner: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
        transport = GatedTransport(_harness.gate(), inner)
        async with httpx.AsyncClient(transport=transport, base_url=bound.base_url, timeout=90) as c:
            yield c
        return
    asgi = httpx.ASGITransport(app=_harness.app_under_test())
    async with httpx.AsyncClient(transport=asgi, base_url=bound.base_url) as client:
        yield client


def assert_error_shape(response: httpx.Response) -> dict[str, Any]:
    """The response is exactly the spec's Error: JSON body, valid schema, header == body code."""
    assert response.headers["content-type"].split(";")[0] == "application/json", response.text
    document = response.json()
    errors = sorted(str(e.message) for e in _ERROR_VALIDATOR.iter_errors(document))
    assert not errors, f"error body violates the spec: {errors}: {document}"
    details: dict[str, Any] = document["error"]
    assert response.headers.get("x-ms-error-code") == details["code"]
    return details
