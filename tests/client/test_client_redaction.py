"""Credentials never reach exception text, however a hostile server quotes them back.

Regression tests for the leak through truncation (the body used to be cut to 200 characters
*before* redaction, printing the token up to the cut) and through escaped or encoded quotes.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote, quote_plus

import httpx
import iotcentral as ic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from iotcentral._redact import REDACTED, cut, redact, secrets_in

SIG = "k9Zr2Qx7LmP4vT8wYc3N5bH6jD1fG0sA%2BeU%3D"  # random, as an HMAC signature is
API_TOKEN = f"SharedAccessSignature sr=0b1e7c2a-app&sig={SIG}&skn=operator&se=4102444800000"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2FwcHMifQ.Zk3Qm9Xr7Tq2Wv8Ls5Pn1Hd4"
FRAGMENT = 12  # the documented guarantee: no 12 characters of a secret core survive


class _Token(NamedTuple):
    token: str
    expires_on: int


class _Credential:
    def get_token(self, *scopes: str, **kwargs: Any) -> _Token:
        return _Token(JWT, 4_102_444_800)


# credential -> the secret core that must never show, even in part
CREDENTIALS: dict[str, tuple[Callable[[], Any], str]] = {
    "api token": (lambda: ic.ApiToken(API_TOKEN), SIG),
    "bearer token": (lambda: ic.BearerToken(JWT), JWT),
    "token credential": (_Credential, JWT),
}
ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda s: s,
    "json": lambda s: json.dumps(s)[1:-1],
    "json (Go)": lambda s: json.dumps(s)[1:-1].replace("&", "\\u0026"),
    "json slashes": lambda s: json.dumps(s)[1:-1].replace("/", "\\/"),
    "html": html.escape,
    "html numeric": lambda s: s.replace("&", "&#38;"),
    "url": lambda s: quote(s, safe=""),
    "url plus": lambda s: quote_plus(s, safe=""),
    "url lowercase": lambda s: quote(s, safe="").replace("%2B", "%2b").replace("%3D", "%3d"),
}


def _authorization(name: str) -> str:
    return {"api token": API_TOKEN}.get(name, f"Bearer {JWT}")


def _leaks(text: str, core: str) -> list[str]:
    """Every run of FRAGMENT characters of `core` that appears in `text`."""
    return [
        core[i : i + FRAGMENT]
        for i in range(len(core) - FRAGMENT + 1)
        if core[i : i + FRAGMENT] in text
    ]


def _error_for(credential: Any, body: str, status: int = 500) -> ic.IoTCentralError:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body.encode(), headers={"content-type": "text/html"})

    client = ic.IoTCentralClient(
        base_url="https://app.azureiotcentral.com/api",
        credential=credential,
        transport=httpx.MockTransport(answer),
    )
    with client, pytest.raises(ic.IoTCentralError) as info:
        client.command_history("mx1", "CoolDown", retry=0)
    return info.value


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("credential", CREDENTIALS)
@pytest.mark.parametrize("padding", [0, 90, 150, 199, 260])
def test_a_quoted_credential_never_shows(credential: str, encoding: str, padding: int) -> None:
    make, core = CREDENTIALS[credential]
    quoted = ENCODINGS[encoding](_authorization(credential))
    error = _error_for(make(), "x" * padding + "Authorization: " + quoted + " rejected")
    for text in (str(error), repr(error), getattr(error, "message", "")):
        assert _leaks(text, core) == [], text


@given(
    padding=st.integers(min_value=0, max_value=400),
    start=st.integers(min_value=0, max_value=len(API_TOKEN)),
    length=st.integers(min_value=FRAGMENT, max_value=len(API_TOKEN)),
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_a_credential_cut_by_the_server_never_shows(
    padding: int, start: int, length: int, encoding: str
) -> None:
    """The server quotes any slice of the token: no 12 characters of the signature survive."""
    piece = API_TOKEN[start : start + length]
    error = _error_for(ic.ApiToken(API_TOKEN), "y" * padding + ENCODINGS[encoding](piece))
    assert _leaks(str(error), SIG) == []


def test_long_bodies_are_still_cut_short_after_redaction() -> None:
    error = _error_for(ic.ApiToken(API_TOKEN), "z" * 5000 + API_TOKEN)
    assert len(str(error)) < 400
    assert str(error).rstrip("'").endswith("...")


def test_credential_shapes_are_redacted_even_when_not_ours() -> None:
    text = "proxy says: sig=AnotherSignature123 and Authorization: Bearer eyJother.token.here"
    out = redact(text, ())
    assert "AnotherSignature123" not in out
    assert "eyJother" not in out
    assert out.count(REDACTED) == 2


def test_redaction_keeps_ordinary_text() -> None:
    text = "Device mx1 did not answer CoolDown within 30 s (request id 1234-5678)"
    assert redact(text, secrets_in(API_TOKEN)) == text


@pytest.mark.parametrize("limit", range(0, 30))
def test_cut_never_splits_a_marker(limit: int) -> None:
    text = f"abc {REDACTED} def {REDACTED}"
    shortened = cut(text, limit)
    body = shortened.removesuffix("...")
    assert len(body) <= limit
    assert "[" not in body or body.count("[") == body.count(REDACTED)


def test_debug_logs_never_show_a_quoted_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="iotcentral")
    _error_for(ic.ApiToken(API_TOKEN), f"echo {html.escape(API_TOKEN)}", status=503)
    assert caplog.records
    assert _leaks(caplog.text, SIG) == []
