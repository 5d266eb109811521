"""Retries never run a command twice unless asked: what is retried, how long it waits, and why."""

from __future__ import annotations

import logging
from email.utils import formatdate

import httpx
import iotcentral as ic
import pytest
from client_helpers import FakeClock, Script, Sleeps, command_json, error_json, history_json
from hypothesis import given
from hypothesis import strategies as st
from iotcentral_sim import DEFAULT_API_TOKEN, Simulator, SimulatorServer

CONNECT = httpx.ConnectError("connection refused")
CONNECT_TIMEOUT = httpx.ConnectTimeout("connect timed out")
POOL_TIMEOUT = httpx.PoolTimeout("no free connection")
READ_TIMEOUT = httpx.ReadTimeout("read timed out")
WRITE_TIMEOUT = httpx.WriteTimeout("write timed out")
DROPPED = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
READ_ERROR = httpx.ReadError("connection reset by peer")


def request_ids(script: Script) -> set[str]:
    return {r.headers["x-ms-client-request-id"] for r in script.requests}


# -- run-command POST ----------------------------------------------------------------------------


def test_429_with_retry_after_is_retried_and_succeeds(sleeps: Sleeps) -> None:
    script = Script(error_json(429, "TooManyRequests", **{"retry-after": "2"}), command_json())
    with script.client(retry=sleeps.policy()) as client:
        result = client.run_command("mx1", "CoolDown", {"tempVal": 30})
    assert result.response_code == 200
    assert sleeps.calls == [2.0]
    assert len(script.requests) == 2
    assert len(request_ids(script)) == 1  # one logical call, one client request id
    assert result.client_request_id in request_ids(script)


def test_retry_after_is_capped(sleeps: Sleeps) -> None:
    script = Script(error_json(429, "TooManyRequests", **{"retry-after": "3600"}), command_json())
    with script.client(retry=sleeps.policy(max_retry_after=20)) as client:
        client.run_command("mx1", "CoolDown")
    assert sleeps.calls == [20.0]


def test_429_without_retry_after_backs_off_with_jitter(sleeps: Sleeps) -> None:
    script = Script(error_json(429, "TooManyRequests"))
    policy = sleeps.policy(max_retries=5, backoff_initial=1, backoff_max=6, jitter=0.5)
    with script.client(retry=policy) as client, pytest.raises(ic.ThrottledError):
        client.run_command("mx1", "CoolDown")
    # random() is 0.5 in tests: each delay is the exponential step times (1 - 0.5 * 0.5)
    assert sleeps.calls == [0.75, 1.5, 3.0, 4.5, 4.5]
    assert len(script.requests) == 6


@pytest.mark.parametrize("failure", [CONNECT, CONNECT_TIMEOUT, POOL_TIMEOUT])
def test_a_post_that_never_left_is_retried(sleeps: Sleeps, failure: Exception) -> None:
    script = Script(failure, command_json())
    with script.client(retry=sleeps.policy()) as client:
        assert client.run_command("mx1", "CoolDown").id == "c0ffee"
    assert len(script.requests) == 2
    assert len(sleeps.calls) == 1


@pytest.mark.parametrize("failure", [READ_TIMEOUT, WRITE_TIMEOUT, DROPPED, READ_ERROR])
def test_a_post_that_may_have_been_sent_is_not_retried(sleeps: Sleeps, failure: Exception) -> None:
    script = Script(failure, command_json())
    with (
        script.client(retry=sleeps.policy()) as client,
        pytest.raises(ic.RequestMaybeSentError) as info,
    ):
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1
    assert sleeps.calls == []
    assert info.value.may_have_executed
    assert isinstance(info.value.cause, httpx.TransportError)
    assert isinstance(info.value.__cause__, httpx.TransportError)
    assert "may have run" in str(info.value)


@pytest.mark.parametrize(
    "answer",
    [
        error_json(500, "InternalServerError"),
        error_json(503, "ServiceUnavailable", **{"retry-after": "1"}),
        error_json(504, "RequestTimeout"),
        error_json(408, "RequestTimeout"),
        httpx.Response(502, text="<html>bad gateway</html>"),
    ],
)
def test_a_post_answered_with_5xx_or_timeout_is_not_retried(
    sleeps: Sleeps, answer: httpx.Response
) -> None:
    script = Script(answer, command_json())
    with script.client(retry=sleeps.policy()) as client, pytest.raises(ic.APIStatusError) as info:
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1
    assert info.value.may_have_executed


