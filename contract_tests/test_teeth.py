"""The suite has teeth: each part fails against the deliberately broken variants it must catch.

Each variant (iotcentral_contract/_broken.py) breaks one promise. The shape layer (schemathesis)
runs in a subprocess per variant; the behavioural layer runs in one subprocess for all its variants
(`_teeth_driver`). Each run must fail, with the check that names the break in its output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from iotcentral_contract._behaviour import CHECKS
from iotcentral_contract._broken import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
SCHEMATHESIS = "contract/iotcentral_contract/test_schemathesis.py"
BEHAVIOUR = "contract/iotcentral_contract/test_behaviour.py"
STATEFUL = f"{SCHEMATHESIS}::test_stateful_run_then_history"
CONTROL = f"::{BEHAVIOUR}"  # no variant: the simulator itself

# The schemathesis check that must catch each shape break (its code as schemathesis prints it).
SHAPE_TEETH = {
    "accepts-response-timeout-31": "Schema-violating request accepted",
    "answers-200-not-201": "Response violates schema",
    "error-without-code": "Response violates schema",
    "text-plain-errors": "Undocumented Content-Type",
    "ignores-auth": "API accepts requests without authentication",
}

# (variant, tests run against it, the behavioural check that must catch it).
BEHAVIOUR_TEETH = [
    ("wrong-echo", BEHAVIOUR, "run-echoes-request"),
    ("blank-run-id", BEHAVIOUR, "run-answer-fields"),
    ("empty-history", BEHAVIOUR, "history-holds-run"),
    ("stale-history", BEHAVIOUR, "history-holds-run"),
    ("history-loses-request", BEHAVIOUR, "history-holds-run"),
    ("stale-history", STATEFUL, "stateful-run-history-link"),
    ("empty-history", STATEFUL, "stateful-run-history-link"),
    ("unknown-device-400", BEHAVIOUR, "unknown-device-404"),
    ("unknown-command-400", BEHAVIOUR, "unknown-command-404"),
    ("coerces-string-timeouts", BEHAVIOUR, "type-confusion-rejected"),
    ("integral-float-timeout-500", BEHAVIOUR, "integral-timeout-handled"),
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_CONTRACT_")}
    env.update(extra)
    return env


def test_every_variant_and_every_check_has_teeth() -> None:
    behavioural = {variant for variant, _, _ in BEHAVIOUR_TEETH}
    assert set(SHAPE_TEETH) | behavioural == set(VARIANTS)
    assert not set(SHAPE_TEETH) & behavioural
    assert {check for _, _, check in BEHAVIOUR_TEETH} == set(CHECKS)


@pytest.mark.simulator_only
@pytest.mark.parametrize("variant", sorted(SHAPE_TEETH))
def test_schemathesis_catches_the_broken_variant(variant: str) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--maxfail=1",
            SCHEMATHESIS,
        ],
        cwd=ROOT,
        env=_env(IOTC_CONTRACT_VARIANT=variant, IOTC_CONTRACT_MAX_EXAMPLES="25"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert SHAPE_TEETH[variant] in output, output[-3000:]


@pytest.fixture(scope="module")
def behaviour_runs() -> dict[str, dict[str, object]]:
    """Every behavioural (variant, tests) pair, run once in one interpreter."""
    pairs = sorted({f"{variant}::{tests}" for variant, tests, _ in BEHAVIOUR_TEETH} | {CONTROL})
    result = subprocess.run(
        [sys.executable, "-m", "contract_tests._teeth_driver", *pairs],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    runs: dict[str, dict[str, object]] = json.loads(result.stdout.strip().splitlines()[-1])
    return runs


@pytest.mark.simulator_only
@pytest.mark.parametrize(
    ("variant", "tests", "check"),
    BEHAVIOUR_TEETH,
    ids=[f"{v}-{c}" for v, _, c in BEHAVIOUR_TEETH],
)
def test_behaviour_check_catches_the_broken_variant(
    behaviour_runs: dict[str, dict[str, object]], variant: str, tests: str, check: str
) -> None:
    run = behaviour_runs[f"{variant}::{tests}"]
    output = str(run["output"])
    assert run["code"] == 1, output
    assert check in run["checks"], output


@pytest.mark.simulator_only
def test_the_driver_passes_without_a_variant(behaviour_runs: dict[str, dict[str, object]]) -> None:
    """The control: the same driver with no variant is green, so the failures are the breaks'."""
    run = behaviour_runs[CONTROL]
    assert run["code"] == 0, run["output"]
