"""Server text never reaches the terminal raw (issue 10.8): ids, payloads, errors, logs, --json."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import iotcentral as ic
import pytest
import typer
from iotcentral._sanitize import for_terminal, json_for_terminal
from iotcentral.cli import _settings
from typer.testing import CliRunner

# Clear screen, set the window title, a C1 CSI (colour), a bidi override, NUL, a line separator.
HOSTILE = "\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\u2066\x00\u2028end\x7f"
# Anything a terminal could obey; a newline is allowed only as the end of a line we print.
UNSAFE_OUTPUT = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
ENV = {
    "IOTC_APP": "myapp",
    "IOTC_API_TOKEN": "SharedAccessSignature sr=x&sig=abcdefghijklmnop&skn=o&se=1",
}


def serve_with(monkeypatch: pytest.MonkeyPatch, response: httpx.Response) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    real = _settings.IoTCentralClient

    def with_mock(*args: Any, **kwargs: Any) -> ic.IoTCentralClient:
        kwargs["transport"] = httpx.MockTransport(handler)
        return real(*args, **kwargs)

    monkeypatch.setattr(_settings, "IoTCentralClient", with_mock)


def invoke(app: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(app, list(args), env=ENV, catch_exceptions=False)


def hostile_result() -> dict[str, Any]:
    return {
        "id": HOSTILE,
        "request": {HOSTILE: HOSTILE, "café": "naïve"},
        "response": [HOSTILE],
        "responseCode": 200,
    }


def assert_safe(text: str) -> None:
    found = UNSAFE_OUTPUT.search(text)
    assert found is None, f"{found.group(0)!r} reached the terminal in {text!r}"


def test_human_output_escapes_server_text(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_with(monkeypatch, httpx.Response(201, json=hostile_result()))
    result = invoke(app, "command", "run", "mx1", "CoolDown")
    assert result.exit_code == 0, result.output
    assert_safe(result.stdout)
    assert_safe(result.stderr)
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil" in result.stdout  # visible, not obeyed
    assert "naïve" in result.stdout  # ordinary unicode stays readable


def test_history_output_escapes_server_text(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_with(monkeypatch, httpx.Response(200, json={"value": [hostile_result()]}))
    result = invoke(app, "command", "history", "mx1", "CoolDown")
    assert result.exit_code == 0, result.output
    assert_safe(result.stdout)


@pytest.mark.parametrize("command", ["run", "history"])
def test_json_output_is_valid_json_and_safe(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    document = hostile_result() if command == "run" else {"value": [hostile_result()]}
    serve_with(monkeypatch, httpx.Response(201 if command == "run" else 200, json=document))
    result = invoke(app, "command", command, "mx1", "CoolDown", "--json")
    assert result.exit_code == 0, result.output
    assert_safe(result.stdout)
    assert json.loads(result.stdout) == document  # the same values, escapes and all
    assert "naïve" in result.stdout  # still ensure_ascii=False


def test_a_non_json_error_page_is_escaped(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_with(monkeypatch, httpx.Response(502, text=f"<html>{HOSTILE}</html>"))
    result = invoke(app, "command", "run", "mx1", "CoolDown")
    assert result.exit_code == 3
    assert_safe(result.stderr)
    assert len(result.stderr.splitlines()) == 1


def test_the_verbose_log_escapes_header_values(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = [(b"x-ms-request-id", b"\x1b]0;pwned\x07"), (b"x-ms-error-code", b"\x9b2J")]
    serve_with(monkeypatch, httpx.Response(201, json={"id": "1"}, headers=headers))
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--verbose")
    assert result.exit_code == 0, result.output
    assert "pwned" in result.stderr  # the header was logged ...
    assert_safe(result.stderr)  # ... but not obeyed


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_plain_json_dumps_is_valid_but_not_terminal_safe(ensure_ascii: bool) -> None:
    """Why `json_for_terminal` exists: json.dumps escapes C0, not C1 or bidi, without ASCII."""
    text = json.dumps({"id": HOSTILE}, ensure_ascii=ensure_ascii)
    assert json.loads(text) == {"id": HOSTILE}
    assert "\x1b" not in text
    assert (UNSAFE_OUTPUT.search(text) is None) is ensure_ascii


def test_sanitiser_round_trips_json_and_escapes_everything_unsafe() -> None:
    document = {"k\u202e": [HOSTILE, 1.5, None, True, "é\n\t"]}
    for indent in (None, 2):
        text = json_for_terminal(document, indent=indent)
        assert json.loads(text) == document
        assert_safe(text.replace("\n", ""))
    assert for_terminal("a\nb\tc\x1b") == "a\\x0ab\\x09c\\x1b"
    assert for_terminal("\u202e\u0085") == "\\u202e\\x85"
    assert for_terminal("plain ünïcode ✓") == "plain ünïcode ✓"


# The library escapes its own exception text and log lines; the command line escapes again
# (for_terminal is idempotent). A user must see each escape once: `\x1b`, never `\\x1b`.
DOUBLE_ESCAPED = re.compile(r"\\\\(?:x[0-9a-f]{2}|u[0-9a-f]{4})")


def test_a_hostile_error_message_is_escaped_exactly_once(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"error": {"code": f"Nope{HOSTILE}", "message": f"no such device {HOSTILE}"}}
    serve_with(monkeypatch, httpx.Response(404, json=body))
    result = invoke(app, "command", "run", "mx1", "CoolDown")
    assert result.exit_code == 3
    assert_safe(result.stderr)
    (line,) = result.stderr.splitlines()
    assert "\\x1b[2J" in line
    once = for_terminal(HOSTILE)
    assert line == f"error: HTTP 404 Nope{once}: no such device {once}"
    assert DOUBLE_ESCAPED.search(line) is None


def test_a_hostile_error_page_and_transport_error_are_escaped_exactly_once(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_with(monkeypatch, httpx.Response(502, text=f"<html>{HOSTILE}</html>"))
    page = invoke(app, "command", "run", "mx1", "CoolDown")
    assert "'<html>\\x1b[2J\\x1b]0;pwned\\x07\\x9b31m\\u202eevil" in page.stderr
    assert DOUBLE_ESCAPED.search(page.stderr) is None

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(f"peer said {HOSTILE}", request=request)

    monkeypatch.setattr(
        _settings,
        "IoTCentralClient",
        lambda *a, **kw: ic.IoTCentralClient(*a, **{**kw, "transport": httpx.MockTransport(drop)}),
    )
    dropped = invoke(app, "command", "run", "mx1", "CoolDown")
    assert dropped.exit_code == 4
    assert_safe(dropped.stderr)
    assert f"peer said {for_terminal(HOSTILE)}" in dropped.stderr
    assert DOUBLE_ESCAPED.search(dropped.stderr) is None


def test_the_verbose_log_escapes_header_values_exactly_once(
    app: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = [(b"x-ms-request-id", b"\x1b]0;pwned\x07"), (b"x-ms-error-code", b"\x9b2J")]
    serve_with(monkeypatch, httpx.Response(201, json={"id": "1"}, headers=headers))
    result = invoke(app, "command", "run", "mx1", "CoolDown", "--verbose")
    assert result.exit_code == 0, result.output
    assert "(x-ms-request-id \\x1b]0;pwned\\x07, x-ms-error-code \\x9b2J)" in result.stderr
    assert DOUBLE_ESCAPED.search(result.stderr) is None