@pytest.mark.parametrize(
    "failure",
    [
        error_json(503, "ServiceUnavailable"),
        error_json(504, "RequestTimeout"),
        READ_TIMEOUT,
        DROPPED,
    ],
)
def test_opt_in_unsafe_retry_does_resend_a_post(sleeps: Sleeps, failure: Step) -> None:
    script = Script(failure, command_json())
    with script.client(retry=sleeps.policy(retry_unsafe=True)) as client:
        assert client.run_command("mx1", "CoolDown").id == "c0ffee"
    assert len(script.requests) == 2
    assert len(request_ids(script)) == 1


def test_opt_in_unsafe_retry_never_resends_after_a_malformed_201(sleeps: Sleeps) -> None:
    script = Script(httpx.Response(201, content=b'{"id": "tru'), command_json())
    with (
        script.client(retry=sleeps.policy(retry_unsafe=True)) as client,
        pytest.raises(ic.MalformedResponseError),
    ):
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 415, 422])
def test_client_errors_are_not_retried(sleeps: Sleeps, status: int) -> None:
    script = Script(error_json(status, "X"))
    with script.client(retry=sleeps.policy(retry_unsafe=True)) as client:
        with pytest.raises(ic.APIStatusError):
            client.run_command("mx1", "CoolDown")
        with pytest.raises(ic.APIStatusError):
            client.command_history("mx1", "CoolDown")
    assert len(script.requests) == 2


# -- history GET ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        error_json(500, "InternalServerError"),
        error_json(503, "ServiceUnavailable"),
        error_json(504, "GatewayTimeout"),
        error_json(408, "RequestTimeout"),
        httpx.Response(502, text="<html/>"),
        httpx.Response(200, content=b'{"value": [{"id"'),
        READ_TIMEOUT,
        DROPPED,
        CONNECT,
    ],
)
def test_history_get_retries_server_side_failures(sleeps: Sleeps, failure: Step) -> None:
    script = Script(failure, failure, history_json({"id": "h1"}))
    with script.client(retry=sleeps.policy()) as client:
        history = client.command_history("mx1", "CoolDown")
    assert history.latest is not None
    assert history.latest.id == "h1"
    assert len(script.requests) == 3
    assert len(request_ids(script)) == 1


def test_history_honours_retry_after_on_503(sleeps: Sleeps) -> None:
    script = Script(error_json(503, "ServiceUnavailable", **{"retry-after": "4"}), history_json())
    with script.client(retry=sleeps.policy()) as client:
        client.command_history("mx1", "CoolDown")
    assert sleeps.calls == [4.0]


def test_retries_stop_at_max_retries(sleeps: Sleeps) -> None:
    script = Script(error_json(500, "InternalServerError"))
    with (
        script.client(retry=sleeps.policy(max_retries=2)) as client,
        pytest.raises(ic.ServerError),
    ):
        client.command_history("mx1", "CoolDown")
    assert len(script.requests) == 3


# -- configuration -------------------------------------------------------------------------------


def test_per_call_and_with_options_retry_override(sleeps: Sleeps) -> None:
    script = Script(error_json(429, "TooManyRequests"))
    with script.client(retry=sleeps.policy(max_retries=3)) as client:
        with pytest.raises(ic.ThrottledError):
            client.run_command("mx1", "CoolDown", retry=0)
        assert len(script.requests) == 1
        with pytest.raises(ic.ThrottledError):
            client.run_command("mx1", "CoolDown", retry=sleeps.policy(max_retries=1))
        assert len(script.requests) == 3
        patient = client.with_options(retry=sleeps.policy(max_retries=4))
        with pytest.raises(ic.ThrottledError):
            patient.run_command("mx1", "CoolDown")
        assert len(script.requests) == 8
        assert client.retry.max_retries == 3  # the original is unchanged


def test_no_retry_policy() -> None:
    script = Script(CONNECT, command_json())
    with script.client(retry=ic.NO_RETRY) as client, pytest.raises(ic.RequestNotSentError):
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1


def test_a_custom_decision_chain(sleeps: Sleeps) -> None:
    def retry_404_once(error: ic.IoTCentralError, retries: int) -> ic.RetryOption:
        if isinstance(error, ic.NotFoundError) and retries == 0:
            return ic.RetryOption(True, 0.25)
        return ic.RetryOption(False)

    decision = ic.RetryChain(ic.DEFAULT_RETRY_DECISION, retry_404_once)
    script = Script(error_json(404, "DeviceNotOnline"), command_json())
    with script.client(retry=sleeps.policy(decision=decision)) as client:
        client.run_command("mx1", "CoolDown")
    assert sleeps.calls == [0.25]
    assert "retry_404_once" in repr(decision)


