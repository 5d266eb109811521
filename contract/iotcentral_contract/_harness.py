"""The server under contract test and a schemathesis schema bound to it, built once per session.

Built at import time rather than in a fixture: schemathesis' lazy fixture loader does not work
with the pinned pytest, and the test module's `@schema.parametrize()` needs the schema anyway.
"""

from __future__ import annotations

import os
import re
from functools import cache
from typing import Any

import schemathesis

from iotcentral_contract._broken import VARIANTS
from iotcentral_contract._gate import Gate, GatedSession, Pacer, counting, parse_rate
from iotcentral_contract._spec import SPEC_PATH, load_spec
from iotcentral_contract._target import Target

# Bounded in time: examples per operation and generation mode.
MAX_EXAMPLES = int(os.environ.get("IOTC_CONTRACT_MAX_EXAMPLES", "40"))
SEED = 20221031
SIM_BASE_URL = "http://127.0.0.1/api"


@cache
def simulator() -> Any:
    """The in-process simulator under test, or None when the target is a live app."""
    if Target.from_environment() is not None:
        return None
    from iotcentral_sim import Simulator

    # No throttling and scaled-down waits: the suite fuzzes, it does not load-test.
    return Simulator(rate_limit=None, time_scale=0.001)


@cache
def target() -> Target:
    """The live target the environment names, else the simulator with its default API token."""
    live = Target.from_environment()
    if live is not None:
        return live
    from iotcentral_sim import DEFAULT_API_TOKEN

    return Target(base_url=SIM_BASE_URL, authorization=DEFAULT_API_TOKEN)


@cache
def gate() -> Gate:
    """The gate every request passes: allow-list, pacing (live mode only) and the ledger."""
    bound = target()
    pace = os.environ.get("IOTC_CONTRACT_RATE_LIMIT", "10/s")
    return Gate(bound, Pacer(parse_rate(pace)) if bound.live else None)


@cache
def live_session() -> GatedSession | None:
    """The requests session through the gate for schemathesis calls (None for the simulator)."""
    return GatedSession(gate()) if target().live else None


@cache
def app_under_test() -> Any:
    """The in-process app the suite talks to: the simulator (or a broken variant), counted."""
    app = simulator().app
    variant = os.environ.get("IOTC_CONTRACT_VARIANT")
    if variant:
        app = VARIANTS[variant](app, target().authorization)
    return counting(app)


@cache
def contract_schema() -> Any:
    """The spec as a schemathesis schema bound to the target; credentials in its configuration."""
    bound = target()
    schema = schemathesis.openapi.from_path(SPEC_PATH)
    schema.config.update(base_url=bound.base_url, headers={"Authorization": bound.authorization})
    schema.config.seed = SEED
    schema.config.generation.update(
        modes=["positive", "negative"],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    if bound.live:
        # Only what the allow-list can fill; pacing (the app's 20 req/s budget) is the gate's
        # job: every call passes `live_session()`.
        schema.config.update(parameters=bound.path_parameters())
        allowed = [re.escape(path) for path in load_spec()["paths"] if bound.can_fill(path)]
        return schema.include(path_regex="^(" + "|".join(allowed) + ")$")
    schema.app = app_under_test()
    return schema
