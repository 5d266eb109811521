"""Timeouts, headers, logging and redaction, TLS, the pool and the client's life cycle."""

from __future__ import annotations

import inspect
import logging
import re
import ssl
import sys
import uuid

import httpx
import iotcentral as ic
import pytest
from client_helpers import SECRET, TOKEN, FakeClock, Script, command_json, error_json, history_json

# -- timeouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ct", "rt", "read"),
    [
        (None, None, 45.0),  # service defaults 0 + 30, plus the 15 s margin
        (0, 5, 30.0),  # 20 s is below the 30 s read floor
        (30, 30, 75.0),
        (10, None, 55.0),
        (None, 10, 30.0),
    ],
)
def test_run_read_timeout_covers_the_service_side_waits(
    ct: int | None, rt: int | None, read: float
) -> None:
    script = Script(command_json())
    with script.client() as client:
        client.run_command("mx1", "CoolDown", connection_timeout=ct, response_timeout=rt)
    timeout = script.requests[0].extensions["timeout"]
    assert timeout == {"connect": 5.0, "read": read, "write": 10.0, "pool": 10.0}
    assert ic.Timeout().command_read_timeout(ct, rt) == read


def test_history_uses_the_plain_read_timeout() -> None:
    script = Script(history_json())
    with script.client(timeout=ic.Timeout(read=12, connect=2)) as client:
        client.command_history("mx1", "CoolDown")
    assert script.requests[0].extensions["timeout"] == {
        "connect": 2.0,
        "read": 12.0,
        "write": 10.0,
        "pool": 10.0,
    }


def test_per_call_timeout_and_with_options() -> None:
    script = Script(command_json())
    with script.client() as client:
        client.run_command("mx1", "CoolDown", timeout=ic.Timeout(margin=40, connect=1))
        fast = client.with_options(timeout=ic.Timeout(read=100))
        fast.run_command("mx1", "CoolDown")
        client.run_command("mx1", "CoolDown")
    reads = [r.extensions["timeout"]["read"] for r in script.requests]
    connects = [r.extensions["timeout"]["connect"] for r in script.requests]
    assert reads == [70.0, 100.0, 45.0]
    assert connects == [1.0, 5.0, 5.0]
    assert ic.Timeout(margin=40) != ic.Timeout()
    assert ic.Timeout() == ic.DEFAULT_TIMEOUT


def test_the_pool_default_timeout_is_never_none_or_httpx_default() -> None:
    client = ic.IoTCentralClient("myapp", credential=TOKEN)
    assert client._http.timeout == httpx.Timeout(connect=5.0, read=30.0, write=10.0, pool=10.0)
    client.close()


# -- headers -------------------------------------------------------------------------------------


def test_every_request_carries_the_standard_headers() -> None:
    script = Script(command_json(), history_json())
    with script.client() as client:
        client.run_command("mx1", "CoolDown", {"tempVal": 30})
    script.steps = [history_json()]
    with script.client() as client:
        client.command_history("mx1", "CoolDown")
    post, get = script.requests
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    for request in (post, get):
        assert (
            request.headers["user-agent"] == f"iotcentral-client/{ic.__version__} python/{version}"
        )
        assert re.fullmatch(r"iotcentral-client/\S+ python/\d+\.\d+\.\d+", ic.USER_AGENT)
        assert request.headers["accept"] == "application/json"
        assert request.url.params["api-version"] == "2022-07-31"
        uuid.UUID(request.headers["x-ms-client-request-id"])
    assert post.headers["content-type"] == "application/json"
    assert post.content == b'{"request":{"tempVal":30}}'
    assert post.headers["x-ms-client-request-id"] != get.headers["x-ms-client-request-id"]


def test_each_call_gets_its_own_request_id_and_results_expose_it() -> None:
    script = Script(command_json())
    with script.client() as client:
        results = [client.run_command("mx1", "CoolDown") for _ in range(3)]
    ids = [r.headers["x-ms-client-request-id"] for r in script.requests]
    assert len(set(ids)) == 3
    assert [r.client_request_id for r in results] == ids


def test_errors_expose_the_client_request_id() -> None:
    script = Script(error_json(404, "DeviceNotFound"))
    with script.client() as client, pytest.raises(ic.NotFoundError) as info:
        client.run_command("mx1", "CoolDown")
    assert info.value.client_request_id == script.requests[0].headers["x-ms-client-request-id"]


def test_redirects_are_not_followed() -> None:
    script = Script(httpx.Response(307, headers={"location": "https://evil.example/steal"}))
    with script.client() as client, pytest.raises(ic.MalformedResponseError, match="307"):
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1


