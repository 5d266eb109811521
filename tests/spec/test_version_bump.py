"""The README's "API version bumps" procedure, rehearsed on a copy of the repository.

A maintainer's steps, and only those: (1) `scripts/spec-diff` against Microsoft's description of
the new version, (2) append the version to the `ApiVersion` enum and make it the default in
`DefaultApiVersion`, (3) `scripts/regenerate`, (4) the checks: `scripts/regenerate --check`, the
spec and version tests, and a client call against the simulator with the new version, run by
pytest inside the copy, importing the copy's packages (the current venv is reused, so nothing is
installed). If the procedure needed any other edit (a version named in code, a pinned test), the
copy's checks would fail here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NEW_VERSION = "2099-01-31"
PREVIEW_FIXTURE = Path(__file__).parent / "fixtures" / "ms-2022-10-31-preview.json"
#: What the checks in the copy need: the spec, the scripts, the packages, the tests they run.
COPIED = ("spec", "scripts", "generated_client", "wrapper", "simulator", "contract")
CHECKS = ("tests/spec/test_versions.py", "tests/spec/test_spec.py")


def _readme_steps(repo_root: Path) -> str:
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    start = readme.index("To add a version")
    return readme[start : readme.index("### A version whose command operations differ", start)]


def _run(
    copy: Path, *command: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment["IOTC_NO_BOOTSTRAP"] = "1"  # the running venv already has the pinned tools
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment.update(env or {})
    return subprocess.run(
        list(command), cwd=copy, capture_output=True, text=True, env=environment, timeout=150
    )


@pytest.fixture
def repo_copy(repo_root: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in COPIED:
        shutil.copytree(repo_root / name, copy / name, ignore=ignore)
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy2(repo_root / name, copy / name)
    (copy / "tests" / "spec").mkdir(parents=True)
    for name in ("conftest.py", "fakes.py"):
        shutil.copy2(repo_root / "tests" / name, copy / "tests" / name)
    for check in CHECKS:
        shutil.copy2(repo_root / check, copy / check)
    return copy


def test_the_documented_bump_procedure_adds_a_version_that_works_everywhere(
    repo_root: Path, repo_copy: Path, tmp_path: Path
) -> None:
    steps = _readme_steps(repo_root)
    for documented in ("scripts/spec-diff", "ApiVersion", "DefaultApiVersion", "regenerate"):
        assert documented in steps, f"the README's procedure no longer mentions {documented}"
    assert steps.index("scripts/spec-diff") < steps.index("scripts/regenerate")

    # Step 1: spec-diff against Microsoft's description of the new version (a fixture in
    # Microsoft's style, its command operations unchanged): nothing breaking, and a note that the
    # version is not in the enum yet.
    published = json.loads(PREVIEW_FIXTURE.read_text(encoding="utf-8"))
    published["info"]["version"] = NEW_VERSION
    microsoft = tmp_path / "iotcentral.json"
    microsoft.write_text(json.dumps(published), encoding="utf-8")
    diff = _run(
        repo_copy, "bash", "scripts/spec-diff", "spec/iotcentral.yaml", str(microsoft), "--json"
    )
    assert diff.returncode == 0, diff.stdout + diff.stderr
    report = json.loads(diff.stdout)
    assert any(NEW_VERSION in note and "ApiVersion" in note for note in report["notes"])

    # Step 2: append the version to ApiVersion, make it the default (a text edit, as by hand).
    spec_file = repo_copy / "spec" / "iotcentral.yaml"
    text = spec_file.read_text(encoding="utf-8")
    enum_tail = '        - "2022-10-31-preview"\n    DefaultApiVersion:'
    assert text.count(enum_tail) == 1, "the ApiVersion enum no longer ends as the test expects"
    text = text.replace(
        enum_tail,
        f'        - "2022-10-31-preview"\n        - "{NEW_VERSION}"\n    DefaultApiVersion:',
    )
    default = 'enum:\n        - "2022-07-31"\n'
    assert text.count(default) == 2  # ApiVersion's first value, then DefaultApiVersion's only one
    head, _, tail = text.rpartition(default)
    spec_file.write_text(f'{head}enum:\n        - "{NEW_VERSION}"\n{tail}', encoding="utf-8")

    # Step 3: regenerate.
    regenerated = _run(repo_copy, "bash", "scripts/regenerate")
    assert regenerated.returncode == 0, regenerated.stdout + regenerated.stderr

    # Step 4: the checks pass in the copy, with the copy's packages first on the path.
    check = _run(repo_copy, "bash", "scripts/regenerate", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    generated = repo_copy / "generated_client" / "iotcentral_api" / "models"
    assert NEW_VERSION in (generated / "api_version.py").read_text(encoding="utf-8")
    assert NEW_VERSION in (generated / "default_api_version.py").read_text(encoding="utf-8")
    packages = os.pathsep.join(
        str(repo_copy / name)
        for name in ("generated_client", "wrapper", "simulator", "contract", "tests")
    )
    suite = _run(
        repo_copy,
        sys.executable,
        "-m",
        "pytest",
        "-v",
        *CHECKS,
        env={"PYTHONPATH": packages, "IOTC_TEST_PROFILE": "ci"},
    )
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    # The copy's packages were the ones imported: the registry checks compare them with the
    # copy's spec, and the end-to-end check (run, then read history, through the served
    # simulator) ran once per version, the new one included.
    for version in ("2022-07-31", "2022-10-31-preview", NEW_VERSION):
        assert f"against_the_served_simulator[{version}] PASSED" in suite.stdout, suite.stdout
