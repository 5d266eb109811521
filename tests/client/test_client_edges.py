"""Edge behaviours that mutation testing (scripts/mutation-test) showed no test pinned down."""

from __future__ import annotations

import time

import httpx
import iotcentral as ic
import pytest
from client_helpers import TOKEN, Script, command_json, error_json
from iotcentral._redact import REDACTED, cut, redacted_headers
from iotcentral._responses import excerpt, make_status_error, map_transport_error
from iotcentral._retry import RetryChain, parse_retry_after, retry_not_sent, retry_throttled

# -- retries ------------------------------------------------------------------------------------


def test_an_opt_in_unsafe_retry_waits_as_long_as_the_service_asked() -> None:
    sleeps: list[float] = []
    policy = ic.RetryPolicy(retry_unsafe=True, sleep=sleeps.append, random=lambda: 0.5)
    script = Script(error_json(503, "ServiceUnavailable", **{"Retry-After": "7"}), command_json())
    with script.client(retry=policy) as client:
        client.run_command("mx1", "CoolDown")
    assert sleeps == [7.0]


def test_an_unreadable_ms_header_falls_through_to_the_next_one() -> None:
    headers = {"retry-after-ms": "soon", "x-ms-retry-after-ms": "2500", "retry-after": "9"}
    assert parse_retry_after(headers, now=0) == 2.5


def test_a_retry_chain_names_its_decisions() -> None:
    class Custom:
        def __call__(self, error: ic.IoTCentralError, retries: int) -> object:
            raise NotImplementedError

        def __repr__(self) -> str:
            return "Custom()"

    chain = RetryChain(retry_throttled, retry_not_sent, Custom())  # type: ignore[arg-type]
    assert repr(chain) == "RetryChain(retry_throttled, retry_not_sent, Custom())"


# -- redaction ----------------------------------------------------------------------------------


def test_cut_keeps_text_of_exactly_the_limit() -> None:
    assert cut("abcd", 4) == "abcd"
    assert cut("abcde", 4) == "abcd..."


def test_cut_keeps_a_bracket_that_is_not_a_marker() -> None:
    assert cut("a[bcdef", 4) == "a[bc..."


def test_cut_keeps_a_whole_marker_and_what_follows_it() -> None:
    text = f"{REDACTED}xyz and more"
    assert cut(text, len(REDACTED) + 2) == f"{REDACTED}xy..."
    assert cut(f"ab {REDACTED}", 6) == "ab ..."  # a marker cut in two goes entirely


def test_only_credential_headers_are_hidden_in_logs() -> None:
    headers = httpx.Headers({"x-ms-client-request-id": "abc", "Authorization": "t", "Cookie": "c"})
    assert redacted_headers(headers) == {
        "x-ms-client-request-id": "abc",
        "authorization": REDACTED,
        "cookie": REDACTED,
    }


# -- quoting bodies -----------------------------------------------------------------------------


def test_an_empty_body_is_said_to_be_empty() -> None:
    assert excerpt(b"") == "<empty body>"


def test_a_short_body_is_quoted_whole_with_whitespace_collapsed() -> None:
    assert excerpt(b"  bad\n\n gateway \t") == "'bad gateway'"


def test_a_long_body_says_it_was_cut_even_when_whitespace_shrank_it() -> None:
    body = b" " * 900 + b"tail"
    assert excerpt(b" " * 799 + b"x") == "'x'"  # 800 bytes: read whole, nothing cut
    assert excerpt(body) == "'...'"  # the first 800 bytes were blank; the rest was not read


def test_an_error_without_a_content_type_says_so() -> None:
    response = httpx.Response(
        502, content=b"<html>gateway</html>", request=httpx.Request("GET", "https://a.b/api")
    )
    error = make_status_error(response, retry_after=None)
    assert "(no content type)" in error.message
    assert error.message.startswith("Bad Gateway; the body is not the documented error shape")
    assert error.body is None


def test_an_error_status_without_a_reason_phrase_still_reads() -> None:
    response = httpx.Response(
        599, json={"error": {"code": "X"}}, request=httpx.Request("GET", "https://a.b/api")
    )
    response.extensions["reason_phrase"] = b""
    assert make_status_error(response, retry_after=None).message == "error"


