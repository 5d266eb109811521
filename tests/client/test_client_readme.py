"""The README's client and CLI sections stay true: the simulator example runs, the tables match."""

from __future__ import annotations

import re
from pathlib import Path

import iotcentral as ic
from iotcentral import cli

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n#", start + len(title))
    return README[start : end if end != -1 else None]


def test_the_simulator_example_runs() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", section("### Against the local simulator"), re.S)
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own documentation


def test_every_exception_in_the_error_table_exists() -> None:
    table = section("### Errors")
    names = set(re.findall(r"`([A-Z][A-Za-z]+Error)`", table))
    names -= {"KeyError", "JSONDecodeError", "TypeError", "ValueError", "RuntimeError"}
    assert {"DeviceOfflineError", "ThrottledError", "RequestMaybeSentError"} <= names
    for name in names:
        assert issubclass(getattr(ic, name), ic.IoTCentralError), name


def test_the_exit_code_table_matches_the_cli() -> None:
    table = section("## Command line")
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    assert documented == set(cli.EXIT_CODES)