# -- logging and redaction -----------------------------------------------------------------------


def test_no_token_text_in_debug_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture, clock: FakeClock
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: iotcentral, httpx, httpcore
    bearer_secret = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LWNsYWltcw.c2lnbmF0dXJl"

    class Credential:
        def get_token(self, *scopes: str) -> object:
            class Token:
                token = bearer_secret
                expires_on = clock() + 3600

            return Token()

    script = Script(
        error_json(429, "TooManyRequests", **{"retry-after": "0"}),
        command_json(),
        # A careless server that echoes the credential it received.
        lambda request: error_json(401, "Unauthorized", f"{request.headers['authorization']} bad"),
        httpx.ReadTimeout("read timed out"),
    )
    errors: list[Exception] = []
    for credential in (ic.ApiToken(TOKEN), ic.BearerToken(bearer_secret), Credential()):
        script.requests.clear()
        with script.client(credential=credential, retry=ic.RetryPolicy(sleep=lambda s: None)) as c:
            c.run_command("mx1", "CoolDown")
            for _ in range(2):
                try:
                    c.run_command("mx1", "CoolDown")
                except ic.IoTCentralError as exc:
                    errors.append(exc)
            assert SECRET not in repr(c)
            assert bearer_secret not in repr(c)
    assert "HTTP POST" in caplog.text
    assert "[REDACTED]" in caplog.text
    assert "retrying" in caplog.text
    for secret in (SECRET, bearer_secret):
        assert secret not in caplog.text
        for error in errors:
            assert secret not in str(error)
            assert secret not in repr(error)
    assert {type(e) for e in errors} >= {ic.AuthenticationError, ic.RequestMaybeSentError}


def test_request_bodies_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="iotcentral")
    with Script(command_json()).client() as client:
        client.run_command("mx1", "CoolDown", {"pin": "1234-secret-pin"})
    assert "1234-secret-pin" not in caplog.text
    assert "body=" in caplog.text


# -- TLS, pool, life cycle -----------------------------------------------------------------------


def test_tls_verification_is_on_and_proxies_from_env_are_honoured_for_remote_hosts() -> None:
    client = ic.IoTCentralClient("myapp", credential=TOKEN)
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    context: ssl.SSLContext = pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert client._http.trust_env
    client.close()
    local = ic.IoTCentralClient(base_url="http://127.0.0.1:1/api", credential=TOKEN)
    assert not local._http.trust_env  # no corporate proxy between us and the local simulator
    local.close()


def test_one_pool_shared_by_copies_and_closed_by_the_owner() -> None:
    script = Script(command_json())
    client = script.client()
    copy = client.with_options(retry=0)
    assert copy._http is client._http
    copy.close()  # a copy does not own the pool
    copy.run_command("mx1", "CoolDown")
    client.close()
    with pytest.raises(ic.ClientClosedError):
        client.run_command("mx1", "CoolDown")
    with pytest.raises(RuntimeError):
        copy.command_history("mx1", "CoolDown")
    assert len(script.requests) == 1


def test_context_manager_closes_the_pool() -> None:
    with Script(command_json()).client() as client:
        pass
    assert client._http.is_closed


async def test_async_context_manager_and_with_options() -> None:
    script = Script(command_json())
    async with script.async_client() as client:
        copy = client.with_options(timeout=ic.Timeout(margin=1))
        await copy.aclose()
        await copy.run_command("mx1", "CoolDown")
        assert copy.timeout.margin == 1.0
        assert client.timeout.margin == 15.0
    with pytest.raises(ic.ClientClosedError):
        await client.run_command("mx1", "CoolDown")


def test_properties_and_repr() -> None:
    client = ic.IoTCentralClient("myapp", credential=TOKEN, retry=5)
    assert client.base_url == "https://myapp.azureiotcentral.com/api"
    assert client.retry.max_retries == 5
    assert client.timeout == ic.DEFAULT_TIMEOUT
    assert repr(client) == (
        "IoTCentralClient(base_url='https://myapp.azureiotcentral.com/api',"
        " credential=ApiToken('********'))"
    )
    client.close()


def test_importing_iotcentral_does_not_import_the_cli() -> None:
    import subprocess

    code = "import sys, iotcentral; print('typer' in sys.modules, 'iotcentral.cli' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_surface_is_listed() -> None:
    for name in ic.__all__:
        assert getattr(ic, name) is not None
        obj = getattr(ic, name)
        if isinstance(obj, type) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