@pytest.mark.parametrize(
    ("when", "year"),
    [("Sat, 28 Nov 2026 10:00:00 GMT", 2026), ("2025-01-02T03:04:05+00:00", 2025), (5, None)],
)
def test_error_time_is_read_in_either_format_or_left_out(when: object, year: int | None) -> None:
    body = {"error": {"code": "X", "message": "m", "time": when}}
    response = httpx.Response(500, json=body, request=httpx.Request("GET", "https://a.b/api"))
    error = make_status_error(response, retry_after=None)
    assert (error.time.year if error.time else None) == year


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("responseCode", "200", "the answer's responseCode should be an integer, got str"),
        ("id", 7, "the answer: id should be a string, got int"),
    ],
)
def test_wrong_field_types_are_named(field: str, value: object, message: str) -> None:
    client = Script(command_json(**{field: value})).client()
    with client, pytest.raises(ic.MalformedResponseError, match=message):
        client.run_command("mx1", "CoolDown")


def test_nan_is_named_in_the_error() -> None:
    answer = httpx.Response(201, content=b'{"response": NaN}')
    with Script(answer).client() as client, pytest.raises(ic.MalformedResponseError) as info:
        client.run_command("mx1", "CoolDown")
    assert "NaN is not a JSON value" in str(info.value)


# -- transport errors ---------------------------------------------------------------------------


def test_transport_errors_name_the_failure_and_its_detail() -> None:
    request = httpx.Request("POST", "https://a.b/api/devices/d/commands/c?api-version=x")
    silent = map_transport_error(httpx.ReadTimeout("", request=request), request)
    said = map_transport_error(httpx.ReadTimeout("timed out", request=request), request)
    assert "(ReadTimeout)" in str(silent)
    assert "(ReadTimeout: timed out)" in str(said)
    assert "api-version" not in str(said)  # the query is left out of the message


def test_a_transport_error_reports_the_request_that_failed() -> None:
    """After a 401 the auth flow re-sends another request: that is the one reported."""
    first = httpx.Request("GET", "https://a.b/api/first", headers={"authorization": TOKEN})
    resent = httpx.Request("GET", "https://a.b/api/resent")
    error = map_transport_error(httpx.ConnectError("refused", request=resent), first)
    assert isinstance(error, ic.RequestNotSentError)
    assert error.request is resent


# -- settings -----------------------------------------------------------------------------------


def test_a_dotted_app_name_gets_a_hint_and_a_plain_bad_one_does_not() -> None:
    with pytest.raises(ic.InvalidArgumentError, match=r"\(pass only the subdomain"):
        ic.IoTCentralClient("myapp.azureiotcentral.com", credential="Bearer x")
    with pytest.raises(ic.InvalidArgumentError) as info:
        ic.IoTCentralClient("my_app", credential="Bearer x")
    assert str(info.value) == (
        "app must be a DNS label (letters, digits and '-', at most 63 characters), got 'my_app'"
    )


@pytest.mark.parametrize("domain", [5, "", ".example.com", "a..b", "exa mple.com"])
def test_a_bad_base_domain_is_refused_by_name(domain: object) -> None:
    with pytest.raises(
        ic.InvalidArgumentError, match=f"base_domain must be a host name, got {domain!r}"
    ):
        ic.IoTCentralClient("myapp", credential="Bearer x", base_domain=domain)  # type: ignore[arg-type]


def test_a_trailing_dot_on_the_base_domain_is_dropped() -> None:
    client = ic.IoTCentralClient("myapp", credential="Bearer x", base_domain="example.com.")
    assert client.base_url == "https://myapp.example.com/api"


def test_each_known_secret_is_looked_for_in_every_encoding_a_server_uses() -> None:
    from iotcentral._redact import _encodings

    found = set(_encodings('a/b&c<d>e"f'))
    assert {
        'a/b&c<d>e"f',  # raw
        'a/b&c<d>e\\"f',  # JSON
        'a\\/b&c<d>e\\"f',  # JSON with escaped slashes (PHP, some Java)
        'a/b\\u0026c\\u003cd\\u003ee\\"f',  # JSON the Go way
        "a/b&amp;c&lt;d&gt;e&quot;f",  # HTML
        'a/b&#38;c<d>e"f',  # HTML, numeric
        'a/b&#x26;c<d>e"f',  # HTML, hexadecimal
        "a%2Fb%26c%3Cd%3Ee%22f",  # percent-encoded
        "a%2fb%26c%3cd%3ee%22f",  # percent-encoded, lower-case hex
    } <= found


def test_redact_json_hides_secrets_in_every_string_and_keeps_the_rest() -> None:
    from iotcentral._redact import redact_json

    secret = "Zk3Jc6Bf0GyQm9Xr7Tq2"
    document = {"id": f"x{secret}", secret: [1, 2.5, None, True, {"deep": (secret, "ok")}]}
    assert redact_json(document, [secret]) == {
        "id": f"x{REDACTED}",
        REDACTED: [1, 2.5, None, True, {"deep": [REDACTED, "ok"]}],
    }
    assert redact_json("plain", [secret]) == "plain"
    assert redact_json(7, [secret]) == 7


