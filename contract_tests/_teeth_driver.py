"""Run contract tests against several broken variants in one interpreter (fast teeth).

`python -m contract_tests._teeth_driver VARIANT::TEST_PATH ...` runs pytest once per pair, in
process, with `IOTC_CONTRACT_VARIANT` set and the harness' caches cleared in between, and prints
one JSON object: for each pair, pytest's exit code, the behavioural checks that failed and the
tail of its output. One interpreter
start for all the behavioural variants instead of one each.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys

import pytest
from iotcentral_contract import _harness

# Re-running pytest in one interpreter re-registers already imported plugins: harmless.
_QUIET = "ignore::pytest.PytestAssertRewriteWarning"


def run(variant: str, test_path: str) -> tuple[int, str]:
    """Pytest's exit code and output for `test_path` against `variant`."""
    os.environ["IOTC_CONTRACT_VARIANT"] = variant
    for cached in (
        _harness.simulator,
        _harness.app_under_test,
        _harness.gate,
        _harness.contract_schema,
        _harness.live_session,
    ):
        cached.cache_clear()
    # Test modules bind the app when imported (the schemathesis schema): import them afresh.
    for name in [n for n in sys.modules if n.startswith("iotcentral_contract.test_")]:
        del sys.modules[name]
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        code = pytest.main(["-q", "-p", "no:cacheprovider", "--maxfail=1", "-W", _QUIET, test_path])
    return int(code), output.getvalue()


def main(pairs: list[str]) -> None:
    """Print {pair: {"code": exit code, "output": tail}} as JSON."""
    results = {}
    for pair in pairs:
        variant, test_path = pair.split("::", 1)
        code, output = run(variant, test_path)
        results[pair] = {
            "code": code,
            "checks": sorted(set(re.findall(r"ContractViolation: \[([a-z0-9-]+)\]", output))),
            "output": output[-3000:],
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
