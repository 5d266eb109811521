"""Server text in exception text and log records is redacted, then escaped for a terminal.

A hostile server writes ESC sequences, C1 controls, bidi overrides, newlines and NUL into every
field it controls: the error message and code, the request id header, a non-JSON body, a broken
JSON answer, a result id, a nextLink, a reason phrase. Whatever a program does with the exception
(`print(exc)`, `logging.exception(...)`, a traceback on the terminal) or with the `iotcentral`
log records, no such character reaches it raw: each one shows as a visible escape (`\\x1b`).
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import iotcentral as ic
import pytest
from client_helpers import SECRET, TOKEN, Script, Sleeps, command_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iotcentral._errors import FIELD_LIMIT, MESSAGE_LIMIT
from iotcentral._redact import REDACTED
from iotcentral._sanitize import UNSAFE

# Clear screen, set the window title, a C1 CSI (recolour), a bidi override, an isolate, NUL, a
# line separator, DEL, a newline and a carriage return (a forged second log line).
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\u2066\x00\u2028end\x7f\n\rINFO forged"
#: How HOSTILE prints once escaped (what a reader sees instead of a cleared screen).
VISIBLE = "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil\\u2066\\x00\\u2028end\\x7f\\x0a\\x0dINFO"


def assert_safe(text: str) -> None:
    found = UNSAFE.search(text)
    assert found is None, f"{found.group(0)!r} is raw in {text!r}"


def texts_of(error: BaseException) -> list[str]:
    """Everything a program may print of an exception: str, repr and each str argument."""
    return [str(error), repr(error), *(a for a in error.args if isinstance(a, str))]


def assert_exception_safe(error: BaseException) -> None:
    for text in texts_of(error):
        assert_safe(text)


def assert_logs_safe(caplog: pytest.LogCaptureFixture) -> None:
    records = [r for r in caplog.get_records("call") if r.name == "iotcentral"]
    assert records
    for record in records:
        assert_safe(record.getMessage())
        assert_safe(logging.Formatter().format(record))


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="iotcentral")
    yield caplog
    assert_logs_safe(caplog)


def _raised(script: Script, call: Callable[[ic.IoTCentralClient], object], **kw: Any) -> Any:
    kw.setdefault("retry", 0)
    with script.client(**kw) as client:
        try:
            call(client)
        except ic.IoTCentralError as error:
            return error
    raise AssertionError("nothing was raised")


def _run(client: ic.IoTCentralClient) -> object:
    return client.run_command("mx1", "CoolDown")


def _history(client: ic.IoTCentralClient) -> object:
    return client.command_history("mx1", "CoolDown")


# -- status errors ------------------------------------------------------------------------------


def test_a_hostile_error_message_and_code_are_escaped(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    body = {"error": {"code": f"Nope{HOSTILE}", "message": f"no {HOSTILE}", "requestId": HOSTILE}}
    error = _raised(Script(httpx.Response(404, json=body)), _run)
    assert isinstance(error, ic.NotFoundError)
    assert_exception_safe(error)
    assert str(error) == (
        f"HTTP 404 Nope{VISIBLE} forged: no {VISIBLE} forged (request id {VISIBLE} forged)"
    )
    # repr() shows each raw attribute as repr() does: every unprintable character escaped.
    assert "code='Nope\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil" in repr(error)
    assert f"message={error.message!r}" in repr(error)
    assert error.args == (f"no {VISIBLE} forged",)
    # Attributes, read by programs: kept as the service sent them (redacted, not escaped) ...
    assert error.message == f"no {HOSTILE}"
    assert error.code == f"Nope{HOSTILE}"
    assert error.request_id == HOSTILE
    # ... like the parsed body, which is the server's raw document.
    assert error.body == body


def test_hostile_headers_are_escaped_in_the_error_and_the_log(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    raw = HOSTILE.encode("utf-8")
    headers = [
        (b"x-ms-request-id", raw),
        (b"x-ms-error-code", b"Code" + raw),
        (b"content-type", b"text/html" + raw),
    ]
    answer = httpx.Response(500, content=b"<html>down</html>", headers=headers)
    error = _raised(Script(answer), _run)
    assert isinstance(error, ic.ServerError)
    assert_exception_safe(error)
    assert f"(request id {VISIBLE} forged)" in str(error)
    assert f"HTTP 500 Code{VISIBLE} forged:" in str(error)
    assert f"(text/html{VISIBLE} forged)" in str(error)  # the content type in the message
    assert error.request_id == HOSTILE  # raw, as the header said (see the docstring)
    logged = "\n".join(r.getMessage() for r in debug_log.get_records("call"))
    assert f"x-ms-request-id {VISIBLE} forged" in logged


def test_a_hostile_reason_phrase_is_escaped(debug_log: pytest.LogCaptureFixture) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            418, content=b"", request=request, extensions={"reason_phrase": HOSTILE.encode()}
        )

    error = _raised(Script(answer), _run)
    assert_exception_safe(error)
    # httpx keeps only the ASCII of a reason phrase: the C0 controls and DEL get through.
    assert "\\x1b[2J\\x1b]0;pwned\\x07" in str(error)


def test_a_hostile_html_error_page_is_quoted_escaped(debug_log: pytest.LogCaptureFixture) -> None:
    page = f"<html><body>{HOSTILE}</body></html>".encode()
    error = _raised(Script(httpx.Response(502, content=page)), _run)
    assert isinstance(error, ic.ServerError)
    assert_exception_safe(error)
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil" in str(error)


# -- malformed answers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "visible"),
    [
        # truncated JSON, raw control characters in it
        (f'{{"id": "{HOSTILE}'.encode(), "\\x1b[2J"),
        # not JSON at all
        (f"<html>{HOSTILE}</html>".encode(), "\\x1b[2J"),
        # JSON of the wrong shape (JSON text holds C1 and bidi raw; C0 only as \u escapes)
        (json.dumps([HOSTILE], ensure_ascii=False).encode(), "\\x9b31m\\u202eevil"),
    ],
    ids=["truncated", "html", "wrong shape"],
)
@pytest.mark.parametrize("call", [_run, _history], ids=["run", "history"])
def test_a_hostile_malformed_answer_is_quoted_escaped(
    debug_log: pytest.LogCaptureFixture,
    content: bytes,
    visible: str,
    call: Callable[..., object],
) -> None:
    status = 201 if call is _run else 200
    headers = [(b"content-type", f"x/{HOSTILE}".encode())]
    error = _raised(Script(httpx.Response(status, content=content, headers=headers)), call)
    assert isinstance(error, ic.MalformedResponseError)
    assert_exception_safe(error)
    if not (call is _run and content.startswith(b"[")):  # else only the type is named
        assert visible in str(error)


def test_a_hostile_undocumented_status_is_quoted_escaped(
    debug_log: pytest.LogCaptureFixture,
) -> None:
    error = _raised(Script(httpx.Response(302, content=HOSTILE.encode())), _run)
    assert isinstance(error, ic.MalformedResponseError)
    assert_exception_safe(error)
    assert "\\x1b[2J" in str(error)


def test_a_hostile_result_id_is_escaped_in_the_device_failure() -> None:
    with Script(command_json(id=HOSTILE, responseCode=500)).client() as client:
        result = client.run_command("mx1", "CoolDown")
    assert result.id == HOSTILE  # the result keeps the service's value
    with pytest.raises(ic.DeviceCommandFailedError) as info:
        result.raise_for_response_code()
    assert_exception_safe(info.value)
    assert f"(command id {VISIBLE} forged)" in str(info.value)


def test_a_hostile_next_link_is_escaped_in_the_paging_error() -> None:
    # Another origin: refused; the percent-encoded host decodes to control characters.
    link = "https://" + quote("evil\x1b[2J\u202e", safe="") + ".example/api?x=" + quote(HOSTILE)
    answer = httpx.Response(200, json={"value": [], "nextLink": link})
    with Script(answer).client() as client:
        pager = client.iter_command_history("mx1", "CoolDown")
        with pytest.raises(ic.MalformedResponseError) as info:
            list(pager)
    assert_exception_safe(info.value)


def test_a_hostile_transport_failure_is_escaped() -> None:
    error = _raised(Script(httpx.RemoteProtocolError(f"illegal header {HOSTILE}")), _run)
    assert isinstance(error, ic.RequestMaybeSentError)
    assert_exception_safe(error)
    assert VISIBLE in str(error)
    assert isinstance(error.cause, httpx.RemoteProtocolError)  # the raw cause is kept


def test_a_hostile_credential_failure_is_escaped() -> None:
    class Failing:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise RuntimeError(f"AADSTS700016: {HOSTILE}")

    error = _raised(Script(command_json()), _run, credential=Failing())
    assert isinstance(error, ic.CredentialError)
    assert_exception_safe(error)
    assert VISIBLE in str(error)


def test_retry_log_lines_escape_the_error_they_quote(
    debug_log: pytest.LogCaptureFixture, sleeps: Sleeps
) -> None:
    body = {"error": {"code": HOSTILE, "message": HOSTILE}}
    script = Script(httpx.Response(500, json=body), httpx.Response(200, json={"value": []}))
    with script.client(retry=sleeps.policy()) as client:
        client.command_history("mx1", "CoolDown")
    messages = [r.getMessage() for r in debug_log.get_records("call")]
    retries = [m for m in messages if m.startswith("retrying")]
    assert len(retries) == 1
    assert VISIBLE in retries[0]


# -- the token and the bound --------------------------------------------------------------------


def test_the_token_quoted_with_escapes_around_it_is_still_redacted() -> None:
    """Redaction runs before escaping: an ESC glued to the token does not hide it."""
    for quoted in (TOKEN, json.dumps(TOKEN)[1:-1], html.escape(TOKEN), quote(TOKEN, safe="")):
        body = {"error": {"code": f"\x1b{SECRET}\x1b", "message": f"\x1b]0;{quoted}\x07"}}
        error = _raised(Script(httpx.Response(401, json=body)), _run)
        for text in texts_of(error):
            assert SECRET not in text
            assert_safe(text)
        assert REDACTED in str(error)


def test_a_huge_hostile_message_is_bounded_and_cut_between_escapes() -> None:
    huge = "\x1b" * 10_000
    body = {"error": {"code": huge, "message": huge, "requestId": huge}}
    error = _raised(Script(httpx.Response(400, json=body)), _run)
    assert_exception_safe(error)
    assert error.message == huge  # the attribute is whole
    (text,) = error.args
    assert len(text) <= MESSAGE_LIMIT + 3
    assert text.endswith("\\x1b...")  # whole escapes only, then the ellipsis
    assert len(str(error)) < MESSAGE_LIMIT + 2 * FIELD_LIMIT + 100
    assert len(repr(error)) < MESSAGE_LIMIT + 2 * FIELD_LIMIT + 150
    assert repr(error).endswith("\\x1b...')")


# -- property: anything in the error fields -----------------------------------------------------

_ENCODINGS: list[Callable[[str], str]] = [
    lambda s: s,
    lambda s: json.dumps(s)[1:-1],
    html.escape,
    lambda s: quote(s, safe=""),
]


@settings(max_examples=120, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    message=st.text(max_size=80),
    code=st.text(max_size=30),
    quote_token=st.booleans(),
    encoding=st.sampled_from(range(len(_ENCODINGS))),
    status=st.sampled_from([400, 401, 404, 429, 500, 503, 504]),
)
def test_no_unsafe_character_and_no_secret_in_any_error_text(
    message: str, code: str, quote_token: bool, encoding: int, status: int
) -> None:
    if quote_token:
        quoted = _ENCODINGS[encoding](TOKEN)
        message, code = f"{message}{quoted}{message}", f"{code}{quoted}"
    body = {"error": {"code": code, "message": message, "requestId": code}}
    headers = {"x-ms-request-id": quote(code)}
    error = _raised(Script(httpx.Response(status, json=body, headers=headers)), _run)
    assert isinstance(error, ic.APIStatusError)
    for text in [*texts_of(error), error.message, error.code or "", error.request_id or ""]:
        assert SECRET not in text
    for text in texts_of(error):
        assert_safe(text)
