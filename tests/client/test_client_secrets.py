"""No token in logs, exception text or reprs, on any path, however the server quotes it (issue 10).

Every status and every way of quoting the Authorization header back (see `tests/echo_server.py`),
with DEBUG logging on, through both clients and every credential kind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NamedTuple

import httpx
import iotcentral as ic
import pytest
from echo_server import ENCODINGS, STATUSES, EchoServer
from iotcentral._redact import redact, secrets_in

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


# What each malformed answer looks like; the server quotes the bare secret core (no `sig=`, no
# `Bearer `), which only the credential-aware layers of redaction can recognise, placed so that
# the excerpt's 200-character cut falls 8 characters into it: a quote cut before it is redacted
# would keep those 8, too few for the exception's own redaction to recognise.
_BARE_QUOTES = {
    "error page": ("run", 502, "text/html", "<p>{pad}{core}</p>"),
    "undocumented status": ("run", 202, "text/plain", "accepted {pad}{core}"),
    "not JSON": ("run", 201, "application/json", "{{oops {pad}{core}"),
    "history, wrong shape": ("history", 200, "application/json", '{{"value": "{pad}{core}"}}'),
}
_CUT_INTO_CORE = 8


def _bare_quote_body(template: str, core: str) -> bytes:
    before = template.format(pad="", core="\0").index("\0")
    pad = "x" * (200 - _CUT_INTO_CORE - before)
    return template.format(pad=pad, core=core).encode()


@pytest.mark.parametrize("answer", list(_BARE_QUOTES))
@pytest.mark.parametrize("credential", list(CREDENTIALS))
def test_a_bare_secret_in_a_malformed_answer_is_redacted(answer: str, credential: str) -> None:
    make_credential, core = CREDENTIALS[credential]
    kind, status, content_type, template = _BARE_QUOTES[answer]
    body = _bare_quote_body(template, core)

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": content_type}, content=body)

    with ic.IoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=make_credential(),
        transport=httpx.MockTransport(serve),
        retry=ic.RetryPolicy(max_retries=0),
    ) as client:
        call = client.run_command if kind == "run" else client.command_history
        with pytest.raises(ic.IoTCentralError) as caught:
            call("mx1", "CoolDown")
    printed = _everything_printed(caught.value, None, client)
    assert _leaks(printed, core) == []
    assert core[:_CUT_INTO_CORE] not in printed


def test_redaction_keeps_the_public_parts_of_an_api_token() -> None:
    """Only the signature is secret: the app's resource and key name stay readable."""
    resource = "0b1e7c2a-app.azureiotcentral.com"
    token = f"SharedAccessSignature sr={resource}&sig={SIG}&skn=operator&se=4102444800000"
    text = f"token for {resource} signed with {SIG[:20]} expired"
    redacted = redact(text, secrets_in(token))
    assert resource in redacted
    assert SIG[:FRAGMENT] not in redacted
