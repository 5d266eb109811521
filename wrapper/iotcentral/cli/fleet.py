"""`iotcentral fleet`: one command to many devices, paced, journaled and resumable.

```
iotcentral fleet run COMMAND --devices FILE|- [--id-column NAME] [--request JSON|@FILE|@-]
                     [--component C] [--module M] [--connection-timeout S] [--response-timeout S]
                     [--rate 20] [--concurrency 50] [--journal FILE]
                     [--resume FILE [--retry-unknown]] [--json] [--simulator]
iotcentral fleet status FILE [--json] [--check-history]
```

A fleet run needs an app (`--app`/`IOTC_APP` or `--base-url`/`IOTC_BASE_URL`) or an explicit
`--simulator`: it never falls back to the embedded simulator silently. The journal (default
`fleet-COMMAND-TIMESTAMP.db` in the current folder) is printed at start. The first Ctrl-C stops
taking new devices and lets the calls in flight finish; a second one abandons them (journaled as
unknown). Exit codes: `FLEET_EXIT_CODES` (the most serious status wins).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import typer

from .._client import AsyncIoTCentralClient
from .._config import DEFAULT_API_VERSION, DEFAULT_BASE_DOMAIN
from ..fleet._journal import Journal
from ..fleet._outcome import OutcomeStatus
from ..fleet._pacer import RatePacer
from ..fleet._runner import StopSignal
from ..fleet._status import async_check_unknown
from ._options import (
    ApiTokenOption,
    ApiVersionOption,
    AppOption,
    AzureOption,
    BaseDomainOption,
    BaseUrlOption,
    BearerTokenOption,
    CheckHistoryOption,
    CommandArgument,
    ComponentOption,
    ConcurrencyOption,
    ConnectionTimeoutOption,
    DevicesOption,
    IdColumnOption,
    JournalArgument,
    JournalOption,
    JsonLinesOption,
    MaxRetriesOption,
    ModuleOption,
    RateOption,
    RequestOption,
    ResponseTimeoutOption,
    ResumeOption,
    RetryUnknownOption,
    SimulatorOption,
    StatusDevicesOption,
    VerboseOption,
)
from ._output import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError, error, guarded
from ._progress import NOT_REACHED, FleetProgress, printable, summary_table
from ._settings import Settings
from .command import parse_request

__all__ = ["FLEET_EXIT_CODES", "app", "exit_code_for"]

EXIT_SOME_DEVICE_FAILED = 1
EXIT_SOME_NOT_RUN = 6
EXIT_SOME_UNKNOWN = 7

#: The exit codes of `fleet run` and `fleet status` (the most serious one present wins).
FLEET_EXIT_CODES: dict[int, str] = {
    EXIT_OK: "every device succeeded",
    EXIT_SOME_DEVICE_FAILED: "some devices reported a failure (responseCode >= 400), none below",
    EXIT_USAGE: "usage or configuration error, or the journal belongs to another run; nothing sent",
    EXIT_SOME_NOT_RUN: "some devices did not run the command (4xx, offline, never sent)",
    EXIT_SOME_UNKNOWN: "some devices MAY have run it (5xx, timeout, dropped): see fleet status",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); resume with --resume JOURNAL",
}
_NO_APP = (
    "a fleet run needs an app: set IOTC_APP (or --app) or IOTC_BASE_URL (or --base-url);"
    " or pass --simulator to run against an embedded simulator"
)
_NO_SIMULATOR_RESUME = (
    "--resume cannot continue a --simulator run: each one starts a fresh embedded simulator, and"
    " the one the journal ran against is gone. To try resuming, serve one that lasts"
    " (iotcentral simulator serve --scenario simulator/fleet-demo.yaml) and use --base-url"
)

#: The embedded simulator's demo fleet for `--simulator` (the README's transcript uses it).
DEMO_FLEET: dict[str, Any] = {
    "prefix": "demo-",
    "count": 10_000,
    "width": 5,
    "seed": 9,
    "offline": 0.02,
    "slow": 0.05,
    "failing": 0.02,
    "never_answering": 0.01,
    "commands": {"Reboot": "echo", "CoolDown": "echo"},
}
DEMO_TIME_SCALE = 0.01

app = typer.Typer(
    help="Run one command on many devices at the app's rate limit, with a journal to resume"
    " from. Exit codes: "
    + "; ".join(f"{code} {text}" for code, text in FLEET_EXIT_CODES.items())
    + ".",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def exit_code_for(counts: dict[str, int]) -> int:
    """The exit code for a run's counts per status (the most serious present wins)."""
    if counts.get(OutcomeStatus.UNKNOWN.value, 0) or counts.get("sending", 0):
        return EXIT_SOME_UNKNOWN
    if counts.get(OutcomeStatus.NOT_RUN.value, 0) or counts.get(NOT_REACHED, 0):
        return EXIT_SOME_NOT_RUN
    if counts.get(OutcomeStatus.DEVICE_FAILED.value, 0):
        return EXIT_SOME_DEVICE_FAILED
    return EXIT_OK