def test_every_retry_is_logged(sleeps: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iotcentral")
    script = Script(error_json(429, "TooManyRequests", **{"retry-after": "1"}), command_json())
    with script.client(retry=sleeps.policy()) as client:
        client.run_command("mx1", "CoolDown")
    (record,) = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert record.name == "iotcentral"
    assert "'CoolDown' on device 'mx1'" in record.getMessage()
    assert "retry 1 of 3" in record.getMessage()
    assert "ThrottledError" in record.getMessage()


def test_a_refused_unsafe_retry_says_why(sleeps: Sleeps, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="iotcentral")
    script = Script(error_json(503, "ServiceUnavailable"))
    with script.client(retry=sleeps.policy()) as client, pytest.raises(ic.ServerError):
        client.run_command("mx1", "CoolDown")
    assert "retry_unsafe=True" in caplog.text


# -- decisions and Retry-After, unit level ---------------------------------------------------------


def _error(status: int, method: str, **headers: str) -> ic.APIStatusError:
    from iotcentral._responses import make_status_error

    request = httpx.Request(method, "https://a.azureiotcentral.com/api/x")
    response = httpx.Response(status, headers=headers, request=request)
    return make_status_error(response, retry_after=None)


def _transport(cls: type[ic.TransportError], method: str) -> ic.TransportError:
    request = httpx.Request(method, "https://a.azureiotcentral.com/api/x")
    return cls("x", request=request, cause=RuntimeError())


@pytest.mark.parametrize(
    ("error", "default", "unsafe"),
    [
        (_error(429, "POST"), True, True),
        (_error(429, "GET"), True, True),
        (_transport(ic.RequestNotSentError, "POST"), True, True),
        (_transport(ic.RequestMaybeSentError, "POST"), False, True),
        (_transport(ic.RequestMaybeSentError, "GET"), True, True),
        (_error(500, "POST"), False, True),
        (_error(500, "GET"), True, True),
        (_error(503, "POST"), False, True),
        (_error(504, "POST"), False, True),
        (_error(408, "POST"), False, True),
        (_error(408, "GET"), True, True),
        (_error(404, "POST"), False, False),
        (_error(404, "GET"), False, False),
        (_error(401, "GET"), False, False),
    ],
)
def test_decision_table(error: ic.IoTCentralError, default: bool, unsafe: bool) -> None:
    assert (ic.RetryPolicy().decide(error, 0) is not None) is default
    assert (ic.RetryPolicy(retry_unsafe=True).decide(error, 0) is not None) is unsafe
    assert ic.RetryPolicy(max_retries=0).decide(error, 0) is None


def test_parse_retry_after(clock: FakeClock) -> None:
    now = clock()
    parse = ic.parse_retry_after
    assert parse({"retry-after": "5"}, now=now) == 5.0
    assert parse({"retry-after": "1.5"}, now=now) == 1.5
    assert parse({"retry-after": "-3"}, now=now) == 0.0
    assert parse({"retry-after": "soon"}, now=now) is None
    assert parse({"retry-after": "nan"}, now=now) is None
    assert parse({}, now=now) is None
    assert parse({"retry-after-ms": "250", "retry-after": "9"}, now=now) == 0.25
    assert parse({"x-ms-retry-after-ms": "1500"}, now=now) == 1.5
    assert parse({"retry-after-ms": "x", "retry-after": "2"}, now=now) == 2.0
    date = formatdate(now + 30, usegmt=True)
    assert parse({"retry-after": date}, now=now) == 30.0
    assert parse({"retry-after": formatdate(now - 30, usegmt=True)}, now=now) == 0.0


# -- against the simulator -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["status_after", "status_before"])
def test_simulator_503_on_a_run_is_not_retried(
    sim_client: ic.IoTCentralClient,
    served: tuple[Simulator, SimulatorServer],
    sleeps: Sleeps,
    kind: str,
) -> None:
    simulator, _ = served
    simulator.add_fault(kind, device_id="mx1", command_name="CoolDown", status=503, retry_after=1)
    with pytest.raises(ic.ServiceUnavailableError) as info:
        sim_client.run_command("mx1", "CoolDown", {"tempVal": 30})
    assert info.value.retry_after == 1.0
    assert sleeps.calls == []
    assert simulator.execution_count("mx1", "CoolDown") == (1 if kind == "status_after" else 0)
    assert simulator.request_count == 1


def test_simulator_503_with_opt_in_unsafe_retry_runs_twice(
    served: tuple[Simulator, SimulatorServer], sleeps: Sleeps
) -> None:
    simulator, server = served
    simulator.add_fault("status_after", device_id="mx1", command_name="CoolDown", status=503)
    with ic.IoTCentralClient(
        base_url=server.url,
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        retry=sleeps.policy(retry_unsafe=True),
    ) as client:
        result = client.run_command("mx1", "CoolDown", {"tempVal": 30})
    assert result.response == {"tempVal": 30}
    assert simulator.execution_count("mx1", "CoolDown") == 2  # the price of retry_unsafe


def test_simulator_429_with_retry_after_is_retried(
    sim_client: ic.IoTCentralClient, served: tuple[Simulator, SimulatorServer], sleeps: Sleeps
) -> None:
    simulator, _ = served
    simulator.add_fault("status_before", status=429, retry_after=2, times=2)
    result = sim_client.run_command("mx1", "CoolDown", {"tempVal": 30})
    assert result.response_code == 200
    assert sleeps.calls == [2.0, 2.0]
    assert simulator.execution_count("mx1", "CoolDown") == 1


async def test_simulator_throttling_is_retried_after_its_retry_after(clock: FakeClock) -> None:
    """Real throttling (1 request/s) with the simulator's clock advanced by our fake sleep."""
    simulator = Simulator(rate_limit=1, time_scale=0.001, clock=clock)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds)

    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.ApiToken(DEFAULT_API_TOKEN),
        retry=ic.RetryPolicy(async_sleep=sleep),
        transport=httpx.ASGITransport(app=simulator.app),
    ) as client:
        for _ in range(3):
            await client.run_command("mx1", "CoolDown")
    assert simulator.execution_count("mx1", "CoolDown") == 3
    assert len(waited) >= 2
    assert all(0 < w <= 60 for w in waited)


