"""Run the packaged contract suite against a target, from any folder (`iotcentral contract-test`).

`run(options)` starts pytest on this package in a child process (the same interpreter), in a
scratch working directory (schemathesis and hypothesis write caches there, not in the caller's
folder). The target reaches the child through `IOTC_CONTRACT_*` variables, the token included, so
it never appears in a process list. Everything the child prints passes through
`iotcentral._redact` before it reaches the terminal, and so does the JUnit report afterwards.
At the end a human summary: operations covered, requests sent, each failed check in one line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from iotcentral._redact import redact, secrets_in

from iotcentral_contract import SUITE_DIR

__all__ = ["ContractRun", "format_summary", "run"]

_ENV = "IOTC_CONTRACT_"

#: pytest's exit status -> the runner's exit code.
_EXIT = {0: 0, 1: 1, 2: 130, 3: 5, 4: 2, 5: 5}


@dataclass(frozen=True)
class ContractRun:
    """What to test and how: `base_url` None means the in-process simulator."""

    base_url: str | None = None
    token: str | None = field(default=None, repr=False)
    device: str | None = None
    command: str | None = None
    component: str | None = None
    module: str | None = None
    api_version: str | None = None
    junit: Path | None = None
    rate_limit: str = "10/s"
    max_examples: int | None = None
    pytest_args: tuple[str, ...] = ()

    def problems(self) -> list[str]:
        """Why this run cannot start (empty when it can); nothing has been sent."""
        if self.base_url is None:
            return []
        needed = {"--token": self.token, "--device": self.device, "--command": self.command}
        return [
            f"live mode needs {flag} (or {_ENV}{flag[2:].upper()})"
            for flag, value in needed.items()
            if not value
        ]

    def environment(self, summary: Path) -> dict[str, str]:
        """The child's environment: the caller's, minus stale `IOTC_CONTRACT_*`, plus the target."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_ENV)}
        values = {
            "BASE_URL": self.base_url,
            "TOKEN": self.token,
            "DEVICE": self.device,
            "COMMAND": self.command,
            "COMPONENT": self.component,
            "MODULE": self.module,
            "API_VERSION": self.api_version,
            "RATE_LIMIT": self.rate_limit,
            "MAX_EXAMPLES": None if self.max_examples is None else str(self.max_examples),
            "SUMMARY": str(summary),
        }
        env.update({_ENV + name: value for name, value in values.items() if value})
        return env

    def argv(self) -> list[str]:
        """pytest's command line: this package, its own configuration, nothing from the cwd."""
        args = [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE_DIR),
            "-c",
            os.devnull,
            "--rootdir",
            str(SUITE_DIR),
            "-p",
            "no:cacheprovider",
            "-p",
            "iotcentral_contract._summary",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "asyncio_default_fixture_loop_scope=function",
            "--strict-markers",
            "-q",
            "-rfE",
        ]
        if self.junit is not None:
            args += ["--junitxml", str(self.junit.resolve())]
        return [*args, *self.pytest_args]


def run(options: ContractRun, out: TextIO | None = None) -> int:
    """Run the suite; stream its redacted output and a summary to `out`; return an exit code.

    Exit codes: 0 every check passed; 1 the target failed checks; 2 usage; 5 the suite could not
    run (internal error, nothing collected); 130 interrupted.
    """
    out = out or sys.stdout
    secrets = secrets_in(options.token)
    with tempfile.TemporaryDirectory(prefix="iotc-contract-") as scratch:
        summary_path = Path(scratch) / "summary.json"
        if options.junit is not None:
            options.junit.resolve().parent.mkdir(parents=True, exist_ok=True)
        child = subprocess.Popen(
            options.argv(),
            cwd=scratch,
            env=options.environment(summary_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        assert child.stdout is not None
        try:
            for line in child.stdout:
                out.write(redact(line, secrets))
            status = child.wait()
        except KeyboardInterrupt:
            child.wait()
            return 130
        if options.junit is not None and options.junit.is_file():
            text = options.junit.read_text(encoding="utf-8")
            options.junit.write_text(redact(text, secrets), encoding="utf-8")
        summary = _read(summary_path)
    if summary is not None:
        out.write(redact(format_summary(summary, options), secrets))
    out.flush()
    return _EXIT.get(status, 5)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document


def format_summary(summary: dict[str, Any], options: ContractRun) -> str:
    """The human summary: target, operations covered, requests sent, failed checks."""
    requests: dict[str, int] = summary.get("requests", {})
    operations: list[str] = summary.get("operations", [])
    covered = [op for op in operations if requests.get(op)]
    outcomes: dict[str, int] = summary.get("outcomes", {})
    failures: list[dict[str, str]] = summary.get("failures", [])
    where = options.base_url or "the in-process simulator"
    lines = ["", "== contract test summary", f"target: {where}"]
    if options.base_url is not None:
        scope = [f"device {options.device!r}", f"command {options.command!r}"]
        if options.module:
            scope.append(f"module {options.module!r}")
        if options.component:
            scope.append(f"component {options.component!r}")
        lines.append(f"allow-list: {', '.join(scope)}; paced at {options.rate_limit}")
    lines.append(f"operations covered: {len(covered)} of {len(operations)}")
    for op in operations:
        lines.append(f"  {op}: {requests.get(op, 0)} requests")
    other = sum(n for op, n in requests.items() if op not in operations)
    if other:
        lines.append(f"  other (methods or paths the spec does not define): {other} requests")
    lines.append(f"requests sent: {summary.get('total_requests', 0)}")
    lines.append(
        "tests: " + ", ".join(f"{outcomes.get(k, 0)} {k}" for k in ("passed", "failed", "skipped"))
    )
    if failures:
        lines.append(f"checks failed: {len(failures)}")
        lines.extend(f"  {f['test'].split('::', 1)[-1]}: {f['reason']}" for f in failures)
    else:
        lines.append("checks failed: none")
    return "\n".join(lines) + "\n"