# -- input ------------------------------------------------------------------------------------


def _lines(source: str) -> Iterator[str]:
    if source == "-":
        yield from sys.stdin
        return
    try:
        with open(source, encoding="utf-8-sig", newline="") as file:
            yield from file
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--devices {source}: cannot read the file: {exc}") from None


def read_devices(source: str, id_column: str | None) -> Iterator[str]:
    """Device ids from `source`, lazily: one per line (blank lines and `#` comments skipped), or
    the `id_column` of a CSV file with a header."""
    if id_column is None:
        for line in _lines(source):
            device_id = line.strip()
            if device_id and not device_id.startswith("#"):
                yield device_id
        return
    reader = csv.DictReader(_lines(source))
    if reader.fieldnames is None or id_column not in reader.fieldnames:
        columns = ", ".join(printable(f, 40) for f in reader.fieldnames or [])
        raise UsageError(
            f"--id-column {id_column!r}: not a column of --devices (columns: {columns})"
        )
    for row in reader:
        device_id = (row.get(id_column) or "").strip()
        if device_id:
            yield device_id


def _count(source: str, id_column: str | None) -> int | None:
    """How many ids a file holds (for the progress bar); None for stdin."""
    if source == "-":
        return None
    return sum(1 for _ in read_devices(source, id_column))


def _journal_path(command: str, journal: str | None, resume: str | None) -> tuple[Path, bool]:
    if journal is not None and resume is not None:
        raise UsageError("give --journal (a new run) or --resume (an earlier run), not both")
    if resume is not None:
        path = Path(resume)
        if not path.is_file():
            raise UsageError(f"--resume {resume}: no such journal file")
        return path, True
    if journal is not None:
        path = Path(journal)
        if path.exists():
            raise UsageError(f"--journal {journal}: the file exists; continue it with --resume")
        return path, False
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", command)[:40] or "command"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path(f"fleet-{safe}-{stamp}.db"), False


# -- connecting -------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _connect(
    settings: Settings, simulator: bool, pacer: RatePacer
) -> AsyncIterator[AsyncIoTCentralClient]:
    """A paced async client for the app, or for an embedded simulator with `--simulator`."""
    if simulator:
        if settings.app or settings.base_url:
            raise UsageError("--simulator runs an embedded simulator: drop --app/--base-url")
        try:
            from iotcentral_sim import DEFAULT_API_TOKEN, Scenario, Simulator, SimulatorServer
        except ImportError:
            raise UsageError("--simulator needs the 'sim' extra") from None
        scenario = Scenario.from_dict({"fleets": [DEMO_FLEET]}, name="fleet-demo")
        sim = Simulator(scenario, rate_limit=20, time_scale=DEMO_TIME_SCALE)
        with SimulatorServer(sim, host="127.0.0.1", port=0) as server:
            error(
                f"embedded simulator at {server.url}: demo fleet demo-00000..demo-09999,"
                f" 20 requests/s, waits x{DEMO_TIME_SCALE}"
            )
            async with AsyncIoTCentralClient(
                base_url=server.url,
                credential=DEFAULT_API_TOKEN,
                api_version=settings.api_version,
                retry=settings.max_retries,
                pacer=pacer,
            ) as client:
                yield client
        return
    if not (settings.app or settings.base_url):
        raise UsageError(_NO_APP)
    if settings.app and settings.base_url:
        raise UsageError("give either --app/IOTC_APP or --base-url/IOTC_BASE_URL, not both")
    async with AsyncIoTCentralClient(
        settings.app or None,
        base_url=settings.base_url or None,
        base_domain=settings.base_domain,
        credential=settings.credential(),
        api_version=settings.api_version,
        retry=settings.max_retries,
        pacer=pacer,
    ) as client:
        yield client


# -- fleet run --------------------------------------------------------------------------------


class _Interrupts:
    """First Ctrl-C: stop taking devices. Second: cancel the calls in flight (journaled)."""

    def __init__(self, stop: StopSignal) -> None:
        self.stop = stop
        self.task: asyncio.Task[Any] | None = None
        self.count = 0

    def __call__(self) -> None:
        self.count += 1
        if self.count == 1:
            self.stop.set()
            error(
                "stopping: no new devices; waiting for the calls in flight"
                " (Ctrl-C again to abandon them)"
            )
        elif self.task is not None:
            self.task.cancel()

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        try:
            loop.add_signal_handler(signal.SIGINT, self)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)