@pytest.mark.parametrize(("kind", "executed"), [("drop_before", 0), ("drop_after", 1)])
def test_simulator_dropped_connection_on_a_run_is_not_retried(
    sim_client: ic.IoTCentralClient,
    served: tuple[Simulator, SimulatorServer],
    kind: str,
    executed: int,
) -> None:
    simulator, _ = served
    simulator.add_fault(kind, device_id="mx1")
    with pytest.raises(ic.RequestMaybeSentError):
        sim_client.run_command("mx1", "CoolDown")
    assert simulator.execution_count("mx1", "CoolDown") == executed
    assert simulator.request_count == 1


def test_simulator_history_is_retried_through_faults(
    sim_client: ic.IoTCentralClient, served: tuple[Simulator, SimulatorServer], sleeps: Sleeps
) -> None:
    simulator, _ = served
    sim_client.run_command("mx1", "CoolDown", {"n": 1})
    simulator.add_fault("status_before", status=503, on="history")
    simulator.add_fault("drop_before", on="history")
    simulator.add_fault("html", status=502, on="history")
    history = sim_client.command_history("mx1", "CoolDown")
    assert history.latest is not None
    assert history.latest.request == {"n": 1}
    assert len(sleeps.calls) == 3


def test_simulator_connection_refused_is_retried_then_raised(sleeps: Sleeps) -> None:
    simulator = Simulator(rate_limit=None)
    with SimulatorServer(simulator) as server:
        url = server.url
    # The server is gone: nothing listens on that port any more.
    with (
        ic.IoTCentralClient(
            base_url=url, credential=ic.ApiToken(DEFAULT_API_TOKEN), retry=sleeps.policy()
        ) as client,
        pytest.raises(ic.RequestNotSentError) as info,
    ):
        client.run_command("mx1", "CoolDown")
    assert len(sleeps.calls) == 3
    assert not info.value.may_have_executed
    assert "was not sent" in str(info.value)


Step = httpx.Response | Exception


@given(
    status=st.integers(min_value=400, max_value=599),
    code=st.sampled_from(["", "X", "RequestTimeout", "DeviceNotOnline", "TooManyRequests"]),
)
def test_property_the_default_never_resends_a_post_unless_429(status: int, code: str) -> None:
    request = httpx.Request("POST", "https://a.azureiotcentral.com/api/devices/d/commands/c")
    response = httpx.Response(
        status, json={"error": {"code": code, "message": "m"}}, request=request
    )
    from iotcentral._responses import make_status_error

    error = make_status_error(response, retry_after=None)
    retried = ic.RetryPolicy().decide(error, 0) is not None
    assert retried is (status == 429 and code != "RequestTimeout")
    if error.may_have_executed:
        assert not retried
