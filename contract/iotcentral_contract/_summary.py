"""A pytest plugin (`-p iotcentral_contract._summary`) that writes the run's summary as JSON.

The runner (`runner.py`) loads it into the pytest process and reads the file named by
`IOTC_CONTRACT_SUMMARY` afterwards: requests sent per spec operation (the gate's ledger),
test outcomes, and one line per failed test naming what broke. Lines are redacted here already
(the token is in this process' environment), and again by the runner.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from typing import Any

import pytest
from iotcentral._redact import redact, secrets_in

from iotcentral_contract._gate import LEDGER
from iotcentral_contract._spec import operation_ids

_outcomes: Counter[str] = Counter()
_failures: list[dict[str, str]] = []

_VIOLATION = re.compile(r"ContractViolation: (\[[a-z0-9-]+\] .*)")
_NUMBERED = re.compile(r"^E\s+\d+\.\s+(\S.*)$", re.MULTILINE)  # schemathesis' numbered failures
_E_LINE = re.compile(r"^E\s+(\S.*)$", re.MULTILINE)


def one_line(text: str) -> str:
    """The most telling line of a failure report: the named check, else the first finding."""
    for pattern in (_VIOLATION, _NUMBERED, _E_LINE):
        found = pattern.search(text)
        if found:
            line = found.group(1).strip()
            break
    else:
        line = text.strip().splitlines()[-1] if text.strip() else "failed"
    line = redact(line, secrets_in(os.environ.get("IOTC_CONTRACT_TOKEN")))
    return line if len(line) <= 200 else line[:197] + "..."


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes; keep one line for each failure."""
    if report.failed:
        _outcomes["failed"] += 1
        _failures.append({"test": report.nodeid, "reason": one_line(report.longreprtext)})
    elif report.skipped:
        _outcomes["skipped"] += 1
    elif report.when == "call":
        _outcomes["passed"] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the summary file, if the runner asked for one."""
    path = os.environ.get("IOTC_CONTRACT_SUMMARY")
    if not path:
        return
    requests: dict[str, int] = {
        op if op is not None else "(no spec operation)": n for op, n in LEDGER.requests.items()
    }
    summary: dict[str, Any] = {
        "operations": operation_ids(),
        "requests": requests,
        "total_requests": LEDGER.total,
        "outcomes": dict(_outcomes),
        "failures": _failures,
        "exit_status": int(exitstatus),
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(summary, f)
