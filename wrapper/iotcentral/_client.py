"""The clients: one sans-I/O core, and thin sync and async shells around it.

`_Core` does everything that needs no I/O: checking arguments, building the call's request with
the generated request builder (`_operations`), computing timeouts and deciding about retries.
Each shell has one `_send`: the single place a request of that client leaves from (the attempt is
built by `_http.build_attempt`, sent, and its body read), and `_responses` maps what came back to a
result or a typed error. The retry loop around `_send` is the shells' only other logic.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import logging
import os
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
from iotcentral_api.models import DeviceCommand
from iotcentral_api.types import UNSET

from ._auth import as_auth
from ._bounds import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_RESPONSE_BYTES,
    BodyReader,
    attempt_deadline,
    bound_reads,
    check_max_response_bytes,
    time_bound,
)
from ._config import (
    CONNECTION_TIMEOUT_RANGE,
    DEFAULT_API_VERSION,
    DEFAULT_BASE_DOMAIN,
    RESPONSE_TIMEOUT_RANGE,
    USER_AGENT,
    Timeout,
    app_base_url,
    check_api_version,
    check_base_url,
    check_timeout,
    is_loopback,
)
from ._errors import (
    APIError,
    ClientClosedError,
    InvalidArgumentError,
    InvalidPayloadError,
    IoTCentralError,
    TransportError,
    WrongEventLoopError,
)
from ._http import ASYNC_HOOKS, SYNC_HOOKS, build_attempt
from ._models import CommandHistory, CommandResult
from ._operations import OPERATIONS, Kind, Target
from ._paging import (
    DEFAULT_MAX_PAGES,
    AsyncCommandHistoryPager,
    CommandHistoryPager,
    check_max_pages,
)
from ._paths import check_id
from ._responses import map_response, map_transport_error
from ._retry import RetryPolicy, check_retry
from .fleet._limits import DEFAULT_CONCURRENCY
from .fleet._pacer import PACER_ASYNC_HOOKS, PACER_SYNC_HOOKS, RatePacer, mark_paced
from .fleet._sending import notify_sending

if TYPE_CHECKING:
    from .fleet._journal import Journal
    from .fleet._outcome import Outcome
    from .fleet._runner import StopSignal

__all__ = ["AsyncIoTCentralClient", "IoTCentralClient"]

logger = logging.getLogger("iotcentral")


def _check_seconds(name: str, value: object, bounds: tuple[int, int]) -> int | None:
    if value is None:
        return None
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def _check_payload(request: object) -> None:
    try:
        json.dumps(request, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidPayloadError(f"request must be JSON-serialisable: {exc}") from None


@dataclass(frozen=True)
class _Call:
    """One logical call: everything the shells need to send it, attempt after attempt."""

    kind: Kind
    request_kwargs: Mapping[str, Any]  # what the generated request builder made
    timeout: httpx.Timeout
    retry: RetryPolicy
    client_request_id: str
    label: str

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request of one attempt (a fresh one each time: the auth flow may mutate it)."""
        return build_attempt(
            http,
            self.request_kwargs,
            timeout=self.timeout,
            client_request_id=self.client_request_id,
        )


