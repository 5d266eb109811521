"""Credentials, as httpx.Auth objects that work for both the sync and the async client.

- `ApiToken("SharedAccessSignature sr=...")`: an IoT Central API token, sent raw as issued.
- `BearerToken("eyJ...")`: a fixed Azure AD access token, sent as `Bearer <token>`.
- `TokenCredentialAuth(credential)`: any azure-core style credential (an object whose
  `get_token(*scopes)` returns something with `.token` and `.expires_on`, such as azure-identity's
  `DefaultAzureCredential`), asked for scope `https://apps.azureiotcentral.com/.default`. The
  token is cached and refreshed `refresh_margin` seconds before it expires; one fetch serves every
  thread and task waiting for it; a 401 on a cached token triggers one fresh token and one re-send
  (a 401 means nothing ran). Async credentials (`async def get_token`) work with the async client.

No credential ever prints its secret: `repr()` and `str()` are masked.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol, runtime_checkable

import httpx

from ._config import AZURE_SCOPE
from ._errors import CredentialError, InvalidArgumentError

__all__ = [
    "AccessTokenLike",
    "ApiToken",
    "BearerToken",
    "TokenCredential",
    "TokenCredentialAuth",
]

logger = logging.getLogger("iotcentral")

_MASK = "********"


def _check_header_value(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise InvalidArgumentError(f"{name} must not be empty")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidArgumentError(f"{name} must not contain control characters or newlines")
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidArgumentError(f"{name} must be ASCII text") from None
    return value.strip()


class ApiToken(httpx.Auth):
    """An IoT Central API token, sent raw in the Authorization header.

    Pass the token exactly as IoT Central issued it:
    `SharedAccessSignature sr=...&sig=...&skn=...&se=...`.
    """

    def __init__(self, token: str) -> None:
        self._header = _check_header_value("ApiToken", token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the Authorization header."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"ApiToken('{_MASK}')"

    __str__ = __repr__


class BearerToken(httpx.Auth):
    """A fixed Azure AD access token, sent as `Authorization: Bearer <token>`.

    It is not refreshed: for long-running programs use a credential (`TokenCredentialAuth`).
    A leading `Bearer ` in `token` is accepted and not doubled.
    """

    def __init__(self, token: str) -> None:
        value = _check_header_value("BearerToken", token)
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if not value:
            raise InvalidArgumentError("BearerToken must not be empty")
        self._header = f"Bearer {value}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Set the Authorization header."""
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return f"BearerToken('{_MASK}')"

    __str__ = __repr__


@runtime_checkable
class AccessTokenLike(Protocol):
    """What `get_token()` returns (azure-core's AccessToken): a token and its expiry (epoch s)."""

    @property
    def token(self) -> str: ...

    @property
    def expires_on(self) -> int | float: ...