async def _run(
    settings: Settings,
    *,
    command: str,
    payload: Any,
    devices: str,
    id_column: str | None,
    component: str | None,
    module: str | None,
    connection_timeout: int | None,
    response_timeout: int | None,
    rate: float,
    concurrency: int,
    journal_path: Path,
    resuming: bool,
    retry_unknown: bool,
    as_json: bool,
    simulator: bool,
) -> int:
    pacer = RatePacer(rate)
    stop = StopSignal()
    interrupts = _Interrupts(stop)
    total = _count(devices, id_column)
    async with _connect(settings, simulator, pacer) as client:
        verb = "resuming" if resuming else "journal"
        error(f"{verb}: {journal_path} (continue with --resume {journal_path})")
        interrupted = False
        with (
            Journal(journal_path) as journal,
            FleetProgress(total, pacer, enabled=None if not as_json else False) as progress,
            interrupts.installed(),
        ):
            try:
                async for outcome in client.run_command_many(
                    read_devices(devices, id_column),
                    command,
                    payload,
                    component=component,
                    module=module,
                    connection_timeout=connection_timeout,
                    response_timeout=response_timeout,
                    concurrency=concurrency,
                    journal=journal,
                    retry_unknown=retry_unknown,
                    stop=stop,
                ):
                    progress.update(outcome)
                    if as_json:
                        # ASCII only: no control character from an id or an answer reaches a tty.
                        sys.stdout.write(json.dumps(outcome.to_dict()) + "\n")
                        sys.stdout.flush()
            except asyncio.CancelledError:
                interrupted = True
            counts = dict(progress.counts)
            unknown = [row for row in journal.unknown_rows()]
    interrupted = interrupted or stop.is_set()
    _print_summary(counts, f"{command}: {sum(counts.values())} devices", to_stderr=as_json)
    if unknown:
        error(
            f"{len(unknown)} device(s) may have run the command: `iotcentral fleet status"
            f" {journal_path} --check-history` shows what their history says now"
        )
    if interrupted:
        error(f"interrupted: continue with --resume {journal_path}")
        return EXIT_INTERRUPTED
    return exit_code_for(counts)


def _print_summary(counts: dict[str, int], title: str, *, to_stderr: bool) -> None:
    from rich.console import Console

    Console(stderr=to_stderr, highlight=False).print(summary_table(counts, title))


@app.command("run")
def run(
    command: CommandArgument,
    devices: DevicesOption,
    id_column: IdColumnOption = None,
    request: RequestOption = None,
    component: ComponentOption = None,
    module: ModuleOption = None,
    connection_timeout: ConnectionTimeoutOption = None,
    response_timeout: ResponseTimeoutOption = None,
    rate: RateOption = 20.0,
    concurrency: ConcurrencyOption = 50,
    journal: JournalOption = None,
    resume: ResumeOption = None,
    retry_unknown: RetryUnknownOption = False,
    as_json: JsonLinesOption = False,
    simulator: SimulatorOption = False,
    app_name: AppOption = None,
    base_domain: BaseDomainOption = DEFAULT_BASE_DOMAIN,
    base_url: BaseUrlOption = None,
    api_token: ApiTokenOption = None,
    bearer_token: BearerTokenOption = None,
    azure: AzureOption = False,
    max_retries: MaxRetriesOption = 3,
    api_version: ApiVersionOption = DEFAULT_API_VERSION,
    verbose: VerboseOption = False,
) -> None:
    """Run COMMAND on every device listed in --devices, at --rate requests per second."""
    settings = Settings(
        app=app_name,
        base_domain=base_domain,
        base_url=base_url,
        api_token=api_token,
        bearer_token=bearer_token,
        azure=azure,
        max_retries=max_retries,
        api_version=api_version,
    )

    def body() -> int:
        if retry_unknown and resume is None:
            raise UsageError("--retry-unknown only applies with --resume JOURNAL")
        if not simulator and not (settings.app or settings.base_url):
            raise UsageError(_NO_APP)
        if simulator and resume is not None:
            raise UsageError(_NO_SIMULATOR_RESUME)
        payload = parse_request(request)
        journal_path, resuming = _journal_path(command, journal, resume)
        return asyncio.run(
            _run(
                settings,
                command=command,
                payload=payload,
                devices=devices,
                id_column=id_column,
                component=component,
                module=module,
                connection_timeout=connection_timeout,
                response_timeout=response_timeout,
                rate=rate,
                concurrency=concurrency,
                journal_path=journal_path,
                resuming=resuming,
                retry_unknown=retry_unknown,
                as_json=as_json,
                simulator=simulator,
            )
        )

    raise typer.Exit(guarded(body, secrets=settings.secrets, verbose=verbose))


