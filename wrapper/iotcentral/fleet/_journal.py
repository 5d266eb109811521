"""A durable record of a fleet run (SQLite, one row per device), written before each request leaves.

Running a command is not idempotent and IoT Central has no idempotency key, so after a crash the
only safe answer to "which devices already got it?" is a record written *before* each request. The
runner therefore:

1. inserts (or updates) the device's row with state `sending` and COMMITS it, then sends;
2. commits the outcome (`succeeded`, `device_failed`, `not_run` or `unknown`, with the request id,
   error code, device response code and result JSON) when the call ends.

A row left `sending` means the process stopped between 1 and 2: the command may have run. On resume
such rows (and `unknown` ones) are never re-sent unless the caller opts in (`retry_unknown=True`);
`succeeded` and `device_failed` rows are skipped; `not_run` rows are run again (they provably never
ran). The journal's `meta` table holds a fingerprint of the run (command, component, module,
payload hash, timeouts, API root): a journal written for one run refuses to resume another.

Durability: WAL mode with `synchronous=NORMAL`: a committed row survives the process being killed
(kill -9, a crash, a closed terminal); a power cut may lose the last commits. No credential is ever
written: the fingerprint holds a hash of the payload, not the payload, and messages are redacted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._errors import InvalidArgumentError
from .._version import __version__
from ._outcome import Outcome, OutcomeStatus

__all__ = ["FINISHED", "Journal", "JournalMismatchError", "JournalSummary", "RunFingerprint"]

SCHEMA_VERSION = "1"
#: Journal states that end a device's part of the run (skipped on resume).
FINISHED = frozenset({OutcomeStatus.SUCCEEDED.value, OutcomeStatus.DEVICE_FAILED.value})
SENDING = "sending"
#: Every state a row can hold, in the order summaries list them.
STATES = (
    OutcomeStatus.SUCCEEDED.value,
    OutcomeStatus.DEVICE_FAILED.value,
    OutcomeStatus.NOT_RUN.value,
    OutcomeStatus.UNKNOWN.value,
    SENDING,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    seq INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    client_request_id TEXT,
    request_id TEXT,
    error_code TEXT,
    message TEXT,
    response_code INTEGER,
    result TEXT,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_state ON devices (state);
"""


class JournalMismatchError(InvalidArgumentError):
    """The journal was written for another run (command, payload, target, ...); nothing was sent."""


@dataclass(frozen=True)
class RunFingerprint:
    """What identifies a run: a journal resumes only the run it was written for."""

    command_name: str
    component: str | None
    module: str | None
    payload_sha256: str
    connection_timeout: int | None
    response_timeout: int | None
    base_url: str

    @classmethod
    def of(
        cls,
        *,
        command_name: str,
        request: Any,
        component: str | None,
        module: str | None,
        connection_timeout: int | None,
        response_timeout: int | None,
        base_url: str,
    ) -> RunFingerprint:
        """The fingerprint of a run; the payload is kept only as a hash of its canonical JSON."""
        canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return cls(
            command_name=command_name,
            component=component,
            module=module,
            payload_sha256=hashlib.sha256(canonical.encode()).hexdigest(),
            connection_timeout=connection_timeout,
            response_timeout=response_timeout,
            base_url=base_url,
        )

    def to_meta(self) -> dict[str, str]:
        """The fingerprint as `meta` rows (JSON-encoded values)."""
        return {f"run.{k}": json.dumps(v) for k, v in self.__dict__.items()}

    @classmethod
    def from_meta(cls, meta: Mapping[str, str]) -> RunFingerprint | None:
        """The fingerprint stored in a journal, or None if it holds none."""
        try:
            values = {k: json.loads(meta[f"run.{k}"]) for k in cls.__dataclass_fields__}
        except (KeyError, ValueError):
            return None
        return cls(**values)


@dataclass(frozen=True)
class JournalSummary:
    """Counts per state, the run's fingerprint and when it started."""

    counts: Mapping[str, int]
    fingerprint: RunFingerprint | None
    created: float | None

    @property
    def total(self) -> int:
        """Devices with a row (every device the run reached)."""
        return sum(self.counts.values())

    @property
    def unknown(self) -> int:
        """Devices whose command may have run: `unknown` plus rows left `sending`."""
        return self.counts.get(OutcomeStatus.UNKNOWN.value, 0) + self.counts.get(SENDING, 0)


@dataclass(frozen=True)
class JournalRow:
    """One device's row."""

    device_id: str
    state: str
    attempts: int
    request_id: str | None
    error_code: str | None
    message: str | None
    response_code: int | None
    result: Any

    def outcome(self) -> Outcome:
        """This row as an outcome read from the journal (a `sending` row reads as unknown)."""
        state = OutcomeStatus.UNKNOWN.value if self.state == SENDING else self.state
        message = self.message
        if self.state == SENDING:
            message = "the run stopped after sending, before an answer was recorded"
        return Outcome(
            self.device_id,
            OutcomeStatus(state),
            response_code=self.response_code,
            request_id=self.request_id,
            error_code=self.error_code,
            message=message,
            from_journal=True,
        )


