"""Generation is reproducible and scripts/regenerate --check guards the committed client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_regenerate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["IOTC_NO_BOOTSTRAP"] = "1"  # the test's own interpreter already has the pinned tools
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", str(root / "scripts" / "regenerate"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def repo_copy(repo_root: Path, tmp_path: Path) -> Path:
    """A copy of what regeneration reads and writes, so tests can alter it freely."""
    copy = tmp_path / "repo"
    for name in ("spec", "scripts"):
        shutil.copytree(repo_root / name, copy / name)
    shutil.copytree(
        repo_root / "generated_client",
        copy / "generated_client",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return copy


def test_check_passes_on_the_committed_tree(repo_copy: Path) -> None:
    result = run_regenerate(repo_copy, "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_fails_and_prints_the_diff_when_a_generated_file_is_altered(
    repo_copy: Path,
) -> None:
    target = repo_copy / "generated_client" / "iotcentral_api" / "models" / "device_command.py"
    target.write_text(target.read_text() + "# hand edit\n")
    result = run_regenerate(repo_copy, "--check")
    assert result.returncode == 1
    assert "# hand edit" in result.stdout
    assert "scripts/regenerate" in result.stderr


def test_check_fails_when_a_generated_file_is_added(repo_copy: Path) -> None:
    (repo_copy / "generated_client" / "iotcentral_api" / "extra.py").write_text("x = 1\n")
    assert run_regenerate(repo_copy, "--check").returncode == 1


def test_regeneration_is_byte_identical_and_leaves_no_caches(repo_copy: Path) -> None:
    package = repo_copy / "generated_client" / "iotcentral_api"
    assert run_regenerate(repo_copy).returncode == 0
    first = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    assert run_regenerate(repo_copy).returncode == 0
    second = {p.relative_to(package): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    assert first == second
    names = {part for path in first for part in path.parts}
    assert not names & {".ruff_cache", "__pycache__", ".mypy_cache"}
    assert Path("py.typed") in first