@runtime_checkable
class TokenCredential(Protocol):
    """azure-core's TokenCredential protocol; async credentials have `async def get_token`."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


class _Cached:
    __slots__ = ("expires_on", "refresh_on", "token")

    def __init__(self, token: str, expires_on: float, refresh_on: float) -> None:
        self.token = token
        self.expires_on = expires_on
        self.refresh_on = refresh_on


class TokenCredentialAuth(httpx.Auth):
    """Azure AD tokens from an azure-core style credential, cached and refreshed ahead of expiry.

    Args:
        credential: an object with `get_token(*scopes)` (sync or async) returning an object with
            `.token` (str) and `.expires_on` (epoch seconds); an optional `.refresh_on` is honoured.
        scope: the scope asked for; IoT Central's by default.
        refresh_margin: refresh this many seconds before expiry (azure-core uses 300).
        retry_interval: after a failed refresh while the old token is still valid, keep using the
            old token and wait this long before trying again.
        clock: returns the current time in epoch seconds (tests pass a fake one).

    Attributes:
        fetch_count: how many tokens were fetched from the credential so far.
    """

    def __init__(
        self,
        credential: Any,
        *,
        scope: str = AZURE_SCOPE,
        refresh_margin: float = 300.0,
        retry_interval: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not callable(getattr(credential, "get_token", None)):
            raise InvalidArgumentError(
                "credential must have a get_token(*scopes) method (an azure-core TokenCredential)"
            )
        self.credential = credential
        self.scope = scope
        self.refresh_margin = float(refresh_margin)
        self.retry_interval = float(retry_interval)
        self._clock = clock
        self._is_async = inspect.iscoroutinefunction(credential.get_token)
        self._cached: _Cached | None = None
        self._next_attempt = 0.0
        # Two locks, so that the event loop never waits for I/O: `_fetch_lock` makes threads take
        # turns calling a sync credential (held across the call, so taken only by sync callers
        # and worker threads); `_state_lock` guards the cache for a few instructions at a time
        # and is the only lock the event loop thread ever takes.
        self._fetch_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._async_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock]
        self._async_locks = weakref.WeakKeyDictionary()
        self.fetch_count = 0

    def __repr__(self) -> str:
        name = type(self.credential).__name__
        return f"TokenCredentialAuth(credential={name}, scope={self.scope!r})"

    __str__ = __repr__

    # -- cache logic, shared by both flows -----------------------------------------------------

    def _usable(self, now: float) -> _Cached | None:
        """The cached token if it needs no refresh now."""
        cached = self._cached
        if cached is None or now >= cached.expires_on:
            return None
        if now < cached.refresh_on or now < self._next_attempt:
            return cached
        return None

    def _store(self, result: object) -> str:
        token = getattr(result, "token", None)
        expires_on = getattr(result, "expires_on", None)
        if not isinstance(token, str) or not token.strip():
            raise CredentialError("the credential returned no token")
        try:
            token = _check_header_value("the token", token)
        except InvalidArgumentError as exc:
            # Never quote the value: it is a secret, even when malformed.
            raise CredentialError(f"the credential returned an unusable token: {exc}") from None
        if (
            isinstance(expires_on, bool)
            or not isinstance(expires_on, int | float)
            or not math.isfinite(expires_on)
        ):
            raise CredentialError("the credential returned a token without a valid expires_on")
        refresh_on = getattr(result, "refresh_on", None)
        if not isinstance(refresh_on, int | float) or isinstance(refresh_on, bool):
            refresh_on = expires_on - self.refresh_margin
        self._cached = _Cached(token, float(expires_on), float(min(refresh_on, expires_on)))
        self._next_attempt = 0.0
        self.fetch_count += 1
        logger.debug(
            "fetched an access token for %s, expires in %.0f s",
            self.scope,
            expires_on - self._clock(),
        )
        return token

    def _failed(self, exc: BaseException) -> str:
        """After a failed fetch: the old token if still valid, else raise CredentialError."""
        now = self._clock()
        cached = self._cached
        if cached is not None and now < cached.expires_on:
            self._next_attempt = now + self.retry_interval
            logger.warning(
                "could not refresh the access token (%s); using the current one, valid %.0f s more",
                type(exc).__name__,
                cached.expires_on - now,
            )
            return cached.token
        if isinstance(exc, CredentialError):
            raise exc
        raise CredentialError(f"the credential failed to get a token: {exc}") from exc

    def _settle(self, result: object, error: Exception | None) -> str:
        """Cache what a fetch returned, or fall back after it failed (under the state lock)."""
        with self._state_lock:
            if error is None:
                try:
                    return self._store(result)
                except CredentialError as exc:
                    error = exc
            return self._failed(error)

    def _invalidate(self, token: str) -> None:
        """Forget `token` after a 401 (unless another caller already replaced it)."""
        with self._state_lock:
            cached = self._cached
            if cached is not None and cached.token == token:
                self._cached = None
                self._next_attempt = 0.0

    # -- sync ----------------------------------------------------------------------------------

    def _fetch_sync(self, force: bool = False) -> str:
        if self._is_async:
            raise CredentialError(
                "this credential is async (its get_token is a coroutine function):"
                " use it with AsyncIoTCentralClient"
            )
        with self._fetch_lock:
            if not force:
                cached = self._usable(self._clock())
                if cached is not None:
                    return cached.token
            try:
                result = self.credential.get_token(self.scope)
            except Exception as exc:
                return self._settle(None, exc)
            return self._settle(result, None)

    def sync_get_token(self) -> str:
        """The current token, fetched or refreshed if needed (blocking, thread-safe)."""
        cached = self._usable(self._clock())
        return cached.token if cached is not None else self._fetch_sync()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the Bearer token; on a 401, retry once with a fresh token."""
        token = self.sync_get_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self._invalidate(token)
            fresh = self.sync_get_token()
            if fresh != token:
                logger.info("401 with a cached token: re-sending once with a fresh token")
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request

    # -- async ---------------------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._state_lock:
            lock = self._async_locks.get(loop)
            if lock is None:
                lock = self._async_locks[loop] = asyncio.Lock()
            return lock

    async def async_get_token(self) -> str:
        """The current token, fetched or refreshed if needed (task-safe, never blocks the loop)."""
        cached = self._usable(self._clock())
        if cached is not None:
            return cached.token
        async with self._async_lock():
            cached = self._usable(self._clock())
            if cached is not None:
                return cached.token
            if not self._is_async:
                # A sync credential does blocking I/O: run it off the event loop.
                return await asyncio.to_thread(self._fetch_sync)
            try:
                result = await self.credential.get_token(self.scope)
            except Exception as exc:
                return self._settle(None, exc)
            return self._settle(result, None)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Add the Bearer token; on a 401, retry once with a fresh token."""
        token = await self.async_get_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self._invalidate(token)
            fresh = await self.async_get_token()
            if fresh != token:
                logger.info("401 with a cached token: re-sending once with a fresh token")
                request.headers["Authorization"] = f"Bearer {fresh}"
                yield request


def as_auth(credential: object) -> httpx.Auth:
    """Turn the `credential=` argument into an httpx.Auth.

    Accepts ApiToken, BearerToken, TokenCredentialAuth or any httpx.Auth as is; an azure-core style
    credential (with `get_token`); or a string that says what it is: `SharedAccessSignature ...`
    (an API token) or `Bearer ...`.
    """
    if isinstance(credential, httpx.Auth):
        return credential
    if isinstance(credential, str):
        if credential.startswith("SharedAccessSignature "):
            return ApiToken(credential)
        if credential[:7].lower() == "bearer ":
            return BearerToken(credential)
        raise InvalidArgumentError(
            "a credential string must start with 'SharedAccessSignature ' (an API token) or"
            " 'Bearer '; wrap other tokens in ApiToken(...) or BearerToken(...)"
        )
    if callable(getattr(credential, "get_token", None)):
        return TokenCredentialAuth(credential)
    raise InvalidArgumentError(
        "credential must be an ApiToken, a BearerToken, an azure-core TokenCredential"
        f" (with get_token) or an httpx.Auth, got {type(credential).__name__}"
    )