class Journal:
    """A fleet run's journal file. Use one from one thread (the runners do).

    `Journal(path)` opens (creating if needed) the SQLite file. `bind(fingerprint)` records the
    run on a new journal, or checks it on an existing one (`JournalMismatchError`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InvalidArgumentError(
                f"journal {self.path.name}: not a usable fleet journal ({exc})"
            ) from None
        self._closed = False

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        """Close the file (every change is already committed)."""
        if not self._closed:
            self._closed = True
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the run -------------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        """The `meta` table."""
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def bind(self, fingerprint: RunFingerprint) -> None:
        """Record `fingerprint` on a fresh journal; refuse a journal written for another run."""
        stored = RunFingerprint.from_meta(self.meta())
        if stored is None:
            if self.has_rows():
                raise JournalMismatchError(f"journal {self.path.name}: has rows but no run record")
            rows = {
                **fingerprint.to_meta(),
                "schema": SCHEMA_VERSION,
                "client": f"iotcentral-client {__version__}",
                "created": repr(time.time()),
            }
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows.items())
            return
        if stored != fingerprint:
            different = [
                f"{name} (journal: {getattr(stored, name)!r}, now: {getattr(fingerprint, name)!r})"
                for name in RunFingerprint.__dataclass_fields__
                if getattr(stored, name) != getattr(fingerprint, name)
            ]
            raise JournalMismatchError(
                f"journal {self.path.name} was written for another run; it differs in "
                + "; ".join(different).replace("payload_sha256", "the request payload")
                + ". Use a new journal file for a new run. Nothing was sent."
            )

    # -- rows ----------------------------------------------------------------------------------

    def has_rows(self) -> bool:
        """Whether any device has a row (a run reached it)."""
        return self._db.execute("SELECT 1 FROM devices LIMIT 1").fetchone() is not None

    def row(self, device_id: str) -> JournalRow | None:
        """The device's row, if the run reached it."""
        found = self._db.execute(
            "SELECT device_id, state, attempts, request_id, error_code, message, response_code,"
            " result FROM devices WHERE device_id = ?",
            (device_id,),
        ).fetchone()
        return None if found is None else _row(found)

    def mark_sending(self, device_id: str, client_request_id: str | None = None) -> None:
        """Commit the device's row as `sending`: call it BEFORE the request leaves."""
        self._db.execute(
            "INSERT INTO devices (device_id, state, attempts, client_request_id, updated)"
            " VALUES (?, 'sending', 1, ?, ?) ON CONFLICT(device_id) DO UPDATE SET"
            " state='sending', attempts=attempts+1, client_request_id=excluded.client_request_id,"
            " request_id=NULL, error_code=NULL, message=NULL, response_code=NULL, result=NULL,"
            " updated=excluded.updated",
            (device_id, client_request_id, time.time()),
        )

    def record(self, outcome: Outcome) -> None:
        """Commit how the device's call ended (on its row; a device without one is left out)."""
        document = outcome.to_dict()  # redacted: no credential a server quoted back
        result = None
        if "result" in document:
            result = json.dumps(document["result"], separators=(",", ":"))
        self._db.execute(
            "UPDATE devices SET state=?, request_id=?, error_code=?, message=?, response_code=?,"
            " result=?, updated=? WHERE device_id=?",
            (
                outcome.status.value,
                document.get("requestId"),
                document.get("errorCode"),
                document.get("message"),
                outcome.response_code,
                result,
                time.time(),
                outcome.device_id,
            ),
        )

    def mark_unknown(self, device_id: str, message: str) -> None:
        """After an interruption: a `sending` row becomes `unknown` (the command may have run)."""
        self._db.execute(
            "UPDATE devices SET state='unknown', error_code='Interrupted', message=?, updated=?"
            " WHERE device_id=? AND state='sending'",
            (message, time.time(), device_id),
        )

    def summary(self) -> JournalSummary:
        """Counts per state and the run's fingerprint."""
        counts = dict(
            self._db.execute("SELECT state, COUNT(*) FROM devices GROUP BY state").fetchall()
        )
        meta = self.meta()
        created = float(meta["created"]) if "created" in meta else None
        return JournalSummary(counts, RunFingerprint.from_meta(meta), created)

    def rows(self, *states: str) -> Iterator[JournalRow]:
        """Rows in the order the run reached them, optionally only those in `states`."""
        query = (
            "SELECT device_id, state, attempts, request_id, error_code, message, response_code,"
            " result FROM devices"
        )
        params: tuple[str, ...] = ()
        if states:
            query += f" WHERE state IN ({','.join('?' * len(states))})"
            params = states
        yield from (_row(r) for r in self._db.execute(query + " ORDER BY seq", params))

    def unknown_rows(self) -> Iterator[JournalRow]:
        """Devices whose command may have run: `unknown`, or left `sending` by a crash."""
        return self.rows(OutcomeStatus.UNKNOWN.value, SENDING)


def _row(values: tuple[Any, ...]) -> JournalRow:
    device_id, state, attempts, request_id, error_code, message, response_code, result = values
    return JournalRow(
        device_id,
        state,
        attempts,
        request_id,
        error_code,
        message,
        response_code,
        None if result is None else json.loads(result),
    )


def open_journal(journal: Journal | str | os.PathLike[str] | None) -> tuple[Journal | None, bool]:
    """(the journal, whether the caller opened it and must close it)."""
    if journal is None or isinstance(journal, Journal):
        return journal, False
    if isinstance(journal, str | os.PathLike):
        return Journal(journal), True
    raise InvalidArgumentError(f"journal must be a path or a Journal, got {type(journal).__name__}")