def test_unusable_answers_quote_their_body_in_the_message() -> None:
    undocumented = httpx.Response(200, content=b"surprise", headers={"content-type": "text/plain"})
    not_json = httpx.Response(201, content=b"<html>x</html>")
    wrong_shape = httpx.Response(200, json={"items": []})
    with Script(undocumented, not_json, wrong_shape).client(retry=0) as client:
        with pytest.raises(ic.MalformedResponseError) as first:
            client.run_command("mx1", "CoolDown")
        with pytest.raises(ic.MalformedResponseError) as second:
            client.run_command("mx1", "CoolDown")
        with pytest.raises(ic.MalformedResponseError) as third:
            client.command_history("mx1", "CoolDown")
    assert str(first.value).endswith("(expected 201); body: 'surprise'")
    assert "not valid JSON (no content type, 14 bytes): '<html>x</html>'" in str(second.value)
    assert str(third.value) == (
        "the answer should be a JSON object with a 'value' array: '{\"items\":[]}'"
    )


def test_an_http_date_retry_after_is_read_relative_to_now() -> None:
    from email.utils import formatdate

    when = formatdate(time.time() + 120, usegmt=True)
    answer = error_json(429, "TooManyRequests", **{"Retry-After": when})
    client = Script(answer).client(retry=0)
    with client, pytest.raises(ic.ThrottledError) as info:
        client.run_command("mx1", "CoolDown")
    assert info.value.retry_after is not None
    assert 100 < info.value.retry_after <= 120


def test_a_base_domain_ending_in_x_is_kept_whole() -> None:
    client = ic.IoTCentralClient("myapp", credential="Bearer x", base_domain="example.boX")
    assert client.base_url == "https://myapp.example.boX/api"


def test_the_dotted_app_hint_is_worded_exactly() -> None:
    with pytest.raises(ic.InvalidArgumentError) as info:
        ic.IoTCentralClient("my.app", credential="Bearer x")
    assert str(info.value) == (
        "app must be a DNS label (letters, digits and '-', at most 63 characters)"
        " (pass only the subdomain, or use base_url=), got 'my.app'"
    )


def test_redaction_boundaries() -> None:
    from iotcentral._redact import redact, secrets_in

    assert redact("key abcd here", ["abcd"]) == f"key {REDACTED} here"  # 4 characters: a secret
    assert redact("key abc here", ["abc"]) == "key abc here"  # 3: too likely by chance
    assert set(secrets_in("Bearer abcd")) == {"Bearer abcd", "abcd"}
    assert set(secrets_in("Bearer  a b c d")) == {"Bearer  a b c d", "a b c d"}
    core = "K9zR2qX7LmP4vT8wYc3N5bH6"  # a bearer token: all of it is the secret core
    assert redact(core[:12], [f"Bearer {core}"]) == REDACTED  # exactly one fragment long
    # Two fragments that are not next to each other in the token, side by side in the text:
    assert redact(core[12:] + core[:12], [f"Bearer {core}"]) == REDACTED


def test_a_trailing_dot_host_is_a_host() -> None:
    client = ic.IoTCentralClient(base_url="https://myapp.example.com./api", credential="Bearer x")
    assert client.base_url == "https://myapp.example.com./api"


def test_a_failed_read_says_no_answer_and_keeps_its_cause() -> None:
    request = httpx.Request("GET", "https://a.b/api/devices/d/commands/c/history?api-version=x")
    cause = httpx.ReadError("reset", request=request)
    error = map_transport_error(cause, request)
    assert isinstance(error, ic.RequestMaybeSentError)
    assert str(error) == (
        "GET https://a.b/api/devices/d/commands/c/history failed after it may have been sent"
        " (ReadError: reset); no answer"
    )
    assert error.cause is cause
    assert not error.may_have_executed


@pytest.mark.parametrize(
    "url", ["http://localhost./api", "http://LOCALHOST/api", "http://[::1]:9/api"]
)
def test_loopback_names_in_any_spelling_may_use_plain_http(url: str) -> None:
    ic.IoTCentralClient(base_url=url, credential="Bearer x").close()


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://xn--bcher-kva.de/api", True),
        ("https://bücher.de/api", True),
        ("https:///api", False),
    ],
)
def test_idna_hosts_are_hosts_and_an_empty_one_is_not(url: str, accepted: bool) -> None:
    try:
        ic.IoTCentralClient(base_url=url, credential="Bearer x").close()
    except ic.InvalidArgumentError as error:
        refused: str | None = str(error)
    else:
        refused = None
    assert (refused is None) is accepted, refused


