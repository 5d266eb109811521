"""No token in logs, exception text or reprs, on any path, however the server quotes it (issue 10).

Every status and every way of quoting the Authorization header back (see `tests/echo_server.py`),
with DEBUG logging on, through both clients and every credential kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

import iotcentral as ic
import pytest
from echo_server import ENCODINGS, STATUSES, EchoServer

SIG = "Qm9Xr7Tq2Wv8Ls5Pn1Hd4Zk3Jc6Bf0Gy"
API_TOKEN = f"SharedAccessSignature sr=0b1e7c2a-app&sig={SIG}&skn=operator&se=4102444800000"
JWT = "eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJpb3QifQ.Xr7Tq2Wv8Ls5Pn1Hd4Zk3Jc6Bf0GyQm9"
FRAGMENT = 12  # what _redact guarantees: no 12 characters of a secret core survive


class _Token(NamedTuple):
    token: str
    expires_on: int


class _Credential:
    def get_token(self, *scopes: str, **kwargs: Any) -> _Token:
        return _Token(JWT, 4_102_444_800)


CREDENTIALS = {
    "api token": (lambda: ic.ApiToken(API_TOKEN), SIG),
    "bearer token": (lambda: ic.BearerToken(JWT), JWT),
    "token credential": (_Credential, JWT),
}


def _leaks(text: str, core: str) -> list[str]:
    runs = (core[i : i + FRAGMENT] for i in range(len(core) - FRAGMENT + 1))
    return [run for run in runs if run in text]


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    with EchoServer() as url:
        yield url


def _everything_printed(error: BaseException | None, result: object, client: object) -> str:
    parts = [repr(client), repr(result)]
    if error is not None:
        parts += [str(error), repr(error), str(getattr(error, "message", ""))]
        cause = error.__cause__
        if cause is not None:
            parts += [str(cause), repr(cause)]
    return "\n".join(parts)


@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("status", STATUSES)
def test_no_token_on_any_sync_path(
    echo: str, caplog: pytest.LogCaptureFixture, credential: str, status: str
) -> None:
    make, core = CREDENTIALS[credential]
    caplog.set_level(logging.DEBUG, logger="iotcentral")
    printed = []
    with ic.IoTCentralClient(base_url=echo, credential=make(), retry=0) as client:
        for encoding in ENCODINGS:
            device = f"{status}-{encoding}"
            for kind in ("run", "history"):
                error: BaseException | None = None
                result: object = None
                try:
                    if kind == "run":
                        result = client.run_command(device, "CoolDown", {"x": 1})
                        result.raise_for_response_code()  # the echo server reports code 500
                    else:
                        result = client.command_history(device, "CoolDown")
                except ic.IoTCentralError as exc:
                    error = exc
                printed.append(_everything_printed(error, result, client))
    assert caplog.records  # DEBUG logging really ran
    assert _leaks("\n".join(printed), core) == []
    assert _leaks(caplog.text, core) == []


@pytest.mark.parametrize("status", ["401", "500", "201", "drop"])
async def test_no_token_on_the_async_paths(
    echo: str, caplog: pytest.LogCaptureFixture, status: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="iotcentral")
    printed = []
    async with ic.AsyncIoTCentralClient(base_url=echo, credential=_Credential(), retry=0) as client:
        for encoding in ENCODINGS:
            try:
                result: object = await client.run_command(f"{status}-{encoding}", "CoolDown")
                printed.append(repr(result))
            except ic.IoTCentralError as exc:
                printed.append(_everything_printed(exc, None, client))
    assert _leaks("\n".join(printed) + caplog.text, JWT) == []