class _Core:
    """Sans-I/O logic shared by both clients."""

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        timeout: Timeout,
        retry: RetryPolicy,
        max_response_bytes: int,
    ) -> None:
        self.base_url = base_url
        self.api_version = api_version
        self.timeout = timeout
        self.retry = retry
        self.max_response_bytes = max_response_bytes

    @classmethod
    def create(
        cls,
        app: object,
        *,
        base_url: object,
        base_domain: object,
        api_version: object,
        timeout: object,
        retry: object,
        max_response_bytes: object,
    ) -> _Core:
        if (app is None) == (base_url is None):
            raise InvalidArgumentError(
                "pass exactly one of app (the application subdomain) and base_url"
            )
        url = check_base_url(base_url) if base_url is not None else app_base_url(app, base_domain)
        return cls(
            base_url=url,
            api_version=check_api_version(api_version),
            timeout=check_timeout(timeout),
            retry=check_retry(retry),
            max_response_bytes=check_max_response_bytes(max_response_bytes),
        )

    def with_defaults(self, *, timeout: object, retry: object) -> _Core:
        return _Core(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=self.timeout if timeout is None else check_timeout(timeout),
            retry=self.retry if retry is None else check_retry(retry),
            max_response_bytes=self.max_response_bytes,
        )

    def httpx_options(self, transport: object) -> dict[str, Any]:
        """Keyword arguments for the pooled httpx client."""
        host = httpx.URL(self.base_url).host
        options: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            "timeout": self.timeout.for_read(),
            "follow_redirects": False,
            "verify": True,
            # No proxy from the environment for the local simulator.
            "trust_env": not is_loopback(host),
        }
        if transport is not None:
            options["transport"] = transport
        return options

    # -- building calls ------------------------------------------------------------------------

    def _target(
        self, device_id: object, command_name: object, component: object, module: object
    ) -> tuple[dict[str, Any], Target, str]:
        device = check_id("device_id", device_id)
        command = check_id("command_name", command_name)
        comp = check_id("component", component, optional=True)
        mod = check_id("module", module, optional=True)
        path: dict[str, Any] = {"device_id": device, "command_name": command}
        label = f"device {device!r}"
        if mod is not None:
            path["module_name"] = mod
            label += f" module {mod!r}"
        if comp is not None:
            path["component_name"] = comp
            label += f" component {comp!r}"
        return path, Target.of(component=comp, module=mod), f"{command!r} on {label}"

    def _call(
        self,
        kind: Kind,
        target: Target,
        arguments: dict[str, Any],
        *,
        timeout: httpx.Timeout,
        retry: object,
        label: str,
    ) -> _Call:
        build = OPERATIONS[self.api_version, kind, target]
        return _Call(
            kind=kind,
            request_kwargs=build(**arguments, api_version=self.api_version),
            timeout=timeout,
            retry=self.retry if retry is None else check_retry(retry),
            client_request_id=str(uuid.uuid4()),
            label=label,
        )

    def run_call(
        self,
        device_id: object,
        command_name: object,
        request: object,
        *,
        component: object,
        module: object,
        connection_timeout: object,
        response_timeout: object,
        timeout: object,
        retry: object,
    ) -> _Call:
        """Validate a run-command call (no I/O) and prepare it."""
        path, target, label = self._target(device_id, command_name, component, module)
        ct = _check_seconds("connection_timeout", connection_timeout, CONNECTION_TIMEOUT_RANGE)
        rt = _check_seconds("response_timeout", response_timeout, RESPONSE_TIMEOUT_RANGE)
        if request is not None:
            _check_payload(request)
        body = DeviceCommand(
            request=UNSET if request is None else request,
            connection_timeout=UNSET if ct is None else ct,
            response_timeout=UNSET if rt is None else rt,
        )
        call_timeout = self.timeout if timeout is None else check_timeout(timeout)
        return self._call(
            "run",
            target,
            {**path, "body": body},
            timeout=call_timeout.for_command(ct, rt),
            retry=retry,
            label=f"run {label}",
        )

    def history_call(
        self,
        device_id: object,
        command_name: object,
        *,
        component: object,
        module: object,
        timeout: object,
        retry: object,
    ) -> _Call:
        """Validate a command-history call (no I/O) and prepare it."""
        path, target, label = self._target(device_id, command_name, component, module)
        call_timeout = self.timeout if timeout is None else check_timeout(timeout)
        return self._call(
            "history",
            target,
            path,
            timeout=call_timeout.for_read(),
            retry=retry,
            label=f"history of {label}",
        )

    def next_page_call(self, first: _Call, request_kwargs: Mapping[str, Any], number: int) -> _Call:
        """The call of page `number` of a history, from its checked `nextLink` request."""
        return _Call(
            kind="history",
            request_kwargs=request_kwargs,
            timeout=first.timeout,
            retry=first.retry,
            client_request_id=str(uuid.uuid4()),
            label=f"page {number} of the {first.label}",
        )

    # -- retries -------------------------------------------------------------------------------

    def retry_delay(self, call: _Call, error: IoTCentralError, retries: int) -> float | None:
        """Seconds to wait before the next attempt, or None to raise `error`; logs the decision."""
        delay = call.retry.decide(error, retries)
        if delay is not None:
            logger.info(
                "retrying %s in %.2f s (retry %d of %d, client request id %s) after %s: %s",
                call.label,
                delay,
                retries + 1,
                call.retry.max_retries,
                call.client_request_id,
                type(error).__name__,
                error,
            )
        elif getattr(error, "may_have_executed", False) and retries < call.retry.max_retries:
            logger.info(
                "not retrying %s after %s: the command may have run"
                " (RetryPolicy(retry_unsafe=True) would re-send it)",
                call.label,
                type(error).__name__,
            )
        return delay


