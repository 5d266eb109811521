"""Credentials: raw API tokens, bearer tokens, and cached, refreshed azure-core credentials."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import httpx
import iotcentral as ic
import pytest
from client_helpers import SECRET, TOKEN, FakeClock, Script, command_json, error_json
from iotcentral_sim import DEFAULT_BEARER_TOKEN, Simulator


class AccessToken(NamedTuple):
    token: str
    expires_on: int


class FakeCredential:
    """An azure-core style credential: hands out token-1, token-2, ... valid `lifetime` seconds."""

    def __init__(
        self,
        clock: Callable[[], float],
        lifetime: float = 3600,
        gate: threading.Event | None = None,
    ) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.gate = gate
        self.scopes: list[tuple[str, ...]] = []
        self.fail_with: Exception | None = None
        self.lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.gate is not None:
            assert self.gate.wait(10)
        with self.lock:
            self.scopes.append(scopes)
            if self.fail_with is not None:
                raise self.fail_with
            return AccessToken(f"token-{len(self.scopes)}", int(self.clock() + self.lifetime))


class AsyncFakeCredential:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.calls = 0

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        await asyncio.sleep(0.01)  # let the other tasks pile up behind the lock
        return AccessToken(f"async-{self.calls}", int(self.clock() + 3600))


def authorization(script: Script) -> list[str]:
    return [r.headers["authorization"] for r in script.requests]


def test_api_token_is_sent_raw() -> None:
    script = Script(command_json())
    with script.client(credential=ic.ApiToken(TOKEN)) as client:
        client.run_command("mx1", "CoolDown")
    assert authorization(script) == [TOKEN]


@pytest.mark.parametrize("given", ["abc.def", "Bearer abc.def", "bearer  abc.def "])
def test_bearer_token_is_prefixed_once(given: str) -> None:
    script = Script(command_json())
    with script.client(credential=ic.BearerToken(given)) as client:
        client.run_command("mx1", "CoolDown")
    assert authorization(script) == ["Bearer abc.def"]


@pytest.mark.parametrize(
    ("credential", "header"),
    [(TOKEN, TOKEN), ("Bearer xyz", "Bearer xyz")],
)
def test_strings_that_say_what_they_are_are_accepted(credential: str, header: str) -> None:
    script = Script(command_json())
    with script.client(credential=credential) as client:
        client.run_command("mx1", "CoolDown")
    assert authorization(script) == [header]


@pytest.mark.parametrize("credential", ["just-a-token", 42, None, object()])
def test_unknown_credentials_are_refused(credential: object) -> None:
    with pytest.raises(ic.InvalidArgumentError, match="credential"):
        ic.IoTCentralClient("myapp", credential=credential)


@pytest.mark.parametrize("bad", ["", "   ", "a\nb", "tok\x00", "tök", 5])
def test_malformed_tokens_are_refused(bad: Any) -> None:
    with pytest.raises(ic.InvalidArgumentError):
        ic.ApiToken(bad)
    with pytest.raises(ic.InvalidArgumentError):
        ic.BearerToken(bad)


def test_reprs_never_show_secrets(clock: FakeClock) -> None:
    credential = FakeCredential(clock)
    auth = ic.TokenCredentialAuth(credential)
    auth.sync_get_token()
    objects = [
        ic.ApiToken(TOKEN),
        ic.BearerToken(SECRET),
        auth,
        ic.IoTCentralClient("myapp", credential=TOKEN),
        ic.IoTCentralClient("myapp", credential=ic.BearerToken(SECRET)),
        ic.AsyncIoTCentralClient("myapp", credential=TOKEN),
    ]
    for obj in objects:
        assert SECRET not in repr(obj)
        assert SECRET not in str(obj)
        assert "token-1" not in repr(obj)
    assert repr(ic.ApiToken(TOKEN)) == "ApiToken('********')"


def test_credential_gets_the_iot_central_scope_and_bearer_header(clock: FakeClock) -> None:
    credential = FakeCredential(clock)
    script = Script(command_json())
    with script.client(credential=credential) as client:
        client.run_command("mx1", "CoolDown")
        client.run_command("mx1", "CoolDown")
    assert credential.scopes == [("https://apps.azureiotcentral.com/.default",)]
    assert authorization(script) == ["Bearer token-1", "Bearer token-1"]


def test_token_is_refreshed_when_it_nears_expiry(clock: FakeClock) -> None:
    credential = FakeCredential(clock, lifetime=3600)
    auth = ic.TokenCredentialAuth(credential, clock=clock, refresh_margin=300)
    script = Script(command_json())
    with script.client(credential=auth) as client:
        client.run_command("mx1", "CoolDown")
        clock.advance(3600 - 301)  # 301 s left: still outside the margin
        client.run_command("mx1", "CoolDown")
        clock.advance(2)  # 299 s left: inside the margin, refresh
        client.run_command("mx1", "CoolDown")
        client.run_command("mx1", "CoolDown")
    assert authorization(script) == ["Bearer token-1"] * 2 + ["Bearer token-2"] * 2
    assert auth.fetch_count == 2


def test_refresh_on_is_honoured(clock: FakeClock) -> None:
    class WithRefreshOn:
        calls = 0

        def get_token(self, *scopes: str) -> Any:
            self.calls += 1
            now = clock()

            class Token:
                token = f"t{self.calls}"
                expires_on = now + 3600
                refresh_on = now + 60

            return Token()

    auth = ic.TokenCredentialAuth(WithRefreshOn(), clock=clock)
    assert auth.sync_get_token() == "t1"
    clock.advance(59)
    assert auth.sync_get_token() == "t1"
    clock.advance(2)
    assert auth.sync_get_token() == "t2"


def test_failed_refresh_keeps_the_valid_token_then_retries_later(clock: FakeClock) -> None:
    credential = FakeCredential(clock, lifetime=3600)
    auth = ic.TokenCredentialAuth(credential, clock=clock, retry_interval=30)
    assert auth.sync_get_token() == "token-1"
    clock.advance(3400)  # inside the refresh margin
    credential.fail_with = RuntimeError("AAD is down")
    assert auth.sync_get_token() == "token-1"
    calls = len(credential.scopes)
    clock.advance(10)
    assert auth.sync_get_token() == "token-1"
    assert len(credential.scopes) == calls  # no new attempt within retry_interval
    clock.advance(25)
    credential.fail_with = None
    assert auth.sync_get_token() == "token-3"


def test_expired_token_and_failing_credential_raise_credential_error(clock: FakeClock) -> None:
    credential = FakeCredential(clock, lifetime=100)
    auth = ic.TokenCredentialAuth(credential, clock=clock)
    script = Script(command_json())
    with script.client(credential=auth) as client:
        client.run_command("mx1", "CoolDown")
        clock.advance(101)
        credential.fail_with = RuntimeError("no login")
        with pytest.raises(ic.CredentialError, match="no login"):
            client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1  # nothing sent without a token


@pytest.mark.parametrize(
    "returned",
    [None, AccessToken("", 10**10), AccessToken("t", None), AccessToken("t", "soon")],  # type: ignore[arg-type]
)
def test_credential_returning_garbage_raises_credential_error(returned: Any) -> None:
    class Garbage:
        def get_token(self, *scopes: str) -> Any:
            return returned

    with pytest.raises(ic.CredentialError):
        ic.TokenCredentialAuth(Garbage()).sync_get_token()


def test_one_fetch_for_many_threads(clock: FakeClock) -> None:
    gate = threading.Event()
    credential = FakeCredential(clock, gate=gate)
    auth = ic.TokenCredentialAuth(credential, clock=clock)
    results: list[str] = []

    def worker() -> None:
        results.append(auth.sync_get_token())

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(10)
    assert results == ["token-1"] * 16
    assert len(credential.scopes) == 1


def test_one_fetch_for_many_threads_through_the_client(clock: FakeClock) -> None:
    gate = threading.Event()
    credential = FakeCredential(clock, gate=gate)
    script = Script(command_json())
    with script.client(credential=ic.TokenCredentialAuth(credential, clock=clock)) as client:
        threads = [
            threading.Thread(target=client.run_command, args=("mx1", "CoolDown")) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        gate.set()
        for thread in threads:
            thread.join(10)
    assert len(credential.scopes) == 1
    assert authorization(script) == ["Bearer token-1"] * 8


async def test_one_fetch_for_many_tasks_with_a_sync_credential(clock: FakeClock) -> None:
    credential = FakeCredential(clock)
    script = Script(command_json())
    async with script.async_client(credential=ic.TokenCredentialAuth(credential, clock=clock)) as c:
        await asyncio.gather(*(c.run_command("mx1", "CoolDown") for _ in range(10)))
    assert len(credential.scopes) == 1
    assert authorization(script) == ["Bearer token-1"] * 10


async def test_one_fetch_for_many_tasks_with_an_async_credential(clock: FakeClock) -> None:
    credential = AsyncFakeCredential(clock)
    script = Script(command_json())
    async with script.async_client(credential=credential) as client:
        await asyncio.gather(*(client.run_command("mx1", "CoolDown") for _ in range(10)))
    assert credential.calls == 1
    assert authorization(script) == ["Bearer async-1"] * 10


def test_async_credential_in_the_sync_client_is_a_clear_error(clock: FakeClock) -> None:
    script = Script(command_json())
    with (
        script.client(credential=AsyncFakeCredential(clock)) as client,
        pytest.raises(ic.CredentialError, match="AsyncIoTCentralClient"),
    ):
        client.run_command("mx1", "CoolDown")
    assert script.requests == []


def test_a_401_with_a_cached_token_refreshes_once_and_resends(clock: FakeClock) -> None:
    credential = FakeCredential(clock)
    script = Script(command_json(), error_json(401, "Unauthorized"), command_json())
    with script.client(credential=credential, retry=0) as client:
        client.run_command("mx1", "CoolDown")
        client.run_command("mx1", "CoolDown")  # 401 on token-1, re-sent with token-2
    assert authorization(script) == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


async def test_a_401_refresh_works_async_and_gives_up_after_one_resend(clock: FakeClock) -> None:
    credential = FakeCredential(clock)
    script = Script(error_json(401, "Unauthorized"))
    async with script.async_client(credential=credential) as client:
        with pytest.raises(ic.AuthenticationError):
            await client.run_command("mx1", "CoolDown")
    assert authorization(script) == ["Bearer token-1", "Bearer token-2"]


def test_static_tokens_are_not_resent_on_401() -> None:
    script = Script(error_json(401, "Unauthorized"))
    with script.client() as client, pytest.raises(ic.AuthenticationError):
        client.run_command("mx1", "CoolDown")
    assert len(script.requests) == 1


async def test_bearer_token_against_the_simulator(sim: Simulator) -> None:
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=ic.BearerToken(DEFAULT_BEARER_TOKEN),
        transport=httpx.ASGITransport(app=sim.app),
    ) as client:
        result = await client.run_command("mx1", "CoolDown", {"tempVal": 30})
    assert result.response == {"tempVal": 30}


async def test_a_credential_against_the_simulator(sim: Simulator, clock: FakeClock) -> None:
    class SimCredential:
        def get_token(self, *scopes: str) -> AccessToken:
            return AccessToken(DEFAULT_BEARER_TOKEN, int(clock() + 3600))

    auth = ic.TokenCredentialAuth(SimCredential(), clock=clock)
    async with ic.AsyncIoTCentralClient(
        base_url="http://127.0.0.1/api",
        credential=auth,
        transport=httpx.ASGITransport(app=sim.app),
    ) as client:
        await client.run_command("mx1", "CoolDown")
        history = await client.command_history("mx1", "CoolDown")
    assert history.latest is not None
    assert auth.fetch_count == 1


# -- a sync credential never blocks the event loop (issue 10.2) ---------------------------------


class _GatedCredential:
    """A blocking get_token that waits until the event loop releases it."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.released_by_loop: list[bool] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.entered.set()
        self.released_by_loop.append(self.gate.wait(timeout=3))
        return AccessToken("tok", 4_102_444_800)


async def test_a_sync_credential_fetch_never_blocks_the_loop() -> None:
    credential = _GatedCredential()
    auth = ic.TokenCredentialAuth(credential)
    first = asyncio.create_task(auth.async_get_token())
    await asyncio.to_thread(credential.entered.wait, 3)  # the fetch runs in a worker thread
    others = [asyncio.create_task(auth.async_get_token()) for _ in range(3)]
    for _ in range(5):
        await asyncio.sleep(0)  # let the other tasks reach the token cache
    credential.gate.set()  # only reachable while the loop is free
    assert await asyncio.gather(first, *others) == ["tok"] * 4
    assert credential.released_by_loop == [True]  # one fetch, released by the loop, not timed out