# -- fleet status -----------------------------------------------------------------------------


async def _histories(settings: Settings, journal: Journal) -> dict[str, str]:
    async with _connect(settings, False, RatePacer()) as client:
        return {
            check.device_id: printable(check.describe(), 200)
            async for check in async_check_unknown(client, journal)
        }


def _not_reached(journal: Journal, devices: str, id_column: str | None) -> list[str]:
    """The ids of the list (in its order, each once) that have no row in the journal."""
    reached = {row.device_id for row in journal.rows()}
    missing: dict[str, None] = {}
    for device_id in read_devices(devices, id_column):
        if device_id not in reached:
            missing[device_id] = None
    return list(missing)


@app.command("status")
def status(
    journal_file: JournalArgument,
    as_json: JsonLinesOption = False,
    check_history: CheckHistoryOption = False,
    devices: StatusDevicesOption = None,
    id_column: IdColumnOption = None,
    app_name: AppOption = None,
    base_domain: BaseDomainOption = DEFAULT_BASE_DOMAIN,
    base_url: BaseUrlOption = None,
    api_token: ApiTokenOption = None,
    bearer_token: BearerTokenOption = None,
    azure: AzureOption = False,
    api_version: ApiVersionOption = DEFAULT_API_VERSION,
    verbose: VerboseOption = False,
) -> None:
    """Summarise a fleet run's journal and list the devices that may have run the command.

    With `--devices` (the run's list), also the devices the run never reached.
    """
    settings = Settings(
        app=app_name,
        base_domain=base_domain,
        base_url=base_url,
        api_token=api_token,
        bearer_token=bearer_token,
        azure=azure,
        api_version=api_version,
    )

    def body() -> int:
        path = Path(journal_file)
        if not path.is_file():
            raise UsageError(f"{journal_file}: no such journal file")
        with Journal(path) as journal:
            summary = journal.summary()
            if summary.fingerprint is None:
                raise UsageError(f"{journal_file}: not a fleet journal (no run recorded)")
            unknown = list(journal.unknown_rows())
            not_reached = _not_reached(journal, devices, id_column) if devices else []
            histories = asyncio.run(_histories(settings, journal)) if check_history else {}
        run_info = summary.fingerprint
        counts = dict(summary.counts)
        if devices:
            counts[NOT_REACHED] = len(not_reached)
        if as_json:
            document = {
                "run": {
                    "commandName": run_info.command_name,
                    "component": run_info.component,
                    "module": run_info.module,
                    "baseUrl": run_info.base_url,
                    "created": summary.created,
                },
                "counts": counts,
                "unknown": [
                    {
                        "deviceId": row.device_id,
                        "state": row.state,
                        "errorCode": row.error_code,
                        "message": row.message,
                        "history": histories.get(row.device_id),
                    }
                    for row in unknown
                ],
            }
            if devices:
                document["notReached"] = not_reached
            sys.stdout.write(json.dumps(document) + "\n")  # ASCII only (see above)
            return exit_code_for(counts)
        from rich.console import Console
        from rich.text import Text

        console = Console(highlight=False, soft_wrap=True)
        where = run_info.command_name
        if run_info.module:
            where += f" (module {run_info.module})"
        if run_info.component:
            where += f" (component {run_info.component})"
        console.print(summary_table(counts, f"{where} at {run_info.base_url}"))
        if unknown:
            console.print(Text("may have run (not re-sent on --resume without --retry-unknown):"))
            for row in unknown[:200]:
                what = printable(row.error_code or row.state, 40)
                line = f"  {printable(row.device_id, 80)}  {what}"
                if row.device_id in histories:
                    line += f"  now: {histories[row.device_id]}"
                console.print(Text(line))
            if len(unknown) > 200:
                console.print(Text(f"  ... and {len(unknown) - 200} more (--json lists them all)"))
        if not_reached:
            console.print(Text("never reached (a --resume of this journal runs them):"))
            for device_id in not_reached[:200]:
                console.print(Text(f"  {printable(device_id, 80)}"))
            if len(not_reached) > 200:
                more = len(not_reached) - 200
                console.print(Text(f"  ... and {more} more (--json lists them all)"))
        return exit_code_for(counts)

    raise typer.Exit(guarded(body, secrets=settings.secrets, verbose=verbose))