def test_retry_policy_errors_name_the_setting() -> None:
    with pytest.raises(ic.InvalidArgumentError, match=r"^jitter must be >= 0, got -0.5$"):
        ic.RetryPolicy(jitter=-0.5)
    with pytest.raises(ic.InvalidArgumentError, match=r"^jitter must be a number, got 'x'$"):
        ic.RetryPolicy(jitter="x")  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidArgumentError, match=r"^max_retries must be an integer, got 1.5$"):
        ic.RetryPolicy(max_retries=1.5)  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidArgumentError, match=r"^decision must be callable$"):
        ic.RetryPolicy(decision="always")  # type: ignore[arg-type]
    assert ic.RetryPolicy(jitter=1).jitter == 1  # full jitter is allowed, more is not
    with pytest.raises(ic.InvalidArgumentError, match=r"^jitter must be from 0 to 1, got 1.01$"):
        ic.RetryPolicy(jitter=1.01)
    with pytest.raises(ic.InvalidArgumentError, match="number of retries, got str"):
        ic.IoTCentralClient("myapp", credential="Bearer x", retry="3")  # type: ignore[arg-type]
    with pytest.raises(ic.InvalidArgumentError, match=r"^base_url must be a string, got int"):
        ic.IoTCentralClient(base_url=5, credential="Bearer x")  # type: ignore[arg-type]


def test_a_secret_with_a_space_is_looked_for_percent_and_plus_encoded() -> None:
    from iotcentral._redact import _encodings

    found = set(_encodings("a/b c"))
    assert {"a%2Fb%20c", "a%2Fb+c", "a%2fb%20c", "a%2fb+c"} <= found


def test_only_the_signature_of_an_api_token_counts_as_secret() -> None:
    from iotcentral._redact import redact

    token = (
        "SharedAccessSignature sr=0b1e7c2a-app&sig=Qm9Xr7Tq2Wv8Ls5Pn1Hd4Zk3&skn=operator-token-name"
    )
    text = "token operator-token-name of app 0b1e7c2a-app was refused"
    assert redact(text, [token]) == text  # its name and app id stay readable in messages


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://a.b/api", "base_url must be an absolute https:// URL, got 'ftp://a.b/api'"),
        ("https://a.b/api?x=1", "base_url must not contain a query or a fragment"),
    ],
)
def test_base_url_refusals_are_worded_exactly(url: str, message: str) -> None:
    with pytest.raises(ic.InvalidArgumentError) as info:
        ic.IoTCentralClient(base_url=url, credential="Bearer x")
    assert str(info.value) == message


def test_a_base_url_keeps_its_path_without_the_trailing_slash() -> None:
    client = ic.IoTCentralClient(base_url="https://a.b/apiX/", credential="Bearer x")
    assert client.base_url == "https://a.b/apiX"


def test_version_and_timeout_refusals_are_worded_exactly() -> None:
    with pytest.raises(ic.InvalidArgumentError) as version:
        ic.IoTCentralClient("myapp", credential="Bearer x", api_version="2020-01-01")
    assert str(version.value) == (
        "api_version must be one of " + ", ".join(ic.SUPPORTED_API_VERSIONS) + ", got '2020-01-01'"
    )
    with pytest.raises(ic.InvalidArgumentError) as timeout:
        ic.IoTCentralClient("myapp", credential="Bearer x", timeout=30)  # type: ignore[arg-type]
    assert str(timeout.value) == "timeout must be an iotcentral.Timeout, got int"


def test_a_long_body_that_shrinks_to_the_limit_still_says_it_was_cut() -> None:
    assert excerpt(b"a" * 200 + b" " * 700) == repr("a" * 200 + "...")
    assert excerpt(b"x" + b" " * 900) == "'x...'"


def test_a_non_string_next_link_is_named() -> None:
    answer = httpx.Response(200, json={"value": [], "nextLink": 5})
    client = Script(answer).client(retry=0)
    with client, pytest.raises(ic.MalformedResponseError) as info:
        client.command_history("mx1", "CoolDown")
    assert str(info.value) == "the answer's nextLink should be a string"


def test_transport_errors_say_whether_the_command_may_have_run() -> None:
    post = httpx.Request("POST", "https://a.b/api/devices/d/commands/c")
    dropped = map_transport_error(httpx.ReadError("reset", request=post), post)
    assert str(dropped).endswith("(ReadError: reset); the command may have run on the device")
    refused = httpx.ConnectError("refused", request=post)
    not_sent = map_transport_error(refused, post)
    assert not_sent.cause is refused
    assert str(not_sent) == (
        "could not reach the service (ConnectError: refused);"
        " POST https://a.b/api/devices/d/commands/c was not sent"
    )
