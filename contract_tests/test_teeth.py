"""The suite has teeth: the schemathesis part fails against each deliberately broken simulator.

Each variant (contract_tests/_broken.py) breaks one promise of the spec. The schemathesis module is
run in a subprocess with the variant selected, and must fail with the check that names the break.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract_tests._broken import VARIANTS

ROOT = Path(__file__).resolve().parents[1]

# The schemathesis check that must catch each break (its code as schemathesis prints it).
EXPECTED_CHECK = {
    "accepts-response-timeout-31": "Schema-violating request accepted",
    "answers-200-not-201": "Response violates schema",
    "error-without-code": "Response violates schema",
    "text-plain-errors": "Undocumented Content-Type",
    "ignores-auth": "API accepts requests without authentication",
}


def test_every_variant_has_an_expected_check() -> None:
    assert set(EXPECTED_CHECK) == set(VARIANTS)


@pytest.mark.simulator_only
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_schemathesis_catches_the_broken_variant(variant: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOTC_CONTRACT_")}
    env["IOTC_CONTRACT_VARIANT"] = variant
    env["IOTC_CONTRACT_MAX_EXAMPLES"] = "25"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--maxfail=1",
            "contract_tests/test_schemathesis.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert EXPECTED_CHECK[variant] in output, output[-3000:]