def _check_pacer(pacer: object) -> RatePacer | None:
    if pacer is not None and not isinstance(pacer, RatePacer):
        raise InvalidArgumentError(f"pacer must be a RatePacer, got {type(pacer).__name__}")
    return pacer


def _hooks(base: dict[str, list[Any]], extra: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The logging hooks, then the pacer's (its request hook runs last, right before sending)."""
    return {name: [*base.get(name, []), *extra.get(name, [])] for name in ("request", "response")}


# Errors a retry decision may look at: the service answered badly, or the transport failed.
_RETRYABLE = (APIError, TransportError)


class _BaseClient:
    """What both shells share: settings, credential, construction checks and the call helpers."""

    _core: _Core
    _owner: bool

    def __init__(
        self,
        app: str | None = None,
        *,
        credential: object,
        base_url: str | None = None,
        base_domain: str = DEFAULT_BASE_DOMAIN,
        api_version: str = DEFAULT_API_VERSION,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        pacer: RatePacer | None = None,
    ) -> None:
        self._core = _Core.create(
            app,
            base_url=base_url,
            base_domain=base_domain,
            api_version=api_version,
            timeout=timeout,
            retry=retry,
            max_response_bytes=max_response_bytes,
        )
        self._auth = as_auth(credential)
        self._owner = True
        self._pacer = _check_pacer(pacer)

    @property
    def base_url(self) -> str:
        """The API root every path is relative to, e.g. `https://myapp.azureiotcentral.com/api`."""
        return self._core.base_url

    @property
    def api_version(self) -> str:
        """The api-version sent with every request."""
        return self._core.api_version

    @property
    def timeout(self) -> Timeout:
        """The default timeouts of this client."""
        return self._core.timeout

    @property
    def retry(self) -> RetryPolicy:
        """The default retry policy of this client."""
        return self._core.retry

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, credential={self._auth!r})"

    def with_options(
        self, *, timeout: Timeout | None = None, retry: RetryPolicy | int | None = None
    ) -> Self:
        """A copy with other default timeouts or retry policy, sharing this client's pool.

        Closing the copy does nothing; close the original when done.
        """
        return self._copy(timeout, retry)

    @property
    def pacer(self) -> RatePacer | None:
        """The rate pacer every request of this client waits for, if it has one."""
        return self._pacer

    def _with_pacer(self, pacer: RatePacer) -> Self:
        """A copy sharing the pool whose requests go through `pacer` (fleet runs use it)."""
        clone = self._copy(None, None)
        clone._pacer = pacer
        return clone

    def _copy(self, timeout: Timeout | None, retry: RetryPolicy | int | None) -> Self:
        clone = copy.copy(self)
        clone._core = self._core.with_defaults(timeout=timeout, retry=retry)
        clone._owner = False
        return clone


