"""The fleet benchmark script runs end to end on a tiny fleet (figures are not asserted)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def load(repo_root: Path) -> ModuleType:
    path = repo_root / "benchmarks" / "bench_fleet.py"
    spec = importlib.util.spec_from_file_location("bench_fleet", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_a_tiny_throughput_run_reports_a_row_from_the_simulators_counters(
    repo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load(repo_root)
    row = bench.throughput(200, 12, concurrency=4)
    assert row["lost"] == 0  # every device ran, counted by the simulator
    assert row["duplicated"] == 0
    assert row["ratio"] > 0
    assert 0 <= row["429 share"] <= 1
    bench.print_table([row])
    assert "throughput at 200/s (12 devices, 4 in flight)" in capsys.readouterr().out


def test_losses_count_devices_never_run_and_devices_run_twice(repo_root: Path) -> None:
    bench = load(repo_root)
    ids = list(bench.device_ids(3))
    assert ids == ["bench-000000", "bench-000001", "bench-000002"]
    assert bench.losses({ids[0]: 1, ids[1]: 2}, ids) == (1, 1)
