"""The benchmark runs and reports ratios against its baseline (no timing is asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


def load_benchmark(repo_root: Path) -> ModuleType:
    path = repo_root / "benchmarks" / "bench_overhead.py"
    spec = importlib.util.spec_from_file_location("bench_overhead", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_overhead_benchmark_reports_a_ratio_per_contender(repo_root: Path) -> None:
    bench = load_benchmark(repo_root)
    result = bench.ratios(bench.measure(calls=3, rounds=1))
    assert list(result) == ["raw httpx (baseline)", "generated client", "iotcentral client"]
    assert result["raw httpx (baseline)"] == 1.0
    assert all(ratio > 0 for ratio in result.values())


def test_python_call_counts_are_stable_and_above_the_baseline(repo_root: Path) -> None:
    bench = load_benchmark(repo_root)
    first, second = bench.python_calls(calls=20), bench.python_calls(calls=20)
    assert first == pytest.approx(second, rel=0.01)  # httpx does a little lazy work now and then
    baseline = first["raw httpx (baseline)"]
    assert first["iotcentral client"] > baseline  # the wrapper does real work on top of httpx
