"""Fleet runs: one command to many devices, paced, journaled, never fail-fast.

`run_many_async` (behind `AsyncIoTCentralClient.run_command_many`) runs `concurrency` worker tasks
that pull ids from the caller's iterable one at a time, so a generator of 100,000 ids costs
`concurrency` tasks and a bounded queue of finished outcomes, never a task per id. `run_many_sync`
(behind `IoTCentralClient.run_command_many`) does the same with a thread pool. Both yield one
`Outcome` per distinct device as calls complete, and never stop at a failure.

Every request goes through the client's `RatePacer` (the client's own, or a default one for the
run, `DEFAULT_RATE` requests/s). The retry policy is the client's (safe by default: a command is
never re-sent after it may have reached the service).

With a journal, `_RunPlan` decides per device before anything is sent: finished devices are skipped
(their journaled outcome is yielded, `from_journal=True`), devices whose row says `sending` or
`unknown` are not re-sent unless `retry_unknown=True`, and the rest run. The journal's row is
committed as `sending` right before each request leaves (see `_sending`), and the outcome when the
call ends. Interrupted calls (the iterator closed, the task cancelled, Ctrl-C) are recorded
`unknown`: they may have run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from .._errors import InvalidArgumentError
from ._journal import FINISHED, SENDING, Journal, RunFingerprint, open_journal
from ._limits import DEFAULT_CONCURRENCY, check_concurrency
from ._outcome import Outcome, OutcomeStatus, classify, succeeded
from ._pacer import DEFAULT_RATE, RatePacer
from ._sending import ON_SENDING

if TYPE_CHECKING:
    from .._client import AsyncIoTCentralClient, IoTCentralClient, _Core

__all__ = ["DEFAULT_CONCURRENCY", "StopSignal", "run_many_async", "run_many_sync"]

logger = logging.getLogger("iotcentral")

_INTERRUPTED = "interrupted after sending, before an answer: the command may have run"


class StopSignal:
    """Ask a running fleet run to stop taking new devices (in-flight calls finish); thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        """Stop after the calls in flight."""
        self._event.set()

    def is_set(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()


class _RunPlan:
    """What the runners share: argument checks, the journal, and the per-device decision."""

    def __init__(
        self,
        core: _Core,
        command_name: object,
        request: object,
        *,
        component: object,
        module: object,
        connection_timeout: object,
        response_timeout: object,
        concurrency: object,
        journal: object,
        retry_unknown: bool,
    ) -> None:
        # Validate every shared argument now, before anything is sent (the device id is a probe).
        core.run_call(
            "fleet-argument-check",
            command_name,
            request,
            component=component,
            module=module,
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            timeout=None,
            retry=None,
        )
        self.concurrency = check_concurrency(concurrency)
        if not isinstance(retry_unknown, bool):
            raise InvalidArgumentError(f"retry_unknown must be a bool, got {retry_unknown!r}")
        self.retry_unknown = retry_unknown
        self.journal, self.owns_journal = open_journal(journal)  # type: ignore[arg-type]
        if self.journal is not None:
            try:
                self.journal.bind(
                    RunFingerprint.of(
                        command_name=str(command_name),
                        request=request,
                        component=component,  # type: ignore[arg-type]
                        module=module,  # type: ignore[arg-type]
                        connection_timeout=connection_timeout,  # type: ignore[arg-type]
                        response_timeout=response_timeout,  # type: ignore[arg-type]
                        base_url=core.base_url,
                    )
                )
            except BaseException:
                self.close()
                raise
        # A journal without rows has nothing to settle: no lookup per device (this run's own
        # rows are never read back, as each id runs once).
        self.resuming = self.journal is not None and self.journal.has_rows()
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def close(self) -> None:
        if self.journal is not None and self.owns_journal:
            self.journal.close()

    def ids(self, device_ids: Iterable[object]) -> Iterator[str]:
        """The distinct ids, in order (a repeated id is dropped: it runs once)."""
        if isinstance(device_ids, str | bytes):
            raise InvalidArgumentError("device_ids must be an iterable of ids, not one string")
        for device_id in device_ids:
            key = device_id if isinstance(device_id, str) else repr(device_id)
            if key in self.seen:
                continue
            self.seen.add(key)
            yield device_id  # type: ignore[misc]  # a non-str id ends as not_run (validation)

    def before(self, device_id: str) -> Outcome | None:
        """The journaled outcome that settles `device_id` without sending, or None to run it."""
        if self.journal is None or not self.resuming or not isinstance(device_id, str):
            return None
        with self._lock:
            row = self.journal.row(device_id)
        if row is None or row.state == OutcomeStatus.NOT_RUN.value:
            return None  # never reached, or provably never ran: run it (again)
        if row.state in FINISHED:
            return row.outcome()
        if (row.state == SENDING or row.state == OutcomeStatus.UNKNOWN.value) and (
            not self.retry_unknown
        ):
            return row.outcome()
        return None

    def sending(self, device_id: str) -> Callable[[httpx.Request], None] | None:
        """The callback that commits the device's row as `sending` before its request leaves."""
        journal = self.journal
        if journal is None:
            return None

        def on_sending(request: httpx.Request) -> None:
            with self._lock:
                journal.mark_sending(device_id, request.headers.get("x-ms-client-request-id"))

        return on_sending

    def finished(self, outcome: Outcome) -> Outcome:
        """Record a fresh outcome in the journal (if the device's request was sent)."""
        if self.journal is not None:
            with self._lock:
                self.journal.record(outcome)  # updates the row `sending` made, if any
        return outcome

    def interrupted(self, device_id: str) -> None:
        """A call stopped without an answer (cancelled, Ctrl-C): if it was sent, it may have run."""
        if self.journal is not None:
            with self._lock:
                self.journal.mark_unknown(device_id, _INTERRUPTED)


def _fatal(error: BaseException) -> bool:
    """Errors that end the whole run: the journal cannot record (disk full, file removed)."""
    return isinstance(error, sqlite3.Error | OSError) and not isinstance(error, ConnectionError)


async def run_many_async(
    client: AsyncIoTCentralClient,
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
    """See `AsyncIoTCentralClient.run_command_many`."""
    plan = _RunPlan(
        client._core,
        command_name,
        request,
        component=component,
        module=module,
        connection_timeout=connection_timeout,
        response_timeout=response_timeout,
        concurrency=concurrency,
        journal=journal,
        retry_unknown=retry_unknown,
    )
    paced = client if client._pacer is not None else client._with_pacer(RatePacer(DEFAULT_RATE))
    ids = plan.ids(device_ids)
    queue: asyncio.Queue[Outcome | None] = asyncio.Queue(maxsize=plan.concurrency)
    failures: list[BaseException] = []

    async def one(device_id: str) -> Outcome:
        settled = plan.before(device_id)
        if settled is not None:
            return settled
        ON_SENDING.set(plan.sending(device_id))
        try:
            result = await paced.run_command(
                device_id,
                command_name,
                request,
                component=component,
                module=module,
                connection_timeout=connection_timeout,
                response_timeout=response_timeout,
            )
        except asyncio.CancelledError:
            plan.interrupted(device_id)
            raise
        except Exception as error:
            if _fatal(error):
                raise
            outcome = classify(device_id, error)
        else:
            outcome = succeeded(device_id, result)
        finally:
            ON_SENDING.set(None)
        return plan.finished(outcome)

    async def worker() -> None:
        while stop is None or not stop.is_set():
            try:
                device_id = next(ids)
            except StopIteration:
                return
            await queue.put(await one(device_id))

    async def supervise(workers: list[asyncio.Task[None]]) -> None:
        try:
            for done in asyncio.as_completed(workers):
                try:
                    await done
                except asyncio.CancelledError:
                    pass
                except BaseException as error:  # a fatal error ends the run, never silently
                    failures.append(error)
                    for task in workers:
                        task.cancel()
        finally:
            await queue.put(None)

    workers = [asyncio.create_task(worker()) for _ in range(plan.concurrency)]
    supervisor = asyncio.create_task(supervise(workers))
    try:
        while (outcome := await queue.get()) is not None:
            yield outcome
        if failures:
            raise failures[0]
    finally:
        for task in workers:
            task.cancel()
        supervisor.cancel()
        await asyncio.gather(*workers, supervisor, return_exceptions=True)
        plan.close()


def run_many_sync(
    client: IoTCentralClient,
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
    """See `IoTCentralClient.run_command_many`."""
    plan = _RunPlan(
        client._core,
        command_name,
        request,
        component=component,
        module=module,
        connection_timeout=connection_timeout,
        response_timeout=response_timeout,
        concurrency=concurrency,
        journal=journal,
        retry_unknown=retry_unknown,
    )
    paced = client if client._pacer is not None else client._with_pacer(RatePacer(DEFAULT_RATE))
    ids = plan.ids(device_ids)
    # Devices whose call started and has not been recorded: marked unknown if the run stops.
    started: dict[str, None] = {}
    started_lock = threading.Lock()

    def one(device_id: str) -> Outcome:
        ON_SENDING.set(plan.sending(device_id))
        try:
            result = paced.run_command(
                device_id,
                command_name,
                request,
                component=component,
                module=module,
                connection_timeout=connection_timeout,
                response_timeout=response_timeout,
            )
        except Exception as error:
            if _fatal(error):
                raise
            outcome = classify(device_id, error)
        else:
            outcome = succeeded(device_id, result)
        finally:
            ON_SENDING.set(None)
        plan.finished(outcome)
        with started_lock:
            started.pop(device_id, None)
        return outcome

    pool = concurrent.futures.ThreadPoolExecutor(plan.concurrency, "iotcentral-fleet")
    running: set[concurrent.futures.Future[Outcome]] = set()
    try:
        exhausted = False
        while True:
            while not exhausted and len(running) < plan.concurrency:
                if stop is not None and stop.is_set():
                    exhausted = True
                    break
                try:
                    device_id = next(ids)
                except StopIteration:
                    exhausted = True
                    break
                settled = plan.before(device_id)
                if settled is not None:
                    yield settled
                    continue
                with started_lock:
                    started[device_id] = None
                running.add(pool.submit(one, device_id))
            if not running:
                return
            done, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED
            )
            for future in done:
                yield future.result()
    finally:
        # Closed early or interrupted: calls not started are dropped; those in flight finish
        # (a thread cannot be interrupted) and are recorded by their own worker.
        pool.shutdown(wait=True, cancel_futures=True)
        with started_lock:
            leftover = list(started)
        for device_id in leftover:
            with contextlib.suppress(sqlite3.Error):
                plan.interrupted(device_id)
        plan.close()
