"""Fuzzing every public entry point (issue 10): a clear error or a correct request, nothing else.

Never an unhandled exception, a request to an unintended path or host, or header injection.
Each property drives the real client through an in-memory transport that records what would have
gone on the wire, and checks it against what the caller asked for.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

import httpx
import iotcentral as ic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOST = "myapp.azureiotcentral.com"
FUZZ = settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])

ids = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
not_json = st.sampled_from(
    [{1, 2}, b"bytes", float("nan"), float("inf"), object(), {"k": {1}}, [float("-inf")], (1j,)]
)
seconds = st.one_of(
    st.integers(-100, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.none(),
)


def _refusal(call: Callable[[], object]) -> ic.ValidationError | None:
    """The validation error `call` raised, or None when it went through."""
    try:
        call()
    except ic.ValidationError as error:
        return error
    return None


class Recorder:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"value": []})
        return httpx.Response(201, json={"id": "1", "responseCode": 200})


def _client(recorder: Recorder, **kwargs: Any) -> ic.IoTCentralClient:
    kwargs.setdefault("credential", ic.ApiToken("SharedAccessSignature sr=a&sig=s3cr3tsig&se=1"))
    if "base_url" not in kwargs:
        kwargs.setdefault("app", "myapp")
    return ic.IoTCentralClient(transport=httpx.MockTransport(recorder), retry=0, **kwargs)


def _segments(request: httpx.Request) -> list[str]:
    """The path segments after /api, percent-decoded: what the service routes on."""
    raw = request.url.raw_path.split(b"?")[0].decode("ascii")
    return [unquote(part) for part in raw.split("/")[2:]]


@FUZZ
@given(device=ids, command=ids, component=st.none() | ids, module=st.none() | ids)
def test_ids_reach_exactly_their_own_path_segments(
    device: str, command: str, component: str | None, module: str | None
) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        error = _refusal(
            lambda: client.run_command(device, command, component=component, module=module)
        )
    if error is not None:
        assert isinstance(error, ic.InvalidArgumentError)
        assert str(error).split()[0] in ("device_id", "command_name", "component", "module")
        assert recorder.requests == []
        return
    (request,) = recorder.requests
    assert request.url.host == HOST
    expected = ["devices", device]
    if module is not None:
        expected += ["modules", module]
    if component is not None:
        expected += ["components", component]
    expected += ["commands", command]
    assert _segments(request) == expected
    assert request.url.params["api-version"] == ic.DEFAULT_API_VERSION
    assert list(request.url.params) == ["api-version"]  # nothing an id holds became a parameter


@FUZZ
@given(payload=json_values | not_json)
def test_payloads_are_sent_as_given_or_refused(payload: Any) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        error = _refusal(lambda: client.run_command("mx1", "CoolDown", payload))
    if error is not None:
        assert isinstance(error, ic.InvalidPayloadError)
        assert "request must be JSON-serialisable" in str(error)
        assert recorder.requests == []
        return
    body = json.loads(recorder.requests[0].content)
    assert body.get("request") == payload


@FUZZ
@given(connection=seconds, response=seconds)
def test_service_timeouts_are_in_range_or_refused_by_name(connection: Any, response: Any) -> None:
    recorder = Recorder()
    with _client(recorder) as client:
        error = _refusal(
            lambda: client.run_command(
                "mx1", "CoolDown", connection_timeout=connection, response_timeout=response
            )
        )
    if error is not None:
        text = str(error)
        assert ("connection_timeout must be an integer from 0 to 30" in text) or (
            "response_timeout must be an integer from 5 to 30" in text
        )
        assert recorder.requests == []
        return
    body = json.loads(recorder.requests[0].content)
    for name, value in (("connectionTimeout", connection), ("responseTimeout", response)):
        assert body.get(name) == value


@FUZZ
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**12), st.booleans()
    )
)
def test_http_timeouts_are_bounded_or_refused(value: Any) -> None:
    error = _refusal(lambda: ic.Timeout(read=value))
    if error is not None:
        assert "timeout.read must be a number of seconds" in str(error)
        return
    timeout = ic.Timeout(read=value)
    assert 0 < timeout.read <= 3600
    assert math.isfinite(timeout.read)


url_parts = st.sampled_from(
    ["http://", "https://", "ftp://", "//", "", "https://user:pw@", "http://[::1]", "https://a.b"]
)
url_tails = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


@FUZZ
@given(head=url_parts, tail=url_tails)
def test_base_urls_are_refused_or_used_as_given(head: str, tail: str) -> None:
    recorder = Recorder()
    error = _refusal(lambda: _client(recorder, base_url=head + tail))
    if error is not None:
        assert str(error).startswith("base_url")
        return
    with _client(recorder, base_url=head + tail) as client:
        client.command_history("mx1", "CoolDown")
    given_url = httpx.URL(head + tail)
    (request,) = recorder.requests
    assert request.url.scheme in ("https", "http")
    assert request.url.host == given_url.host
    assert request.url.port == given_url.port
    if request.url.scheme == "http":
        assert request.url.host in ("localhost", "::1") or request.url.host.startswith("127.")


@FUZZ
@given(
    app=st.text(max_size=70), domain=st.sampled_from(["azureiotcentral.com", "x.y", "evil.com/"])
)
def test_app_names_are_refused_or_make_exactly_one_host(app: str, domain: str) -> None:
    recorder = Recorder()
    error = _refusal(lambda: _client(recorder, app=app, base_domain=domain))
    if error is not None:
        assert str(error).split()[0] in ("app", "base_domain")
        return
    with _client(recorder, app=app, base_domain=domain) as client:
        client.command_history("mx1", "CoolDown")
    assert recorder.requests[0].url.host == f"{app}.{domain}".lower()


tokens = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=30)


class _Fetched(NamedTuple):
    token: str
    expires_on: int


@FUZZ
@given(token=tokens, kind=st.sampled_from(["api", "bearer", "fetched"]))
def test_tokens_never_inject_headers(token: str, kind: str) -> None:
    recorder = Recorder()

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> _Fetched:
            return _Fetched(token, 4_102_444_800)

    make: Callable[[], Any] = {
        "api": lambda: ic.ApiToken(token),
        "bearer": lambda: ic.BearerToken(token),
        "fetched": Credential,
    }[kind]
    error = _refusal(make)
    if error is not None:
        assert str(error).split()[0] in ("ApiToken", "BearerToken")
        return
    with _client(recorder, credential=make()) as client:
        try:
            client.command_history("mx1", "CoolDown")
        except ic.CredentialError as failure:
            refused = failure
        else:
            refused = None
    if refused is not None:
        assert kind == "fetched"
        assert recorder.requests == []
        return
    (request,) = recorder.requests
    authorization = request.headers["authorization"]
    assert "\r" not in authorization
    assert "\n" not in authorization
    assert set(request.headers) <= {
        "host",
        "accept",
        "accept-encoding",
        "connection",
        "user-agent",
        "authorization",
        "x-ms-client-request-id",
    }


@pytest.mark.parametrize("token", ["tok\r\nX-Evil: 1", "tok\x00", "tok\x7f", "tökén", "  "])
def test_a_credential_returning_a_bad_token_fails_before_sending(token: str) -> None:
    recorder = Recorder()

    class Credential:
        def get_token(self, *scopes: str, **kwargs: Any) -> _Fetched:
            return _Fetched(token, 4_102_444_800)

    client = _client(recorder, credential=Credential())
    with client, pytest.raises(ic.CredentialError, match="token"):
        client.command_history("mx1", "CoolDown")
    assert recorder.requests == []