class _LoopBinding:
    """The event loop an async client's connections belong to: the first one that used it."""

    def __init__(self) -> None:
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def check(self) -> None:
        """Bind to the running loop on first use; refuse any other loop (before sending)."""
        loop = asyncio.get_running_loop()
        bound = None if self._loop is None else self._loop()
        if bound is None and self._loop is None:
            self._loop = weakref.ref(loop)
        elif bound is not loop:
            raise WrongEventLoopError(
                "this AsyncIoTCentralClient was first used on another event loop, and its"
                " connections belong to that loop; create one client per event loop."
                " Nothing was sent."
            )


class IoTCentralClient(_BaseClient):
    """Run commands on IoT Central devices and read their history (synchronous).

    Args:
        app: the application's subdomain: `myapp` for `https://myapp.azureiotcentral.com`.
        credential: `ApiToken(...)`, `BearerToken(...)`, an azure-core TokenCredential (e.g.
            azure-identity's `DefaultAzureCredential()`), or any `httpx.Auth`.
        base_url: instead of `app`, the full API root (e.g. the simulator's
            `http://127.0.0.1:8080/api`); https only, except to loopback.
        base_domain: the domain under which `app` lives.
        api_version: one of `SUPPORTED_API_VERSIONS`.
        timeout: default timeouts (`Timeout`); run-command read timeouts always cover the
            service-side waits.
        retry: default retry policy (`RetryPolicy`), or a number of retries for the default policy.
        max_response_bytes: the largest answer (decoded) the client reads; a larger one raises
            `ResponseTooLargeError`. Command answers are small: the default is 1 MiB.
        transport: an httpx transport to send through (tests, in-process servers).
        pacer: a `RatePacer` every request waits for (retries and the auth flow's re-send
            included); share one between all clients that talk to the same app.

    One client holds one pool of connections: create it once, use it from any number of threads,
    and close it (or use it as a context manager).
    """

    def __init__(
        self,
        app: str | None = None,
        *,
        credential: object,
        base_url: str | None = None,
        base_domain: str = DEFAULT_BASE_DOMAIN,
        api_version: str = DEFAULT_API_VERSION,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: httpx.BaseTransport | None = None,
        pacer: RatePacer | None = None,
    ) -> None:
        super().__init__(
            app,
            credential=credential,
            base_url=base_url,
            base_domain=base_domain,
            api_version=api_version,
            timeout=timeout,
            retry=retry,
            max_response_bytes=max_response_bytes,
            pacer=pacer,
        )
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise InvalidArgumentError(
                "transport must be an httpx.BaseTransport"
                " (AsyncIoTCentralClient takes async transports)"
            )
        self._http = httpx.Client(
            auth=self._auth,
            event_hooks=_hooks(SYNC_HOOKS, PACER_SYNC_HOOKS),
            **self._core.httpx_options(transport),
        )
        bound_reads(self._http)  # blocking reads end by the attempt's deadline

    def close(self) -> None:
        """Close the connection pool (a copy from `with_options` leaves it open)."""
        if self._owner:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run_command(
        self,
        device_id: str,
        command_name: str,
        request: Any = None,
        *,
        component: str | None = None,
        module: str | None = None,
        connection_timeout: int | None = None,
        response_timeout: int | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
    ) -> CommandResult:
        """Run a command on a device, a component, a module, or a module's component.

        Args:
            device_id: the device.
            command_name: the command, as named in the device template.
            request: the JSON payload for the device (any JSON value; None sends none).
            component: the component that defines the command, if any.
            module: the IoT Edge module that defines the command, if any.
            connection_timeout: seconds (0 to 30) the service waits for an offline device to
                connect; the service's default is 0.
            response_timeout: seconds (5 to 30) the service waits for the device's answer; the
                service's default is 30.
            timeout: timeouts for this call only.
            retry: retry policy for this call only.

        Returns:
            The execution. A failure reported by the device (`response_code` >= 400) is a result,
            not an exception: check `result.failed` or call `result.raise_for_response_code()`.

        Raises:
            InvalidArgumentError: an argument is out of range or empty (nothing was sent).
            InvalidPayloadError: `request` is not JSON-serialisable (nothing was sent).
            APIStatusError: the service answered with an error (a subclass per status).
            MalformedResponseError: the answer could not be understood.
            TransportError: no answer (`RequestNotSentError` or `RequestMaybeSentError`).
        """
        call = self._core.run_call(
            device_id,
            command_name,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            timeout=timeout,
            retry=retry,
        )
        result = self._execute(call)
        assert isinstance(result, CommandResult)
        return result

    def run_command_many(
        self,
        device_ids: Iterable[str],
        command_name: str,
        request: Any = None,
        *,
        component: str | None = None,
        module: str | None = None,
        connection_timeout: int | None = None,
        response_timeout: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | str | os.PathLike[str] | None = None,
        retry_unknown: bool = False,
        stop: StopSignal | None = None,
    ) -> Iterator[Outcome]:
        """Run one command on many devices; yields one `Outcome` per device as calls complete.

        See `AsyncIoTCentralClient.run_command_many`; this one runs `concurrency` worker threads.
        Closing the iterator early lets the calls in flight finish (and records them).
        """
        from .fleet._runner import run_many_sync

        return run_many_sync(
            self,
            device_ids,
            command_name,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            concurrency=concurrency,
            journal=journal,
            retry_unknown=retry_unknown,
            stop=stop,
        )

    def command_history(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
    ) -> CommandHistory:
        """The most recent execution(s) of a command (on a device, component, module, ...).

        History reads are safe to repeat, so the default policy also retries 5xx and dropped
        connections for them. Raises the same errors as `run_command`.
        """
        call = self._core.history_call(
            device_id,
            command_name,
            component=component,
            module=module,
            timeout=timeout,
            retry=retry,
        )
        result = self._execute(call)
        assert isinstance(result, CommandHistory)
        return result

    def iter_command_history(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> CommandHistoryPager:
        """Every recorded execution of a command, following the service's `nextLink` page by page.

        Iterate the result for `CommandResult`s, or call `.by_page()` for the pages
        (`CommandHistory`). Arguments are checked now; nothing is sent until iteration starts,
        and each page is sent like `command_history` (same retries and timeouts). A `nextLink` to
        another scheme, host or port than the client's, one that repeats, or more than
        `max_pages` pages raise `PagingError` (nothing more is sent).
        """
        first = self._core.history_call(
            device_id,
            command_name,
            component=component,
            module=module,
            timeout=timeout,
            retry=retry,
        )
        pages = check_max_pages(max_pages)

        def fetch(call: _Call) -> CommandHistory:
            result = self._execute(call)
            assert isinstance(result, CommandHistory)
            return result

        return CommandHistoryPager(
            lambda: fetch(dataclasses.replace(first, client_request_id=str(uuid.uuid4()))),
            lambda request, number: fetch(self._core.next_page_call(first, request, number)),
            base_url=self._core.base_url,
            api_version=self._core.api_version,
            max_pages=pages,
        )

    def _execute(self, call: _Call) -> CommandResult | CommandHistory:
        retries = 0
        while True:
            try:
                return map_response(call.kind, self._send(call))
            except _RETRYABLE as error:
                delay = self._core.retry_delay(call, error, retries)
                if delay is None:
                    raise
                call.retry.sleep(delay)
                retries += 1

    def _send(self, call: _Call) -> httpx.Response:
        """Send one attempt of `call` and read its answer: every request leaves from here.

        The attempt ends within `time_bound(call.timeout)`, and reads at most
        `max_response_bytes`, however the server answers.
        """
        if self._http.is_closed:
            raise ClientClosedError("the client is closed")
        request = call.build(self._http)
        if self._pacer is not None:  # wait for a slot before the attempt's time bound starts
            self._pacer.acquire()
            mark_paced(request, self._pacer)
        notify_sending(request)
        with attempt_deadline(time_bound(call.timeout)) as deadline:
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise map_transport_error(exc, request) from exc
            try:
                body = BodyReader(response, limit=self._core.max_response_bytes, deadline=deadline)
                for chunk in body.raw_chunks():
                    body.feed(chunk)
                body.finish()
            except httpx.HTTPError as exc:
                raise map_transport_error(exc, request) from exc
            finally:
                response.close()
        return response


class AsyncIoTCentralClient(_BaseClient):
    """Run commands on IoT Central devices and read their history (asyncio).

    Same arguments and methods as `IoTCentralClient`, with `await`; `transport` takes an
    `httpx.AsyncBaseTransport` (e.g. `httpx.ASGITransport(app=...)` for an in-process simulator).
    Credentials with `async def get_token` are supported; sync ones run in a worker thread.
    """

    def __init__(
        self,
        app: str | None = None,
        *,
        credential: object,
        base_url: str | None = None,
        base_domain: str = DEFAULT_BASE_DOMAIN,
        api_version: str = DEFAULT_API_VERSION,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: httpx.AsyncBaseTransport | None = None,
        pacer: RatePacer | None = None,
    ) -> None:
        super().__init__(
            app,
            credential=credential,
            base_url=base_url,
            base_domain=base_domain,
            api_version=api_version,
            timeout=timeout,
            retry=retry,
            max_response_bytes=max_response_bytes,
            pacer=pacer,
        )
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise InvalidArgumentError(
                "transport must be an httpx.AsyncBaseTransport (use IoTCentralClient for sync ones)"
            )
        self._http = httpx.AsyncClient(
            auth=self._auth,
            event_hooks=_hooks(ASYNC_HOOKS, PACER_ASYNC_HOOKS),
            **self._core.httpx_options(transport),
        )
        self._loop = _LoopBinding()  # shared with copies from with_options, like the pool

    async def aclose(self) -> None:
        """Close the connection pool (a copy from `with_options` leaves it open)."""
        if self._owner:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def run_command(
        self,
        device_id: str,
        command_name: str,
        request: Any = None,
        *,
        component: str | None = None,
        module: str | None = None,
        connection_timeout: int | None = None,
        response_timeout: int | None = None,
        timeout: Timeout | None = None,  # noqa: ASYNC109 - HTTP timeouts, not a deadline
        retry: RetryPolicy | int | None = None,
    ) -> CommandResult:
        """Run a command; see `IoTCentralClient.run_command`."""
        call = self._core.run_call(
            device_id,
            command_name,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            timeout=timeout,
            retry=retry,
        )
        result = await self._execute(call)
        assert isinstance(result, CommandResult)
        return result

    def run_command_many(
        self,
        device_ids: Iterable[str],
        command_name: str,
        request: Any = None,
        *,
        component: str | None = None,
        module: str | None = None,
        connection_timeout: int | None = None,
        response_timeout: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        journal: Journal | str | os.PathLike[str] | None = None,
        retry_unknown: bool = False,
        stop: StopSignal | None = None,
    ) -> AsyncIterator[Outcome]:
        """Run one command on many devices; an async iterator of one `Outcome` per device.

        Outcomes come as calls complete, each `succeeded`, `device_failed` (the device answered
        `responseCode` >= 400), `not_run` (provably never ran: a 4xx, or never sent) or `unknown`
        (may have run: 5xx, device timeout, dropped after sending, interrupted). A failure never
        stops the run. `device_ids` may be any iterable, a generator of 100,000 ids included: it
        is read one id at a time by `concurrency` workers (1 to 1000), and duplicates are
        dropped. Every request waits for the client's `pacer` (a default `RatePacer()`, 20
        requests/s, when the client has none); the client's retry policy applies per device.

        Args:
            journal: a path (or `Journal`): a SQLite file with one row per device, committed
                as *sending* before the request leaves and with the outcome after. Running again
                with the same journal skips finished devices and never re-sends a device left
                *sending* or *unknown*, unless `retry_unknown=True`; a journal written for
                another command, payload, target or timeouts raises `JournalMismatchError`.
            stop: a `StopSignal`: once set, no new device is started; calls in flight finish.

        Closing the iterator early (or cancelling its task) cancels the calls in flight; those
        that were sent are journaled `unknown`.

        Raises:
            InvalidArgumentError: a shared argument is out of range (nothing was sent).
            JournalMismatchError: the journal belongs to another run (nothing was sent).
        """
        from .fleet._runner import run_many_async

        return run_many_async(
            self,
            device_ids,
            command_name,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            concurrency=concurrency,
            journal=journal,
            retry_unknown=retry_unknown,
            stop=stop,
        )

    async def command_history(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
        timeout: Timeout | None = None,  # noqa: ASYNC109 - HTTP timeouts, not a deadline
        retry: RetryPolicy | int | None = None,
    ) -> CommandHistory:
        """Read a command's history; see `IoTCentralClient.command_history`."""
        call = self._core.history_call(
            device_id,
            command_name,
            component=component,
            module=module,
            timeout=timeout,
            retry=retry,
        )
        result = await self._execute(call)
        assert isinstance(result, CommandHistory)
        return result

    def iter_command_history(
        self,
        device_id: str,
        command_name: str,
        *,
        component: str | None = None,
        module: str | None = None,
        timeout: Timeout | None = None,
        retry: RetryPolicy | int | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
    ) -> AsyncCommandHistoryPager:
        """Every recorded execution, page by page; see `IoTCentralClient.iter_command_history`.

        Not a coroutine: `async for result in client.iter_command_history(...)`, or
        `async for page in client.iter_command_history(...).by_page()`.
        """
        first = self._core.history_call(
            device_id,
            command_name,
            component=component,
            module=module,
            timeout=timeout,
            retry=retry,
        )
        pages = check_max_pages(max_pages)

        async def fetch(call: _Call) -> CommandHistory:
            result = await self._execute(call)
            assert isinstance(result, CommandHistory)
            return result

        return AsyncCommandHistoryPager(
            lambda: fetch(dataclasses.replace(first, client_request_id=str(uuid.uuid4()))),
            lambda request, number: fetch(self._core.next_page_call(first, request, number)),
            base_url=self._core.base_url,
            api_version=self._core.api_version,
            max_pages=pages,
        )

    async def _execute(self, call: _Call) -> CommandResult | CommandHistory:
        retries = 0
        while True:
            try:
                return map_response(call.kind, await self._send(call))
            except _RETRYABLE as error:
                delay = self._core.retry_delay(call, error, retries)
                if delay is None:
                    raise
                await call.retry.async_sleep(delay)
                retries += 1

    async def _send(self, call: _Call) -> httpx.Response:
        """Send one attempt of `call` and read its answer: every request leaves from here.

        The attempt ends within `time_bound(call.timeout)`, and reads at most
        `max_response_bytes`, however the server answers.
        """
        if self._http.is_closed:
            raise ClientClosedError("the client is closed")
        self._loop.check()
        request = call.build(self._http)
        if self._pacer is not None:  # wait for a slot before the attempt's time bound starts
            await self._pacer.async_acquire()
            mark_paced(request, self._pacer)
        notify_sending(request)
        bound = time_bound(call.timeout)
        try:
            async with asyncio.timeout(bound):
                try:
                    response = await self._http.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise map_transport_error(exc, request) from exc
                try:
                    limit = self._core.max_response_bytes
                    body = BodyReader(response, limit=limit, deadline=time.monotonic() + bound)
                    async for chunk in body.async_raw_chunks():
                        body.feed(chunk)
                    body.finish()
                except httpx.HTTPError as exc:
                    raise map_transport_error(exc, request) from exc
                finally:
                    await response.aclose()
        except TimeoutError:
            late = httpx.ReadTimeout(
                f"no complete answer within the attempt's time bound ({bound:.0f} s)",
                request=request,
            )
            raise map_transport_error(late, request) from None
        return response
